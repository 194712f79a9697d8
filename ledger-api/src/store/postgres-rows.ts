/**
 * Connections and typed row reads shared by the PostgreSQL driver's files. BIGINT columns are parsed to numbers
 * (indices, block numbers and milliseconds all stay below 2^53; anything above is corruption, not data); BYTEA comes
 * back as a plain Uint8Array, as from the SQLite driver. A column of the wrong type means the database was changed
 * outside this code: StoreCorruptError, never a silent coercion.
 */
import pg from "pg";
import { StoreCorruptError, type StoredEntry } from "./store.ts";

export type Row = Record<string, unknown>;

/** A pool or one of its clients: what the query helpers run on. */
export interface Sql {
  query(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
}

/** Namespace of the ledger's advisory locks (two-key form), "LEDG"; advisory locks are per database. */
export const LOCK_NAMESPACE = 0x4c454447;
export const LOCK_MIGRATE = 1;
export const LOCK_ADMISSION = 2;

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new StoreCorruptError(`BIGINT ${value} is beyond 2^53`);
  return n;
}

/** Type parsers of every connection the driver opens (not pg's process-wide defaults, which others may rely on). */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    if (oid === pg.types.builtins.INT8) return parseInt8;
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

/** Connection settings every session of the driver runs with. */
export function clientConfig(url: string, applicationName: string): pg.ClientConfig {
  return {
    connectionString: url,
    types: PG_TYPES,
    application_name: applicationName,
    // An acknowledged write is a committed one: COMMIT returns once the WAL is flushed, whatever the server's or the
    // database's default says. Options given in the URL (a search_path, say) are kept.
    options: [new URL(url).searchParams.get("options"), "-c synchronous_commit=on"].filter(Boolean).join(" "),
  };
}

export function int(row: Row, col: string): number {
  const v = row[col];
  if (typeof v !== "number") throw new StoreCorruptError(`column ${col}: expected integer, got ${typeof v}`);
  return v;
}

export function optInt(row: Row | undefined, col: string): number | undefined {
  const v = row?.[col];
  return v === null || v === undefined ? undefined : int(row as Row, col);
}

export function str(row: Row, col: string): string {
  const v = row[col];
  if (typeof v !== "string") throw new StoreCorruptError(`column ${col}: expected text, got ${typeof v}`);
  return v;
}

export function optStr(row: Row, col: string): string | undefined {
  const v = row[col];
  return v === null || v === undefined ? undefined : str(row, col);
}

export function blob(row: Row, col: string): Uint8Array {
  const v = row[col];
  if (!(v instanceof Uint8Array)) throw new StoreCorruptError(`column ${col}: expected bytea, got ${typeof v}`);
  // A copy: pg's Buffers may be views of a larger pooled allocation, and callers compare plain Uint8Arrays.
  return new Uint8Array(v);
}

export function bool(row: Row, col: string): boolean {
  const v = row[col];
  if (typeof v !== "boolean") throw new StoreCorruptError(`column ${col}: expected boolean, got ${typeof v}`);
  return v;
}

export function strs(row: Row, col: string): string[] {
  const v = row[col];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new StoreCorruptError(`column ${col}: expected text[]`);
  return v;
}

/** uint256 values are stored as decimal TEXT so nothing is rounded. */
export function big(row: Row, col: string): bigint {
  return BigInt(str(row, col));
}

/** The first row of a result, or undefined. */
export function first(result: { rows: Row[] }): Row | undefined {
  return result.rows[0];
}

/** The columns of a log entry as StoredEntry reads them back. */
export const ENTRY_COLUMNS = "idx, key, batch_id, kind, prev_idx, leaf_hash, entry, body, received_at";

export function toEntry(row: Row): StoredEntry {
  return {
    index: int(row, "idx"),
    key: str(row, "key"),
    batchId: str(row, "batch_id"),
    kind: int(row, "kind"),
    prevIndex: optInt(row, "prev_idx") ?? -1,
    leafHash: blob(row, "leaf_hash"),
    entry: blob(row, "entry"),
    body: str(row, "body"),
    receivedAt: int(row, "received_at"),
  };
}
