/**
 * Moves a ledger from the embedded store to PostgreSQL: copies every table of a SQLite store (`<dataDir>/ledger.db`)
 * into an empty PostgreSQL database, then proves the copy. scripts/migrate-sqlite-to-postgres.ts is its command line.
 *
 * What it guarantees:
 * - The target must be empty (a fresh database, migrated here to the same schema version): a database that holds any
 *   log entry, index row, anchor intent or relay row is refused (TargetNotEmptyError) before anything is written.
 * - The copy is one PostgreSQL transaction: if anything fails (a constraint, the connection), nothing was copied and
 *   the target is empty again; run it again. The source is read inside one read transaction (one snapshot), and is
 *   brought to the current schema first, as starting the service would.
 * - Then the proof: both stores opened through their drivers agree on the log's size and root (and the root
 *   recomputed from the copied nodes), the anchors and anchor intents, the relay cursor and every relay row, the
 *   index cursor; and every copied table has the same row count and the same digest (SHA-256 over its rows in key
 *   order, values normalised: flags as 0/1, bytes as hex). A mismatch is a CopyMismatchError naming what differs.
 *
 * Stop the service before copying: entries it logs after the snapshot would be missing from the copy (the proof
 * would then fail on the size).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import pg from "pg";
import { bytesToHex } from "../log/hash.ts";
import { root as rootOfSize } from "../log/merkle.ts";
import { insertRows } from "./postgres-index.ts";
import { PostgresStore } from "./postgres.ts";
import { clientConfig, first, type Sql } from "./postgres-rows.ts";
import { int } from "./rows.ts";
import { DB_FILE, SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

type PgType = "bigint" | "integer" | "text" | "bytea" | "boolean" | "float8";

interface TableSpec {
  readonly name: string;
  /** The primary key, in the order rows are read and compared. */
  readonly key: readonly string[];
  readonly columns: readonly (readonly [name: string, type: PgType])[];
  /** An identity column whose sequence must continue after the copied values. */
  readonly identity?: string;
  /** A one-row table a migration fills (a cursor at 0): the copy replaces that row. */
  readonly singleton?: boolean;
  /**
   * Kept by the target's own triggers from the rows copied before it (migration "answers": the observations'
   * summaries): not copied, but compared like every other table, which proves the two drivers' triggers agree.
   */
  readonly derived?: boolean;
}

/**
 * Every table of the current schema (migrations 1..9) but answer_versions (counters whose values only have to move,
 * rebuilt by the target's triggers as it is filled), in an order the foreign keys accept.
 */
const TABLES: readonly TableSpec[] = [
  {
    name: "log_entries",
    key: ["idx"],
    columns: [
      ["idx", "bigint"], ["key", "text"], ["batch_id", "text"], ["kind", "integer"], ["prev_idx", "bigint"],
      ["leaf_hash", "bytea"], ["entry", "bytea"], ["body", "text"], ["received_at", "bigint"], ["signer", "text"],
      ["nonce", "text"],
    ],
  },
  { name: "log_nodes", key: ["level", "idx"], columns: [["level", "integer"], ["idx", "bigint"], ["hash", "bytea"]] },
  {
    name: "chain_cursor",
    key: ["contracts"],
    columns: [["contracts", "text"], ["block_number", "bigint"], ["block_hash", "text"], ["updated_at", "bigint"]],
  },
  {
    name: "roles",
    key: ["contract", "role", "account"],
    columns: [["contract", "text"], ["role", "text"], ["account", "text"], ["block_number", "bigint"]],
  },
  {
    name: "profiles",
    key: ["account"],
    columns: [
      ["account", "text"], ["name", "text"], ["gln", "text"], ["country", "text"], ["retail", "boolean"],
      ["block_number", "bigint"],
    ],
  },
  {
    name: "batches",
    key: ["batch_id"],
    columns: [
      ["batch_id", "text"], ["gtin", "text"], ["lot", "text"], ["registrant", "text"], ["custodian", "text"],
      ["quantity", "text"], ["unit", "text"], ["status", "text"], ["recalled", "boolean"], ["imported", "boolean"],
      ["customs_cleared", "boolean"], ["offer_to", "text"], ["head", "text"], ["ancestry", "integer"],
      ["created_block", "bigint"], ["created_tx", "text"], ["updated_block", "bigint"],
    ],
  },
  {
    name: "lineage",
    key: ["seq"],
    identity: "seq",
    columns: [
      ["seq", "bigint"], ["child", "text"], ["parent", "text"], ["event_hash", "text"], ["quantity", "text"],
      ["block_number", "bigint"],
    ],
  },
  {
    name: "lifecycle_events",
    key: ["event_hash"],
    columns: [
      ["event_hash", "text"], ["kind", "text"], ["batch_id", "text"], ["actor", "text"], ["doc_hash", "text"],
      ["head", "text"], ["details", "text"], ["nonce", "text"], ["tx_hash", "text"], ["block_number", "bigint"],
      ["block_hash", "text"], ["log_index", "integer"],
    ],
  },
  {
    name: "spent_nonces",
    key: ["actor", "nonce"],
    columns: [["actor", "text"], ["nonce", "text"], ["event_hash", "text"], ["block_number", "bigint"]],
  },
  {
    name: "anchors",
    key: ["anchor_index"],
    columns: [
      ["anchor_index", "bigint"], ["size", "bigint"], ["root", "text"], ["previous_size", "bigint"],
      ["anchorer", "text"], ["tx_hash", "text"], ["block_number", "bigint"], ["block_hash", "text"],
      ["block_time", "bigint"],
    ],
  },
  {
    name: "anchor_intents",
    key: ["id"],
    identity: "id",
    columns: [
      ["id", "bigint"], ["size", "bigint"], ["root", "text"], ["previous_size", "bigint"], ["previous_root", "text"],
      ["nonce", "bigint"], ["raw_tx", "text"], ["tx_hash", "text"], ["status", "text"], ["block_number", "bigint"],
      ["failure", "text"], ["fee_bumps", "integer"], ["created_at", "bigint"], ["updated_at", "bigint"],
    ],
  },
  { name: "relay_cursor", key: ["id"], singleton: true, columns: [["id", "integer"], ["next_idx", "bigint"]] },
  {
    name: "relay_groups",
    key: ["id"],
    identity: "id",
    columns: [
      ["id", "bigint"], ["nonce", "bigint"], ["tx_hash", "text"], ["raw_tx", "text"], ["calls", "integer"],
      ["fee_bumps", "integer"], ["created_at", "bigint"], ["updated_at", "bigint"],
    ],
  },
  {
    name: "relay_entries",
    key: ["idx"],
    columns: [
      ["idx", "bigint"], ["kind", "integer"], ["actor", "text"], ["status", "text"], ["nonce", "bigint"],
      ["tx_hash", "text"], ["raw_tx", "text"], ["group_id", "bigint"], ["block_number", "bigint"],
      ["error_name", "text"], ["error", "text"], ["fee_bumps", "integer"], ["updated_at", "bigint"],
    ],
  },
  { name: "epcis_cursor", key: ["id"], singleton: true, columns: [["id", "integer"], ["next_idx", "bigint"]] },
  {
    name: "epcis_events",
    key: ["idx"],
    columns: [
      ["idx", "bigint"], ["event_type", "text"], ["event_time", "bigint"], ["biz_step", "text"], ["biz_location", "text"],
    ],
  },
  { name: "epcis_event_lots", key: ["batch_id", "idx"], columns: [["batch_id", "text"], ["idx", "bigint"]] },
  {
    name: "epcis_capture_jobs",
    key: ["capture_id"],
    columns: [
      ["capture_id", "text"], ["created_at", "bigint"], ["finished_at", "bigint"], ["running", "boolean"],
      ["success", "boolean"], ["error_behaviour", "text"], ["errors", "text"], ["events", "text"],
    ],
  },
  { name: "market_cursor", key: ["id"], singleton: true, columns: [["id", "integer"], ["next_idx", "bigint"]] },
  {
    name: "market_lots",
    key: ["batch_id"],
    columns: [
      ["batch_id", "text"], ["product", "text"], ["country", "text"], ["region", "text"], ["farm", "text"],
      ["harvest_date", "text"], ["imported", "boolean"], ["holder", "text"], ["held_since", "bigint"], ["held_event", "text"],
    ],
  },
  {
    name: "market_arrivals",
    key: ["idx"],
    columns: [["idx", "bigint"], ["batch_id", "text"], ["receiver", "text"], ["day", "integer"], ["country", "text"], ["region", "text"]],
  },
  {
    name: "market_tests",
    key: ["idx"],
    columns: [["idx", "bigint"], ["batch_id", "text"], ["day", "integer"], ["passed", "boolean"], ["lab", "text"], ["failed", "text"]],
  },
  {
    name: "market_pesticides",
    key: ["idx"],
    columns: [
      ["idx", "bigint"], ["batch_id", "text"], ["day", "integer"], ["substance", "text"], ["phi_days", "integer"],
      ["harvest_date", "text"], ["days_before_harvest", "integer"], ["violation", "boolean"],
    ],
  },
  {
    name: "market_acks",
    key: ["idx"],
    columns: [["idx", "bigint"], ["batch_id", "text"], ["recall_event", "text"], ["signer", "text"], ["event_hash", "text"], ["at", "bigint"]],
  },
  {
    name: "observation_totals",
    key: ["batch_id"],
    derived: true,
    columns: [["batch_id", "text"], ["entries", "bigint"], ["first_idx", "bigint"], ["last_idx", "bigint"]],
  },
  {
    name: "observation_readings",
    key: ["batch_id", "type", "unit"],
    derived: true,
    columns: [
      ["batch_id", "text"], ["type", "text"], ["unit", "text"], ["count", "bigint"], ["first_at", "bigint"],
      ["last_at", "bigint"], ["min", "float8"], ["max", "float8"], ["last_value", "float8"], ["last_value_at", "bigint"],
      ["last_idx", "bigint"],
    ],
  },
  {
    name: "observation_hours",
    key: ["batch_id", "type", "unit", "hour"],
    derived: true,
    columns: [
      ["batch_id", "text"], ["type", "text"], ["unit", "text"], ["hour", "bigint"], ["count", "bigint"], ["min", "float8"],
      ["max", "float8"], ["sum", "float8"],
    ],
  },
];

/** The schema version this copy knows every table of; a store of another version is refused. */
const SCHEMA_VERSION = 9;

const BATCH_ROWS = 1000;

export class TargetNotEmptyError extends Error {
  constructor(what: string) {
    super(`the target database is not empty (${what}): copy only into a fresh database`);
    this.name = "TargetNotEmptyError";
  }
}

export class CopyMismatchError extends Error {
  constructor(what: string) {
    super(`the copy differs from the source: ${what}`);
    this.name = "CopyMismatchError";
  }
}

export interface CopyProgress {
  readonly table: string;
  /** Rows copied so far, over all tables. */
  readonly done: number;
  readonly total: number;
}

export interface CopyReport {
  readonly size: number;
  /** 0x hex root of the copied log, equal on both sides. */
  readonly root: string;
  readonly anchors: number;
  readonly anchorIntents: number;
  readonly relayCursor: number;
  readonly tables: readonly { readonly name: string; readonly rows: number; readonly digest: string }[];
}

export interface CopyOptions {
  readonly dataDir: string;
  readonly databaseUrl: string;
  readonly progress?: (p: CopyProgress) => void;
}

type Value = string | number | bigint | boolean | Uint8Array | null;

/** A value as both drivers agree to write it: flags as 0/1, bytes as hex, text quoted. */
function normalise(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof Uint8Array) return bytesToHex(v);
  if (typeof v === "string") return JSON.stringify(v);
  throw new Error(`unexpected ${typeof v} in a row`);
}

/** How one driver's SQL names a parameter and orders text: SQLite byte-wise; PostgreSQL by COLLATE "C", the same. */
interface Dialect {
  readonly placeholder: (i: number) => string;
  readonly bytewise: string;
}

/** Reads a table in key order, `BATCH_ROWS` at a time (keyset pagination: each page a cheap index range). */
async function* pages(
  read: (sql: string, params: Value[]) => Promise<Record<string, unknown>[]>,
  spec: TableSpec,
  dialect: Dialect,
): AsyncGenerator<Record<string, unknown>[]> {
  const placeholder = dialect.placeholder;
  const cols = spec.columns.map(([c]) => c).join(", ");
  const textual = new Set(spec.columns.filter(([, type]) => type === "text").map(([c]) => c));
  const key = spec.key.map((k) => (textual.has(k) ? `${k}${dialect.bytewise}` : k)).join(", ");
  let after: Value[] | undefined;
  for (;;) {
    const where =
      after === undefined ? "" : `WHERE (${key}) > (${spec.key.map((_, i) => placeholder(i)).join(", ")})`;
    const rows = await read(
      `SELECT ${cols} FROM ${spec.name} ${where} ORDER BY ${key} LIMIT ${BATCH_ROWS}`,
      after ?? [],
    );
    if (rows.length === 0) return;
    yield rows;
    const last = rows[rows.length - 1]!;
    after = spec.key.map((k) => last[k] as Value);
    if (rows.length < BATCH_ROWS) return;
  }
}

function sqliteReader(db: DatabaseSync) {
  return async (sql: string, params: Value[]) =>
    db.prepare(sql).all(...(params as SQLInputValue[])) as Record<string, unknown>[];
}

function pgReader(sql: Sql) {
  return async (text: string, params: Value[]) => (await sql.query(text, params)).rows;
}

async function digest(
  read: (sql: string, params: Value[]) => Promise<Record<string, unknown>[]>,
  spec: TableSpec,
  dialect: Dialect,
): Promise<{ rows: number; digest: string }> {
  const hash = createHash("sha256");
  let rows = 0;
  for await (const page of pages(read, spec, dialect)) {
    for (const row of page) {
      hash.update(spec.columns.map(([c]) => normalise(row[c])).join("\u001f") + "\n");
      rows++;
    }
  }
  return { rows, digest: hash.digest("hex") };
}

const SQLITE: Dialect = { placeholder: () => "?", bytewise: "" };
const POSTGRES: Dialect = { placeholder: (i) => `$${i + 1}`, bytewise: ' COLLATE "C"' };

export async function copySqliteToPostgres(options: CopyOptions): Promise<CopyReport> {
  // Opening through the driver brings the source to the current schema and checks its tree, as the service would.
  const source = await SqliteStore.open(options.dataDir);
  await source.close();
  const target = await PostgresStore.open(options.databaseUrl, { poolSize: 2 });
  await target.close();

  const db = new DatabaseSync(join(options.dataDir, DB_FILE), { readOnly: true });
  const client = new pg.Client(clientConfig(options.databaseUrl, "ledger-migrate"));
  client.on("error", () => undefined);
  await client.connect();
  try {
    const version = Number(db.prepare("SELECT max(version) AS v FROM schema_migrations").get()?.v);
    if (version !== SCHEMA_VERSION) throw new Error(`the source is at schema version ${version}; this copy knows ${SCHEMA_VERSION}`);
    db.exec("BEGIN"); // one snapshot of the source for the whole copy
    await client.query("BEGIN");
    try {
      await copyTables(db, client, options.progress);
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      db.exec("ROLLBACK");
    }
  } finally {
    db.close();
    await client.end().catch(() => undefined);
  }
  return prove(options);
}

async function copyTables(db: DatabaseSync, client: pg.Client, progress?: (p: CopyProgress) => void): Promise<void> {
  // Appenders wait, and the emptiness checked below holds until COMMIT.
  await client.query("LOCK TABLE log_head, relay_cursor, epcis_cursor, market_cursor, anchor_intents IN EXCLUSIVE MODE");
  if (int(first(await client.query("SELECT size FROM log_head WHERE id = 1")) ?? {}, "size") !== 0) {
    throw new TargetNotEmptyError("its log holds entries");
  }
  for (const spec of TABLES) {
    if (spec.singleton) {
      // The row its migration inserted, still at 0: replaced by the source's.
      const row = first(await client.query(`SELECT count(*) AS n, max(next_idx) AS at FROM ${spec.name}`)) ?? {};
      if (int(row, "n") !== 1 || int(row, "at") !== 0) throw new TargetNotEmptyError(`${spec.name} has moved`);
      await client.query(`DELETE FROM ${spec.name}`);
      continue;
    }
    const row = first(await client.query(`SELECT count(*) AS n FROM ${spec.name}`));
    if (int(row ?? {}, "n") !== 0) throw new TargetNotEmptyError(`table ${spec.name}`);
  }

  const copied = TABLES.filter((spec) => spec.derived !== true);
  const counts = copied.map((spec) => Number(db.prepare(`SELECT count(*) AS n FROM ${spec.name}`).get()?.n));
  const total = counts.reduce((a, b) => a + b, 0);
  let done = 0;
  progress?.({ table: copied[0]!.name, done, total });
  const read = sqliteReader(db);
  for (const spec of copied) {
    for await (const page of pages(read, spec, SQLITE)) {
      const rows = page.map((r) =>
        spec.columns.map(([c, type]) => (type === "boolean" && r[c] !== null ? r[c] !== 0 : r[c])),
      );
      await insertRows(client, spec.name, spec.columns, rows);
      done += rows.length;
      progress?.({ table: spec.name, done, total });
    }
    if (spec.identity !== undefined) {
      await client.query(
        `SELECT setval(pg_get_serial_sequence('${spec.name}', '${spec.identity}'),
           coalesce((SELECT max(${spec.identity}) FROM ${spec.name}), 0) + 1, false)`,
      );
    }
  }
  // The head the entries and nodes make; PostgresStore.open checks it against them (prove opens it).
  const head = db.prepare("SELECT count(*) AS n FROM log_entries").get();
  const size = Number(head?.n);
  await client.query("UPDATE log_head SET size = $1, root = $2 WHERE id = 1", [size, await rootOfTarget(client, size)]);
}

/** The root of the copied tree of `size` leaves, from the copied nodes (inside the copy's transaction). */
async function rootOfTarget(client: pg.Client, size: number): Promise<Uint8Array> {
  return rootOfSize(size, {
    async nodes(refs) {
      const { rows } = await client.query(
        `SELECT n.hash FROM unnest($1::int[], $2::bigint[]) WITH ORDINALITY AS r(level, idx, ord)
         JOIN log_nodes n ON n.level = r.level AND n.idx = r.idx ORDER BY r.ord`,
        [refs.map((r) => r.level), refs.map((r) => r.index)],
      );
      if (rows.length !== refs.length) throw new CopyMismatchError(`the copied log of ${size} entries lacks tree nodes`);
      return rows.map((r) => new Uint8Array(r.hash as Buffer));
    },
  });
}

/** JSON with object keys sorted and bigints as decimal strings: equal values, equal text, whichever driver built them. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
    }
    return v;
  });
}

async function prove(options: CopyOptions): Promise<CopyReport> {
  const source: Store = await SqliteStore.open(options.dataDir);
  const target: Store = await PostgresStore.open(options.databaseUrl, { poolSize: 2 });
  const db = new DatabaseSync(join(options.dataDir, DB_FILE), { readOnly: true });
  const client = new pg.Client(clientConfig(options.databaseUrl, "ledger-migrate"));
  client.on("error", () => undefined);
  await client.connect();
  try {
    const same = (what: string, a: unknown, b: unknown): void => {
      if (canonical(a) !== canonical(b)) throw new CopyMismatchError(`${what}: ${canonical(a)} vs ${canonical(b)}`);
    };
    const [a, b] = [await source.checkpoint(), await target.checkpoint()];
    same("log size", a.size, b.size);
    same("log root", bytesToHex(a.root), bytesToHex(b.root));
    same("log root recomputed from the copied nodes", bytesToHex(a.root), bytesToHex(await rootOfSize(b.size, target)));
    const everyAnchor = Number.MAX_SAFE_INTEGER;
    same("anchors", await source.anchors(everyAnchor), await target.anchors(everyAnchor));
    same("anchor intents", await source.anchorIntents(), await target.anchorIntents());
    same("relay cursor", await source.relayCursor(), await target.relayCursor());
    for (const status of ["pending", "sent", "confirmed", "refused"] as const) {
      same(`${status} relay rows`, await source.relayRows(status), await target.relayRows(status));
    }
    same("index cursor", await source.cursor(), await target.cursor());
    const tables = [];
    for (const spec of TABLES) {
      const [s, t] = [await digest(sqliteReader(db), spec, SQLITE), await digest(pgReader(client), spec, POSTGRES)];
      if (s.rows !== t.rows) throw new CopyMismatchError(`table ${spec.name} has ${s.rows} rows in the source, ${t.rows} in the copy`);
      if (s.digest !== t.digest) throw new CopyMismatchError(`table ${spec.name}: the rows differ (digest ${s.digest} vs ${t.digest})`);
      tables.push({ name: spec.name, rows: s.rows, digest: s.digest });
    }
    return {
      size: a.size,
      root: bytesToHex(a.root),
      anchors: (await source.anchors(everyAnchor)).length,
      anchorIntents: (await source.anchorIntents()).length,
      relayCursor: await source.relayCursor(),
      tables,
    };
  } finally {
    db.close();
    await client.end().catch(() => undefined);
    await source.close();
    await target.close();
  }
}
