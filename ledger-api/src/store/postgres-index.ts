/**
 * The PostgreSQL side of the chain index (store/index-store.ts): its statements and row mapping. PostgresStore
 * (postgres.ts) owns the pool and the transactions: `apply` and `reset` run on a transaction's client, every read on
 * the pool (committed state). The SQL mirrors sqlite-index.ts statement for statement, so both drivers answer the
 * same; a range's rows go in with one multi-row INSERT per table instead of one round trip per row.
 *
 * The inherited recall (`recalledAncestor`) is the contract's own walk (protocol/lineage.ts firstRecalled), as in
 * sqlite-index.ts; the walk reads synchronously, so the batch's whole ancestry (recall flag, ancestry count, parents in
 * order) is read first in one recursive query, then walked in memory.
 */
import { firstRecalled, type LineageNode } from "../protocol/lineage.ts";
import { nextHead, ZERO_HASH } from "../protocol/typed-data.ts";
import { first, strs, type Sql } from "./postgres-rows.ts";
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

/**
 * Inserts `rows` (arrays in `columns` order) in one statement: each column travels as one array parameter and
 * `unnest` turns them back into rows, in the given order (WITH ORDINALITY keeps it for identity columns).
 */
export async function insertRows(
  sql: Sql,
  table: string,
  columns: readonly (readonly [name: string, type: string])[],
  rows: readonly (readonly unknown[])[],
  suffix = "",
): Promise<number> {
  if (rows.length === 0) return 0;
  const names = columns.map(([name]) => name);
  const params = columns.map(([, type], i) => `$${i + 1}::${type}[]`);
  const values = columns.map((_, i) => rows.map((r) => r[i] ?? null));
  const result = await sql.query(
    `INSERT INTO ${table} (${names.join(", ")})
     SELECT ${names.map((n) => `u.${n}`).join(", ")} FROM unnest(${params.join(", ")}) WITH ORDINALITY
       AS u(${names.join(", ")}, ord) ORDER BY u.ord ${suffix}`,
    values,
  );
  return result.rowCount ?? 0;
}

/** A recursive walk over lineage in one direction; each edge once, at its shortest depth ($1 id, $2 depth, $3 limit). */
function traceSql(direction: "up" | "down"): string {
  const [from, to] = direction === "up" ? ["child", "parent"] : ["parent", "child"];
  return `
    WITH RECURSIVE walk(seq, next, depth) AS (
      SELECT seq, ${to}, 1 FROM lineage WHERE ${from} = $1
      UNION
      SELECT l.seq, l.${to}, walk.depth + 1 FROM lineage l JOIN walk ON l.${from} = walk.next
      WHERE walk.depth < $2
    )
    SELECT l.child, l.parent, l.event_hash, l.quantity, l.block_number, min(walk.depth) AS depth
    FROM walk JOIN lineage l USING (seq)
    GROUP BY l.seq ORDER BY depth, l.seq LIMIT $3`;
}

const READS = {
  cursors: "SELECT contracts, block_number, block_hash FROM chain_cursor",
  hasRole: "SELECT 1 AS x FROM roles WHERE contract = $1 AND role = $2 AND account = $3",
  rolesOf: "SELECT contract, role, account, block_number FROM roles WHERE account = $1 ORDER BY contract, role",
  profile: "SELECT account, name, gln, country, retail, block_number FROM profiles WHERE account = $1",
  batch: `SELECT ${BATCH_COLUMNS} FROM batches WHERE batch_id = $1`,
  parents: `SELECT ${LINEAGE_COLUMNS} FROM lineage WHERE child = $1 ORDER BY seq`,
  children: `SELECT ${LINEAGE_COLUMNS} FROM lineage WHERE parent = $1 ORDER BY seq`,
  ancestors: traceSql("up"),
  descendants: traceSql("down"),
  // Every ancestor of $1 (and $1) up to $2 edges away, with what the recall walk reads of each.
  lineageNodes: `
    WITH RECURSIVE up(id, depth) AS (
      SELECT $1::text, 0
      UNION
      SELECT l.parent, up.depth + 1 FROM lineage l JOIN up ON l.child = up.id WHERE up.depth < $2
    )
    SELECT b.batch_id, b.recalled, b.ancestry,
      ARRAY(SELECT l.parent FROM lineage l WHERE l.child = b.batch_id ORDER BY l.seq) AS parents
    FROM (SELECT DISTINCT id FROM up) u JOIN batches b ON b.batch_id = u.id`,
  event: `SELECT ${EVENT_COLUMNS} FROM lifecycle_events WHERE event_hash = $1`,
  // As in sqlite-index.ts: the batch's own events, the Split that created it and the Merge that consumed it.
  eventsOfBatch: `
    SELECT ${EVENT_COLUMNS} FROM lifecycle_events WHERE batch_id = $1
    UNION
    SELECT ${EVENT_COLUMNS} FROM lifecycle_events
      WHERE event_hash IN (SELECT event_hash FROM lineage WHERE child = $1)
    UNION
    SELECT ${EVENT_COLUMNS} FROM lifecycle_events
      WHERE event_hash IN (SELECT event_hash FROM lineage WHERE parent = $1)
    ORDER BY block_number, log_index`,
  nonceUsed: "SELECT 1 AS x FROM spent_nonces WHERE actor = $1 AND nonce = $2",
  anchors: `SELECT ${ANCHOR_COLUMNS} FROM anchors WHERE anchor_index < $1 ORDER BY anchor_index DESC LIMIT $2`,
  latestAnchor: `SELECT ${ANCHOR_COLUMNS} FROM anchors ORDER BY anchor_index DESC LIMIT 1`,
  anchorCovering: `SELECT ${ANCHOR_COLUMNS} FROM anchors WHERE size > $1 ORDER BY anchor_index DESC LIMIT 1`,
} as const;

/** Applies one range on `tx` (a client inside a write transaction); throws, for the caller to roll back, on a conflict. */
export async function applyChainBatch(tx: Sql, batch: ChainBatch): Promise<void> {
  // One applier at a time, even before the first cursor row exists to be locked.
  await tx.query("LOCK TABLE chain_cursor IN EXCLUSIVE MODE");
  const stored = (await tx.query(READS.cursors)).rows.map(toCursor);
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
  // Role changes and profiles in the order given: an account may be granted and revoked within one range.
  for (const r of batch.roleChanges) {
    if (r.granted) {
      await tx.query(
        `INSERT INTO roles (contract, role, account, block_number) VALUES ($1, $2, $3, $4)
         ON CONFLICT (contract, role, account) DO UPDATE SET block_number = excluded.block_number`,
        [r.contract, lower(r.role), lower(r.account), r.blockNumber],
      );
    } else {
      await tx.query("DELETE FROM roles WHERE contract = $1 AND role = $2 AND account = $3", [
        r.contract,
        lower(r.role),
        lower(r.account),
      ]);
    }
  }
  for (const p of batch.profiles) {
    await tx.query(
      `INSERT INTO profiles (account, name, gln, country, retail, block_number) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (account) DO UPDATE SET name = excluded.name, gln = excluded.gln, country = excluded.country,
         retail = excluded.retail, block_number = excluded.block_number`,
      [lower(p.account), p.name, p.gln.toString(), lower(p.country), p.retail, p.blockNumber],
    );
  }
  // Final states: one row per batch (the last one given wins, as a sequence of upserts would have it).
  const finals = new Map(batch.batches.map((b) => [lower(b.batchId), b]));
  await insertRows(
    tx,
    "batches",
    [
      ["batch_id", "text"], ["gtin", "text"], ["lot", "text"], ["registrant", "text"], ["custodian", "text"],
      ["quantity", "text"], ["unit", "text"], ["status", "text"], ["recalled", "boolean"], ["imported", "boolean"],
      ["customs_cleared", "boolean"], ["offer_to", "text"], ["head", "text"], ["ancestry", "integer"],
      ["created_block", "bigint"], ["created_tx", "text"], ["updated_block", "bigint"],
    ],
    [...finals.values()].map((b) => [
      lower(b.batchId), b.gtin, b.lot, lower(b.registrant), lower(b.custodian), b.quantity.toString(), b.unit,
      b.status, b.recalled, b.imported, b.customsCleared, b.offerTo === undefined ? null : lower(b.offerTo),
      lower(b.head), b.ancestry, b.createdBlock, lower(b.createdTx), b.updatedBlock,
    ]),
    `ON CONFLICT (batch_id) DO UPDATE SET gtin = excluded.gtin, lot = excluded.lot, registrant = excluded.registrant,
       custodian = excluded.custodian, quantity = excluded.quantity, unit = excluded.unit, status = excluded.status,
       recalled = excluded.recalled, imported = excluded.imported, customs_cleared = excluded.customs_cleared,
       offer_to = excluded.offer_to, head = excluded.head, ancestry = excluded.ancestry,
       updated_block = excluded.updated_block`,
  );
  await insertRows(
    tx,
    "lineage",
    [["child", "text"], ["parent", "text"], ["event_hash", "text"], ["quantity", "text"], ["block_number", "bigint"]],
    batch.lineage.map((l) => [lower(l.child), lower(l.parent), lower(l.eventHash), l.quantity.toString(), l.blockNumber]),
  );
  // Plain INSERTs: an event or nonce seen twice means a range was applied twice, which must fail loudly.
  await insertRows(
    tx,
    "lifecycle_events",
    [
      ["event_hash", "text"], ["kind", "text"], ["batch_id", "text"], ["actor", "text"], ["doc_hash", "text"],
      ["head", "text"], ["details", "text"], ["nonce", "text"], ["tx_hash", "text"], ["block_number", "bigint"],
      ["block_hash", "text"], ["log_index", "integer"],
    ],
    batch.events.map((e) => [
      lower(e.eventHash), e.kind, lower(e.batchId), lower(e.actor), lower(e.docHash), lower(e.head),
      JSON.stringify(e.details), e.nonce === undefined ? null : e.nonce.toString(), lower(e.txHash), e.blockNumber,
      lower(e.blockHash), e.logIndex,
    ]),
  );
  await insertRows(
    tx,
    "spent_nonces",
    [["actor", "text"], ["nonce", "text"], ["event_hash", "text"], ["block_number", "bigint"]],
    batch.nonces.map((n) => [lower(n.actor), n.nonce.toString(), lower(n.eventHash), n.blockNumber]),
  );
  await insertRows(
    tx,
    "anchors",
    [
      ["anchor_index", "bigint"], ["size", "bigint"], ["root", "text"], ["previous_size", "bigint"],
      ["anchorer", "text"], ["tx_hash", "text"], ["block_number", "bigint"], ["block_hash", "text"],
      ["block_time", "bigint"],
    ],
    batch.anchors.map((a) => [
      a.anchorIndex, a.size, lower(a.root), a.previousSize, lower(a.anchorer), lower(a.txHash), a.blockNumber,
      lower(a.blockHash), a.blockTime,
    ]),
  );
  await tx.query("DELETE FROM chain_cursor");
  await tx.query("INSERT INTO chain_cursor (contracts, block_number, block_hash, updated_at) VALUES ($1, $2, $3, $4)", [
    batch.cursor.contracts,
    batch.cursor.blockNumber,
    lower(batch.cursor.blockHash),
    Date.now(),
  ]);
}

/** Deletes every index row and the cursor (not the log). */
export async function resetIndex(tx: Sql): Promise<void> {
  await tx.query(
    "TRUNCATE chain_cursor, roles, profiles, batches, lineage, lifecycle_events, spent_nonces, anchors RESTART IDENTITY",
  );
}

/** The index reads, on the pool: each answers from committed state. */
export class PgIndexReads {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async cursor(): Promise<ChainCursor | undefined> {
    const all = (await this.sql.query(READS.cursors)).rows.map(toCursor);
    if (all.length > 1) throw new StoreCorruptError(`the index holds ${all.length} cursors; it indexes one contract set`);
    return all[0];
  }

  async hasRole(role: string, account: string, contract: RoleContract): Promise<boolean> {
    return (await this.sql.query(READS.hasRole, [contract, lower(role), lower(account)])).rows.length > 0;
  }

  async rolesOf(account: string): Promise<RoleGrant[]> {
    return (await this.sql.query(READS.rolesOf, [lower(account)])).rows.map((row) => ({
      contract: str(row, "contract") as RoleContract,
      role: str(row, "role"),
      account: str(row, "account"),
      blockNumber: int(row, "block_number"),
    }));
  }

  async profile(account: string): Promise<ActorProfile | undefined> {
    const row = first(await this.sql.query(READS.profile, [lower(account)]));
    return row === undefined ? undefined : toProfile(row);
  }

  async batch(batchId: string): Promise<IndexedBatch | undefined> {
    const row = first(await this.sql.query(READS.batch, [lower(batchId)]));
    return row === undefined ? undefined : toBatch(row);
  }

  async parents(batchId: string): Promise<LineageEdge[]> {
    return (await this.sql.query(READS.parents, [lower(batchId)])).rows.map(toEdge);
  }

  async children(batchId: string): Promise<LineageEdge[]> {
    return (await this.sql.query(READS.children, [lower(batchId)])).rows.map(toEdge);
  }

  ancestors(batchId: string, options: TraceOptions = {}): Promise<TraceEdge[]> {
    return this.trace(READS.ancestors, batchId, options);
  }

  descendants(batchId: string, options: TraceOptions = {}): Promise<TraceEdge[]> {
    return this.trace(READS.descendants, batchId, options);
  }

  private async trace(text: string, batchId: string, options: TraceOptions): Promise<TraceEdge[]> {
    const params = [lower(batchId), options.maxDepth ?? DEFAULT_MAX_DEPTH, options.limit ?? DEFAULT_TRACE_LIMIT];
    return (await this.sql.query(text, params)).rows.map((row) => ({ ...toEdge(row), depth: int(row, "depth") }));
  }

  async recalledAncestor(batchId: string): Promise<string | undefined> {
    const { rows } = await this.sql.query(READS.lineageNodes, [lower(batchId), DEFAULT_MAX_DEPTH]);
    const nodes = new Map<string, LineageNode>(
      rows.map((row) => [
        str(row, "batch_id"),
        { recalled: bool(row, "recalled"), ancestry: int(row, "ancestry"), parents: strs(row, "parents") },
      ]),
    );
    return firstRecalled((id) => nodes.get(lower(id)), lower(batchId));
  }

  async indexedEvents(eventHashes: readonly string[]): Promise<Set<string>> {
    const { rows } = await this.sql.query("SELECT event_hash FROM lifecycle_events WHERE event_hash = ANY($1::text[])", [
      eventHashes.map(lower),
    ]);
    return new Set(rows.map((row) => str(row, "event_hash")));
  }

  async lifecycleEvent(eventHash: string): Promise<LifecycleEventRow | undefined> {
    const row = first(await this.sql.query(READS.event, [lower(eventHash)]));
    return row === undefined ? undefined : toEvent(row);
  }

  async lifecycleEventsOfBatch(batchId: string): Promise<BatchEventRow[]> {
    let head = ZERO_HASH;
    return (await this.sql.query(READS.eventsOfBatch, [lower(batchId)])).rows.map((row) => {
      const e = toEvent(row);
      head = nextHead(head, e.eventHash);
      if (e.batchId === lower(batchId) && head !== e.head) {
        throw new StoreCorruptError(`batch ${batchId}: event ${e.eventHash} carries head ${e.head}, chain gives ${head}`);
      }
      return { ...e, batchHead: head };
    });
  }

  async state(keys: IndexKeys): Promise<IndexState> {
    const ids = [...new Set(keys.batchIds.map(lower))];
    const accounts = [...new Set(keys.accounts.map(lower))];
    const [batchRows, parentRows, grantRows, profileRows, nonceRows] = await Promise.all([
      this.sql.query(`SELECT ${BATCH_COLUMNS} FROM batches WHERE batch_id = ANY($1::text[])`, [ids]),
      this.sql.query("SELECT child, parent FROM lineage WHERE child = ANY($1::text[]) ORDER BY seq", [ids]),
      this.sql.query(
        "SELECT contract, role, account, block_number FROM roles WHERE account = ANY($1::text[]) ORDER BY contract, role",
        [accounts],
      ),
      this.sql.query("SELECT account, name, gln, country, retail, block_number FROM profiles WHERE account = ANY($1::text[])", [
        accounts,
      ]),
      this.sql.query(
        `SELECT s.actor, s.nonce FROM unnest($1::text[], $2::text[]) AS k(actor, nonce)
         JOIN spent_nonces s ON s.actor = k.actor AND s.nonce = k.nonce`,
        [keys.nonces.map(([actor]) => lower(actor)), keys.nonces.map(([, nonce]) => nonce.toString())],
      ),
    ]);
    const parents = new Map<string, string[]>();
    for (const row of parentRows.rows) {
      const child = str(row, "child");
      parents.set(child, [...(parents.get(child) ?? []), str(row, "parent")]);
    }
    const batches = new Map(batchRows.rows.map((row) => {
      const batch = toBatch(row);
      return [batch.batchId, { batch, parents: parents.get(batch.batchId) ?? [] }] as const;
    }));
    const grants = new Map<string, RoleGrant[]>();
    for (const row of grantRows.rows) {
      const grant: RoleGrant = {
        contract: str(row, "contract") as RoleContract,
        role: str(row, "role"),
        account: str(row, "account"),
        blockNumber: int(row, "block_number"),
      };
      grants.set(grant.account, [...(grants.get(grant.account) ?? []), grant]);
    }
    const profiles = new Map(profileRows.rows.map((row) => [str(row, "account"), toProfile(row)] as const));
    const spentNonces = new Set(nonceRows.rows.map((row) => `${str(row, "actor")}:${str(row, "nonce")}`));
    return { batches, grants, profiles, spentNonces };
  }

  async nonceUsed(actor: string, nonce: bigint): Promise<boolean> {
    return (await this.sql.query(READS.nonceUsed, [lower(actor), nonce.toString()])).rows.length > 0;
  }

  async anchors(limit: number, before?: number): Promise<AnchorRow[]> {
    return (await this.sql.query(READS.anchors, [before ?? Number.MAX_SAFE_INTEGER, limit])).rows.map(toAnchor);
  }

  async latestAnchor(): Promise<AnchorRow | undefined> {
    const row = first(await this.sql.query(READS.latestAnchor));
    return row === undefined ? undefined : toAnchor(row);
  }

  async anchorCovering(leafIndex: number): Promise<AnchorRow | undefined> {
    const row = first(await this.sql.query(READS.anchorCovering, [leafIndex]));
    return row === undefined ? undefined : toAnchor(row);
  }
}
