/**
 * The independent verifier: checks a provenance answer (protocol/answer.ts) against the chain, trusting the ledger's
 * server for nothing but the bytes of the answer itself. Used by the CLI (scripts/verify.ts) and, bundled, by the
 * shopper's browser (verify/browser.ts), so it imports only protocol/, log/ and gs1/ and no Node module; the chain
 * comes in as a ChainReader.
 *
 * Trust root: the chain RPC the user chose and the contract addresses in `options.trust` (chain id, ProvenanceLedger,
 * LogAnchor). Without pinned addresses the answer's own addresses are used and the `contracts` check stays pending:
 * a server that deploys look-alike contracts it controls could otherwise make anything verify.
 *
 * The checks, by family (each file's header says what its checks establish):
 * - answer (answer-shape.ts): the answer has the provenance answer's shape; if not, nothing else is checked;
 * - per timeline entry: document and signature (document-checks.ts), role (role-checks.ts), inclusion
 *   (inclusion-checks.ts), and chain for lifecycle kinds (chain-checks.ts);
 * - per batch: contracts and head (chain-checks.ts), history (inclusion-checks.ts), recall, custodian, quantity and
 *   names (batch-state-checks.ts), and batch when the caller named the batch it asked for.
 *
 * A lot the chain does not hold yet (logged; its Registered, Split or Merge on its way) is pending, never verified and
 * never failed for that alone: its lineage is taken from the Split or Merge the answer shows (whose document must name
 * it), what it inherits through that is pending, custodian and quantity are pending, and its recall is the chain's
 * recall of the lots it is cut from. An answer built while the lot was pending and read after the chain recorded it
 * is pending where the chain has moved on; a recall is never excused.
 *
 * Status: failed if any check failed, else pending if any is pending, else verified. A check never throws: an
 * exception (RPC error, a value that does not decode) fails that check with its message.
 */
import { getAddress } from "ethers";
import type { Provenance, TimelineEntry } from "../protocol/answer.ts";
import { batchIdOf, KIND_NAMES, type KindName } from "../protocol/typed-data.ts";
import { answerShapeErrors } from "./answer-shape.ts";
import { checkCustodian, checkNames, checkQuantity, checkRecall } from "./batch-state-checks.ts";
import { checkChainRecord, checkContracts, checkHead } from "./chain-checks.ts";
import type { ChainReader } from "./chain-reader.ts";
import { batchAt, fail, guard, sameHex, worst, type Check, type Context, type OnChainPosition, type Status } from "./check.ts";
import { checkDocument, checkSignature } from "./document-checks.ts";
import { checkHistory, checkInclusion } from "./inclusion-checks.ts";
import { checkObserver, checkRole, roleRecordedOnChain } from "./role-checks.ts";

export { httpRpc, providerReader, rpcReader, type ChainReader } from "./chain-reader.ts";
export { worst, type BatchCheckName, type Check, type CheckName, type EntryCheckName, type Status } from "./check.ts";

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
  /** answer (only when it failed), contracts, batch (when asked), history, head, recall, custodian, quantity, names. */
  readonly batch: readonly Check[];
  readonly counts: { readonly verified: number; readonly pending: number; readonly failed: number };
}

export interface VerifyOptions {
  /** The contracts to verify against (the trust root); unset fields are taken from the answer and left unpinned. */
  readonly trust?: { readonly chainId?: number | bigint; readonly ledger?: string; readonly anchor?: string };
  /** The batch the caller asked for: the answer must be about it. */
  readonly batchId?: string;
}

/** Lineage bound: the contract caps ancestry at 32 per path; this stops a walk of a corrupt graph. */
const MAX_ANCESTORS = 256;

/** The ancestors of `from` (the batch by default), read from the chain, not from the answer. */
async function chainAncestors(ctx: Context, from: readonly string[] = [ctx.batchId]): Promise<Set<string>> {
  const found = new Set<string>();
  let frontier = [...from];
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

/**
 * The parents a lot not on chain yet gets from the answer's own signed entries: the Split shown as creating it (filed
 * under its parent) or its own Merged document's parents. Only entries whose document names the lot count.
 */
function loggedParents(ctx: Context, timeline: readonly TimelineEntry[]): string[] {
  const parents = new Set<string>();
  for (const entry of timeline) {
    try {
      if (entry.kind === "Split" && entry.relation === "created") {
        const values = entry.values as { children?: { gtin: string; lot: string }[] };
        if ((values.children ?? []).some((c) => batchIdOf(c.gtin, c.lot).toLowerCase() === ctx.batchId)) parents.add(entry.batchId.toLowerCase());
      } else if (entry.kind === "Merged" && entry.relation === "own" && sameHex(entry.batchId, ctx.batchId)) {
        for (const p of (entry.values as { parents?: string[] }).parents ?? []) parents.add(p.toLowerCase());
      }
    } catch {
      // A malformed entry names no parent; its own checks fail it.
    }
  }
  return [...parents];
}

function isKind(kind: string): kind is KindName {
  return (KIND_NAMES as readonly string[]).includes(kind);
}

async function verifyEntry(
  ctx: Context,
  answer: Provenance,
  entry: TimelineEntry,
  positions: Map<TimelineEntry, OnChainPosition>,
): Promise<EntryVerification> {
  const kind = entry.kind;
  let checks: Check[];
  if (!isKind(kind)) {
    checks = [fail("document", `unknown kind ${kind}`)];
  } else {
    const chain = kind === "Observed" ? undefined : guard("chain", () => checkChainRecord(ctx, entry, kind, positions));
    checks = await Promise.all([
      guard("document", () => checkDocument(ctx, entry, kind)),
      guard("signature", () => checkSignature(ctx, answer, entry, kind)),
      guard("role", async () =>
        kind === "Observed"
          ? checkObserver(ctx, answer, entry)
          : (roleRecordedOnChain(entry, kind, await chain, positions) ?? checkRole(ctx, entry, kind)),
      ),
      guard("inclusion", () => checkInclusion(ctx, entry, kind)),
      ...(chain ? [chain] : []),
    ]);
  }
  return {
    index: entry.index,
    kind,
    relation: entry.relation,
    batchId: entry.batchId,
    eventHash: entry.eventHash,
    signer: entry.signer.address,
    occurredAt: entry.occurredAt,
    status: worst(checks.map((c) => c.status)),
    checks,
  };
}

function verification(
  batchId: string,
  chain: Verification["chain"],
  entries: readonly EntryVerification[],
  batch: readonly Check[],
): Verification {
  const all = [...entries.flatMap((e) => e.checks), ...batch];
  const counts = { verified: 0, pending: 0, failed: 0 };
  for (const c of all) counts[c.status]++;
  return { batchId, status: worst(all.map((c) => c.status)), chain, entries, batch, counts };
}

/** Verifies a provenance answer against the chain `reader` reads. Never throws for a bad answer: it fails checks. */
export async function verifyProvenance(answer: unknown, reader: ChainReader, options: VerifyOptions = {}): Promise<Verification> {
  const trust = options.trust ?? {};
  const pinned = trust.ledger !== undefined && trust.anchor !== undefined;
  const [chainId, block] = await Promise.all([reader.chainId(), reader.blockNumber()]);
  const shapeErrors = answerShapeErrors(answer);
  if (shapeErrors !== undefined) {
    const claimed = (answer as { batch?: { batchId?: unknown } } | null)?.batch?.batchId;
    const chain = { chainId: chainId.toString(), block, ledger: trust.ledger ?? "", anchor: trust.anchor ?? "", pinned };
    return verification(String(claimed ?? "").toLowerCase(), chain, [], [fail("answer", `not a provenance answer: ${shapeErrors}`)]);
  }
  const valid = answer as Provenance;
  const batchId = valid.batch.batchId.toLowerCase();
  const ledger = getAddress(trust.ledger ?? valid.chain.ledger);
  const anchor = getAddress(trust.anchor ?? valid.chain.anchor);
  const ctx: Context = {
    reader,
    block,
    chainId,
    ledger,
    anchor,
    batchId,
    memo: new Map(),
    ancestors: new Set(),
    pendingAncestors: new Set(),
    pendingParents: [],
  };
  // A lot the chain does not hold yet (logged, its creating event on the way): its lineage is the logged one, pending.
  if ((await batchAt(ctx, batchId, block).catch(() => undefined))?.status === 0) {
    ctx.pendingParents = loggedParents(ctx, valid.timeline);
    ctx.pendingAncestors = new Set([
      ...ctx.pendingParents,
      ...(await chainAncestors(ctx, ctx.pendingParents).catch(() => new Set<string>())),
    ]);
  }
  // Reads that do not depend on each other are issued together (over HTTP they travel as one JSON-RPC batch): the
  // batch-wide checks start now, the entries once the ancestors are known, the head once the entries are placed.
  const contracts =
    trust.chainId !== undefined && BigInt(trust.chainId) !== chainId
      ? Promise.resolve(fail("contracts", `the RPC serves chain ${chainId}, not the pinned chain ${trust.chainId}`))
      : guard("contracts", () => checkContracts(ctx, valid, pinned));
  const state = Promise.all([
    guard("recall", () => checkRecall(ctx, valid)),
    guard("custodian", () => checkCustodian(ctx, valid)),
    guard("quantity", () => checkQuantity(ctx, valid)),
    guard("names", () => checkNames(ctx, valid)),
  ]);
  ctx.ancestors = await chainAncestors(ctx).catch(() => new Set<string>());

  const positions = new Map<TimelineEntry, OnChainPosition>();
  const entries = await Promise.all(valid.timeline.map((entry) => verifyEntry(ctx, valid, entry, positions)));

  const batch: Check[] = [
    await contracts,
    ...(options.batchId !== undefined && !sameHex(options.batchId, batchId)
      ? [fail("batch", `asked for ${options.batchId}, the answer is about ${batchId}`)]
      : []),
    await guard("history", () => checkHistory(valid.timeline)),
    await guard("head", () => checkHead(ctx, valid, positions)),
    ...(await state),
  ];
  return verification(batchId, { chainId: chainId.toString(), block, ledger, anchor, pinned }, entries, batch);
}
