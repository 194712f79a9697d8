/**
 * Which store the service runs on: PostgreSQL when DATABASE_URL is set (several API instances may share it), else
 * the embedded SQLite store in DATA_DIR (one process; `npm start` needs nothing else).
 */
import { PostgresStore } from "./postgres.ts";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite.ts";
import type { Store } from "./store.ts";

export interface StoreConfig {
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
}

/** `sqlite` applies to the SQLite store only (its log writer thread, whether it is the database's one writer). */
export async function openStore(config: StoreConfig, sqlite: SqliteStoreOptions = {}): Promise<Store> {
  return config.databaseUrl === undefined ? SqliteStore.open(config.dataDir, sqlite) : PostgresStore.open(config.databaseUrl);
}
