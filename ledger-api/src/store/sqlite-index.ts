/**
 * The SQLite side of the chain index (store/index-store.ts): its statements and row mapping, one instance per
 * connection. SqliteStore (sqlite.ts) owns the connections and transactions and delegates here: `apply` and `reset`
 * run on the writer inside a write transaction, every other method on the read-only connection.
 *
 * Of the contract's batch rules it holds one: the inherited recall (`recalledAncestor`), walked as the contract and
 * ingest/rules.ts walk it (protocol/lineage.ts). The batch state it stores comes from chain/index-reducer.ts, the
 * third copy of the rules.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { bool, int, str } from "./rows.ts";
import {
  ANCHOR_COLUMNS,
  BATCH_COLUMNS,
  DEFAULT_MAX_DEPTH,
  DEFAULT_TRACE_LIMIT,
  EVENT_COLUMNS,
  LINEAGE_COLUMNS,
  toAnchor,
  toBatch,
  toCursor,
  toEdge,
  toEvent,
  toProfile,
} from "./index-rows.ts";
import { nextHead, ZERO_HASH } from "../protocol/typed-data.ts";
import { firstRecalled } from "../protocol/lineage.ts";
import { IndexCursorConflictError, StoreCorruptError } from "./store.ts";
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

const lower = (hex: string): string => hex.toLowerCase();
const flag = (b: boolean): number => (b ? 1 : 0);

/** A recursive walk over lineage in one direction; each edge once, at its shortest depth. */
function traceSql(direction: "up" | "down"): string {
  const [from, to] = direction === "up" ? ["child", "parent"] : ["parent", "child"];
  return `
    WITH RECURSIVE walk(seq, next, depth) AS (
      SELECT seq, ${to}, 1 FROM lineage WHERE ${from} = :id
      UNION
      SELECT l.seq, l.${to}, walk.depth + 1 FROM lineage l JOIN walk ON l.${from} = walk.next
      WHERE walk.depth < :maxDepth
    )
    SELECT ${LINEAGE_COLUMNS}, min(walk.depth) AS depth
    FROM walk JOIN lineage USING (seq)
    GROUP BY seq ORDER BY depth, seq LIMIT :limit`;
}

const READS = {
  cursors: "SELECT contracts, block_number, block_hash FROM chain_cursor",
  hasRole: "SELECT 1 AS x FROM roles WHERE contract = ? AND role = ? AND account = ?",
  rolesOf: "SELECT contract, role, account, block_number FROM roles WHERE account = ? ORDER BY contract, role",
  profile: "SELECT account, name, gln, country, retail, block_number FROM profiles WHERE account = ?",
  batch: `SELECT ${BATCH_COLUMNS} FROM batches WHERE batch_id = ?`,
  parents: `SELECT ${LINEAGE_COLUMNS} FROM lineage WHERE child = ? ORDER BY seq`,
  children: `SELECT ${LINEAGE_COLUMNS} FROM lineage WHERE parent = ? ORDER BY seq`,
  ancestors: traceSql("up"),
  descendants: traceSql("down"),
  lineageNode: "SELECT recalled, ancestry FROM batches WHERE batch_id = ?",
  parentIds: "SELECT parent FROM lineage WHERE child = ? ORDER BY seq",
  event: `SELECT ${EVENT_COLUMNS} FROM lifecycle_events WHERE event_hash = ?`,
  eventExists: "SELECT 1 AS x FROM lifecycle_events WHERE event_hash = ?",
  // A batch's own events, plus the Split that created it (it is a child) and the Merge that consumed it (it
  // is a parent); the UNION drops the duplicate when an event is both (a split's parent, a merge's child).
  eventsOfBatch: `
    SELECT ${EVENT_COLUMNS} FROM lifecycle_events WHERE batch_id = :id
    UNION
    SELECT ${EVENT_COLUMNS} FROM lifecycle_events
      WHERE event_hash IN (SELECT event_hash FROM lineage WHERE child = :id)
    UNION
    SELECT ${EVENT_COLUMNS} FROM lifecycle_events
      WHERE event_hash IN (SELECT event_hash FROM lineage WHERE parent = :id)
    ORDER BY block_number, log_index`,
  nonceUsed: "SELECT 1 AS x FROM spent_nonces WHERE actor = ? AND nonce = ?",
  anchors: `SELECT ${ANCHOR_COLUMNS} FROM anchors WHERE anchor_index < ? ORDER BY anchor_index DESC LIMIT ?`,
  latestAnchor: `SELECT ${ANCHOR_COLUMNS} FROM anchors ORDER BY anchor_index DESC LIMIT 1`,
  // Sizes grow with the index, so the latest anchor covers a leaf whenever any does.
  anchorCovering: `SELECT ${ANCHOR_COLUMNS} FROM anchors WHERE size > ? ORDER BY anchor_index DESC LIMIT 1`,
} as const;

/**
 * The index statements of one connection. Statements are prepared on first use, not at open: a store opened with
 * an older migration list (tests do) has no index tables, and preparing against them would fail.
 */
export class IndexSql {
  private readonly db: DatabaseSync;
  private readonly prepared = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  private q(name: keyof typeof READS): StatementSync {
    let stmt = this.prepared.get(name);
    if (stmt === undefined) {
      stmt = this.db.prepare(READS[name]);
      this.prepared.set(name, stmt);
    }
    return stmt;
  }

  // ----------------------------------------------------------------------------------------------------------------
  // Writes: call only on the writer connection, inside a write transaction.

  /** Applies one range; throws (for the caller to roll back) on a cursor conflict or a constraint violation. */
  apply(batch: ChainBatch): void {
    const stored = this.cursors();
    const prev = batch.previous;
    const matches =
      prev === undefined
        ? stored.length === 0
        : stored.length === 1 &&
          stored[0]!.contracts === prev.contracts &&
          stored[0]!.blockNumber === prev.blockNumber &&
          stored[0]!.blockHash === prev.blockHash;
    if (!matches) throw new IndexCursorConflictError(prev, stored[0]);
    if (prev !== undefined && batch.cursor.contracts !== prev.contracts) {
      throw new IndexCursorConflictError(prev, batch.cursor);
    }
    const run = (sql: string, ...params: SQLInputValue[]): void => {
      this.db.prepare(sql).run(...params);
    };
    const grant = this.db.prepare(
      `INSERT INTO roles (contract, role, account, block_number) VALUES (?, ?, ?, ?)
       ON CONFLICT (contract, role, account) DO UPDATE SET block_number = excluded.block_number`,
    );
    const revoke = this.db.prepare("DELETE FROM roles WHERE contract = ? AND role = ? AND account = ?");
    for (const r of batch.roleChanges) {
      if (r.granted) grant.run(r.contract, lower(r.role), lower(r.account), r.blockNumber);
      else revoke.run(r.contract, lower(r.role), lower(r.account));
    }
    const profile = this.db.prepare(
      `INSERT INTO profiles (account, name, gln, country, retail, block_number) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (account) DO UPDATE SET name = excluded.name, gln = excluded.gln, country = excluded.country,
         retail = excluded.retail, block_number = excluded.block_number`,
    );
    for (const p of batch.profiles) {
      profile.run(lower(p.account), p.name, p.gln.toString(), lower(p.country), flag(p.retail), p.blockNumber);
    }
    const upsertBatch = this.db.prepare(
      `INSERT INTO batches (${BATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (batch_id) DO UPDATE SET gtin = excluded.gtin, lot = excluded.lot, registrant = excluded.registrant,
         custodian = excluded.custodian, quantity = excluded.quantity, unit = excluded.unit, status = excluded.status,
         recalled = excluded.recalled, imported = excluded.imported, customs_cleared = excluded.customs_cleared,
         offer_to = excluded.offer_to, head = excluded.head, ancestry = excluded.ancestry,
         updated_block = excluded.updated_block`,
    );
    for (const b of batch.batches) {
      upsertBatch.run(
        lower(b.batchId),
        b.gtin ?? null,
        b.lot ?? null,
        lower(b.registrant),
        lower(b.custodian),
        b.quantity.toString(),
        b.unit,
        b.status,
        flag(b.recalled),
        flag(b.imported),
        flag(b.customsCleared),
        b.offerTo === undefined ? null : lower(b.offerTo),
        lower(b.head),
        b.ancestry,
        b.createdBlock,
        lower(b.createdTx),
        b.updatedBlock,
      );
    }
    const edge = this.db.prepare(`INSERT INTO lineage (${LINEAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?)`);
    for (const l of batch.lineage) {
      edge.run(lower(l.child), lower(l.parent), lower(l.eventHash), l.quantity.toString(), l.blockNumber);
    }
    // Plain INSERTs: an event or nonce seen twice means a range was applied twice, which must fail loudly.
    const event = this.db.prepare(
      `INSERT INTO lifecycle_events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const e of batch.events) {
      event.run(
        lower(e.eventHash),
        e.kind,
        lower(e.batchId),
        lower(e.actor),
        lower(e.docHash),
        lower(e.head),
        JSON.stringify(e.details),
        e.nonce === undefined ? null : e.nonce.toString(),
        lower(e.txHash),
        e.blockNumber,
        lower(e.blockHash),
        e.logIndex,
      );
    }
    const nonce = this.db.prepare(
      "INSERT INTO spent_nonces (actor, nonce, event_hash, block_number) VALUES (?, ?, ?, ?)",
    );
    for (const n of batch.nonces) nonce.run(lower(n.actor), n.nonce.toString(), lower(n.eventHash), n.blockNumber);
    const anchor = this.db.prepare(`INSERT INTO anchors (${ANCHOR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const a of batch.anchors) {
      anchor.run(
        a.anchorIndex,
        a.size,
        lower(a.root),
        a.previousSize,
        lower(a.anchorer),
        lower(a.txHash),
        a.blockNumber,
        lower(a.blockHash),
        a.blockTime,
      );
    }
    run("DELETE FROM chain_cursor");
    run(
      "INSERT INTO chain_cursor (contracts, block_number, block_hash, updated_at) VALUES (?, ?, ?, ?)",
      batch.cursor.contracts,
      batch.cursor.blockNumber,
      lower(batch.cursor.blockHash),
      Date.now(),
    );
  }

  /** Deletes every index row and the cursor. */
  reset(): void {
    for (const table of ["chain_cursor", "roles", "profiles", "batches", "lineage", "lifecycle_events", "spent_nonces", "anchors"]) {
      this.db.exec(`DELETE FROM ${table}`);
    }
  }

  // ----------------------------------------------------------------------------------------------------------------
  // Reads.

  private cursors(): ChainCursor[] {
    return this.q("cursors").all().map(toCursor);
  }

  cursor(): ChainCursor | undefined {
    const all = this.cursors();
    if (all.length > 1) throw new StoreCorruptError(`the index holds ${all.length} cursors; it indexes one contract set`);
    return all[0];
  }

  hasRole(role: string, account: string, contract: RoleContract): boolean {
    return this.q("hasRole").get(contract, lower(role), lower(account)) !== undefined;
  }

  rolesOf(account: string): RoleGrant[] {
    return this.q("rolesOf").all(lower(account)).map((row) => ({
      contract: str(row, "contract") as RoleContract,
      role: str(row, "role"),
      account: str(row, "account"),
      blockNumber: int(row, "block_number"),
    }));
  }

  profile(account: string): ActorProfile | undefined {
    const row = this.q("profile").get(lower(account));
    return row === undefined ? undefined : toProfile(row);
  }

  batch(batchId: string): IndexedBatch | undefined {
    const row = this.q("batch").get(lower(batchId));
    return row === undefined ? undefined : toBatch(row);
  }

  parents(batchId: string): LineageEdge[] {
    return this.q("parents").all(lower(batchId)).map(toEdge);
  }

  children(batchId: string): LineageEdge[] {
    return this.q("children").all(lower(batchId)).map(toEdge);
  }

  ancestors(batchId: string, options: TraceOptions = {}): TraceEdge[] {
    return this.trace(this.q("ancestors"), batchId, options);
  }

  descendants(batchId: string, options: TraceOptions = {}): TraceEdge[] {
    return this.trace(this.q("descendants"), batchId, options);
  }

  private trace(stmt: StatementSync, batchId: string, options: TraceOptions): TraceEdge[] {
    const params = {
      id: lower(batchId),
      maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
      limit: options.limit ?? DEFAULT_TRACE_LIMIT,
    };
    return stmt.all(params).map((row) => ({ ...toEdge(row), depth: int(row, "depth") }));
  }

  /**
   * The contract's own walk (protocol/lineage.ts firstRecalled: depth-first, last parent first), one point read per
   * batch it visits, so with two recalled ancestors the index names the source the contract names. A breadth-first
   * recursive query would name the nearest one instead (test/api/protocol/recall-source.test.ts).
   */
  recalledAncestor(batchId: string): string | undefined {
    return firstRecalled((id) => {
      const row = this.q("lineageNode").get(lower(id));
      if (row === undefined) return undefined;
      const parents = this.q("parentIds").all(lower(id)).map((p) => str(p, "parent"));
      return { recalled: bool(row, "recalled"), ancestry: int(row, "ancestry"), parents };
    }, lower(batchId));
  }

  indexedEvents(eventHashes: readonly string[]): Set<string> {
    const held = new Set<string>();
    for (const h of eventHashes) if (this.q("eventExists").get(lower(h)) !== undefined) held.add(lower(h));
    return held;
  }

  lifecycleEvent(eventHash: string): LifecycleEventRow | undefined {
    const row = this.q("event").get(lower(eventHash));
    return row === undefined ? undefined : toEvent(row);
  }

  lifecycleEventsOfBatch(batchId: string): BatchEventRow[] {
    let head = ZERO_HASH;
    return this.q("eventsOfBatch").all({ id: lower(batchId) }).map((row) => {
      const e = toEvent(row);
      // Every batch's chain is the fold of nextHead over its events from bytes32(0), the split child's and merged
      // child's included (their first head is keccak256(0, eventHash)).
      head = nextHead(head, e.eventHash);
      if (e.batchId === lower(batchId) && head !== e.head) {
        throw new StoreCorruptError(`batch ${batchId}: event ${e.eventHash} carries head ${e.head}, chain gives ${head}`);
      }
      return { ...e, batchHead: head };
    });
  }

  state(keys: IndexKeys): IndexState {
    const batches = new Map<string, { batch: IndexedBatch; parents: string[] }>();
    for (const id of keys.batchIds) {
      const batch = this.batch(id);
      if (batch !== undefined) batches.set(lower(id), { batch, parents: this.parents(id).map((e) => e.parent) });
    }
    const grants = new Map<string, RoleGrant[]>();
    const profiles = new Map<string, ActorProfile>();
    for (const account of keys.accounts) {
      const held = this.rolesOf(account);
      if (held.length > 0) grants.set(lower(account), held);
      const profile = this.profile(account);
      if (profile !== undefined) profiles.set(lower(account), profile);
    }
    const spentNonces = new Set<string>();
    for (const [actor, nonce] of keys.nonces) if (this.nonceUsed(actor, nonce)) spentNonces.add(`${lower(actor)}:${nonce}`);
    return { batches, grants, profiles, spentNonces };
  }

  nonceUsed(actor: string, nonce: bigint): boolean {
    return this.q("nonceUsed").get(lower(actor), nonce.toString()) !== undefined;
  }

  anchors(limit: number, before?: number): AnchorRow[] {
    return this.q("anchors").all(before ?? Number.MAX_SAFE_INTEGER, limit).map(toAnchor);
  }

  latestAnchor(): AnchorRow | undefined {
    const row = this.q("latestAnchor").get();
    return row === undefined ? undefined : toAnchor(row);
  }

  anchorCovering(leafIndex: number): AnchorRow | undefined {
    const row = this.q("anchorCovering").get(leafIndex);
    return row === undefined ? undefined : toAnchor(row);
  }
}
