/**
 * The independent verifier: checks a provenance answer (query/provenance.ts) against the chain, trusting the ledger's
 * server for nothing but the bytes of the answer itself. Used by the CLI (scripts/verify.ts) and, bundled, by the
 * shopper's browser (verify/browser.ts), so this module has no Node imports; the chain comes in as a ChainReader.
 *
 * Trust root: the chain RPC the user chose and the contract addresses in `options.trust` (chain id, ProvenanceLedger,
 * LogAnchor). Without pinned addresses the answer's own addresses are used and the `contracts` check stays pending:
 * a server that deploys look-alike contracts it controls could otherwise make anything verify.
 *
 * What each check establishes, per timeline entry:
 * - document:  the document's RFC 8785 keccak is `values.docHash`, and re-deriving the signed struct from the
 *              document (ingest/typed-values.ts) gives exactly `values`, so the signature covers what is shown;
 *              the entry is filed under the batch the document names and relates to the batch asked about.
 * - signature: EIP-712 over the pinned domain and typed-data.ts TYPES (the answer's `chain.types` must equal them)
 *              hashes `values` to `eventHash`; the 65-byte low-s signature recovers to `signer`.
 * - role:      the signer held a role the kind needs (the contract's rule; Observed: any actor role; HandOffCancelled
 *              needs none): for an event the ledger recorded, when it recorded it (the contract checked); otherwise
 *              at the verified block.
 * - inclusion: the leaf recomputed from the signed fields (log/entry.ts) hashes to `proof.leafHash`, the RFC 9162
 *              path leads to `proof.root`, and LogAnchor holds exactly that (size, root) at `proof.anchor.anchorIndex`.
 *              An unanchored proof is pending however well its math checks: its root is only the server's word.
 * - chain:     (lifecycle kinds) the receipt of `chain.txHash` holds the ledger's event of this kind, batch, actor
 *              and eventHash. Not yet mined: pending. Refused by the contract: failed, with the reason.
 * Per batch:
 * - contracts: the RPC's chain id and the contracts are the pinned ones; the answer's domain is the ledger's
 *              (checked against the contract's own domainSeparator()).
 * - history:   the batch's own entries chain through prevIndex from -1 without a gap.
 * - head:      ProvenanceLedger.headOf(batchId) is the fold keccak256(abi.encode(head, eventHash)) over the
 *              answer's lifecycle events of the batch in chain order: an event on chain but left out of the log or the
 *              answer fails it (recomputed here; the answer's `completeness` is not read).
 * - recall:    the answer's recall state is the chain's, now: a recall is never excused as lag.
 * - custodian, quantity: the answer's custodian and quantity (with its unit) are the chain's; pending when they were
 *              at the block the answer's state stands at but the chain has moved on (see checkBatchField).
 * - names:     every name the answer gives an address (signers, registrant, custodian, offeree, recaller) is the
 *              name the authority set for it in ActorRegistry (profileOf): the page shows who did what by name.
 *
 * Status: failed if any check failed, else pending if any is pending, else verified. A check never throws: an
 * exception (malformed answer, RPC error) fails that check with its message.
 */
import { getAddress, recoverAddress, Signature, TypedDataEncoder } from "ethers";
import {
  eventHash as hashEvent,
  Kind,
  KIND_NAMES,
  ledgerDomain,
  nextHead,
  TYPES,
  ZERO_HASH,
  type KindName,
} from "../protocol/typed-data.ts";
import { decodeEntryBody, encodeEntryBody } from "../protocol/entry-body.ts";
import { docHash, type JsonValue } from "../protocol/canonical.ts";
import type { EventDoc } from "../protocol/documents.ts";
import { ROLE_IDS, rolesFor } from "../protocol/roles.ts";
import { INHERITED_KINDS } from "../protocol/lineage.ts";
import { deriveEvent } from "../protocol/typed-values.ts";
import { encodeEntry, ENTRY_VERSION } from "../log/entry.ts";
import { bytesToHex, hexToBytes, leafHash } from "../log/hash.ts";
import { proofFromHex, verifyInclusion } from "../log/merkle.ts";
import type { Provenance, TimelineEntry } from "../protocol/answer.ts";
import { ledgerInterface, type ChainReader, type OnChainBatch } from "./chain-reader.ts";

export { httpRpc, providerReader, rpcReader, type ChainReader } from "./chain-reader.ts";

export type Status = "verified" | "pending" | "failed";

/** One checked fact. `detail` says what was established, or why not, in words a UI can show. */
export interface Check {
  readonly name: string;
  readonly status: Status;
  readonly detail: string;
}

export interface EntryVerification {
  readonly index: number;
  readonly kind: string;
  readonly relation: string;
  readonly batchId: string;
  readonly eventHash: string;
  readonly signer: string;
  readonly occurredAt: string;
  /** The worst of `checks`. */
  readonly status: Status;
  /** document, signature, role, inclusion, and chain for lifecycle kinds. */
  readonly checks: readonly Check[];
}

export interface Verification {
  readonly batchId: string;
  readonly status: Status;
  /** The chain state every view was read at. */
  readonly chain: {
    readonly chainId: string;
    readonly block: number;
    readonly ledger: string;
    readonly anchor: string;
    /** Whether the contract addresses were pinned by the caller (else taken from the answer). */
    readonly pinned: boolean;
  };
  readonly entries: readonly EntryVerification[];
  /** contracts, history, head, recall, custodian, quantity, names. */
  readonly batch: readonly Check[];
  readonly counts: { readonly verified: number; readonly pending: number; readonly failed: number };
}

export interface VerifyOptions {
  /** The contracts to verify against (the trust root); unset fields are taken from the answer and left unpinned. */
  readonly trust?: { readonly chainId?: number | bigint; readonly ledger?: string; readonly anchor?: string };
  /** The batch the caller asked for: the answer must be about it. */
  readonly batchId?: string;
}

const SECP256K1_HALF_N = 0x7fffffff_ffffffff_ffffffff_ffffffff_5d576e73_57a4501d_dfe92f46_681b20a0n;

const RANK: Record<Status, number> = { verified: 0, pending: 1, failed: 2 };

/** The worst status: failed over pending over verified. */
export function worst(statuses: Iterable<Status>): Status {
  let out: Status = "verified";
  for (const s of statuses) if (RANK[s] > RANK[out]) out = s;
  return out;
}

const ok = (name: string, detail: string): Check => ({ name, status: "verified", detail });
const pending = (name: string, detail: string): Check => ({ name, status: "pending", detail });
const fail = (name: string, detail: string): Check => ({ name, status: "failed", detail });

async function guard(name: string, fn: () => Promise<Check> | Check): Promise<Check> {
  try {
    return await fn();
  } catch (err) {
    return fail(name, `could not be checked: ${(err as Error)?.message ?? String(err)}`);
  }
}

function sameAddress(a: unknown, b: unknown): boolean {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

function sameHex(a: unknown, b: unknown): boolean {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

function short(hex: string): string {
  return hex.length > 14 ? `${hex.slice(0, 10)}…${hex.slice(-4)}` : hex;
}

/** Canonical JSON of a plain value, for structural comparison (key order ignored). */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(",")}]`;
  if (x !== null && typeof x === "object") {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(x);
}

function kindOf(entry: TimelineEntry): KindName {
  const name = entry.kind as KindName;
  if (!(KIND_NAMES as readonly string[]).includes(name)) throw new Error(`unknown kind ${String(entry.kind)}`);
  return name;
}

/** What the chain check learnt about a lifecycle entry, for the head fold. */
interface OnChainPosition {
  readonly blockNumber: number;
  readonly logIndex: number;
}

/** Shared state of one verification: the pinned chain view plus memoised reads. */
interface Context {
  readonly reader: ChainReader;
  readonly block: number;
  readonly chainId: bigint;
  readonly ledger: string;
  readonly anchor: string;
  readonly batchId: string;
  readonly memo: Map<string, Promise<unknown>>;
  /** The batch's ancestors as the chain records them (getBatch().parents, followed up), lower-case. */
  ancestors: ReadonlySet<string>;
}

/** A batch's on-chain record at `block`, read once per verification. */
function batchAt(ctx: Context, batchId: string, block: number): Promise<OnChainBatch> {
  return memo(ctx, `batch:${batchId.toLowerCase()}:${block}`, () => ctx.reader.getBatch(ctx.ledger, batchId, block));
}

/** Lineage bound: the contract caps ancestry at 32 per path; this stops a walk of a corrupt graph. */
const MAX_ANCESTORS = 256;

/** The batch's ancestors, read from the chain, not from the answer. */
async function chainAncestors(ctx: Context): Promise<Set<string>> {
  const found = new Set<string>();
  let frontier = [ctx.batchId];
  while (frontier.length > 0 && found.size < MAX_ANCESTORS) {
    const records = await Promise.all(frontier.map((id) => batchAt(ctx, id, ctx.block)));
    frontier = [];
    for (const record of records) {
      for (const parent of record.parents.map((p) => p.toLowerCase())) {
        if (!found.has(parent)) {
          found.add(parent);
          frontier.push(parent);
        }
      }
    }
  }
  return found;
}

function memo<T>(ctx: Context, key: string, fn: () => Promise<T>): Promise<T> {
  let p = ctx.memo.get(key) as Promise<T> | undefined;
  if (!p) {
    p = fn();
    ctx.memo.set(key, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// Entry checks

function checkDocument(ctx: Context, entry: TimelineEntry, kind: KindName): Check {
  const name = "document";
  const values = entry.values as Record<string, unknown>;
  if (entry.primaryType !== kind) return fail(name, `primaryType ${entry.primaryType} is not the entry's kind ${kind}`);
  const doc = entry.document as EventDoc;
  if (doc === null || typeof doc !== "object" || doc.kind !== kind) {
    return fail(name, `the document is not a ${kind} document`);
  }
  const hash = docHash(doc as unknown as JsonValue);
  if (!sameHex(hash, values.docHash)) {
    return fail(name, `the document hashes to ${short(hash)}, not the signed docHash ${short(String(values.docHash))}: it was changed`);
  }
  const derived = deriveEvent(doc, { nonce: String(values.nonce), deadline: Number(values.deadline) });
  const mine = jsonValues(kind, derived.values);
  const theirs = jsonValues(kind, decodeValues(kind, entry).values);
  const differ = Object.keys(mine).filter((k) => canonical(mine[k]) !== canonical(theirs[k]));
  if (differ.length > 0) return fail(name, `the signed values do not match the document: ${differ.join(", ")}`);
  if (!sameHex(entry.batchId, derived.batchId)) {
    return fail(name, `filed under ${short(entry.batchId)} but the document is about ${short(derived.batchId)}`);
  }
  const related = derived.related.map((r) => r.batchId.toLowerCase());
  switch (entry.relation) {
    case "own":
      if (!sameHex(entry.batchId, ctx.batchId)) return fail(name, `shown as this batch's own event but filed under ${short(entry.batchId)}`);
      break;
    case "created":
      if (kind !== "Split" || !related.includes(ctx.batchId)) return fail(name, "shown as the Split that created this lot, but it does not name it");
      break;
    case "consumed":
      if (kind !== "Merged" || !related.includes(ctx.batchId)) return fail(name, "shown as the Merge that consumed this lot, but it does not name it");
      break;
    case "inherited":
      if (!INHERITED_KINDS.has(kind)) return fail(name, `a ${kind} event is not inherited by a lot's descendants`);
      if (!ctx.ancestors.has(entry.batchId.toLowerCase())) {
        return fail(name, `shown as inherited from ${short(entry.batchId)}, which the chain does not record as an ancestor of this lot`);
      }
      break;
    default:
      return fail(name, `unknown relation ${String(entry.relation)}`);
  }
  return ok(name, `the document hashes to the signed docHash and its key fields are the signed values`);
}

/** The answer's values as typed struct values (strict: unknown or missing fields throw). */
function decodeValues(kind: KindName, entry: TimelineEntry) {
  return decodeEntryBody(
    Kind[kind],
    JSON.stringify({ doc: {}, values: entry.values, signer: entry.signer?.address, signature: entry.signature }),
  );
}

function jsonValues(kind: KindName, values: unknown): Record<string, unknown> {
  const body = { doc: {}, values, signer: ZERO_ADDRESS, signature: "0x" } as Parameters<typeof encodeEntryBody>[1];
  return (JSON.parse(encodeEntryBody(Kind[kind], body)) as { values: Record<string, unknown> }).values;
}

const ZERO_ADDRESS = "0x" + "00".repeat(20);

function checkSignature(ctx: Context, answer: Provenance, entry: TimelineEntry, kind: KindName): Check {
  const name = "signature";
  const types = TYPES[Kind[kind]];
  const shown = answer.chain?.types?.[kind];
  if (canonical(shown) !== canonical(types)) return fail(name, `the answer's EIP-712 types for ${kind} are not the ledger's`);
  const domain = ledgerDomain(ctx.chainId, ctx.ledger);
  const d = answer.chain?.domain;
  if (
    !d ||
    d.name !== domain.name ||
    d.version !== domain.version ||
    BigInt(d.chainId) !== ctx.chainId ||
    !sameAddress(d.verifyingContract, ctx.ledger)
  ) {
    return fail(name, `the answer's EIP-712 domain is not ProvenanceLedger v1 on chain ${ctx.chainId} at ${ctx.ledger}`);
  }
  const { values } = decodeValues(kind, entry);
  const digest = hashEvent(domain, Kind[kind], values as never);
  if (!sameHex(digest, entry.eventHash)) {
    return fail(name, `the signed values hash to ${short(digest)}, not the eventHash ${short(entry.eventHash)}`);
  }
  const sig = String(entry.signature);
  if (!/^0x[0-9a-fA-F]{130}$/.test(sig)) return fail(name, "the signature is not 65 bytes");
  const v = parseInt(sig.slice(130, 132), 16);
  const s = BigInt("0x" + sig.slice(66, 130));
  if (v !== 27 && v !== 28) return fail(name, `the signature's v is ${v}, not 27 or 28`);
  if (s > SECP256K1_HALF_N || s === 0n) return fail(name, "the signature's s is not in the lower half of the curve order (malleable)");
  const recovered = recoverAddress(digest, Signature.from(sig));
  if (!sameAddress(recovered, entry.signer?.address)) {
    return fail(name, `the signature recovers to ${recovered}, not the stated signer ${String(entry.signer?.address)}`);
  }
  return ok(name, `signed by ${getAddress(recovered)}${entry.signer?.name ? ` (${entry.signer.name})` : ""}`);
}

/**
 * A lifecycle event the ledger recorded had its role checked by the ledger, at that block: ProvenanceLedger refuses
 * an actor without the role the kind needs. So a verified chain record answers the role check for good, and a role
 * revoked since (a producer who left the scheme) does not unverify what it signed while it held it. Undefined when
 * the chain record is not verified: then the role is read now (checkRole).
 */
function roleRecordedOnChain(
  entry: TimelineEntry,
  kind: KindName,
  chain: Check | undefined,
  positions: ReadonlyMap<TimelineEntry, OnChainPosition>,
): Check | undefined {
  const at = positions.get(entry);
  if (chain?.status !== "verified" || at === undefined) return undefined;
  const roles = rolesFor(kind, entry.values as Record<string, unknown>);
  if (roles.length === 0) return ok("role", `${kind} needs no role beyond custody, which the contract checked`);
  return ok("role", `the ledger required ${roles.join(" / ")} of ${getAddress(String(entry.signer?.address))} when it recorded the event (block ${at.blockNumber})`);
}

/** The signer's role now (at the verified block): for Observed entries, and events the chain has not recorded yet. */
async function checkRole(ctx: Context, entry: TimelineEntry, kind: KindName): Promise<Check> {
  const name = "role";
  const roles = rolesFor(kind, entry.values as Record<string, unknown>);
  if (roles.length === 0) return ok(name, `${kind} needs no role beyond custody, which the contract checked`);
  const signer = getAddress(String(entry.signer?.address));
  const held = await Promise.all(
    roles.map((r) => memo(ctx, `role:${r}:${signer}`, () => ctx.reader.hasRole(ctx.ledger, ROLE_IDS[r], signer, ctx.block))),
  );
  const role = roles.find((_, i) => held[i]);
  if (role === undefined) {
    return fail(name, `${signer} holds no ${roles.join(" / ")} role on the ledger (block ${ctx.block}), which ${kind} needs`);
  }
  return ok(name, `${signer} holds ${role} on the ledger (block ${ctx.block})`);
}

async function checkInclusion(ctx: Context, entry: TimelineEntry, kind: KindName): Promise<Check> {
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
      signer: String(entry.signer?.address).toLowerCase(),
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
  if (p.anchor === null || p.anchor === undefined) {
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

async function checkChainRecord(
  ctx: Context,
  entry: TimelineEntry,
  kind: KindName,
  positions: Map<TimelineEntry, OnChainPosition>,
): Promise<Check> {
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
    if (!sameHex(parsed.args.getValue("batchId"), entry.batchId) || !sameAddress(parsed.args.getValue("actor"), entry.signer?.address)) {
      return fail(name, `the chain's ${kind} with this eventHash is of another batch or actor`);
    }
    positions.set(entry, { blockNumber: receipt.blockNumber, logIndex: log.index });
    return ok(name, `recorded by the ledger contract in block ${receipt.blockNumber} (tx ${short(txHash)})`);
  }
  return fail(name, `transaction ${short(txHash)} has no ledger ${kind} event with eventHash ${short(entry.eventHash)}`);
}

async function verifyEntry(
  ctx: Context,
  answer: Provenance,
  entry: TimelineEntry,
  positions: Map<TimelineEntry, OnChainPosition>,
): Promise<EntryVerification> {
  let kind: KindName | undefined;
  try {
    kind = kindOf(entry);
  } catch {
    kind = undefined;
  }
  const checks: Check[] =
    kind === undefined
      ? [fail("document", `unknown kind ${String(entry?.kind)}`)]
      : await (() => {
          const chain = kind === "Observed" ? undefined : guard("chain", () => checkChainRecord(ctx, entry, kind, positions));
          return Promise.all([
            guard("document", () => checkDocument(ctx, entry, kind)),
            guard("signature", () => checkSignature(ctx, answer, entry, kind)),
            guard("role", async () => roleRecordedOnChain(entry, kind, await chain, positions) ?? checkRole(ctx, entry, kind)),
            guard("inclusion", () => checkInclusion(ctx, entry, kind)),
            ...(chain ? [chain] : []),
          ]);
        })();
  return {
    index: entry?.index,
    kind: String(entry?.kind),
    relation: String(entry?.relation),
    batchId: String(entry?.batchId),
    eventHash: String(entry?.eventHash),
    signer: String(entry?.signer?.address),
    occurredAt: String(entry?.occurredAt),
    status: worst(checks.map((c) => c.status)),
    checks,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Batch checks

function checkHistory(ctx: Context, timeline: readonly TimelineEntry[]): Check {
  const name = "history";
  const own = timeline.filter((t) => t.relation === "own").sort((a, b) => a.index - b.index);
  if (own.length === 0) return fail(name, "the answer shows no entry filed under this batch");
  const gaps: string[] = [];
  own.forEach((t, i) => {
    const expected = i === 0 ? -1 : own[i - 1]!.index;
    if (t.prevIndex !== expected) gaps.push(`entry ${t.index} follows ${t.prevIndex}, not ${expected}`);
  });
  if (gaps.length > 0) return fail(name, `entries are missing from the batch's history: ${gaps.join("; ")}`);
  return ok(name, `${own.length} entries chained through prevIndex from the batch's first (index ${own[0]!.index})`);
}

async function checkHead(
  ctx: Context,
  entries: readonly { entry: TimelineEntry; verification: EntryVerification }[],
  positions: ReadonlyMap<TimelineEntry, OnChainPosition>,
): Promise<Check> {
  const name = "head";
  const head = await ctx.reader.headOf(ctx.ledger, ctx.batchId, ctx.block);
  const lifecycle = entries.filter(
    ({ entry }) => entry.kind !== "Observed" && entry.relation !== "inherited" && entry.chain?.status !== "refused",
  );
  // Chain order for what the chain check saw mined; what is not on chain yet can only come after it.
  const mined = lifecycle
    .filter(({ entry }) => positions.has(entry))
    .sort((a, b) => {
      const pa = positions.get(a.entry)!;
      const pb = positions.get(b.entry)!;
      return pa.blockNumber - pb.blockNumber || pa.logIndex - pb.logIndex;
    });
  const waiting = lifecycle.filter(({ entry }) => !positions.has(entry));
  const fold = (list: readonly { entry: TimelineEntry }[]) => list.reduce((h, { entry }) => nextHead(h, entry.eventHash), ZERO_HASH);
  if (sameHex(fold(mined), head)) {
    if (waiting.length === 0) {
      return mined.length === 0
        ? pending(name, "the batch is not on chain yet")
        : ok(name, `the on-chain head ${short(head)} is the hash chain of the answer's ${mined.length} lifecycle events: none left out`);
    }
    return pending(name, `the on-chain head matches the ${mined.length} events mined so far; ${waiting.length} not on chain yet`);
  }
  if (waiting.length > 0 && sameHex(fold([...mined, ...waiting]), head)) {
    return pending(name, `the on-chain head matches once the ${waiting.length} events not yet confirmed here are counted`);
  }
  return fail(
    name,
    `the on-chain head ${short(head)} is not the hash chain of the answer's ${lifecycle.length} lifecycle events: an event is missing from the log or the answer`,
  );
}

async function checkRecall(ctx: Context, answer: Provenance): Promise<Check> {
  const name = "recall";
  const recalled = await ctx.reader.isRecalled(ctx.ledger, ctx.batchId, ctx.block);
  if (recalled !== answer.batch?.recalled) {
    return fail(name, `the answer says ${answer.batch?.recalled ? "recalled" : "not recalled"}, the chain says ${recalled ? "recalled" : "not recalled"}`);
  }
  return ok(name, recalled ? "recalled, as the chain says" : "not recalled (nor any ancestor), as the chain says");
}

/**
 * The newest block whose events the answer's batch state reflects: that of its latest lifecycle record the server's
 * index holds ("recorded"). The index trails the chain by its confirmation depth, so an answer can be a block or two
 * behind what the verifier reads.
 */
function stateBlock(answer: Provenance): number | undefined {
  let block: number | undefined;
  for (const e of Array.isArray(answer?.timeline) ? answer.timeline : []) {
    const at = e?.chain?.blockNumber;
    if (e?.relation !== "inherited" && e?.chain?.status === "recorded" && typeof at === "number") block = Math.max(block ?? 0, at);
  }
  return block;
}

/**
 * A field of the batch's on-chain record against what the answer shows. Equal now: verified. Equal at the block the
 * answer's state stands at, but since changed on chain: pending (the server's index has not caught up yet, or the
 * answer is stale; either way the shopper should look again, not trust it). Otherwise failed.
 */
async function checkBatchField(
  ctx: Context,
  answer: Provenance,
  name: string,
  shown: string,
  field: (batch: OnChainBatch) => string,
): Promise<Check> {
  const now = await batchAt(ctx, ctx.batchId, ctx.block);
  if (now.status === 0) return pending(name, `the batch is not on chain yet; ${shown} is the server's word`);
  if (field(now) === shown) return ok(name, `${shown}, as the chain says`);
  const at = stateBlock(answer);
  if (at !== undefined && at < ctx.block && field(await batchAt(ctx, ctx.batchId, at)) === shown) {
    return pending(name, `${shown} as of block ${at}, where the answer stands; the chain has since recorded ${field(now)}: look again in a moment`);
  }
  return fail(name, `the answer says ${shown}, the chain ${field(now)}`);
}

function checkCustodian(ctx: Context, answer: Provenance): Promise<Check> {
  const shown = answer.batch?.custodian;
  return checkBatchField(ctx, answer, "custodian", `held by ${String(shown?.address).toLowerCase()}`, (b) => `held by ${b.custodian.toLowerCase()}`);
}

function checkQuantity(ctx: Context, answer: Provenance): Promise<Check> {
  const shown = answer.batch?.quantity;
  return checkBatchField(ctx, answer, "quantity", `${String(shown?.value)} ${String(shown?.unit)}`, (b) => `${b.quantity} ${b.unit}`);
}

/** Every (address, name) the answer shows: whoever signed, registered, holds, was offered or recalled. */
function namedActors(answer: Provenance): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (actor: { address?: unknown; name?: unknown } | null | undefined) => {
    if (!actor || typeof actor.address !== "string" || typeof actor.name !== "string") return;
    const key = actor.address.toLowerCase();
    out.set(key, (out.get(key) ?? new Set()).add(actor.name));
  };
  const b = answer.batch;
  [b?.registrant, b?.custodian, b?.offeredTo, b?.recall?.by].forEach(add);
  (Array.isArray(b?.origins) ? b.origins : []).forEach((o) => add(o?.registrant));
  (Array.isArray(answer.timeline) ? answer.timeline : []).forEach((e) => add(e?.signer));
  return out;
}

async function checkNames(ctx: Context, answer: Provenance): Promise<Check> {
  const name = "names";
  const shown = namedActors(answer);
  const wrong: string[] = [];
  await Promise.all(
    [...shown].map(async ([address, names]) => {
      const profile = await ctx.reader.profileOf(ctx.ledger, address, ctx.block);
      for (const n of names) if (n !== profile.name) wrong.push(`${address} is shown as "${n}", the registry names it "${profile.name}"`);
    }),
  );
  if (wrong.length > 0) return fail(name, wrong.sort().join("; "));
  return ok(name, `${shown.size} actors shown by the names the registry gives them`);
}

async function checkContracts(ctx: Context, answer: Provenance, pinned: boolean): Promise<Check> {
  const name = "contracts";
  const c = answer.chain;
  if (!c) return fail(name, "the answer carries no chain data");
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

// ---------------------------------------------------------------------------------------------------------------

/** Verifies a provenance answer against the chain `reader` reads. Never throws for a bad answer: it fails checks. */
export async function verifyProvenance(answer: Provenance, reader: ChainReader, options: VerifyOptions = {}): Promise<Verification> {
  const trust = options.trust ?? {};
  const pinned = trust.ledger !== undefined && trust.anchor !== undefined;
  const batchId = String(answer?.batch?.batchId ?? "").toLowerCase();
  const [chainId, block] = await Promise.all([reader.chainId(), reader.blockNumber()]);
  const ledger = getAddress(trust.ledger ?? String(answer?.chain?.ledger));
  const anchor = getAddress(trust.anchor ?? String(answer?.chain?.anchor));
  const ctx: Context = { reader, block, chainId, ledger, anchor, batchId, memo: new Map(), ancestors: new Set() };
  // Reads that do not depend on each other are issued together (over HTTP they travel as one JSON-RPC batch): the
  // batch-wide checks start now, the entries once the ancestors are known, the head once the entries are placed.
  const contracts =
    trust.chainId !== undefined && BigInt(trust.chainId) !== chainId
      ? Promise.resolve(fail("contracts", `the RPC serves chain ${chainId}, not the pinned chain ${trust.chainId}`))
      : guard("contracts", () => checkContracts(ctx, answer, pinned));
  const state = Promise.all([
    guard("recall", () => checkRecall(ctx, answer)),
    guard("custodian", () => checkCustodian(ctx, answer)),
    guard("quantity", () => checkQuantity(ctx, answer)),
    guard("names", () => checkNames(ctx, answer)),
  ]);
  ctx.ancestors = await chainAncestors(ctx).catch(() => new Set<string>());

  const timeline: readonly TimelineEntry[] = Array.isArray(answer?.timeline) ? answer.timeline : [];
  const positions = new Map<TimelineEntry, OnChainPosition>();
  const entries = await Promise.all(timeline.map((entry) => verifyEntry(ctx, answer, entry, positions)));
  const paired = timeline.map((entry, i) => ({ entry, verification: entries[i]! }));

  const batch: Check[] = [
    await contracts,
    ...(options.batchId !== undefined && !sameHex(options.batchId, batchId)
      ? [fail("batch", `asked for ${options.batchId}, the answer is about ${batchId}`)]
      : []),
    await guard("history", () => checkHistory(ctx, timeline)),
    await guard("head", () => checkHead(ctx, paired, positions)),
    ...(await state),
  ];

  const all = [...entries.flatMap((e) => e.checks), ...batch];
  const counts = { verified: 0, pending: 0, failed: 0 };
  for (const c of all) counts[c.status]++;
  return {
    batchId,
    status: worst(all.map((c) => c.status)),
    chain: { chainId: chainId.toString(), block, ledger, anchor, pinned },
    entries,
    batch,
    counts,
  };
}
