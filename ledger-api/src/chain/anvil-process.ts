/**
 * The anvil process of the local chain, owned by the API that started it: it never outlives its owner and is never
 * adopted by accident.
 *
 * - It dies with its owner. On Linux it is started through `setpriv --pdeathsig SIGTERM` (util-linux), so the kernel
 *   sends it SIGTERM when the API dies, even by SIGKILL or the OOM killer. It runs in its own session, so a Ctrl-C in
 *   the terminal reaches only the API, which then takes a last snapshot and stops anvil itself. Without setpriv (other
 *   systems) it is killed when the API exits normally, and a SIGKILLed API leaves it behind for the next start to find.
 * - It is recognisable. Its command line names the chain's state directory (`--config-out {stateDir}/anvil.json`), and
 *   `{stateDir}/anvil.pid` records its pid and its owner's. An older version of this code ran anvil with
 *   `--state {stateDir}/state.json`, which identifies it just as well.
 * - At start, if the chain port is taken, the listening process is looked up (/proc/net/tcp, then /proc/{pid}/fd). An
 *   anvil of this state directory whose owner is gone is an orphan: it is stopped (SIGTERM, then SIGKILL after a
 *   timeout) before a new one starts. An anvil of this state directory whose owner is alive is another API's: start
 *   refuses. Anything else on the port: start refuses, naming the port and the process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";
import { writeFileDurably } from "./durable-file.ts";

export const PID_FILE = "anvil.pid";
/** anvil writes its configuration (accounts, chain id) here; the flag's value is what marks the process as ours. */
export const CONFIG_OUT_FILE = "anvil.json";
/** What an older version of this code passed as `--state`. */
export const LEGACY_STATE_FILE = "state.json";

/** Start refused: the chain port is held by a process that is not this state directory's orphan. */
export class ChainPortInUseError extends Error {
  override readonly name = "ChainPortInUseError";
}

export function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const platform = `@foundry-rs/anvil-${process.platform === "win32" ? "win32" : process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
  const pkg = path.dirname(require.resolve(`${platform}/package.json`));
  return path.join(pkg, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}

/** The setpriv binary when this system has one (util-linux), else undefined. */
export function setprivBinary(): string | undefined {
  if (process.platform !== "linux") return undefined;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).concat(["/usr/bin", "/bin"])) {
    const candidate = path.join(dir, "setpriv");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface SpawnedAnvil {
  readonly child: ChildProcess;
  /** Whether the kernel stops it when this process dies (setpriv --pdeathsig). */
  readonly diesWithParent: boolean;
}

/**
 * Starts anvil with `args` plus the flag that marks it as this state directory's, and records the pid file.
 * `dieWithParent: false` starts it without setpriv, as on a system that has none.
 */
export function spawnAnvil(stateDir: string, port: number, args: readonly string[], dieWithParent = true): SpawnedAnvil {
  const marked = [...args, "--config-out", path.join(path.resolve(stateDir), CONFIG_OUT_FILE)];
  const setpriv = dieWithParent ? setprivBinary() : undefined;
  const [command, argv] = setpriv ? [setpriv, ["--pdeathsig", "SIGTERM", "--", anvilBinary(), ...marked]] : [anvilBinary(), marked];
  // detached: a session of its own, so terminal signals (Ctrl-C) reach only the API, which stops anvil in order.
  const child = spawn(command, argv, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  if (child.pid !== undefined) writePidFile(stateDir, { pid: child.pid, owner: process.pid, ownerStart: startTime(process.pid), port });
  return { child, diesWithParent: setpriv !== undefined };
}

export interface PidRecord {
  readonly pid: number;
  /** The API process that started it, and when that process started (so a reused pid is not taken for it). */
  readonly owner: number;
  readonly ownerStart: string | undefined;
  readonly port: number;
}

export function writePidFile(stateDir: string, record: PidRecord): void {
  writeFileDurably(path.join(stateDir, PID_FILE), Buffer.from(JSON.stringify(record) + "\n"));
}

export function readPidFile(stateDir: string): PidRecord | undefined {
  try {
    const raw = JSON.parse(readFileSync(path.join(stateDir, PID_FILE), "utf8")) as Partial<PidRecord>;
    if (typeof raw.pid === "number" && typeof raw.owner === "number" && typeof raw.port === "number") {
      return { pid: raw.pid, owner: raw.owner, ownerStart: typeof raw.ownerStart === "string" ? raw.ownerStart : undefined, port: raw.port };
    }
  } catch {
    // absent or unreadable: nothing recorded
  }
  return undefined;
}

export function removePidFile(stateDir: string, pid: number): void {
  if (readPidFile(stateDir)?.pid === pid) rmSync(path.join(stateDir, PID_FILE), { force: true });
}

/** The process's argv, or undefined when it is gone (or not readable by this user). */
export function commandLine(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return raw.length === 0 ? undefined : raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/** The process's start time in clock ticks since boot (/proc/{pid}/stat field 22), or undefined off Linux. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether the API that wrote `record` still runs (the same process, not a later one that got its pid). */
export function ownerAlive(record: PidRecord): boolean {
  if (record.owner === process.pid || !isAlive(record.owner)) return false;
  return record.ownerStart === undefined || startTime(record.owner) === record.ownerStart;
}

/** Alive and not a zombie (an orphan's zombie stays in the table until its new parent reaps it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

/** Whether `argv` is an anvil serving `stateDir` (this code's marker flag, or an older version's `--state`). */
export function isAnvilOf(argv: readonly string[] | undefined, stateDir: string): boolean {
  if (argv === undefined || argv.length === 0) return false;
  if (!/^anvil(\.exe)?$/.test(path.basename(argv[0]!))) return false;
  const dir = path.resolve(stateDir);
  for (let i = 1; i < argv.length - 1; i++) {
    const flag = argv[i];
    const value = argv[i + 1]!;
    if (flag === "--config-out" && path.resolve(value) === path.join(dir, CONFIG_OUT_FILE)) return true;
    if ((flag === "--state" || flag === "--dump-state") && path.resolve(value) === path.join(dir, LEGACY_STATE_FILE)) return true;
  }
  return false;
}

/** Whether something listens on host:port (tried by listening there ourselves). */
export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" ? resolve(true) : reject(err)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** Socket inodes listening on `port` (any address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== "0A") continue; // 0A: LISTEN
      if (Number.parseInt(cols[1]!.split(":")[1]!, 16) === port) inodes.add(cols[9]!);
    }
  }
  return inodes;
}

/**
 * The process listening on `port`, found through /proc (Linux). Undefined when none is found: nothing listens, the
 * system has no /proc, or the process belongs to another user (its fds are not readable).
 */
export function portHolder(port: number): number | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) return Number(pid);
    }
  }
  return undefined;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL and wait again. Resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = 5000): Promise<"terminated" | "killed"> {
  const gone = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!isAlive(pid)) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return !isAlive(pid);
  };
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return "terminated";
  }
  if (await gone(graceMs)) return "terminated";
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone meanwhile
  }
  if (await gone(5000)) return "killed";
  throw new Error(`process ${pid} survived SIGKILL`);
}

export interface OrphanReport {
  /** Orphans of this state directory that were stopped, and how. */
  readonly stopped: { readonly pid: number; readonly how: "terminated" | "killed" }[];
}

const describe = (pid: number): string => {
  const argv = commandLine(pid);
  return argv === undefined ? `pid ${pid}` : `pid ${pid} (${argv.join(" ").slice(0, 200)})`;
};

/**
 * Makes room for this state directory's anvil on `host:port`: stops this directory's orphans (on the port, or
 * recorded in the pid file on another port), refuses when the port or the directory belongs to someone else.
 */
export async function clearOrphans(stateDir: string, host: string, port: number): Promise<OrphanReport> {
  const stopped: { pid: number; how: "terminated" | "killed" }[] = [];
  const recorded = readPidFile(stateDir);
  if (recorded !== undefined && ownerAlive(recorded)) {
    throw new ChainPortInUseError(
      `the chain in ${path.resolve(stateDir)} belongs to the ledger API pid ${recorded.owner}, which is still running: ` +
        `stop that API first (two APIs must not share one data directory)`,
    );
  }
  const candidates = new Set<number>();
  if (recorded !== undefined && isAlive(recorded.pid) && isAnvilOf(commandLine(recorded.pid), stateDir)) candidates.add(recorded.pid);
  const taken = await portInUse(host, port);
  const holder = taken ? portHolder(port) : undefined;
  if (taken) {
    if (holder === undefined) {
      throw new ChainPortInUseError(
        `CHAIN_PORT ${port} on ${host} is in use by a process this user cannot identify; it is not this ledger's chain ` +
          `(${path.resolve(stateDir)}). Stop it or set CHAIN_PORT to a free port.`,
      );
    }
    if (!isAnvilOf(commandLine(holder), stateDir)) {
      throw new ChainPortInUseError(
        `CHAIN_PORT ${port} on ${host} is in use by ${describe(holder)}, which is not this ledger's chain ` +
          `(${path.resolve(stateDir)}). Stop it or set CHAIN_PORT to a free port.`,
      );
    }
    candidates.add(holder);
  }
  // Its owner is gone (checked above), or it is an older version's anvil, which has no record: an orphan.
  for (const pid of candidates) stopped.push({ pid, how: await stopProcess(pid) });
  if (recorded !== undefined) rmSync(path.join(stateDir, PID_FILE), { force: true });
  return { stopped };
}
