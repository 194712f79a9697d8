/**
 * `npm start`'s server as a real process, for the tests that kill things: `node ledger-api/src/main.ts` in local mode
 * on free ports with its own data directory, the anvil it owns, and the anvil processes found on this machine.
 *
 * The server runs without `hardhat build` (npm start's first step), so as not to replace the coverage build the test
 * run is using, and with CHAIN_UNLIMITED_CODE_SIZE=1, which that instrumented build needs (as test/browser/phone-scan).
 * Its demo story is off (DEMO=0): the tests bring their own load.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { commandLine, isAlive, isAnvilOf, readPidFile } from "../../../ledger-api/src/chain/anvil-process.ts";
import { createServer } from "node:net";

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ApiProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly chainPort: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** The pid of its anvil, from the pid file. */
  anvilPid(): number;
  /** The same, or undefined while there is none (anvil restarting). */
  anvilPidIfAny(): number | undefined;
  /** Sends `signal` and resolves with the exit code once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startApi(dataDir: string, env: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort();
  const chainPort = Number(env.CHAIN_PORT ?? (await freePort()));
  let output = "";
  const child = spawn(process.execPath, ["ledger-api/src/main.ts"], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      CHAIN_PORT: String(chainPort),
      DEMO: "0",
      CHAIN_UNLIMITED_CODE_SIZE: "1",
      LOG_LEVEL: "warn",
      ANCHOR_INTERVAL_MS: "500",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const api: ApiProcess = {
    child,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    chainPort,
    output: () => output,
    anvilPid() {
      const pid = api.anvilPidIfAny();
      if (pid === undefined) throw new Error(`no anvil runs for ${dataDir}/chain:\n${output}`);
      return pid;
    },
    anvilPidIfAny() {
      // The pid file, or (a server without one) the anvil whose command line names the data directory.
      const pid = readPidFile(path.join(dataDir, "chain"))?.pid ?? anvilsOf(path.join(dataDir, "chain"))[0];
      return pid !== undefined && isAlive(pid) ? pid : undefined;
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const started = Date.now();
  while (!output.includes("Provenance ledger API listening")) {
    if (child.exitCode !== null) throw new Error(`the server exited ${child.exitCode}:\n${output}`);
    if (Date.now() - started > 120_000) {
      child.kill("SIGKILL");
      throw new Error(`the server did not come up in 120 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return api;
}

let deployed: Promise<string> | undefined;

/**
 * A fresh copy of a data directory in which a server ran once (contracts deployed, roles granted, stopped cleanly).
 * The server runs once per test run; every caller gets its own copy, removed with `removeDir`.
 */
export async function deployedDataDir(): Promise<string> {
  deployed ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ledger-deployed-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const api = await startApi(dir);
    const code = await api.stop("SIGTERM");
    if (code !== 0) throw new Error(`the server stopped with ${code}:\n${api.output()}`);
    return dir;
  })();
  return copyDir(await deployed);
}

export async function copyDir(from: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "ledger-copy-"));
  await cp(from, dir, { recursive: true });
  return dir;
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}

/** Every live anvil process on this machine serving `stateDir` (however it was started). */
export function anvilsOf(stateDir: string): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => isAlive(pid) && isAnvilOf(commandLine(pid), stateDir));
}

/** Polls `fn` until it returns a value other than undefined; throws with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** GET a JSON document; undefined when the server does not answer. */
export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}
