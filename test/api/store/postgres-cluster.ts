/**
 * A private, throwaway PostgreSQL cluster: Debian's server binaries (`initdb`, `pg_ctl` from
 * /usr/lib/postgresql/<version>/bin, or PG_BIN), a data directory in a fresh temporary directory, a free port on
 * loopback, durable settings (fsync and synchronous_commit stay on). PostgreSQL refuses to run as root, and tests
 * and CI run as root, so the server runs as the `postgres` system user (`runuser -u postgres --`) when we are root.
 * No mock and no in-memory imitation: the store tests, the scale-out test and the benchmark run on this.
 *
 * `stop()` stops it (immediate shutdown: nothing in it is kept) and removes the directory.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";

export interface PgCluster {
  readonly port: number;
  /** The URL of `database` on this cluster, as the superuser. */
  url(database: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Drops a database, closing whatever sessions are still connected to it. */
  dropDatabase(url: string): Promise<void>;
  /** Runs one statement on the `postgres` maintenance database. */
  query(sql: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** The newest installed server's bin directory (pg_config --bindir may name the client package's instead). */
export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql, or set PG_BIN); .ci/run installs them",
    );
  }
  return path.join(root, versions[0]!, "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

const asRoot = process.getuid?.() === 0;

/** Runs a server binary as the postgres user when we are root (the server refuses root). */
function runServerTool(bin: string, args: readonly string[]): void {
  const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, [...args]];
  const result = spawnSync(file, argv, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${path.basename(bin)} failed (${result.status}): ${result.stderr || result.stdout || result.error?.message}`);
  }
}

export interface PgClusterOptions {
  /** Extra server settings (-c name=value), e.g. max_connections. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(path.join(tmpdir(), "ledger-pg-"));
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, "data");
  const port = await freePort();
  const settings: Record<string, string | number> = {
    listen_addresses: "127.0.0.1",
    port,
    unix_socket_directories: dir,
    max_connections: 300,
    ...options.settings,
  };
  let running = false;
  const stopNow = (): void => {
    if (running) {
      running = false;
      try {
        runServerTool(path.join(bin, "pg_ctl"), ["stop", "-D", data, "-m", "immediate", "-w"]);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that dies without its after-hook must not leave a server behind.
  process.once("exit", stopNow);
  try {
    // --no-sync only for initdb's own files: the server itself runs with fsync on.
    runServerTool(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
    const opts = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(" ");
    runServerTool(path.join(bin, "pg_ctl"), ["start", "-D", data, "-l", path.join(dir, "server.log"), "-o", opts, "-w", "-t", "60"]);
    running = true;
  } catch (e) {
    stopNow();
    throw e;
  }
  const url = (database: string): string => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const admin = new pg.Pool({ connectionString: url("postgres"), max: 2 });
  admin.on("error", () => undefined);
  let next = 0;
  return {
    port,
    url,
    async createDatabase() {
      const name = `ledger_${process.pid}_${next++}`;
      await admin.query(`CREATE DATABASE ${name}`);
      return url(name);
    },
    async dropDatabase(databaseUrl: string) {
      const name = new URL(databaseUrl).pathname.slice(1);
      if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`not a test database: ${name}`);
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    async query(sql: string, values?: unknown[]) {
      return (await admin.query(sql, values)).rows as Record<string, unknown>[];
    },
    async stop() {
      await admin.end().catch(() => undefined);
      process.removeListener("exit", stopNow);
      stopNow();
    },
  };
}
