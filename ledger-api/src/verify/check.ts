/**
 * The vocabulary of the verifier's checks: their names (a closed set: a UI can label each one), their statuses, how
 * a check that throws becomes a failure, and the state one verification shares across its checks (the chain view
 * it reads at one block, and each chain read made once).
 */
import type { Provenance } from "../protocol/answer.ts";
import type { ChainReader, OnChainBatch } from "./chain-reader.ts";

export type Status = "verified" | "pending" | "failed";

/** The checks run on each timeline entry. */
export type EntryCheckName = "document" | "signature" | "role" | "inclusion" | "chain";
/** The checks run once per answer; `answer` fails when the answer does not have the provenance answer's shape. */
export type BatchCheckName = "answer" | "contracts" | "batch" | "history" | "head" | "recall" | "custodian" | "quantity" | "names";
export type CheckName = EntryCheckName | BatchCheckName;

/** One checked fact. `detail` says what was established, or why not, in words a UI can show. */
export interface Check<N extends CheckName = CheckName> {
  readonly name: N;
  readonly status: Status;
  readonly detail: string;
}

const RANK: Record<Status, number> = { verified: 0, pending: 1, failed: 2 };

/** The worst status: failed over pending over verified. */
export function worst(statuses: Iterable<Status>): Status {
  let out: Status = "verified";
  for (const s of statuses) if (RANK[s] > RANK[out]) out = s;
  return out;
}

export const ok = <N extends CheckName>(name: N, detail: string): Check<N> => ({ name, status: "verified", detail });
export const pending = <N extends CheckName>(name: N, detail: string): Check<N> => ({ name, status: "pending", detail });
export const fail = <N extends CheckName>(name: N, detail: string): Check<N> => ({ name, status: "failed", detail });

/** Runs one check; an exception (an RPC error, a value that does not decode) fails that check with its message. */
export async function guard<N extends CheckName>(name: N, fn: () => Promise<Check<N>> | Check<N>): Promise<Check<N>> {
  try {
    return await fn();
  } catch (err) {
    return fail(name, `could not be checked: ${(err as Error)?.message ?? String(err)}`);
  }
}

export function sameAddress(a: unknown, b: unknown): boolean {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

export function sameHex(a: unknown, b: unknown): boolean {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

export function short(hex: string): string {
  return hex.length > 14 ? `${hex.slice(0, 10)}…${hex.slice(-4)}` : hex;
}

/** Canonical JSON of a plain value, for structural comparison (key order ignored). */
export function canonical(x: unknown): string {
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

/** Where the chain check found a lifecycle entry mined, for the role check and the head fold. */
export interface OnChainPosition {
  readonly blockNumber: number;
  readonly logIndex: number;
}

/** Shared state of one verification: the pinned chain view plus memoised reads. */
export interface Context {
  readonly reader: ChainReader;
  readonly block: number;
  readonly chainId: bigint;
  readonly ledger: string;
  readonly anchor: string;
  readonly batchId: string;
  readonly memo: Map<string, Promise<unknown>>;
  /** The batch's ancestors as the chain records them (getBatch().parents, followed up), lower-case. */
  ancestors: ReadonlySet<string>;
  /**
   * For a lot the chain does not hold yet: the lots its logged Split or Merge (in the answer) names, and their chain
   * ancestors. What it inherits through them is pending until that Split or Merge is on chain.
   */
  pendingAncestors: ReadonlySet<string>;
  /** The lots a pending lot's logged Split or Merge names (empty once the chain holds the lot). */
  pendingParents: readonly string[];
}

export function memo<T>(ctx: Context, key: string, fn: () => Promise<T>): Promise<T> {
  let p = ctx.memo.get(key) as Promise<T> | undefined;
  if (!p) {
    p = fn();
    ctx.memo.set(key, p);
  }
  return p;
}

/*
 * The blocks an answer stands at. The server's index trails the chain by its confirmation depth (and, locally, a
 * durable snapshot), and a page keeps the answer it was rendered with, so a verifier usually reads a newer block than
 * these. Comparisons the chain has since moved past are made again at the answer's block: true there means pending
 * (look again), never verified. The blocks are the answer's own claims: a server that claims older ones gets pending
 * at best, and an answer that leaves out an event the chain held at the block it claims still fails.
 */

/** The newest block a lifecycle record of the batch the answer shows as indexed ("recorded") was mined in. */
function newestRecorded(answer: Provenance): number | undefined {
  let block: number | undefined;
  for (const e of answer.timeline) {
    const at = e.chain?.blockNumber;
    if (e.relation !== "inherited" && e.chain?.status === "recorded" && typeof at === "number") block = Math.max(block ?? 0, at);
  }
  return block;
}

/**
 * The block the answer's batch state (custodian, quantity) stands at: the batch's `updatedBlock`, read with that
 * state from the server's index; for a batch the index did not hold yet, its newest record shown as indexed.
 */
export function stateBlock(answer: Provenance): number | undefined {
  return answer.batch.updatedBlock ?? newestRecorded(answer);
}

/**
 * The block the answer's events stand at: its state's block, or a record it shows as indexed if one is newer (the
 * server reads the batch row and the records one after the other, and its index may move in between). Undefined when
 * the answer shows nothing on chain.
 */
export function answerBlock(answer: Provenance): number | undefined {
  const state = answer.batch.updatedBlock;
  const recorded = newestRecorded(answer);
  return state === null ? recorded : Math.max(state, recorded ?? state);
}

/** A batch's on-chain record at `block`, read once per verification. */
export function batchAt(ctx: Context, batchId: string, block: number): Promise<OnChainBatch> {
  return memo(ctx, `batch:${batchId.toLowerCase()}:${block}`, () => ctx.reader.getBatch(ctx.ledger, batchId, block));
}
