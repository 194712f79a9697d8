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
 * Event loop. DatabaseSync blocks the thread for the length of each statement, including the COMMIT fsync. With
 * `logWriter: "thread"` (what the API opens) the log's append transaction, the bulk of the writes, runs on a writer
 * thread with its own connection (sqlite-log-thread.ts), which also runs the WAL checkpoints; the other write
 * transactions (chain index, relay, anchorer, EPCIS) stay on this thread's writer connection, small and rarer. Both
 * connections' write transactions go through one queue, so they never wait on each other's lock.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { int, optInt, str, type Row } from "./rows.ts";
import type { Hash, NodeRef } from "../log/hash.ts";
import type { AppendItem, AppendResult } from "../log/sequencer.ts";
import { MIGRATIONS } from "./migrations.ts";
import { configure, LogReads, loadFrontier, SqliteLogAppender } from "./sqlite-log.ts";
import { InlineLogWriter, ThreadLogWriter, type LogWriter } from "./sqlite-log-thread.ts";
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
  LifecycleEntry,
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

type Remembered = "cursor" | "latestAnchor" | "relayCursor";
/** What a write to the chain index may change of the remembered reads. */
const INDEX_READS: readonly Remembered[] = ["cursor", "latestAnchor"];

export interface SqliteStoreOptions {
  /** Migrations to apply; defaults to all of MIGRATIONS. Tests pass a prefix to create an "older" database. */
  readonly migrations?: readonly Migration[];
  /** How long a statement waits for a lock held by another connection (checkpointing reader/writer). */
  readonly busyTimeoutMs?: number;
  /**
   * Where the log's append transaction runs: "inline" on the calling thread (default), or "thread" on a writer
   * thread of its own (sqlite-log-thread.ts), so its CPU and fsyncs stay off the event loop; the API uses "thread".
   */
  readonly logWriter?: "inline" | "thread";
  /** The writer thread's entry module: default its TypeScript source (thread-bundles.ts builds a lighter one). */
  readonly logWriterEntry?: URL;
  /**
   * This store is the database's one writer (the API's, services.ts): it answers the index cursor, the latest anchor
   * and the relay cursor from memory until it writes them (see `remembered`). Unset for any store opened beside a
   * writer (a second, reading instance, a tool, a test): it reads them every time, since another process moves them.
   */
  readonly soleWriter?: boolean;
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
  private readonly log: LogWriter;
  private readonly writerReads: LogReads;
  private readonly readerReads: LogReads;
  private readonly indexWriter: IndexSql;
  private readonly indexReader: IndexSql;

  private readonly writer: DatabaseSync;
  private readonly reader: DatabaseSync;
  private readonly chainWriters: SqliteChainWriters;
  private readonly epcis: SqliteEpcis;
  private readonly market: SqliteMarket;
  private readonly answers: SqliteAnswers;
  readonly path: string;

  private constructor(
    writer: DatabaseSync,
    reader: DatabaseSync,
    writerReads: LogReads,
    log: LogWriter,
    path: string,
    soleWriter: boolean,
  ) {
    this.soleWriter = soleWriter;
    this.writer = writer;
    this.reader = reader;
    this.log = log;
    this.path = path;
    this.writerReads = writerReads;
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
      const writerReads = new LogReads(writer);
      const frontier = loadFrontier(writerReads);
      let log: LogWriter;
      if (options.logWriter === "thread") {
        log = await ThreadLogWriter.start(path, timeout, frontier.size, frontier.root(), options.logWriterEntry);
        // Checkpoints run on the log writer thread's connection (after its commits), never in a COMMIT of this one.
        writer.exec("PRAGMA wal_autocheckpoint = 0");
      } else {
        log = new InlineLogWriter(new SqliteLogAppender(writer, path, writerReads, frontier));
      }
      return new SqliteStore(writer, reader, writerReads, log, path, options.soleWriter === true);
    } catch (e) {
      reader?.close();
      writer.close();
      throw e;
    }
  }

  appendBatch(items: readonly AppendItem[]): Promise<AppendResult[]> {
    return this.exclusive(async () => {
      if (items.length === 0) return [];
      // sqlite-log.ts SqliteLogAppender, here or on the writer thread: one transaction, nothing stored on failure.
      try {
        const results = await this.log.append(items);
        this.commits++;
        return results;
      } catch (e) {
        this.rollbacks++;
        throw e;
      }
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
    return this.log.size;
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

  async lifecycleEntries(from: number, to: number, limit: number): Promise<LifecycleEntry[]> {
    this.assertOpen();
    return this.readerReads.lifecycleEntries(from, to, limit);
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
    return this.log.root;
  }

  async checkpoint(): Promise<Checkpoint> {
    this.assertOpen();
    return { size: this.log.size, root: this.log.root };
  }

  async holdForAdmission(): Promise<AdmissionHold> {
    this.assertOpen();
    // Only this process appends (the size check of every write transaction makes sure), so the hold is immediate.
    return { size: this.log.size, release: () => undefined };
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
      await this.log.close();
      this.reader.close();
      this.writer.close();
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Chain index (store/index-store.ts; SQL and row mapping in sqlite-index.ts).

  applyChainBatch(batch: ChainBatch): Promise<void> {
    return this.forgetting(INDEX_READS, this.exclusive(async () => this.inWriteTx(() => this.indexWriter.apply(batch))));
  }

  resetIndex(): Promise<void> {
    return this.forgetting(INDEX_READS, this.exclusive(async () => this.inWriteTx(() => this.indexWriter.reset())));
  }

  async cursor(): Promise<ChainCursor | undefined> {
    this.assertOpen();
    return this.remembered("cursor", () => this.indexReader.cursor());
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
    return this.remembered("latestAnchor", () => this.indexReader.latestAnchor());
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
    return this.remembered("relayCursor", () => this.chainWriters.relayCursor());
  }
  advanceRelayCursor(from: number, to: number, rows: readonly NewRelayRow[], at: number): Promise<void> {
    this.assertOpen();
    return this.forgetting(["relayCursor"], this.chainWriters.advanceRelayCursor(from, to, rows, at));
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

  /** Whether this store may remember reads (SqliteStoreOptions.soleWriter). */
  private readonly soleWriter: boolean;
  /** A remembered read's value (see `remembered`); a promise for the ones whose driver method is async. */
  private readonly memo = new Map<Remembered, unknown>();

  /**
   * Reads answered from memory until this process writes what they read: the index's cursor and latest anchor, and
   * the relay's cursor. Ingest reads them on every request (the pending overlay checks whether the index moved, a
   * receipt says whether an anchor covers it and whether the relay has passed it), and only the sole writer's process
   * writes them (one writer per database, see the file comment), each through one method that forgets the value when
   * its write ends, committed or not. A read made while that write runs remembers the committed value, which the
   * write's end then forgets. A store opened without `soleWriter` remembers nothing: another process moves them.
   */
  private remembered<T>(key: Remembered, read: () => T): T {
    if (!this.soleWriter) return read();
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const value = read();
    this.memo.set(key, value);
    // A read that fails is not remembered.
    if (value instanceof Promise) value.catch(() => this.memo.delete(key));
    return value;
  }

  private forgetting<T>(keys: readonly Remembered[], write: Promise<T>): Promise<T> {
    return write.finally(() => {
      for (const key of keys) this.memo.delete(key);
    });
  }

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
    if (stored !== this.log.size) {
      this.rollback();
      throw new StoreCorruptError(
        `log holds ${stored} entries but this process expected ${this.log.size}: another process wrote to ${this.path}`,
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
