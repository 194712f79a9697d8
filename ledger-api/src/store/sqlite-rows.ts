/**
 * Typed reads of node:sqlite result rows, shared by the SQLite driver's files. A column holding the wrong type means
 * the database was changed outside this code (or a migration is wrong): StoreCorruptError, never a silent coercion.
 */
import type { SQLOutputValue } from "node:sqlite";
import { StoreCorruptError, type StoredEntry } from "./store.ts";

export type Row = Record<string, SQLOutputValue>;

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
  if (!(v instanceof Uint8Array)) throw new StoreCorruptError(`column ${col}: expected blob, got ${typeof v}`);
  return v;
}

export function bool(row: Row, col: string): boolean {
  return int(row, col) !== 0;
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
