/**
 * The PostgreSQL store, for several API instances sharing one database (`DATABASE_URL=postgres://...`). Same Store
 * interface and the same semantics as the SQLite driver (the store test suite runs against both); what differs is
 * that other processes write too, so nothing that another instance can change is kept in memory as the truth.
 *
 * Durability. Every session runs with synchronous_commit=on: when appendBatch or a write method resolves, COMMIT has
 * returned after the WAL (commit record included) was flushed, so the write survives a crash of the API, of the
 * database server and of its machine (on storage that honours fsync). A failure before COMMIT returns loses the
 * whole transaction and nothing else; a connection lost during COMMIT leaves the outcome unknown to the caller, which
 * then answers an error: resubmitting is safe, keys deduplicate.
 *
 * One log, several appenders. Indices are assigned inside the append transaction: it first locks the `log_head` row
 * (size and root of the committed tree) FOR UPDATE, so appenders of every instance take turns, then reads the keys
 * and batch links it needs, sequences the group (log/sequencer.ts) on the frontier of exactly that size, writes
 * entries, nodes and the new head, and commits. The frontier is cached between groups and reloaded from log_nodes
 * (one query, a node per set bit of the size) whenever another instance appended since: no index is assigned twice,
 * and the tree cannot fork. Group commit per instance still amortises the WAL flush.
 *
 * Admission (holdForAdmission, postgres-admission.ts) and the leader lease with its fencing token (leaderLease,
 * postgres-lease.ts) coordinate the instances; /rpc budgets are counted in an unlogged table.
 *
 * Connections. A pool (reads and write transactions) plus one dedicated session each for the admission lock and the
 * lease. Write transactions of one store object run one at a time, in call order, as with SQLite; reads run
 * concurrently from committed state. A transaction left idle (an instance frozen mid-append, holding the log head)
 * is ended by the server after `idleTransactionTimeoutMs`, so the other instances go on.
 */
import pg from "pg";
import { Frontier } from "../log/frontier.ts";
import type { Hash, NodeRef } from "../log/hash.ts";
import { bytesToHex } from "../log/hash.ts";
import { sequence } from "../log/sequencer.ts";
import type { AppendItem, AppendResult, SequencedGroup } from "../log/sequencer.ts";
import { AdmissionLock } from "./postgres-admission.ts";
import { PgChainWriters } from "./postgres-chain-writers.ts";
import { PgEpcis } from "./postgres-epcis.ts";
import { PgMarket } from "./postgres-market.ts";
import { PgAnswers } from "./postgres-answers.ts";
import type { AnswerVersions, ObservationSummaryRow, ReadingHourRow } from "./answer-store.ts";
import type { HoldingFilter, LotHolding, MarketAckRow, MarketDelta, MarketFigures, MarketLotRow } from "./market-store.ts";
import type { CaptureJobRecord, EpcisFilter, EpcisIndexRow } from "./epcis-store.ts";
import { applyChainBatch, insertRows, PgIndexReads, resetIndex } from "./postgres-index.ts";
import { PgLeaderLease } from "./postgres-lease.ts";
import { PG_MIGRATIONS, type PgMigration } from "./postgres-migrations.ts";
import { clientConfig, first, LOCK_MIGRATE, LOCK_NAMESPACE, type Sql } from "./postgres-rows.ts";
import { blob, ENTRY_COLUMNS, int, optInt, str, toEntry } from "./rows.ts";
import { PgSession } from "./postgres-session.ts";
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
import { LogMovedError, NotLeaderError, SchemaTooNewError, StoreClosedError, StoreCorruptError } from "./store.ts";
import type {
  ActorProfile,
  AdmissionHold,
  AnchorRow,
  BatchEventRow,
  ChainBatch,
  ChainCursor,
  Checkpoint,
  IndexedBatch,
  IndexKeys,
  IndexState,
  KeyReceipt,
  LeaderLease,
  LifecycleEntry,
  ObservationCount,
  LeaderLeaseOptions,
  LifecycleEventRow,
  LineageEdge,
  RoleContract,
  RoleGrant,
  Store,
  StoreStats,
  StoreTx,
  StoredEntry,
  TraceEdge,
  TraceOptions,
} from "./store.ts";

export interface PostgresStoreOptions {
  /** Migrations to apply; defaults to all of PG_MIGRATIONS. Tests pass a prefix to create an "older" database. */
  readonly migrations?: readonly PgMigration[];
  /** Pool connections (reads and write transactions). Default 10. */
  readonly poolSize?: number;
  /** An admission hold older than this takes no more joiners (holdForAdmission). Default 50 ms. */
  readonly admissionMaxHoldMs?: number;
  /** Longest wait for the admission lock before holdForAdmission rejects. Default 10 s. */
  readonly admissionWaitMs?: number;
  /** The server ends a transaction idle for this long (a frozen instance must not hold the log head). Default 30 s. */
  readonly idleTransactionTimeoutMs?: number;
  /** Shown in pg_stat_activity. */
  readonly applicationName?: string;
}

/** Kind.Observed, as the partial index log_entries_observations names it. */
const OBSERVED = 10;


/** Applies the missing migrations in one transaction, one instance at a time; refuses a database newer than the code. */
async function migrate(pool: pg.Pool, migrations: readonly PgMigration[]): Promise<void> {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list out of order at position ${i}: version ${m.version}`);
  });
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    try {
      // Instances starting together: the second waits here, then finds nothing left to apply.
      await client.query("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_NAMESPACE, LOCK_MIGRATE]);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const current = optInt(first(await client.query("SELECT max(version) AS v FROM schema_migrations")), "v") ?? 0;
      if (current > migrations.length) throw new SchemaTooNewError(current, migrations.length);
      for (const m of migrations.slice(current)) {
        await client.query(m.sql);
        await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK");
      throw e;
    }
  } finally {
    client.release();
  }
}

/** The frontier of the tree of `size` leaves, from its stored nodes. */
async function loadFrontier(sql: Sql, size: number): Promise<Frontier> {
  const refs = Frontier.refs(size);
  const hashes = await readNodes(sql, refs);
  return Frontier.fromNodes(
    size,
    refs.map((ref, i) => {
      const h = hashes[i];
      if (h === undefined) throw new StoreCorruptError(`log of ${size} entries is missing node (${ref.level}, ${ref.index})`);
      return h;
    }),
  );
}

/** The stored nodes `refs`, in order (undefined where one is not stored), in one query. */
async function readNodes(sql: Sql, refs: readonly NodeRef[]): Promise<(Hash | undefined)[]> {
  if (refs.length === 0) return [];
  const { rows } = await sql.query(
    `SELECT n.level, n.idx, n.hash FROM unnest($1::int[], $2::bigint[]) AS r(level, idx)
     JOIN log_nodes n ON n.level = r.level AND n.idx = r.idx`,
    [refs.map((r) => r.level), refs.map((r) => r.index)],
  );
  const found = new Map(rows.map((row) => [`${int(row, "level")}:${int(row, "idx")}`, blob(row, "hash")]));
  return refs.map((ref) => found.get(`${ref.level}:${ref.index}`));
}

export class PostgresStore implements Store {
  readonly driver = "postgres";
  /** The database's URL without its password, for messages. */
  readonly url: string;
  private readonly pool: pg.Pool;
  private readonly config: pg.ClientConfig;
  private readonly indexReads: PgIndexReads;
  private readonly chainWriters: PgChainWriters;
  private readonly epcis: PgEpcis;
  private readonly market: PgMarket;
  private readonly answers: PgAnswers;
  private readonly admission: AdmissionLock;
  private readonly leases: PgLeaderLease[] = [];
  private closed = false;
  private writeTail: Promise<void> = Promise.resolve();
  private commits = 0;
  private rollbacks = 0;
  /** The frontier of the last size this instance saw; reloaded when another instance has appended since. */
  private frontier: Frontier;
  /** Under an admission hold: the size the log must have at the next append (it moves only with our appends). */
  private admissionSize: number | undefined;
  /** The log has the signer / nonce columns (not in a database opened with only the first migrations: tests). */
  private readonly withSigners: boolean;
  /** Once a lease governs this store: the epoch chain-writer writes must find in leader_lease (0: none held). */
  private fence: number | undefined;
  private rpcCleanedWindow = 0;

  private constructor(
    pool: pg.Pool,
    config: pg.ClientConfig,
    url: string,
    frontier: Frontier,
    withSigners: boolean,
    options: PostgresStoreOptions,
  ) {
    this.pool = pool;
    this.withSigners = withSigners;
    this.config = config;
    this.url = url;
    this.frontier = frontier;
    this.indexReads = new PgIndexReads(pool);
    this.chainWriters = new PgChainWriters(pool, (fn) => this.exclusive(() => this.inTx(fn, true)));
    // The EPCIS projection is no chain writer: any instance may extend it (its cursor guards it).
    this.epcis = new PgEpcis(pool, (fn) => this.exclusive(() => this.inTx(fn, false)));
    // Nor is the market projection (its cursor guards it too).
    this.market = new PgMarket(pool, (fn) => this.exclusive(() => this.inTx(fn, false)));
    this.answers = new PgAnswers(pool);
    const admissionWaitMs = options.admissionWaitMs ?? 10_000;
    this.admission = new AdmissionLock({
      session: new PgSession({
        ...config,
        lock_timeout: admissionWaitMs,
        // A frozen holder's session (idle while it holds the lock) is cut, and the others go on; its appends are
        // then refused by the size check (LogMovedError) if anyone appended meanwhile.
        options: `${config.options ?? ""} -c idle_session_timeout=${Math.max(60_000, 6 * admissionWaitMs)}`,
      }),
      maxHoldMs: options.admissionMaxHoldMs ?? 50,
      granted: (size) => (this.admissionSize = size),
      released: () => (this.admissionSize = undefined),
    });
  }

  /** Connects, migrates (once across instances) and loads the log frontier. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const config = clientConfig(url, options.applicationName ?? "provenance-ledger");
    const pool = new pg.Pool({
      ...config,
      max: options.poolSize ?? 10,
      idle_in_transaction_session_timeout: options.idleTransactionTimeoutMs ?? 30_000,
    });
    // An idle pooled connection that breaks is discarded by the pool; without a listener the error would be thrown.
    pool.on("error", () => undefined);
    const shown = new URL(url);
    shown.password = "";
    try {
      await migrate(pool, options.migrations ?? PG_MIGRATIONS);
      const frontier = await PostgresStore.checkedFrontier(pool);
      const signers = await pool.query(
        `SELECT 1 FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'log_entries' AND column_name = 'nonce'`,
      );
      return new PostgresStore(pool, config, shown.toString(), frontier, signers.rows.length > 0, options);
    } catch (e) {
      await pool.end();
      throw e;
    }
  }

  /** The head's frontier, checked against the entries table and the last leaf once at open. */
  private static async checkedFrontier(pool: pg.Pool): Promise<Frontier> {
    // One statement, one snapshot: other instances may be appending while this one opens.
    const row = first(
      await pool.query("SELECT (SELECT size FROM log_head WHERE id = 1) AS size, (SELECT max(idx) FROM log_entries) AS idx"),
    );
    const size = int(row ?? {}, "size");
    const stored = (optInt(row, "idx") ?? -1) + 1;
    if (stored !== size) throw new StoreCorruptError(`log_head says ${size} entries, log_entries holds ${stored}`);
    if (size > 0) {
      const last = first(await pool.query("SELECT leaf_hash FROM log_entries WHERE idx = $1", [size - 1]));
      const [leaf] = await readNodes(pool, [{ level: 0, index: size - 1 }]);
      if (last === undefined || leaf === undefined || bytesToHex(blob(last, "leaf_hash")) !== bytesToHex(leaf)) {
        throw new StoreCorruptError(`last entry ${size - 1} does not match its stored leaf node`);
      }
    }
    return loadFrontier(pool, size);
  }

  appendBatch(items: readonly AppendItem[]): Promise<AppendResult[]> {
    return this.exclusive(async () => {
      if (items.length === 0) return [];
      const group = await this.inTx((tx) => this.sequenceAndWrite(tx, items), false);
      // Adopted only now that COMMIT has returned: a failed group leaves the cached frontier as it was.
      this.frontier = group.frontier;
      if (this.admissionSize !== undefined) this.admissionSize = group.frontier.size;
      return group.results;
    });
  }

  private async sequenceAndWrite(tx: Sql, items: readonly AppendItem[]): Promise<SequencedGroup> {
    // The turn of this instance: every other appender waits here until we commit.
    const head = first(await tx.query("SELECT size FROM log_head WHERE id = 1 FOR UPDATE"));
    const size = int(head ?? {}, "size");
    if (this.admissionSize !== undefined && size !== this.admissionSize) throw new LogMovedError(this.admissionSize, size);
    const frontier = this.frontier.size === size ? this.frontier.clone() : await loadFrontier(tx, size);
    // What the sequencer asks about committed entries, read up front in two queries (it asks synchronously).
    const keys = [...new Set(items.map((i) => i.key))];
    const batchIds = [...new Set(items.map((i) => i.entry.batchId.toLowerCase()))];
    const seen = await tx.query("SELECT key, idx, leaf_hash, prev_idx FROM log_entries WHERE key = ANY($1::text[])", [keys]);
    const byKey = new Map(
      seen.rows.map((r) => [
        str(r, "key"),
        { index: int(r, "idx"), leafHash: blob(r, "leaf_hash"), prevIndex: optInt(r, "prev_idx") ?? -1 },
      ]),
    );
    const lasts = await tx.query(
      "SELECT batch_id, max(idx) AS idx FROM log_entries WHERE batch_id = ANY($1::text[]) GROUP BY batch_id",
      [batchIds],
    );
    const lastOfBatch = new Map(lasts.rows.map((r) => [str(r, "batch_id"), int(r, "idx")]));
    const group = sequence(items, frontier, {
      entryByKey: (key) => byKey.get(key),
      lastIndexOfBatch: (batchId) => lastOfBatch.get(batchId),
    });
    if (group.rows.length === 0) return group;
    // A (signer, nonce) already spent, in the log or twice in the group, fails the unique index: the group goes whole.
    const signerColumns = this.withSigners ? ([["signer", "text"], ["nonce", "text"]] as const) : [];
    await insertRows(
      tx,
      "log_entries",
      [
        ["idx", "bigint"], ["key", "text"], ["batch_id", "text"], ["kind", "integer"], ["prev_idx", "bigint"],
        ["leaf_hash", "bytea"], ["entry", "bytea"], ["body", "text"], ["received_at", "bigint"], ...signerColumns,
      ],
      group.rows.map((r) => [
        r.index, r.key, r.batchId, r.kind, r.prevIndex < 0 ? null : r.prevIndex, r.leafHash, r.entry, r.body, r.receivedAt,
        ...(this.withSigners ? [r.signer, r.nonce ?? null] : []),
      ]),
    );
    await insertRows(
      tx,
      "log_nodes",
      [["level", "integer"], ["idx", "bigint"], ["hash", "bytea"]],
      group.nodes.map((n) => [n.level, n.index, n.hash]),
    );
    await tx.query("UPDATE log_head SET size = $1, root = $2 WHERE id = 1", [group.frontier.size, group.frontier.root()]);
    return group;
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.exclusive(() =>
      this.inTx(async (client) => {
        let open = true;
        const guard = (): void => {
          if (!open) throw new Error("StoreTx used after its transaction ended");
        };
        const tx: StoreTx = {
          entry: async (index) => (guard(), entryAt(client, index)),
          entryByKey: async (key) => (guard(), entryByKey(client, key)),
          lastIndexOfBatch: async (batchId) => (guard(), lastIndexOfBatch(client, batchId)),
        };
        try {
          return await fn(tx);
        } finally {
          open = false;
        }
      }, false),
    );
  }

  async nodes(refs: readonly NodeRef[]): Promise<Hash[]> {
    this.assertOpen();
    const hashes = await readNodes(this.pool, refs);
    return refs.map((ref, i) => {
      const hash = hashes[i];
      if (hash === undefined) {
        throw new RangeError(`node (${ref.level}, ${ref.index}) is not stored: not a complete subtree of the log`);
      }
      return hash;
    });
  }

  async size(): Promise<number> {
    this.assertOpen();
    return int(first(await this.pool.query("SELECT size FROM log_head WHERE id = 1")) ?? {}, "size");
  }

  async entry(index: number): Promise<StoredEntry | undefined> {
    this.assertOpen();
    return entryAt(this.pool, index);
  }

  async entries(from: number, to: number): Promise<StoredEntry[]> {
    this.assertOpen();
    const { rows } = await this.pool.query(
      `SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx`,
      [from, to],
    );
    return rows.map(toEntry);
  }

  async lifecycleEntries(from: number, to: number, limit: number): Promise<LifecycleEntry[]> {
    this.assertOpen();
    // The primary key's range with the Observed rows skipped by the server: no body, no entry bytes cross the wire
    // (the signer column holds the entry's signer in lower case, written with it).
    const { rows } = await this.pool.query(
      `SELECT idx, kind, key, signer FROM log_entries WHERE idx >= $1 AND idx < $2 AND kind <> ${OBSERVED} ORDER BY idx LIMIT $3`,
      [from, to, limit],
    );
    return rows.map((row) => ({ index: int(row, "idx"), kind: int(row, "kind"), key: str(row, "key"), signer: str(row, "signer") }));
  }

  async entryByKey(key: string): Promise<StoredEntry | undefined> {
    this.assertOpen();
    return entryByKey(this.pool, key);
  }

  async receiptsByKeys(keys: readonly string[]): Promise<(KeyReceipt | undefined)[]> {
    this.assertOpen();
    // One statement (one snapshot, one round trip) for the whole request; no body or entry bytes read.
    const { rows } = await this.pool.query(
      "SELECT key, idx, leaf_hash, prev_idx FROM log_entries WHERE key = ANY($1::text[])",
      [[...new Set(keys)]],
    );
    const found = new Map(
      rows.map((r) => [
        str(r, "key"),
        { index: int(r, "idx"), leafHash: blob(r, "leaf_hash"), prevIndex: optInt(r, "prev_idx") ?? -1 },
      ]),
    );
    return keys.map((key) => found.get(key));
  }

  async lastIndexOfBatch(batchId: string): Promise<number | undefined> {
    this.assertOpen();
    return lastIndexOfBatch(this.pool, batchId);
  }

  async entriesOfBatch(batchId: string): Promise<StoredEntry[]> {
    this.assertOpen();
    const { rows } = await this.pool.query(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE batch_id = $1 ORDER BY idx`, [
      batchId.toLowerCase(),
    ]);
    return rows.map(toEntry);
  }

  async nonceSpentBy(signer: string, nonce: string): Promise<string | undefined> {
    this.assertOpen();
    const row = first(
      await this.pool.query("SELECT key FROM log_entries WHERE signer = $1 AND nonce = $2", [signer.toLowerCase(), nonce]),
    );
    return row === undefined ? undefined : str(row, "key");
  }

  async observationsSince(batchId: string, signer: string, sinceMs: number): Promise<ObservationCount> {
    this.assertOpen();
    // Served by the partial index log_entries_observations (the kind must be the literal it is declared with).
    const row = first(
      await this.pool.query(
        `SELECT count(*) AS n, min(received_at) AS oldest FROM log_entries
         WHERE kind = ${OBSERVED} AND batch_id = $1 AND signer = $2 AND received_at > $3`,
        [batchId.toLowerCase(), signer.toLowerCase(), sinceMs],
      ),
    );
    const oldest = optInt(row, "oldest");
    return { count: int(row ?? {}, "n"), ...(oldest === undefined ? {} : { oldest }) };
  }

  async latestRoot(): Promise<Hash> {
    return (await this.checkpoint()).root;
  }

  async checkpoint(): Promise<Checkpoint> {
    this.assertOpen();
    // One row: the size and root of one committed tree.
    const row = first(await this.pool.query("SELECT size, root FROM log_head WHERE id = 1")) ?? {};
    return { size: int(row, "size"), root: blob(row, "root") };
  }

  holdForAdmission(): Promise<AdmissionHold> {
    this.assertOpen();
    return this.admission.hold();
  }

  leaderLease(options: LeaderLeaseOptions): LeaderLease {
    this.assertOpen();
    // From now on the chain writers' writes need the lease; none is held yet.
    this.fence ??= 0;
    const lease = new PgLeaderLease(new PgSession(this.config), options, (epoch) => (this.fence = epoch));
    this.leases.push(lease);
    return lease;
  }

  async spendRpcCalls(client: string, window: number, calls: number, limit: number): Promise<boolean> {
    this.assertOpen();
    if (calls > limit) return false;
    if (window > this.rpcCleanedWindow) {
      // Once a window per instance: older windows are of no use to anyone.
      this.rpcCleanedWindow = window;
      await this.pool.query("DELETE FROM rpc_budget WHERE window_start < $1", [window]);
    }
    const { rows } = await this.pool.query(
      `INSERT INTO rpc_budget (client, window_start, spent) VALUES ($1, $2, $3)
       ON CONFLICT (client, window_start) DO UPDATE SET spent = rpc_budget.spent + excluded.spent
         WHERE rpc_budget.spent + excluded.spent <= $4
       RETURNING spent`,
      [client, window, calls, limit],
    );
    return rows.length === 1;
  }

  stats(): StoreStats {
    return { commits: this.commits, rollbacks: this.rollbacks };
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      this.closed = true;
      for (const lease of this.leases.splice(0)) await lease.release();
      await this.admission.close();
      await this.pool.end();
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Chain index (store/index-store.ts; SQL and row mapping in postgres-index.ts).

  applyChainBatch(batch: ChainBatch): Promise<void> {
    return this.exclusive(() => this.inTx((tx) => applyChainBatch(tx, batch), true));
  }

  resetIndex(): Promise<void> {
    return this.exclusive(() => this.inTx((tx) => resetIndex(tx), true));
  }

  cursor(): Promise<ChainCursor | undefined> {
    this.assertOpen();
    return this.indexReads.cursor();
  }

  hasRole(role: string, account: string, contract: RoleContract = "ledger"): Promise<boolean> {
    this.assertOpen();
    return this.indexReads.hasRole(role, account, contract);
  }

  rolesOf(account: string): Promise<RoleGrant[]> {
    this.assertOpen();
    return this.indexReads.rolesOf(account);
  }

  profile(account: string): Promise<ActorProfile | undefined> {
    this.assertOpen();
    return this.indexReads.profile(account);
  }

  batch(batchId: string): Promise<IndexedBatch | undefined> {
    this.assertOpen();
    return this.indexReads.batch(batchId);
  }

  parents(batchId: string): Promise<LineageEdge[]> {
    this.assertOpen();
    return this.indexReads.parents(batchId);
  }

  children(batchId: string): Promise<LineageEdge[]> {
    this.assertOpen();
    return this.indexReads.children(batchId);
  }

  ancestors(batchId: string, options?: TraceOptions): Promise<TraceEdge[]> {
    this.assertOpen();
    return this.indexReads.ancestors(batchId, options);
  }

  descendants(batchId: string, options?: TraceOptions): Promise<TraceEdge[]> {
    this.assertOpen();
    return this.indexReads.descendants(batchId, options);
  }

  recalledAncestor(batchId: string): Promise<string | undefined> {
    this.assertOpen();
    return this.indexReads.recalledAncestor(batchId);
  }

  indexedEvents(eventHashes: readonly string[]): Promise<Set<string>> {
    this.assertOpen();
    return this.indexReads.indexedEvents(eventHashes);
  }

  lifecycleEvent(eventHash: string): Promise<LifecycleEventRow | undefined> {
    this.assertOpen();
    return this.indexReads.lifecycleEvent(eventHash);
  }

  lifecycleEventsOfBatch(batchId: string): Promise<BatchEventRow[]> {
    this.assertOpen();
    return this.indexReads.lifecycleEventsOfBatch(batchId);
  }

  indexState(keys: IndexKeys): Promise<IndexState> {
    this.assertOpen();
    return this.indexReads.state(keys);
  }

  nonceUsed(actor: string, nonce: bigint): Promise<boolean> {
    this.assertOpen();
    return this.indexReads.nonceUsed(actor, nonce);
  }

  anchors(limit: number, before?: number): Promise<AnchorRow[]> {
    this.assertOpen();
    return this.indexReads.anchors(limit, before);
  }

  latestAnchor(): Promise<AnchorRow | undefined> {
    this.assertOpen();
    return this.indexReads.latestAnchor();
  }

  anchorCovering(leafIndex: number): Promise<AnchorRow | undefined> {
    this.assertOpen();
    return this.indexReads.anchorCovering(leafIndex);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Chain writers (AnchorStore, RelayStore): postgres-chain-writers.ts, on this store's pool and write queue.

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
  replaceRelayTx(index: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<void> {
    this.assertOpen();
    return this.chainWriters.replaceRelayTx(index, tx, at);
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
  // The answers' reads and versions (AnswerStore): postgres-answers.ts; plain delegations.

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
  // EPCIS query index and capture jobs (EpcisStore): postgres-epcis.ts; plain delegations.

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
  // The market screens' projection and reads (MarketStore): postgres-market.ts; plain delegations.

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

  /** Runs `fn` after every earlier write transaction of this store object has finished. */
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

  /**
   * One transaction on a pooled connection: committed if `fn` resolves, rolled back if it rejects. `fenced`: once a
   * lease governs the store, first read the lease row FOR SHARE (a takeover waits for this transaction) and refuse
   * unless it holds this instance's epoch.
   */
  private async inTx<T>(fn: (tx: Sql) => Promise<T>, fenced: boolean): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      try {
        await client.query("BEGIN");
        if (fenced && this.fence !== undefined) {
          const current = int(first(await client.query("SELECT epoch FROM leader_lease WHERE id = 1 FOR SHARE")) ?? {}, "epoch");
          // Epoch 0 is the lease row before anyone ever held it: a fence of 0 (no lease held) never matches.
          if (this.fence === 0 || current !== this.fence) throw new NotLeaderError(this.fence, current);
        }
        const result = await fn(client);
        await client.query("COMMIT");
        this.commits++;
        return result;
      } catch (e) {
        this.rollbacks++;
        // A failed COMMIT has ended the transaction already; a broken connection cannot roll back and is discarded.
        await client.query("ROLLBACK").catch((err: unknown) => {
          broken = err instanceof Error ? err : new Error(String(err));
        });
        throw e;
      }
    } finally {
      client.release(broken);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

async function entryAt(sql: Sql, index: number): Promise<StoredEntry | undefined> {
  const row = first(await sql.query(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE idx = $1`, [index]));
  return row === undefined ? undefined : toEntry(row);
}

async function entryByKey(sql: Sql, key: string): Promise<StoredEntry | undefined> {
  const row = first(await sql.query(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE key = $1`, [key]));
  return row === undefined ? undefined : toEntry(row);
}

async function lastIndexOfBatch(sql: Sql, batchId: string): Promise<number | undefined> {
  return optInt(first(await sql.query("SELECT max(idx) AS idx FROM log_entries WHERE batch_id = $1", [batchId.toLowerCase()])), "idx");
}
