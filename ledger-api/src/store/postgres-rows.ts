/**
 * Connections and what only the PostgreSQL driver's files read: BIGINT columns are parsed to numbers (indices, block
 * numbers and milliseconds all stay below 2^53; anything above is corruption, not data), so rows read with the
 * drivers' shared readers (rows.ts); text[] columns; the advisory locks' keys.
 */
import pg from "pg";
import type { Row } from "./rows.ts";
import { StoreCorruptError } from "./store.ts";

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

export function strs(row: Row, col: string): string[] {
  const v = row[col];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new StoreCorruptError(`column ${col}: expected text[]`);
  return v;
}

/** The first row of a result, or undefined. */
export function first(result: { rows: Row[] }): Row | undefined {
  return result.rows[0];
}
