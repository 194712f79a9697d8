/** Child processes the benchmark measures: the API (api-process.ts) and the bare node:http ceiling (bare-server.ts). */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export interface Served {
  readonly url: string;
  readonly pid: number;
  /** Resident set size of the process now, in MB (from /proc). */
  rssMb(): number;
  stop(): Promise<void>;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * CPU milliseconds per thread of process `pid` (utime + stime from /proc, 100 ticks a second), by thread name; worker
 * threads are told apart by start order: WorkerThread 1 is the store's log writer (the store opens before the ingest
 * pool starts its workers), 2 and up the ingest workers (a worker that replaced a dead one comes last).
 */
export function threadCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let workers = 0;
  const tids = readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b);
  for (const tid of tids) {
    try {
      let name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      if (name === "WorkerThread") name = `WorkerThread ${++workers}`;
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out[name] = (out[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10;
      // Kernel time (syscalls: writes, fsyncs, page faults) apart, for the threads that do I/O.
      out[`${name} (kernel)`] = (out[`${name} (kernel)`] ?? 0) + Number(fields[12]) * 10;
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return out;
}

export function rssMbOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/**
 * The node flags `npm start` runs the API with (package.json "start"), so the benchmark measures the process as it
 * is run: they bound V8's young generation, which the API's memory figure depends on.
 */
export const API_NODE_FLAGS: readonly string[] = (() => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { scripts: { start: string } };
  const flags = /\bnode((?: --\S+)*) ledger-api\/src\/main\.ts/.exec(pkg.scripts.start);
  if (flags === null) throw new Error(`package.json "start" no longer runs node ledger-api/src/main.ts: ${pkg.scripts.start}`);
  return flags[1]!.trim().split(" ").filter(Boolean);
})();

/** Children still running: killed if the runner exits without stopping them (a module that threw, Ctrl-C). */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  // The API's own anvil goes with it (chain/anvil-process.ts: it dies with its parent).
  for (const child of running) child.kill("SIGKILL");
});

function startChild(script: URL, env: Record<string, string>, args: string[] = []): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, [...args, script.pathname], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    let out = "";
    const onExit = (code: number | null) => reject(new Error(`${script.pathname} exited (${code}) before it was ready:\n${stderr}`));
    child.once("exit", onExit);
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const ready = /READY (\S+)/.exec(out);
      if (ready === null) return;
      child.off("exit", onExit);
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      resolve({
        url: ready[1]!,
        pid: child.pid!,
        rssMb: () => rssMbOf(child.pid!),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
            child.once("exit", () => {
              clearTimeout(timer);
              done();
            });
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

export interface ApiOptions {
  readonly dataDir: string;
  /** The naive ingest path (naive.ts) instead of the ingest workers. */
  readonly naive?: boolean;
  readonly env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeArgs?: string[];
}

export async function startApi(options: ApiOptions): Promise<Served> {
  return startChild(
    new URL("./api-process.ts", import.meta.url),
    {
      DATA_DIR: options.dataDir,
      PORT: "0",
      CHAIN_PORT: String(await freePort()),
      ANCHOR_INTERVAL_MS: "5000",
      ANCHOR_EVERY: "100000",
      // The benchmark's one signer observes each of its 100 lots some 10,000 times within minutes: ingest throughput
      // is measured, not the per-lot observation budget (which would refuse beyond 3,000 a day).
      OBSERVATIONS_PER_LOT_PER_DAY: "0",
      // The naive path blocks the event loop by design (hashing and recovery on it, most of a second per 500-event
      // request): shedding on event-loop delay or on a request's wait for admission would turn its baseline into a
      // count of refusals.
      ...(options.naive ? { BENCH_NAIVE: "1", MAX_EVENT_LOOP_DELAY_MS: "0", ADMISSION_MAX_WAIT_MS: "600000" } : {}),
      ...options.env,
    },
    [...API_NODE_FLAGS, ...(options.nodeArgs ?? [])],
  );
}

export function startBare(): Promise<Served> {
  return startChild(new URL("./bare-server.ts", import.meta.url), {});
}

/** The read routes alone over a stopped API's data dir (answers-process.ts), with an answers' cache of `cacheMb`. */
export function startAnswers(dataDir: string, cacheMb: number): Promise<Served> {
  return startChild(new URL("./answers-process.ts", import.meta.url), { DATA_DIR: dataDir, PORT: "0", ANSWER_CACHE_MB: String(cacheMb) });
}
