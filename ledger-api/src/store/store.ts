/**
 * The service's storage interface. Everything the service persists goes through it; drivers implement it
 * (`sqlite.ts`, embedded, for one process; `postgres.ts`, for several API instances sharing one database), so nothing
 * outside `store/` sees SQL, connections or row shapes. `open.ts` picks the driver from the configuration.
 *
 * Every method is async, even where the embedded driver answers synchronously, so a networked driver fits the same
 * signatures. Reads never observe an uncommitted write: a read returns the state as of some committed transaction.
 *
 * `Store` is the log's methods plus the groups the chain workers own, each an interface it extends: the chain index
 * (index-store.ts, written by the indexer, read by ingest and the queries) and the relay's and anchorer's rows
 * (chain-writers.ts); each group's tables are migrations of their own (migrations.ts).
 */
import type { Hash, NodeReader } from "../log/hash.ts";
import type { AppendItem, AppendResult } from "../log/sequencer.ts";
import type { IndexStore } from "./index-store.ts";
import type { AnchorStore, RelayStore } from "./chain-writers.ts";
import type { EpcisStore } from "./epcis-store.ts";
import type { MarketStore } from "./market-store.ts";
import type { AnswerStore } from "./answer-store.ts";

export type { AppendItem, AppendResult } from "../log/sequencer.ts";
// The chain index's and the chain writers' types and interfaces live in their own files.
export * from "./index-store.ts";
export type * from "./chain-writers.ts";
export type * from "./epcis-store.ts";
export type * from "./market-store.ts";
export type * from "./answer-store.ts";

/** A committed log entry as stored. */
export interface StoredEntry {
  readonly index: number;
  readonly key: string;
  /** Lower-case 0x hex bytes32. */
  readonly batchId: string;
  readonly kind: number;
  /** Index of the previous entry of the same batch, or -1. */
  readonly prevIndex: number;
  readonly leafHash: Hash;
  /** The leaf preimage (decode with log/entry.ts `decodeEntry`). */
  readonly entry: Uint8Array;
  /** The submitted JSON document, verbatim. */
  readonly body: string;
  readonly receivedAt: number;
}

/** Where a logged key's entry is: what a resubmission's receipt needs. */
export type KeyReceipt = Pick<AppendResult, "index" | "leafHash" | "prevIndex">;

/** What a reader catching up with the log needs of a lifecycle entry: no document, no leaf bytes. */
export interface LifecycleEntry {
  readonly index: number;
  readonly kind: number;
  /** The event hash (the entry's key). */
  readonly key: string;
  /** Lower-case 0x address of the entry's signer. */
  readonly signer: string;
}

/** How many Observed entries a count found, and when the oldest of them was received (ms since the epoch). */
export interface ObservationCount {
  readonly count: number;
  readonly oldest?: number;
}

/** A tree size and its RFC 9162 root: what the anchorer commits on chain. */
export interface Checkpoint {
  readonly size: number;
  readonly root: Hash;
}

/** The log: an append-only sequence of entries and the stored nodes of its Merkle tree. */
export interface LogStore extends NodeReader {
  /**
   * Appends a group of items in ONE transaction, sequencing them in order (log/sequencer.ts: dedup by key, batch
   * links, dense indices, every completed subtree node).
   *
   * Durability: when the promise resolves, the group is committed and survives a process crash and a power loss
   * (the SQLite driver commits with WAL + synchronous=FULL, i.e. the WAL is fsynced before COMMIT returns).
   * Atomicity: when it rejects, nothing of the group was stored and the store's state is unchanged. A crash while
   * it is pending stores either the whole group or none of it; resubmitting is safe because keys deduplicate.
   * Results are in item order.
   */
  appendBatch(items: readonly AppendItem[]): Promise<AppendResult[]>;
  /** Number of committed entries (the next index). */
  size(): Promise<number>;
  entry(index: number): Promise<StoredEntry | undefined>;
  /** The committed entries with index in [from, to), in log order (fewer when the log is shorter). */
  entries(from: number, to: number): Promise<StoredEntry[]>;
  entryByKey(key: string): Promise<StoredEntry | undefined>;
  /**
   * Where each key's entry is (index, leaf hash, previous index of its batch), or undefined for a key not logged, in
   * key order, from one snapshot. The ingest dedup of a whole request: no entry bodies read, one round trip for a
   * networked driver.
   */
  receiptsByKeys(keys: readonly string[]): Promise<(KeyReceipt | undefined)[]>;
  /**
   * The entries of [from, to) that are not Observed, in log order, at most `limit`, as LifecycleEntry: what the
   * relay's catch-up pass and ingest's overlay rebuild read of the log they follow. Cheap however many Observed
   * entries the range holds (most of a market's log): none of them, and no body, reaches the caller.
   */
  lifecycleEntries(from: number, to: number, limit: number): Promise<LifecycleEntry[]>;
  /** Index of the batch's latest committed entry, or undefined if the batch has none. */
  lastIndexOfBatch(batchId: string): Promise<number | undefined>;
  /**
   * Every committed entry filed under `batchId`, in log order (one consistent snapshot). Entries that touch the batch
   * but are filed under another id (the Split that created a child lot) are not included; follow lineage for them.
   */
  entriesOfBatch(batchId: string): Promise<StoredEntry[]>;
  /**
   * The key of the entry that spent `nonce` (decimal) of `signer`, or undefined. Every entry appended with a nonce
   * spends it: a group that would spend one twice is refused whole (SQLite: a unique index).
   */
  nonceSpentBy(signer: string, nonce: string): Promise<string | undefined>;
  /** `signer`'s Observed entries of `batchId` received after `sinceMs` (ms since the epoch), and the oldest's time. */
  observationsSince(batchId: string, signer: string, sinceMs: number): Promise<ObservationCount>;
  /** Root of the committed tree (EMPTY_ROOT when empty). */
  latestRoot(): Promise<Hash>;
  /** Size and root of the committed tree, taken together (never a root of one size paired with another size). */
  checkpoint(): Promise<Checkpoint>;
  /**
   * Holds the log for admission. Ingest judges events against everything logged before them (ingest/rules.ts), so
   * judging and appending must not interleave with another appender's: from the moment the hold is granted until
   * it is released, no other process appends. The hold's `size` is the log's size when it was granted; entries
   * below it are what the judge must take into account.
   *
   * Within one process holds are shared: a hold requested while another is held joins it (same `size`), so the
   * requests of one instance share a group commit; release each once the appends made under it are committed or
   * have failed. A hold held for long stops taking joiners (it is released when its holders are done, and queued
   * again behind other processes), so one busy instance cannot starve the others.
   *
   * Fencing: an appendBatch made while a hold is held fails with LogMovedError, storing nothing, if the log moved
   * under the hold (another process appended after all: the hold's database session was cut, say). So nothing
   * judged against a stale log is ever committed. SQLite: one process owns the store, the hold is immediate.
   */
  holdForAdmission(): Promise<AdmissionHold>;
}

/** A hold on the log for admission; see `LogStore.holdForAdmission`. */
export interface AdmissionHold {
  /** The log's size when the hold was granted: no other process appends while it is held. */
  readonly size: number;
  /** Ends this holder's share of the hold. Call exactly once. */
  release(): void;
}

/** Reads and writes available inside a transaction; they see the transaction's own uncommitted writes. */
export interface StoreTx {
  /** Log reads inside the transaction. Appends are not offered here: they go through `appendBatch`. */
  entry(index: number): Promise<StoredEntry | undefined>;
  entryByKey(key: string): Promise<StoredEntry | undefined>;
  lastIndexOfBatch(batchId: string): Promise<number | undefined>;
}

/** Counters a driver keeps for tests and metrics. */
export interface StoreStats {
  /** Write transactions committed (one per appendBatch call that wrote or read anything, one per `transaction`). */
  readonly commits: number;
  readonly rollbacks: number;
}

/**
 * Which API instance runs the chain writers (indexer, relay, anchorer): exactly one at a time, the holder of this
 * lease. See `Store.leaderLease`.
 */
export interface LeaderLease {
  /**
   * Takes the lease when it is free, expired or its holder's database session is gone, or renews it when this
   * instance holds it. Resolves with the lease's epoch while this instance holds it, undefined otherwise. From the
   * moment another instance takes the lease, every chain-writer write of this store is refused (NotLeaderError):
   * writes carry the epoch as a fencing token, so a deposed leader that wakes up cannot write.
   */
  acquire(): Promise<number | undefined>;
  /** Gives the lease up (if held) so another instance takes over at once. */
  release(): Promise<void>;
}

export interface LeaderLeaseOptions {
  /** Names this instance in the lease row (operations: who leads). */
  readonly holder: string;
  /** A holder that has not renewed for this long has lost the lease; the bound on a takeover after a freeze. */
  readonly ttlMs: number;
}

/** State the API instances of one store share (one process: kept in memory). */
export interface SharedStateStore {
  /**
   * Adds `calls` to what `client` spent in the rate-limit window `window`, unless that would take it over `limit`;
   * resolves with whether it was added. Atomic across instances. Windows before `window` may be forgotten.
   */
  spendRpcCalls(client: string, window: number, calls: number, limit: number): Promise<boolean>;
}

/**
 * EpcisStore (epcis-store.ts) is the EPCIS interface's: a query index projected from the log and the capture jobs;
 * five methods, two tables plus a cursor. MarketStore (market-store.ts) is the market screens': a projection of the
 * log (lot origins and holders, arrivals, lab tests, pesticide intervals, recall acknowledgements) and the grouped
 * reads of the safety centre; seven methods, five tables plus a cursor. AnswerStore (answer-store.ts) is the provenance
 * answer's: a lot's lifecycle entries and its observations page by page, their summary per reading type, and the
 * versions its cache checks; six methods over tables the store keeps in the same transactions as the rows they follow.
 */
export interface Store extends LogStore, IndexStore, AnchorStore, RelayStore, EpcisStore, MarketStore, AnswerStore, SharedStateStore {
  /** Which driver this is: "sqlite" (one process) or "postgres" (several instances). */
  readonly driver: "sqlite" | "postgres";
  /**
   * Runs `fn` in one write transaction: committed if it resolves, rolled back if it rejects (the rejection is
   * passed on). Write transactions, including appendBatch, run one at a time in call order.
   * `fn` must do its store work through `tx`; the store's own read methods keep answering from committed state.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  stats(): StoreStats;
  /**
   * The chain writers' lease. From this call on, the chain-writer writes (index, relay and anchor rows) of this store
   * object succeed only while the lease is held. SQLite: one process owns the store, so the lease is always granted.
   */
  leaderLease(options: LeaderLeaseOptions): LeaderLease;
  /** Waits for the running write transaction, then closes. Later calls reject with StoreClosedError. */
  close(): Promise<void>;
}

/** The store was used after close(). */
export class StoreClosedError extends Error {
  constructor() {
    super("store is closed");
    this.name = "StoreClosedError";
  }
}

/** The database was written by newer code than this; opening it could corrupt data this code does not understand. */
export class SchemaTooNewError extends Error {
  readonly databaseVersion: number;
  readonly codeVersion: number;
  constructor(databaseVersion: number, codeVersion: number) {
    super(
      `database schema version ${databaseVersion} is newer than this code supports (${codeVersion}); ` +
        `upgrade the service or restore a matching backup`,
    );
    this.name = "SchemaTooNewError";
    this.databaseVersion = databaseVersion;
    this.codeVersion = codeVersion;
  }
}

/** The log moved under an admission hold: the events judged under it were not appended; submit them again. */
export class LogMovedError extends Error {
  readonly expected: number;
  readonly actual: number;
  constructor(expected: number, actual: number) {
    super(`the log holds ${actual} entries, but ${expected} were expected under this instance's admission hold`);
    this.name = "LogMovedError";
    this.expected = expected;
    this.actual = actual;
  }
}

/** A chain-writer write was refused: this instance does not hold the leader lease (any more). */
export class NotLeaderError extends Error {
  readonly epoch: number;
  readonly current: number;
  constructor(epoch: number, current: number) {
    super(`this instance's leader lease (epoch ${epoch}) is not the current one (epoch ${current}): another instance leads`);
    this.name = "NotLeaderError";
    this.epoch = epoch;
    this.current = current;
  }
}

/** Stored state contradicts itself or another writer changed the log underneath this process. */
export class StoreCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreCorruptError";
  }
}
