/**
 * The embedded store: `node:sqlite` (DatabaseSync) on `<dataDir>/ledger.db`.
 *
 * Durability. The database runs in WAL mode with `synchronous=FULL`: COMMIT returns only after the WAL, including the
 * commit record, has been fsynced. So once appendBatch / transaction resolves, the data survives a process crash AND
 * an OS crash or power loss (on storage that honours fsync). With `synchronous=NORMAL` the last transactions could
 * be lost on power loss; that is why it is not used. A crash before COMMIT returns loses the whole transaction and
 * nothing else: log entries and the tree nodes they complete are written in the same transaction, so a reopened
 * database never holds an entry without its nodes or a node without its entries.
 *
 * Connections. One writer connection (all write transactions, strictly one at a time, in call order) and one
 * read-only connection for the public read methods. WAL gives the reader the last committed state, so a read issued
 * while a write transaction is open never sees uncommitted rows, even when `transaction(fn)` awaits in between.
 *
 * Single writer. The log's right edge (frontier), size and root are kept in memory after open (reloaded from
 * log_nodes at start). Only one process may append to a database: each write transaction first checks that the
 * stored size still equals the in-memory size and fails with StoreCorruptError otherwise, so a second writer is
 * detected before it can fork the tree. (For more than one API instance use the PostgreSQL driver, postgres.ts.) So
 * this process always holds the log for admission and the chain writers' lease, and keeps the /rpc budgets in memory.
 *
 * Event loop. DatabaseSync blocks the thread for the length of each statement, including the COMMIT fsync. Group
 * commit keeps that to one fsync per group; moving the writer into a worker thread is a later, interface-neutral step.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { StatementSync } from "node:sqlite";
import { blob, ENTRY_COLUMNS, int, optInt, str, toEntry, type Row } from "./sqlite-rows.ts";
import { Frontier } from "../log/frontier.ts";
import type { Hash, NodeRef } from "../log/hash.ts";
import { bytesToHex } from "../log/hash.ts";
import { sequence } from "../log/sequencer.ts";
import type { AppendItem, AppendResult, SequencerLookups } from "../log/sequencer.ts";
import { MIGRATIONS } from "./migrations.ts";
import { IndexSql } from "./sqlite-index.ts";
import { SqliteChainWriters } from "./sqlite-chain-writers.ts";
import { SqliteEpcis } from "./sqlite-epcis.ts";
import type { CaptureJobRecord, EpcisFilter, EpcisIndexRow } from "./epcis-store.ts";
import { SqliteMarket } from "./sqlite-market.ts";
import { SqliteAnswers } from "./sqlite-answers.ts";
import type { AnswerVersions, ObservationSummaryRow, ReadingHourRow } from "./answer-store.ts";
import type { HoldingFilter, LotHolding, MarketAckRow, MarketDelta, MarketFigures, MarketLotRow } from "./market-store.ts";
import type {
  AnchorIntent,
  AnchorOutcome,
  NewAnchorIntent,
  NewRelayRow,
  RelayGroup,
  RelayRecord,
  RelayRefusal,
  RelayRewrite,
  RelaySent,
  RelaySettlement,
  RelayStatus,
} from "./chain-writers.ts";
import type { Migration } from "./migrations.ts";
import { SchemaTooNewError, StoreClosedError, StoreCorruptError } from "./store.ts";
import type {
  AdmissionHold,
  Checkpoint,
  KeyReceipt,
  LeaderLease,
  ObservationCount,
  Store,
  StoreStats,
  StoreTx,
  StoredEntry,
} from "./store.ts";
import type {
  ActorProfile,
  AnchorRow,
  BatchEventRow,
  ChainBatch,
  ChainCursor,
  IndexedBatch,
  IndexKeys,
  IndexState,
  LifecycleEventRow,
  LineageEdge,
  RoleContract,
  RoleGrant,
  TraceEdge,
  TraceOptions,
} from "./store.ts";

export const DB_FILE = "ledger.db";

export interface SqliteStoreOptions {
  /** Migrations to apply; defaults to all of MIGRATIONS. Tests pass a prefix to create an "older" database. */
  readonly migrations?: readonly Migration[];
  /** How long a statement waits for a lock held by another connection (checkpointing reader/writer). */
  readonly busyTimeoutMs?: number;
}

/** Written with each entry besides what StoredEntry reads back: for the ingest's nonce and observation rules. */
const INSERT_COLUMNS = `${ENTRY_COLUMNS}, signer, nonce`;
const OBSERVED = 10;

/** The read statements, prepared once per connection. */
class LogReads {
  readonly byIndex: StatementSync;
  readonly byKey: StatementSync;
  readonly seenKey: StatementSync;
  readonly lastOfBatch: StatementSync;
  readonly ofBatch: StatementSync;
  readonly range: StatementSync;
  readonly nodeStmt: StatementSync;
  readonly maxIdx: StatementSync;

  constructor(db: DatabaseSync) {
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
    this.db = db;
  }

  private readonly db: DatabaseSync;
  private nonceStmt: StatementSync | undefined;
  private observationsStmt: StatementSync | undefined;

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

  entry(index: number): StoredEntry | undefined {
    const row = this.byIndex.get(index);
    return row === undefined ? undefined : toEntry(row);
  }

  entryByKey(key: string): StoredEntry | undefined {
    const row = this.byKey.get(key);
    return row === undefined ? undefined : toEntry(row);
  }

  receiptByKey(key: string): Pick<AppendResult, "index" | "leafHash" | "prevIndex"> | undefined {
    const row = this.seenKey.get(key);
    if (row === undefined) return undefined;
    return { index: int(row, "idx"), leafHash: blob(row, "leaf_hash"), prevIndex: optInt(row, "prev_idx") ?? -1 };
  }

  lastIndexOfBatch(batchId: string): number | undefined {
    return optInt(this.lastOfBatch.get(batchId.toLowerCase()), "idx");
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

function configure(db: DatabaseSync): void {
  // journal_mode is persistent in the file; synchronous and foreign_keys are per connection, so set them on each.
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA foreign_keys = ON");
}

/** Applies the missing migrations in one transaction; refuses a database newer than `migrations`. */
function migrate(db: DatabaseSync, migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list out of order at position ${i}: version ${m.version}`);
  });
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const current = optInt(db.prepare("SELECT max(version) AS v FROM schema_migrations").get(), "v") ?? 0;
    if (current > migrations.length) throw new SchemaTooNewError(current, migrations.length);
    const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
    for (const m of migrations.slice(current)) {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

export class SqliteStore implements Store {
  readonly driver = "sqlite";
  private closed = false;
  /** /rpc calls spent per client in the current window (one process: memory is the shared state). */
  private rpcWindow = 0;
  private rpcSpent = new Map<string, number>();
  private writeTail: Promise<void> = Promise.resolve();
  private commits = 0;
  private rollbacks = 0;
  private root: Hash;
  private readonly insertEntry: StatementSync;
  private readonly withSigners: boolean;
  private readonly insertNode: StatementSync;
  private readonly writerReads: LogReads;
  private readonly readerReads: LogReads;
  private readonly indexWriter: IndexSql;
  private readonly indexReader: IndexSql;

  private readonly writer: DatabaseSync;
  private readonly reader: DatabaseSync;
  private frontier: Frontier;
  private readonly chainWriters: SqliteChainWriters;
  private readonly epcis: SqliteEpcis;
  private readonly market: SqliteMarket;
  private readonly answers: SqliteAnswers;
  readonly path: string;

  private constructor(writer: DatabaseSync, reader: DatabaseSync, frontier: Frontier, path: string) {
    this.writer = writer;
    this.reader = reader;
    this.frontier = frontier;
    this.path = path;
    this.root = frontier.root();
    // Without the signer / nonce columns only in a database opened with the first migrations alone (tests).
    this.withSigners = writer.prepare("SELECT 1 FROM pragma_table_info('log_entries') WHERE name = 'nonce'").get() !== undefined;
    this.insertEntry = this.withSigners
      ? writer.prepare(`INSERT INTO log_entries (${INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      : writer.prepare(`INSERT INTO log_entries (${ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertNode = writer.prepare("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)");
    this.writerReads = new LogReads(writer);
    this.readerReads = new LogReads(reader);
    this.indexWriter = new IndexSql(writer);
    this.indexReader = new IndexSql(reader);
    this.chainWriters = new SqliteChainWriters(writer, reader, (fn) => this.exclusive(async () => this.inWriteTx(fn)));
    this.epcis = new SqliteEpcis(writer, reader, (fn) => this.exclusive(async () => this.inWriteTx(fn)));
    this.market = new SqliteMarket(writer, reader, (fn) => this.exclusive(async () => this.inWriteTx(fn)));
    this.answers = new SqliteAnswers(reader);
  }

  /** Opens (creating if needed) `<dataDir>/ledger.db`, migrates it and reloads the log frontier. */
  static async open(dataDir: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    await mkdir(dataDir, { recursive: true });
    const path = join(dataDir, DB_FILE);
    const timeout = options.busyTimeoutMs ?? 5000;
    const writer = new DatabaseSync(path, { timeout });
    let reader: DatabaseSync | undefined;
    try {
      configure(writer);
      migrate(writer, options.migrations ?? MIGRATIONS);
      reader = new DatabaseSync(path, { timeout, readOnly: true });
      configure(reader);
      const frontier = loadFrontier(new LogReads(writer));
      return new SqliteStore(writer, reader, frontier, path);
    } catch (e) {
      reader?.close();
      writer.close();
      throw e;
    }
  }

  appendBatch(items: readonly AppendItem[]): Promise<AppendResult[]> {
    return this.exclusive(async () => {
      if (items.length === 0) return [];
      const reads = this.writerReads;
      const lookups: SequencerLookups = {
        entryByKey: (key) => reads.receiptByKey(key),
        lastIndexOfBatch: (batchId) => reads.lastIndexOfBatch(batchId),
      };
      // Everything between BEGIN and COMMIT is synchronous: no other JS runs on this connection meanwhile.
      const group = this.inWriteTx(() => {
        const g = sequence(items, this.frontier.clone(), lookups);
        for (const r of g.rows) {
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
        for (const n of g.nodes) this.insertNode.run(n.level, n.index, n.hash);
        return g;
      });
      // Adopted only now that COMMIT has returned: a failed group leaves frontier, size and root untouched.
      this.frontier = group.frontier;
      this.root = group.frontier.root();
      return group.results;
    });
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const reads = this.writerReads;
      let open = true;
      const guard = (): void => {
        if (!open) throw new Error("StoreTx used after its transaction ended");
      };
      const tx: StoreTx = {
        entry: async (index) => (guard(), reads.entry(index)),
        entryByKey: async (key) => (guard(), reads.entryByKey(key)),
        lastIndexOfBatch: async (batchId) => (guard(), reads.lastIndexOfBatch(batchId)),
      };
      this.begin();
      try {
        const result = await fn(tx);
        this.writer.exec("COMMIT");
        this.commits++;
        return result;
      } catch (e) {
        this.rollback();
        throw e;
      } finally {
        open = false;
      }
    });
  }

  async nodes(refs: readonly NodeRef[]): Promise<Hash[]> {
    this.assertOpen();
    // Point lookups on the (level, idx) primary key of a WITHOUT ROWID table: one B-tree descent each, no parsing
    // of a combined query; nodes never change once written, so no snapshot is needed across the lookups.
    return refs.map((ref) => {
      const hash = this.readerReads.node(ref);
      if (hash === undefined) {
        throw new RangeError(`node (${ref.level}, ${ref.index}) is not stored: not a complete subtree of the log`);
      }
      return hash;
    });
  }

  async size(): Promise<number> {
    this.assertOpen();
    return this.frontier.size;
  }

  async entry(index: number): Promise<StoredEntry | undefined> {
    this.assertOpen();
    return this.readerReads.entry(index);
  }

  async entryByKey(key: string): Promise<StoredEntry | undefined> {
    this.assertOpen();
    return this.readerReads.entryByKey(key);
  }

  async entries(from: number, to: number): Promise<StoredEntry[]> {
    this.assertOpen();
    return this.readerReads.entries(from, to);
  }

  async lastIndexOfBatch(batchId: string): Promise<number | undefined> {
    this.assertOpen();
    return this.readerReads.lastIndexOfBatch(batchId);
  }

  async receiptsByKeys(keys: readonly string[]): Promise<(KeyReceipt | undefined)[]> {
    this.assertOpen();
    // One snapshot for all keys, and no body or entry blobs read: just the primary-key probe per key.
    this.reader.exec("BEGIN");
    try {
      return keys.map((key) => this.readerReads.receiptByKey(key));
    } finally {
      this.reader.exec("COMMIT");
    }
  }

  async entriesOfBatch(batchId: string): Promise<StoredEntry[]> {
    this.assertOpen();
    return this.readerReads.entriesOfBatch(batchId);
  }

  async nonceSpentBy(signer: string, nonce: string): Promise<string | undefined> {
    this.assertOpen();
    const row = this.readerReads.nonceOwner.get(signer.toLowerCase(), nonce);
    return row === undefined ? undefined : str(row, "key");
  }

  async observationsSince(batchId: string, signer: string, sinceMs: number): Promise<ObservationCount> {
    this.assertOpen();
    const row = this.readerReads.observations.get(batchId.toLowerCase(), signer.toLowerCase(), sinceMs);
    const oldest = optInt(row, "oldest");
    return { count: int(row as Row, "n"), ...(oldest === undefined ? {} : { oldest }) };
  }

  async latestRoot(): Promise<Hash> {
    this.assertOpen();
    return this.root;
  }

  async checkpoint(): Promise<Checkpoint> {
    this.assertOpen();
    return { size: this.frontier.size, root: this.root };
  }

  async holdForAdmission(): Promise<AdmissionHold> {
    this.assertOpen();
    // Only this process appends (the size check of every write transaction makes sure), so the hold is immediate.
    return { size: this.frontier.size, release: () => undefined };
  }

  leaderLease(): LeaderLease {
    // One process owns the file: it always leads. A second process appending is caught by begin().
    return {
      acquire: async () => (this.assertOpen(), 1),
      release: async () => undefined,
    };
  }

  async spendRpcCalls(client: string, window: number, calls: number, limit: number): Promise<boolean> {
    this.assertOpen();
    if (window !== this.rpcWindow) {
      // A new window forgets every client: the map never outgrows one window's callers.
      this.rpcWindow = window;
      this.rpcSpent = new Map();
    }
    const used = (this.rpcSpent.get(client) ?? 0) + calls;
    if (used > limit) return false;
    this.rpcSpent.set(client, used);
    return true;
  }

  stats(): StoreStats {
    return { commits: this.commits, rollbacks: this.rollbacks };
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      this.closed = true;
      this.reader.close();
      this.writer.close();
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Chain index (store/index-store.ts; SQL and row mapping in sqlite-index.ts).

  applyChainBatch(batch: ChainBatch): Promise<void> {
    return this.exclusive(async () => this.inWriteTx(() => this.indexWriter.apply(batch)));
  }

  resetIndex(): Promise<void> {
    return this.exclusive(async () => this.inWriteTx(() => this.indexWriter.reset()));
  }

  async cursor(): Promise<ChainCursor | undefined> {
    this.assertOpen();
    return this.indexReader.cursor();
  }

  async hasRole(role: string, account: string, contract: RoleContract = "ledger"): Promise<boolean> {
    this.assertOpen();
    return this.indexReader.hasRole(role, account, contract);
  }

  async rolesOf(account: string): Promise<RoleGrant[]> {
    this.assertOpen();
    return this.indexReader.rolesOf(account);
  }

  async profile(account: string): Promise<ActorProfile | undefined> {
    this.assertOpen();
    return this.indexReader.profile(account);
  }

  async batch(batchId: string): Promise<IndexedBatch | undefined> {
    this.assertOpen();
    return this.indexReader.batch(batchId);
  }

  async parents(batchId: string): Promise<LineageEdge[]> {
    this.assertOpen();
    return this.indexReader.parents(batchId);
  }

  async children(batchId: string): Promise<LineageEdge[]> {
    this.assertOpen();
    return this.indexReader.children(batchId);
  }

  async ancestors(batchId: string, options?: TraceOptions): Promise<TraceEdge[]> {
    this.assertOpen();
    return this.indexReader.ancestors(batchId, options);
  }

  async descendants(batchId: string, options?: TraceOptions): Promise<TraceEdge[]> {
    this.assertOpen();
    return this.indexReader.descendants(batchId, options);
  }

  async recalledAncestor(batchId: string): Promise<string | undefined> {
    this.assertOpen();
    return this.indexReader.recalledAncestor(batchId);
  }

  async indexedEvents(eventHashes: readonly string[]): Promise<Set<string>> {
    this.assertOpen();
    return this.indexReader.indexedEvents(eventHashes);
  }

  async lifecycleEvent(eventHash: string): Promise<LifecycleEventRow | undefined> {
    this.assertOpen();
    return this.indexReader.lifecycleEvent(eventHash);
  }

  async lifecycleEventsOfBatch(batchId: string): Promise<BatchEventRow[]> {
    this.assertOpen();
    return this.indexReader.lifecycleEventsOfBatch(batchId);
  }

  async indexState(keys: IndexKeys): Promise<IndexState> {
    this.assertOpen();
    return this.indexReader.state(keys);
  }

  async nonceUsed(actor: string, nonce: bigint): Promise<boolean> {
    this.assertOpen();
    return this.indexReader.nonceUsed(actor, nonce);
  }

  async anchors(limit: number, before?: number): Promise<AnchorRow[]> {
    this.assertOpen();
    return this.indexReader.anchors(limit, before);
  }

  async latestAnchor(): Promise<AnchorRow | undefined> {
    this.assertOpen();
    return this.indexReader.latestAnchor();
  }

  async anchorCovering(leafIndex: number): Promise<AnchorRow | undefined> {
    this.assertOpen();
    return this.indexReader.anchorCovering(leafIndex);
  }

  // ------------------------------------------------------------------------------------------------------------
  // ---------------------------------------------------------------------------------------------------------------
  // Chain writers (AnchorStore, RelayStore): implemented in sqlite-chain-writers.ts on this store's connections and
  // write queue; these are plain delegations.

  recordAnchorIntent(intent: NewAnchorIntent): Promise<AnchorIntent> {
    this.assertOpen();
    return this.chainWriters.recordAnchorIntent(intent);
  }
  openAnchorIntent(): Promise<AnchorIntent | undefined> {
    this.assertOpen();
    return this.chainWriters.openAnchorIntent();
  }
  settleAnchorIntent(id: number, outcome: AnchorOutcome, at: number): Promise<AnchorIntent> {
    this.assertOpen();
    return this.chainWriters.settleAnchorIntent(id, outcome, at);
  }
  replaceAnchorTx(id: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<AnchorIntent> {
    this.assertOpen();
    return this.chainWriters.replaceAnchorTx(id, tx, at);
  }
  lastConfirmedAnchorIntent(): Promise<AnchorIntent | undefined> {
    this.assertOpen();
    return this.chainWriters.lastConfirmedAnchorIntent();
  }
  anchorIntents(): Promise<AnchorIntent[]> {
    this.assertOpen();
    return this.chainWriters.anchorIntents();
  }
  relayCursor(): Promise<number> {
    this.assertOpen();
    return this.chainWriters.relayCursor();
  }
  advanceRelayCursor(from: number, to: number, rows: readonly NewRelayRow[], at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.advanceRelayCursor(from, to, rows, at);
  }
  relayRows(status: RelayStatus, limit?: number): Promise<RelayRecord[]> {
    this.assertOpen();
    return this.chainWriters.relayRows(status, limit);
  }
  relayRecord(index: number): Promise<RelayRecord | undefined> {
    this.assertOpen();
    return this.chainWriters.relayRecord(index);
  }
  relayStatuses(indices: readonly number[]): Promise<Map<number, RelayStatus>> {
    this.assertOpen();
    return this.chainWriters.relayStatuses(indices);
  }
  maxRelayNonce(): Promise<number | undefined> {
    this.assertOpen();
    return this.chainWriters.maxRelayNonce();
  }
  markRelaySent(index: number, sent: RelaySent, at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.markRelaySent(index, sent, at);
  }
  markRelayGroupSent(indices: readonly number[], sent: RelaySent, at: number): Promise<number> {
    this.assertOpen();
    return this.chainWriters.markRelayGroupSent(indices, sent, at);
  }
  relayGroup(id: number): Promise<RelayGroup | undefined> {
    this.assertOpen();
    return this.chainWriters.relayGroup(id);
  }
  settleRelayRows(settlements: readonly RelaySettlement[], at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.settleRelayRows(settlements, at);
  }
  replaceRelayTx(index: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.replaceRelayTx(index, tx, at);
  }
  markRelayConfirmed(index: number, blockNumber: number, at: number, txHash?: string): Promise<void> {
    this.assertOpen();
    return this.chainWriters.markRelayConfirmed(index, blockNumber, at, txHash);
  }
  markRelayRefused(index: number, refusal: RelayRefusal, at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.markRelayRefused(index, refusal, at);
  }
  resetRelay(index: number, reason: string, at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.resetRelay(index, reason, at);
  }
  relayCounts(): Promise<Readonly<Record<RelayStatus, number>>> {
    this.assertOpen();
    return this.chainWriters.relayCounts();
  }
  rewriteRelayRows(rewrites: readonly RelayRewrite[], at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.rewriteRelayRows(rewrites, at);
  }
  failAnchorIntents(ids: readonly number[], failure: string, at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.failAnchorIntents(ids, failure, at);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // EPCIS query index and capture jobs (EpcisStore): implemented in sqlite-epcis.ts; plain delegations.

  epcisCursor(): Promise<number> {
    this.assertOpen();
    return this.epcis.epcisCursor();
  }
  indexEpcisEvents(from: number, to: number, rows: readonly EpcisIndexRow[]): Promise<boolean> {
    this.assertOpen();
    return this.epcis.indexEpcisEvents(from, to, rows);
  }
  epcisEvents(filter: EpcisFilter, limit: number): Promise<number[]> {
    this.assertOpen();
    return this.epcis.epcisEvents(filter, limit);
  }
  saveCaptureJob(job: CaptureJobRecord): Promise<void> {
    this.assertOpen();
    return this.epcis.saveCaptureJob(job);
  }
  captureJob(captureId: string): Promise<CaptureJobRecord | undefined> {
    this.assertOpen();
    return this.epcis.captureJob(captureId);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The market screens' projection and reads (MarketStore): implemented in sqlite-market.ts; plain delegations.

  marketCursor(): Promise<number> {
    this.assertOpen();
    return this.market.marketCursor();
  }
  indexMarket(from: number, to: number, delta: MarketDelta): Promise<boolean> {
    this.assertOpen();
    return this.market.indexMarket(from, to, delta);
  }
  marketLots(batchIds: readonly string[]): Promise<MarketLotRow[]> {
    this.assertOpen();
    return this.market.marketLots(batchIds);
  }
  retailProfiles(): Promise<ActorProfile[]> {
    this.assertOpen();
    return this.market.retailProfiles();
  }
  lotHoldings(filter: HoldingFilter, limit: number): Promise<LotHolding[]> {
    this.assertOpen();
    return this.market.lotHoldings(filter, limit);
  }
  marketFigures(accounts: readonly string[], limit: number, supplyDays: number): Promise<MarketFigures> {
    this.assertOpen();
    return this.market.marketFigures(accounts, limit, supplyDays);
  }
  recallAcks(batchIds: readonly string[]): Promise<MarketAckRow[]> {
    this.assertOpen();
    return this.market.recallAcks(batchIds);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The answers' reads and versions (AnswerStore): implemented in sqlite-answers.ts; plain delegations.

  lifecycleEntriesOfBatch(batchId: string, limit: number): Promise<StoredEntry[]> {
    this.assertOpen();
    return this.answers.lifecycleEntriesOfBatch(batchId, limit);
  }
  observationsOfBatch(batchId: string, atOrBefore: number, limit: number): Promise<StoredEntry[]> {
    this.assertOpen();
    return this.answers.observationsOfBatch(batchId, atOrBefore, limit);
  }
  observationSummary(batchId: string, maxTypes: number): Promise<ObservationSummaryRow> {
    this.assertOpen();
    return this.answers.observationSummary(batchId, maxTypes);
  }
  readingHours(batchId: string, type: string, unit: string, limit: number): Promise<ReadingHourRow[]> {
    this.assertOpen();
    return this.answers.readingHours(batchId, type, unit, limit);
  }
  firstAnchorCovering(leafIndex: number): Promise<AnchorRow | undefined> {
    this.assertOpen();
    return this.answers.firstAnchorCovering(leafIndex);
  }
  answerVersions(batchIds: readonly string[]): Promise<AnswerVersions> {
    this.assertOpen();
    return this.answers.answerVersions(batchIds);
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** Runs `fn` after every earlier write transaction has finished; write transactions never overlap. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeTail.then(() => {
      this.assertOpen();
      return fn();
    });
    this.writeTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private inWriteTx<T>(fn: () => T): T {
    this.begin();
    let result: T;
    try {
      result = fn();
      this.writer.exec("COMMIT");
    } catch (e) {
      this.rollback();
      throw e;
    }
    this.commits++;
    return result;
  }

  private begin(): void {
    this.writer.exec("BEGIN IMMEDIATE");
    const stored = this.writerReads.storedSize();
    if (stored !== this.frontier.size) {
      this.rollback();
      throw new StoreCorruptError(
        `log holds ${stored} entries but this process expected ${this.frontier.size}: another process wrote to ${this.path}`,
      );
    }
  }

  private rollback(): void {
    this.rollbacks++;
    // A failed COMMIT may already have ended the transaction; there is then nothing to roll back.
    if (this.writer.isTransaction) this.writer.exec("ROLLBACK");
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

/** Rebuilds the in-memory frontier from log_nodes and checks it against the entries table. */
function loadFrontier(reads: LogReads): Frontier {
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
