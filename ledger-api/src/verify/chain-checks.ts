/**
 * The ledger contract's side:
 * - chain (per lifecycle entry): the receipt of `chain.txHash` holds the ledger's event of this kind, batch, actor
 *   and eventHash. Not yet mined: pending. Refused by the contract: failed, with the reason.
 * - contracts (per batch): the RPC's chain id and the contracts are the pinned ones; the answer's domain is the
 *   ledger's (checked against the contract's own domainSeparator()).
 * - head (per batch): ProvenanceLedger.headOf(batchId) is the fold keccak256(abi.encode(head, eventHash)) over the
 *   answer's lifecycle events of the batch in chain order: an event on chain but left out of the log or the answer
 *   fails it (recomputed here; the answer's `completeness` is not read). Pending, not verified, when the chain holds
 *   only the first of the events the answer shows on their way, or when it has moved past the answer: the head at
 *   the block the answer stands at (check.ts answerBlock) is the fold of the answer's events mined by then. A head
 *   that differs at the answer's own block is never excused.
 */
import { TypedDataEncoder } from "ethers";
import type { Provenance, TimelineEntry } from "../protocol/answer.ts";
import { ledgerDomain, nextHead, ZERO_HASH, type KindName } from "../protocol/typed-data.ts";
import { ledgerInterface } from "./chain-reader.ts";
import { answerBlock, fail, memo, ok, pending, sameAddress, sameHex, short, type Check, type Context, type OnChainPosition } from "./check.ts";

export async function checkChainRecord(
  ctx: Context,
  entry: TimelineEntry,
  kind: KindName,
  positions: Map<TimelineEntry, OnChainPosition>,
): Promise<Check<"chain">> {
  const name = "chain";
  const record = entry.chain;
  if (!record) return pending(name, "no chain record in the answer");
  if (record.status === "refused") return fail(name, `the contract refused it: ${record.reason ?? "no reason given"}`);
  if (!record.txHash) return pending(name, `not on chain yet (${record.status})`);
  const txHash = record.txHash;
  const receipt = await memo(ctx, `tx:${txHash}`, () => ctx.reader.receipt(txHash));
  if (receipt === null) {
    return record.status === "recorded" || record.status === "confirmed"
      ? fail(name, `the chain has no transaction ${short(txHash)}`)
      : pending(name, `transaction ${short(txHash)} not mined yet (${record.status})`);
  }
  if (receipt.blockNumber > ctx.block) return pending(name, `mined in block ${receipt.blockNumber}, after the verified block ${ctx.block}`);
  if (receipt.status !== 1) return fail(name, `transaction ${short(txHash)} reverted`);
  const event = ledgerInterface.getEvent(kind);
  if (!event) throw new Error(`no ledger event for ${kind}`);
  for (const log of receipt.logs) {
    if (!sameAddress(log.address, ctx.ledger) || log.topics[0] !== event.topicHash) continue;
    const parsed = ledgerInterface.parseLog({ topics: [...log.topics], data: log.data });
    if (!parsed || !sameHex(parsed.args.getValue("eventHash"), entry.eventHash)) continue;
    if (!sameHex(parsed.args.getValue("batchId"), entry.batchId) || !sameAddress(parsed.args.getValue("actor"), entry.signer.address)) {
      return fail(name, `the chain's ${kind} with this eventHash is of another batch or actor`);
    }
    positions.set(entry, { blockNumber: receipt.blockNumber, logIndex: log.index });
    return ok(name, `recorded by the ledger contract in block ${receipt.blockNumber} (tx ${short(txHash)})`);
  }
  return fail(name, `transaction ${short(txHash)} has no ledger ${kind} event with eventHash ${short(entry.eventHash)}`);
}

export async function checkContracts(ctx: Context, answer: Provenance, pinned: boolean): Promise<Check<"contracts">> {
  const name = "contracts";
  const c = answer.chain;
  if (BigInt(c.chainId) !== ctx.chainId) return fail(name, `the answer is for chain ${c.chainId}, the RPC is chain ${ctx.chainId}`);
  if (!sameAddress(c.ledger, ctx.ledger)) return fail(name, `the answer names ledger ${c.ledger}, not ${ctx.ledger}`);
  if (!sameAddress(c.anchor, ctx.anchor)) return fail(name, `the answer names log anchor ${c.anchor}, not ${ctx.anchor}`);
  const separator = await ctx.reader.domainSeparator(ctx.ledger, ctx.block);
  const expected = TypedDataEncoder.hashDomain(ledgerDomain(ctx.chainId, ctx.ledger));
  if (!sameHex(separator, expected)) return fail(name, `the contract at ${ctx.ledger} is not ProvenanceLedger v1 (domain separator differs)`);
  if (!pinned) {
    return pending(name, `contract addresses taken from the answer, not pinned: pin the ledger and log anchor to verify against known contracts`);
  }
  return ok(name, `chain ${ctx.chainId}, ledger ${ctx.ledger}, log anchor ${ctx.anchor} as pinned`);
}

export async function checkHead(
  ctx: Context,
  answer: Provenance,
  positions: ReadonlyMap<TimelineEntry, OnChainPosition>,
): Promise<Check<"head">> {
  const name = "head";
  const lifecycle = answer.timeline.filter((entry) => entry.kind !== "Observed" && entry.relation !== "inherited" && entry.chain?.status !== "refused");
  // Chain order for what the chain check saw mined; what is not on chain yet can only come after it, and the relay
  // lands a batch's events one at a time in log (timeline) order.
  const mined = lifecycle
    .filter((entry) => positions.has(entry))
    .sort((a, b) => {
      const pa = positions.get(a)!;
      const pb = positions.get(b)!;
      return pa.blockNumber - pb.blockNumber || pa.logIndex - pb.logIndex;
    });
  const waiting = lifecycle.filter((entry) => !positions.has(entry));
  const fold = (list: readonly TimelineEntry[]) => list.reduce((h, entry) => nextHead(h, entry.eventHash), ZERO_HASH);

  // The head is a hash chain: it equals the fold of a list of events only if the chain holds exactly those, in that
  // order. So a match with the mined events followed by some of those on their way leaves nothing out.
  const head = await ctx.reader.headOf(ctx.ledger, ctx.batchId, ctx.block);
  const landed = landedOf(head, fold(mined), waiting);
  if (landed !== undefined) {
    const onChain = mined.length + landed;
    if (onChain === 0) return pending(name, "the batch is not on chain yet");
    if (waiting.length === 0) {
      return ok(name, `the on-chain head ${short(head)} is the hash chain of the answer's ${mined.length} lifecycle events: none left out`);
    }
    if (landed === waiting.length) {
      return pending(name, `the on-chain head matches once the ${waiting.length} events not yet confirmed here are counted`);
    }
    return pending(
      name,
      `the on-chain head is the hash chain of ${onChain} of the answer's ${lifecycle.length} lifecycle events; ${lifecycle.length - onChain} not on chain yet`,
    );
  }

  // The chain has moved past the answer (the server's index trails it; a page keeps the answer it was rendered with):
  // the answer must hold exactly the chain's events at the block it stands at. An event left out by then still fails.
  const at = answerBlock(answer);
  if (at !== undefined && at < ctx.block) {
    const then = await ctx.reader.headOf(ctx.ledger, ctx.batchId, at);
    const minedThen = mined.filter((entry) => positions.get(entry)!.blockNumber <= at);
    if (sameHex(fold(minedThen), then)) {
      return pending(
        name,
        `the on-chain head as of block ${at}, where the answer stands, is the hash chain of the answer's ${minedThen.length} lifecycle events; ` +
          `the chain has since recorded more the answer does not show yet: look again in a moment`,
      );
    }
  }
  return fail(
    name,
    `the on-chain head ${short(head)} is not the hash chain of the answer's ${lifecycle.length} lifecycle events: an event is missing from the log or the answer`,
  );
}

/**
 * How many of `waiting`, taken in order after the mined events (whose fold is `minedHead`), make `head`: 0 when the
 * mined events alone do; undefined when no such prefix does.
 */
function landedOf(head: string, minedHead: string, waiting: readonly TimelineEntry[]): number | undefined {
  let h = minedHead;
  if (sameHex(h, head)) return 0;
  for (let i = 0; i < waiting.length; i++) {
    h = nextHead(h, waiting[i]!.eventHash);
    if (sameHex(h, head)) return i + 1;
  }
  return undefined;
}
