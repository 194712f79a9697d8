/**
 * The store drivers every test that takes a store runs against: SQLite in a temporary directory, and PostgreSQL in a
 * fresh database of a private throwaway cluster (postgres-cluster.ts: started on first use, once per test run, and
 * stopped with it). A suite written once inside `forEachDriver` checks each rule on both drivers, so they cannot
 * drift apart; what differs between them (SQL for a test's own meddling) lives here, not in the tests.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import pg from "pg";
import { MIGRATIONS, type Migration } from "../../../ledger-api/src/store/migrations.ts";
import { PG_MIGRATIONS } from "../../../ledger-api/src/store/postgres-migrations.ts";
import { PostgresStore } from "../../../ledger-api/src/store/postgres.ts";
import { DB_FILE, SqliteStore } from "../../../ledger-api/src/store/sqlite.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import { cleanup, tempDir } from "../log/fixtures.ts";
import { startPgCluster, type PgCluster } from "./postgres-cluster.ts";

export type DriverName = "sqlite" | "postgres";

/** Where one store lives: a data directory or a database. Several store objects may be open on it at once. */
export interface StoreLocation {
  readonly driver: StoreDriver;
  /** Opens a store object here; `migrations` replaces the driver's list (tests make "older" or "newer" databases). */
  open(options?: { migrations?: readonly Migration[] }): Promise<Store>;
  /** The configuration naming this location (loadConfig's DATA_DIR or DATABASE_URL). */
  readonly env: Readonly<Record<string, string>>;
  /** Runs SQL outside every store object (a test meddling with the database, or looking at it). */
  exec(sql: string): Promise<void>;
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** Closes what this location opened and deletes it. */
  remove(): Promise<void>;
}

export interface StoreDriver {
  readonly name: DriverName;
  /** How a suite's title names it (the name, or a variant of it). */
  readonly label: string;
  /** The driver's own migration list (same versions in both). */
  readonly migrations: readonly Migration[];
  create(): Promise<StoreLocation>;
  /** SQL that makes inserting the log entry with `key` fail with "injected failure", and SQL that undoes it. */
  readonly failInsertOf: (key: string) => string;
  readonly allowInserts: string;
  /** SQL listing which of `names` exist as tables, one row each with a `name` column. */
  readonly tablesNamed: (names: readonly string[]) => string;
}

const quoted = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(", ");

/** The SQLite driver; with `logWriter: "thread"` its stores append on their log writer thread, as the API's do. */
function sqliteDriver(logWriter: "inline" | "thread"): StoreDriver {
  const d: StoreDriver = {
    name: "sqlite",
    label: logWriter === "thread" ? "sqlite, log writer thread" : "sqlite",
    migrations: MIGRATIONS,
    async create() {
      const dir = await tempDir();
      const open: Store[] = [];
      const withDb = <T>(fn: (db: DatabaseSync) => T): T => {
        const db = new DatabaseSync(join(dir, DB_FILE));
        try {
          return fn(db);
        } finally {
          db.close();
        }
      };
      return {
        driver: d,
        env: { DATA_DIR: dir },
        async open(options) {
          const store = await SqliteStore.open(dir, { logWriter, ...options });
          open.push(store);
          return store;
        },
        async exec(sql) {
          withDb((db) => db.exec(sql));
        },
        async rows(sql) {
          return withDb((db) => db.prepare(sql).all() as Record<string, unknown>[]);
        },
        async remove() {
          for (const s of open.splice(0)) await s.close().catch(() => undefined);
          await cleanup(dir);
        },
      };
    },
    failInsertOf: (key) =>
      `CREATE TRIGGER poison BEFORE INSERT ON log_entries WHEN NEW.key = '${key}'
       BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
    allowInserts: "DROP TRIGGER poison",
    tablesNamed: (names) => `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (${quoted(names)})`,
  };
  return d;
}
const sqlite = sqliteDriver("inline");

let cluster: Promise<PgCluster> | undefined;

/** The test run's PostgreSQL cluster, started on first use. */
export function testCluster(): Promise<PgCluster> {
  cluster ??= startPgCluster();
  return cluster;
}

// Root hook: once every test file has run, the cluster goes (stores are closed by their tests' own hooks). Outside
// mocha (a benchmark script using the harness) the cluster goes when the process exits (postgres-cluster.ts).
if (typeof after === "function") {
  after(async function () {
    this.timeout(30_000);
    await (await cluster?.catch(() => undefined))?.stop();
  });
}

const postgres: StoreDriver = {
  name: "postgres",
  label: "postgres",
  migrations: PG_MIGRATIONS,
  async create() {
    const c = await testCluster();
    const url = await c.createDatabase();
    const open: Store[] = [];
    const admin = new pg.Client({ connectionString: url });
    admin.on("error", () => undefined);
    let connected: Promise<void> | undefined;
    const query = async (sql: string) => {
      connected ??= admin.connect().then(() => undefined);
      await connected;
      return (await admin.query(sql)).rows as Record<string, unknown>[];
    };
    return {
      driver: postgres,
      env: { DATABASE_URL: url },
      async open(options) {
        const store = await PostgresStore.open(url, { ...options, poolSize: 4 });
        open.push(store);
        return store;
      },
      async exec(sql) {
        await query(sql);
      },
      rows: query,
      async remove() {
        for (const s of open.splice(0)) await s.close().catch(() => undefined);
        if (connected !== undefined) await admin.end().catch(() => undefined);
        await c.dropDatabase(url);
      },
    };
  },
  failInsertOf: (key) => `
    CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.key = '${key}' THEN RAISE EXCEPTION 'injected failure'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER poison BEFORE INSERT ON log_entries FOR EACH ROW EXECUTE FUNCTION poison();`,
  allowInserts: "DROP TRIGGER poison ON log_entries; DROP FUNCTION poison()",
  tablesNamed: (names) =>
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN (${quoted(names)})`,
};

export const DRIVERS: readonly StoreDriver[] = [sqlite, postgres];

/** DRIVERS and SQLite appending on its log writer thread: for the suites of the log's own rules (store, appender). */
export const LOG_DRIVERS: readonly StoreDriver[] = [sqlite, sqliteDriver("thread"), postgres];

export function driver(name: DriverName): StoreDriver {
  return name === "sqlite" ? sqlite : postgres;
}

/** Runs `suite` once per driver, inside a describe block named `${title} (${driver})` (60 s per test: shared CI). */
export function forEachDriver(
  title: string,
  suite: (this: Mocha.Suite, driver: StoreDriver) => void,
  drivers: readonly StoreDriver[] = DRIVERS,
): void {
  for (const d of drivers) {
    describe(`${title} (${d.label})`, function () {
      this.timeout(60_000);
      suite.call(this, d);
    });
  }
}

/** Fresh locations for one suite: `create()` per test, `removeAll()` in afterEach. */
export function locations(d: StoreDriver) {
  const made: StoreLocation[] = [];
  return {
    async create(): Promise<StoreLocation> {
      const loc = await d.create();
      made.push(loc);
      return loc;
    },
    async removeAll(): Promise<void> {
      for (const loc of made.splice(0)) await loc.remove();
    },
  };
}
