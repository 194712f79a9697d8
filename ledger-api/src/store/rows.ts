/**
 * Typed reads of result rows, shared by both store drivers: node:sqlite and pg hand back the same JavaScript types
 * for every column the ledger stores (numbers, strings, bytes) except booleans, which SQLite keeps as 0 / 1, so a
 * table's row → domain mapping is written once (index-rows.ts, chain-writer-rows.ts, market-rows.ts) and only the
 * SQL differs per driver. A column holding the wrong type means the database was changed outside this code (or a
 * migration is wrong): StoreCorruptError, never a silent coercion.
 */
import { StoreCorruptError, type StoredEntry } from "./store.ts";

/** One result row, by column name. */
export type Row = Record<string, unknown>;

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
  if (!(v instanceof Uint8Array)) throw new StoreCorruptError(`column ${col}: expected bytes, got ${typeof v}`);
  // pg's Buffers may be views of a larger pooled allocation, and callers compare plain Uint8Arrays: a copy.
  return Buffer.isBuffer(v) ? new Uint8Array(v) : v;
}

/** A BOOLEAN column on PostgreSQL, an INTEGER 0 / 1 one on SQLite. */
export function bool(row: Row, col: string): boolean {
  const v = row[col];
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  throw new StoreCorruptError(`column ${col}: expected boolean, got ${typeof v}`);
}

/** A nullable boolean column (e.g. from an outer join): null reads as false. */
export function optBool(row: Row, col: string): boolean {
  const v = row[col];
  return v === null || v === undefined ? false : bool(row, col);
}

/** uint256 values are stored as decimal TEXT so nothing is rounded. */
export function big(row: Row, col: string): bigint {
  return BigInt(str(row, col));
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
