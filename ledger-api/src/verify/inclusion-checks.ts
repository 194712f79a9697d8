/**
 * The log's side:
 * - inclusion (per entry): the leaf recomputed from the signed fields (log/entry.ts) hashes to `proof.leafHash`, the
 *   RFC 9162 path leads to `proof.root`, and LogAnchor holds exactly that (size, root) at `proof.anchor.anchorIndex`.
 *   An unanchored proof is pending however well its math checks: its root is only the server's word.
 * - history (per batch): the batch's own entries chain through prevIndex from -1 without a gap (a lot cut by a Split
 *   may have none yet: the Split shown as creating it stands for them).
 */
import type { TimelineEntry } from "../protocol/answer.ts";
import { Kind, type KindName } from "../protocol/typed-data.ts";
import { encodeEntry, ENTRY_VERSION } from "../log/entry.ts";
import { bytesToHex, hexToBytes, leafHash } from "../log/hash.ts";
import { proofFromHex, verifyInclusion } from "../log/merkle.ts";
import { fail, memo, ok, pending, sameHex, short, type Check, type Context } from "./check.ts";

export async function checkInclusion(ctx: Context, entry: TimelineEntry, kind: KindName): Promise<Check<"inclusion">> {
  const name = "inclusion";
  const p = entry.proof;
  const values = entry.values as Record<string, unknown>;
  const leaf = leafHash(
    encodeEntry({
      version: ENTRY_VERSION,
      batchId: entry.batchId,
      kind: Kind[kind],
      eventDigest: entry.eventHash,
      docHash: String(values.docHash),
      signer: entry.signer.address.toLowerCase(),
      signature: entry.signature,
      prevIndex: entry.prevIndex,
    }),
  );
  if (!sameHex(bytesToHex(leaf), p.leafHash)) {
    return fail(name, `the entry's fields hash to leaf ${short(bytesToHex(leaf))}, not the proof's ${short(p.leafHash)}`);
  }
  if (p.leafIndex !== entry.index) return fail(name, `the proof is for leaf ${p.leafIndex}, not entry ${entry.index}`);
  if (!verifyInclusion(p.leafIndex, p.treeSize, leaf, proofFromHex(p.path), hexToBytes(p.root))) {
    return fail(name, `the path does not lead from leaf ${p.leafIndex} to root ${short(p.root)} of ${p.treeSize} leaves`);
  }
  if (p.anchor === null) {
    return pending(name, `in the log's tree of ${p.treeSize} (pending anchor: that root is not on chain yet)`);
  }
  const i = p.anchor.anchorIndex;
  const onChain = await memo(ctx, `anchor:${i}`, () => ctx.reader.anchorAt(ctx.anchor, i, ctx.block));
  if (onChain === null) return fail(name, `LogAnchor holds no anchor #${i}: root ${short(p.root)} was never anchored`);
  if (!sameHex(onChain.root, p.root) || onChain.size !== p.treeSize) {
    return fail(
      name,
      `anchor #${i} on chain is root ${short(onChain.root)} of ${onChain.size} leaves, not ${short(p.root)} of ${p.treeSize}: root never anchored`,
    );
  }
  return ok(name, `leaf ${p.leafIndex} of the tree of ${p.treeSize} anchored on chain as #${i} (block ${onChain.blockNumber})`);
}

export function checkHistory(timeline: readonly TimelineEntry[]): Check<"history"> {
  const name = "history";
  const own = timeline.filter((t) => t.relation === "own").sort((a, b) => a.index - b.index);
  if (own.length === 0) {
    // A lot cut from another has no entry of its own until something happens to it: the Split that made it is filed
    // under its parent (its document check makes sure it names this lot).
    const created = timeline.find((t) => t.relation === "created" && t.kind === "Split");
    if (created) return ok(name, `no entry of its own yet; created by the Split at index ${created.index}`);
    return fail(name, "the answer shows no entry filed under this batch");
  }
  const gaps: string[] = [];
  own.forEach((t, i) => {
    const expected = i === 0 ? -1 : own[i - 1]!.index;
    if (t.prevIndex !== expected) gaps.push(`entry ${t.index} follows ${t.prevIndex}, not ${expected}`);
  });
  if (gaps.length > 0) return fail(name, `entries are missing from the batch's history: ${gaps.join("; ")}`);
  return ok(name, `${own.length} entries chained through prevIndex from the batch's first (index ${own[0]!.index})`);
}
