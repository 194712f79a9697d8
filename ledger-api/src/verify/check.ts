/**
 * The vocabulary of the verifier's checks: their names (a closed set: a UI can label each one), their statuses, how
 * a check that throws becomes a failure, and the state one verification shares across its checks (the chain view
 * it reads at one block, and each chain read made once).
 */
import type { ChainReader, OnChainBatch } from "./chain-reader.ts";

export type Status = "verified" | "pending" | "failed";

/** The checks run on each timeline entry. */
export type EntryCheckName = "document" | "signature" | "role" | "inclusion" | "chain";
/** The checks run once per answer; `answer` fails when the answer does not have the provenance answer's shape. */
export type BatchCheckName =
  | "answer"
  | "contracts"
  | "batch"
  | "history"
  | "head"
  | "recall"
  | "custodian"
  | "quantity"
  | "names"
  | "observations";
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

/** A batch's on-chain record at `block`, read once per verification. */
export function batchAt(ctx: Context, batchId: string, block: number): Promise<OnChainBatch> {
  return memo(ctx, `batch:${batchId.toLowerCase()}:${block}`, () => ctx.reader.getBatch(ctx.ledger, batchId, block));
}
