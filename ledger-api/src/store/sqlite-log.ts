/**
 * The log's side of the SQLite driver, on one connection: its read statements, the frontier reloaded at open, and
 * the append transaction. Shared by the driver (sqlite.ts) and its log writer thread (sqlite-log-worker.ts), so the
 * write rule is one piece of code wherever it runs.
 *
 * The append transaction (SqliteLogAppender.append): BEGIN IMMEDIATE; the stored size must equal this appender's
 * in-memory size (a second writer is detected before it forks the tree); the group is sequenced (log/sequencer.ts)
 * on a copy of the frontier; entries and the nodes they complete are inserted; COMMIT, which with `synchronous=FULL`
 * returns only once the WAL is fsynced. The frontier is adopted only after COMMIT returned, so a failed group leaves
 * the appender as it was and the database without a trace of the group. Synchronous from BEGIN to COMMIT: no other
 * JavaScript runs on this connection meanwhile.
 *
 * Imports only the log's math and this folder's row helpers, so the writer thread loads little.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { Frontier } from "../log/frontier.ts";
import { bytesToHex, type Hash, type NodeRef } from "../log/hash.ts";
import { sequence, type AppendItem, type AppendResult, type SequencerLookups } from "../log/sequencer.ts";
import { blob, ENTRY_COLUMNS, int, optInt, str, toEntry } from "./rows.ts";
import { entrySigner } from "../log/entry.ts";
import { StoreCorruptError, type KeyReceipt, type LifecycleEntry, type StoredEntry } from "./store.ts";

/** Written with each entry besides what StoredEntry reads back: for the ingest's nonce and observation rules. */
const INSERT_COLUMNS = `${ENTRY_COLUMNS}, signer, nonce`;
export const OBSERVED = 10;

/** WAL with synchronous=FULL (see sqlite.ts on durability); synchronous and foreign_keys are per connection. */
export function configure(db: DatabaseSync): void {
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA foreign_keys = ON");
}

/** The read statements, prepared once per connection. */
export class LogReads {
  readonly byIndex: StatementSync;
  readonly byKey: StatementSync;
  readonly seenKey: StatementSync;
  readonly lastOfBatch: StatementSync;
  readonly ofBatch: StatementSync;
  readonly range: StatementSync;
  readonly nodeStmt: StatementSync;
  readonly maxIdx: StatementSync;
  private readonly db: DatabaseSync;
  private nonceStmt: StatementSync | undefined;
  private observationsStmt: StatementSync | undefined;
  private headsStmt: StatementSync | undefined;

  constructor(db: DatabaseSync) {
    this.db = db;
    this.byIndex = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE idx = ?`);
    this.byKey = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE key = ?`);
    // The dedup probe of every append: only what a duplicate's receipt needs, not the body and entry blobs.
    this.seenKey = db.prepare("SELECT idx, leaf_hash, prev_idx FROM log_entries WHERE key = ?");
    this.lastOfBatch = db.prepare("SELECT max(idx) AS idx FROM log_entries WHERE batch_id = ?");
    // Served by the (batch_id, idx) index, already in log order.
    this.ofBatch = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE batch_id = ? ORDER BY idx`);
    this.range = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx`);
    this.nodeStmt = db.prepare("SELECT hash FROM log_nodes WHERE level = ? AND idx = ?");
    this.maxIdx = db.prepare("SELECT max(idx) AS idx FROM log_entries");
  }

  // Prepared on first use: a store opened with only the first migrations (tests of older databases) has no
  // signer / nonce columns.
  get nonceOwner(): StatementSync {
    this.nonceStmt ??= this.db.prepare("SELECT key FROM log_entries WHERE signer = ? AND nonce = ?");
    return this.nonceStmt;
  }

  get observations(): StatementSync {
    // Served by the partial index log_entries_observations (the kind must be the literal it is declared with).
    this.observationsStmt ??= this.db.prepare(
      `SELECT count(*) AS n, min(received_at) AS oldest FROM log_entries
       WHERE kind = ${OBSERVED} AND batch_id = ? AND signer = ? AND received_at > ?`,
    );
    return this.observationsStmt;
  }

  /**
   * Index, kind, key and entry bytes of the entries of an index range that are not Observed: a walk of the primary
   * key in which SQLite skips the Observed rows itself, so none of them (nor any body) reaches JavaScript.
   */
  get lifecycleHeads(): StatementSync {
    this.headsStmt ??= this.db.prepare(
      `SELECT idx, kind, key, entry FROM log_entries WHERE idx >= ? AND idx < ? AND kind != ${OBSERVED} ORDER BY idx LIMIT ?`,
    );
    return this.headsStmt;
  }

  entry(index: number): StoredEntry | undefined {
    const row = this.byIndex.get(index);
    return row === undefined ? undefined : toEntry(row);
  }

  entryByKey(key: string): StoredEntry | undefined {
    const row = this.byKey.get(key);
    return row === undefined ? undefined : toEntry(row);
  }

  receiptByKey(key: string): KeyReceipt | undefined {
    const row = this.seenKey.get(key);
    if (row === undefined) return undefined;
    return { index: int(row, "idx"), leafHash: blob(row, "leaf_hash"), prevIndex: optInt(row, "prev_idx") ?? -1 };
  }

  lastIndexOfBatch(batchId: string): number | undefined {
    return optInt(this.lastOfBatch.get(batchId.toLowerCase()), "idx");
  }

  lifecycleEntries(from: number, to: number, limit: number): LifecycleEntry[] {
    return this.lifecycleHeads.all(from, to, limit).map((row) => ({
      index: int(row, "idx"),
      kind: int(row, "kind"),
      key: str(row, "key"),
      signer: entrySigner(blob(row, "entry")),
    }));
  }

  entriesOfBatch(batchId: string): StoredEntry[] {
    return this.ofBatch.all(batchId.toLowerCase()).map(toEntry);
  }

  entries(from: number, to: number): StoredEntry[] {
    return this.range.all(from, to).map(toEntry);
  }

  storedSize(): number {
    return (optInt(this.maxIdx.get(), "idx") ?? -1) + 1;
  }

  node(ref: NodeRef): Hash | undefined {
    const row = this.nodeStmt.get(ref.level, ref.index);
    return row === undefined ? undefined : blob(row, "hash");
  }
}

/** Rebuilds the in-memory frontier from log_nodes and checks it against the entries table. */
export function loadFrontier(reads: LogReads): Frontier {
  const size = reads.storedSize();
  const refs = Frontier.refs(size);
  const hashes = refs.map((ref) => {
    const h = reads.node(ref);
    if (h === undefined) throw new StoreCorruptError(`log of ${size} entries is missing node (${ref.level}, ${ref.index})`);
    return h;
  });
  if (size > 0) {
    const last = reads.entry(size - 1);
    const leaf = reads.node({ level: 0, index: size - 1 });
    if (last === undefined || leaf === undefined || bytesToHex(last.leafHash) !== bytesToHex(leaf)) {
      throw new StoreCorruptError(`last entry ${size - 1} does not match its stored leaf node`);
    }
  }
  return Frontier.fromNodes(size, hashes);
}

/** The log's append transaction on one writer connection (see the file comment). */
export class SqliteLogAppender {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly reads: LogReads;
  private readonly insertEntry: StatementSync;
  private readonly insertNode: StatementSync;
  private readonly withSigners: boolean;
  private frontier: Frontier;
  private currentRoot: Hash;

  constructor(db: DatabaseSync, path: string, reads = new LogReads(db), frontier = loadFrontier(reads)) {
    this.db = db;
    this.path = path;
    this.reads = reads;
    this.frontier = frontier;
    this.currentRoot = frontier.root();
    // Without the signer / nonce columns only in a database opened with the first migrations alone (tests).
    this.withSigners = db.prepare("SELECT 1 FROM pragma_table_info('log_entries') WHERE name = 'nonce'").get() !== undefined;
    this.insertEntry = this.withSigners
      ? db.prepare(`INSERT INTO log_entries (${INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      : db.prepare(`INSERT INTO log_entries (${ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertNode = db.prepare("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)");
  }

  /** Entries committed (the next index). */
  get size(): number {
    return this.frontier.size;
  }

  /** Root of the committed tree. */
  get root(): Hash {
    return this.currentRoot;
  }

  /** One group in one transaction; throws (having rolled back) if anything of it fails. */
  append(items: readonly AppendItem[]): AppendResult[] {
    if (items.length === 0) return [];
    const reads = this.reads;
    const lookups: SequencerLookups = {
      entryByKey: (key) => reads.receiptByKey(key),
      lastIndexOfBatch: (batchId) => reads.lastIndexOfBatch(batchId),
    };
    this.db.exec("BEGIN IMMEDIATE");
    let group: ReturnType<typeof sequence>;
    try {
      const stored = reads.storedSize();
      if (stored !== this.frontier.size) {
        throw new StoreCorruptError(
          `log holds ${stored} entries but this process expected ${this.frontier.size}: another process wrote to ${this.path}`,
        );
      }
      group = sequence(items, this.frontier.clone(), lookups);
      for (const r of group.rows) {
        this.insertEntry.run(
          r.index,
          r.key,
          r.batchId,
          r.kind,
          r.prevIndex < 0 ? null : r.prevIndex,
          r.leafHash,
          r.entry,
          r.body,
          r.receivedAt,
          ...(this.withSigners ? [r.signer, r.nonce ?? null] : []),
        );
      }
      for (const n of group.nodes) this.insertNode.run(n.level, n.index, n.hash);
      this.db.exec("COMMIT");
    } catch (e) {
      // A failed COMMIT may already have ended the transaction; there is then nothing to roll back.
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw e;
    }
    // Adopted only now that COMMIT has returned: a failed group leaves frontier, size and root untouched.
    this.frontier = group.frontier;
    this.currentRoot = group.frontier.root();
    return group.results;
  }
}
