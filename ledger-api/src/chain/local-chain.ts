/**
 * The local chain that `npm start` runs when no RPC_URL is configured: anvil (the prebuilt binary inside the npm
 * package @foundry-rs/anvil) driven by this controller, with its state in `{DATA_DIR}/chain`.
 *
 * What is promised:
 * - **A crash loses no final block.** The controller, not anvil, writes the state: `anvil_dumpState` (accounts,
 *   storage, every block, transaction and receipt with its logs; no per-block historical states, which grow with the
 *   square of the chain) written to `snapshot.json.gz` atomically (durable-file.ts). `durableBlock()` is the newest
 *   block the file on disk holds, and the writers and the indexer count a block final only up to it (finality.ts).
 *   A SIGKILL, OOM kill or power cut of anvil therefore loses only blocks nothing has called final: their
 *   transactions are still stored by the relay and the anchorer, which re-broadcast the same bytes.
 * - **Snapshots are consistent.** anvil runs with `--no-mining` and this controller mines (`evm_mine`) on the same
 *   serialized loop that takes snapshots, so no block is mined while a snapshot is taken, and the block number read
 *   before a dump is exactly the newest block in it.
 * - **Size grows with what is recorded, not with time.** A block is mined only when the mempool holds a transaction
 *   (one block for every transaction waiting at that moment), followed by `confirmations` empty blocks so the
 *   writers can count it final; an idle chain mines nothing and writes nothing.
 * - **anvil is restarted from the last snapshot if it dies** (at most `maxRestarts` times a minute, then `onFatal`),
 *   and the process never outlives the API (anvil-process.ts).
 * - **An unreadable state never blocks a start.** A snapshot whose gzip check fails (disk corruption; atomic
 *   writes cannot cut one short), or the in-place `state.json` an older version wrote and a SIGKILL cut off, is moved
 *   aside and the chain starts empty; the ledger then redeploys its contracts and re-relays its log (recovery.ts).
 *
 * Historical state: blocks, receipts and logs of every block survive a restart, but the state at an older block
 * (eth_call at a past block) is kept only in memory and is gone after a restart.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { clearOrphans, LEGACY_STATE_FILE, removePidFile, spawnAnvil } from "./anvil-process.ts";
import { removeStrayTemps, writeFileDurablyAsync } from "./durable-file.ts";
import { silentLogger, type ChainLogger } from "./transactions.ts";

/** The well-known development mnemonic: its keys are public, so this chain must never hold anything of value. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

export const SNAPSHOT_FILE = "snapshot.json.gz";
/** The snapshot unpacked for `--load-state` (anvil reads plain JSON); deleted once anvil has read it. */
const LOAD_FILE = "load-state.json";

export interface LocalChainOptions {
  readonly stateDir: string;
  readonly port: number;
  readonly host?: string;
  readonly chainId?: number;
  readonly accounts?: number;
  /**
   * Lifts the EIP-170 contract size limit. Only for tests: `hardhat test --coverage` deploys instrumented bytecode
   * larger than 24 KiB, which a real chain (and anvil by default) refuses.
   */
  readonly disableCodeSizeLimit?: boolean;
  /** Empty blocks mined on top of a block with transactions (the service's CONFIRMATIONS). Default 1. */
  readonly confirmations?: number;
  /** How often the mempool is looked at and what waits there mined, ms. Default 100. */
  readonly mineEveryMs?: number;
  /**
   * Least time between two snapshots, ms (a snapshot is taken only when the chain moved, and no sooner than four
   * times the last one took). A block counts final once a snapshot holds it, so this is most of finality's delay.
   * Default 250.
   */
  readonly snapshotEveryMs?: number;
  /** Restarts of a dead anvil allowed within a minute before `onFatal`. Default 5. */
  readonly maxRestarts?: number;
  /** false: start anvil without setpriv, as on a system that has none (it then survives a SIGKILLed API). */
  readonly dieWithParent?: boolean;
  readonly logger?: ChainLogger;
  /** anvil could not be kept running; the chain is unusable. Default: log it. */
  readonly onFatal?: (err: Error) => void;
}

export type ChainOrigin = "snapshot" | "legacy-state" | "empty";

export interface LocalChainStatus {
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Newest block held by the snapshot on disk. */
  readonly durableBlock: number;
  readonly snapshots: number;
  /** Bytes of the snapshot on disk (gzip). */
  readonly snapshotBytes: number;
  readonly lastSnapshotAt: number | undefined;
  readonly restarts: number;
  /** What the chain was loaded from at start. */
  readonly origin: ChainOrigin;
  /** Set when the stored state could not be read and the chain started empty (the file kept aside is named). */
  readonly discarded: string | undefined;
}

export interface LocalChain {
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly stateDir: string;
  /** The newest block a durable snapshot holds: a crash of anvil loses no block up to it. */
  durableBlock(): number;
  /** Takes a snapshot if the chain moved since the last; resolves with the durable block once it is on disk. */
  snapshot(): Promise<number>;
  status(): LocalChainStatus;
  /**
   * Empties anvil's mempool. Recovery runs it before it resets the writers' rows: transactions the writers sent
   * against the lost chain (nonces past the chain's) must not be mined after the events they carried are re-sent.
   */
  dropPendingTransactions(): Promise<void>;
  /** Takes a last snapshot, then stops anvil (SIGTERM, SIGKILL after 5 s) and removes its pid file. */
  stop(): Promise<void>;
}

class RpcError extends Error {
  override readonly name = "RpcError";
}

async function rpc<T>(url: string, method: string, params: unknown[] = [], timeoutMs = 10_000): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { result?: T; error?: { message?: string } };
  if (body.error !== undefined) throw new RpcError(`${method}: ${body.error.message ?? JSON.stringify(body.error)}`);
  return body.result as T;
}

function posInt(name: string, v: number, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`local chain ${name} must be an integer >= ${min}: ${v}`);
  return v;
}

class AnvilChain implements LocalChain {
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly stateDir: string;
  private readonly host: string;
  private readonly port: number;
  private readonly baseArgs: string[];
  private readonly confirmations: number;
  private readonly mineEveryMs: number;
  private readonly snapshotEveryMs: number;
  private readonly maxRestarts: number;
  private readonly dieWithParent: boolean;
  private readonly logger: ChainLogger;
  private readonly onFatal: (err: Error) => void;

  private child: ChildProcess | undefined;
  private stderrTail = "";
  private ready = false;
  private stopping = false;
  private durable = 0;
  private owed = 0;
  private snapshots = 0;
  private snapshotBytes = 0;
  private lastSnapshotAt: number | undefined;
  private lastSnapshotMs = 0;
  private restartTimes: number[] = [];
  private restarts = 0;
  private origin: ChainOrigin = "empty";
  private discarded: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastTickError = 0;
  /** Mining, snapshots, restarts and stop run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(options: LocalChainOptions) {
    this.host = options.host ?? "127.0.0.1";
    this.port = posInt("port", options.port, 0);
    this.chainId = options.chainId ?? 31337;
    this.stateDir = path.resolve(options.stateDir);
    this.rpcUrl = `http://${this.host}:${this.port}`;
    this.confirmations = posInt("confirmations", options.confirmations ?? 1, 0);
    this.mineEveryMs = posInt("mineEveryMs", options.mineEveryMs ?? 100, 1);
    this.snapshotEveryMs = posInt("snapshotEveryMs", options.snapshotEveryMs ?? 250, 0);
    this.maxRestarts = posInt("maxRestarts", options.maxRestarts ?? 5, 0);
    this.dieWithParent = options.dieWithParent ?? true;
    this.logger = options.logger ?? silentLogger;
    this.onFatal = options.onFatal ?? ((err) => this.logger.error({ err: err.message }, "local chain: giving up"));
    this.baseArgs = [
      "--host", this.host,
      "--port", String(this.port),
      "--chain-id", String(this.chainId),
      "--mnemonic", DEV_MNEMONIC,
      "--accounts", String(options.accounts ?? 20),
      "--no-mining",
      "--silent",
      ...(options.disableCodeSizeLimit ? ["--disable-code-size-limit"] : []),
    ];
  }

  durableBlock(): number {
    return this.durable;
  }

  status(): LocalChainStatus {
    return {
      pid: this.child?.pid,
      running: this.ready,
      durableBlock: this.durable,
      snapshots: this.snapshots,
      snapshotBytes: this.snapshotBytes,
      lastSnapshotAt: this.lastSnapshotAt,
      restarts: this.restarts,
      origin: this.origin,
      discarded: this.discarded,
    };
  }

  snapshot(): Promise<number> {
    return this.serialize(() => this.snapshotIfMoved());
  }

  dropPendingTransactions(): Promise<void> {
    return this.serialize(async () => {
      await rpc(this.rpcUrl, "anvil_dropAllTransactions");
    });
  }

  async start(): Promise<void> {
    mkdirSync(this.stateDir, { recursive: true });
    removeStrayTemps(this.stateDir);
    rmSync(path.join(this.stateDir, LOAD_FILE), { force: true });
    const { stopped } = await clearOrphans(this.stateDir, this.host, this.port);
    for (const o of stopped) {
      this.logger.warn({ pid: o.pid, how: o.how, port: this.port }, "local chain: stopped an orphaned anvil of this data directory left by an earlier run");
    }
    const load = this.prepareLoad();
    this.origin = load.origin;
    await this.launch(load.args);
    this.owed = await this.owedAtHead();
    if (load.origin === "snapshot") {
      this.durable = await this.head();
    } else {
      // A legacy state file or an empty chain: make what anvil holds durable in our format right away.
      await this.snapshotIfMoved(true);
      if (load.origin === "legacy-state") {
        const legacy = path.join(this.stateDir, LEGACY_STATE_FILE);
        renameSync(legacy, `${legacy}.replaced`);
        this.logger.warn({ file: `${legacy}.replaced` }, `local chain: migrated anvil's own state file to ${SNAPSHOT_FILE}; the old file can be deleted`);
      }
    }
    this.schedule();
  }

  stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.serialize(async () => {
      if (this.ready) {
        try {
          await this.snapshotIfMoved();
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, "local chain: no last snapshot (anvil not answering); blocks after the last one are not final");
        }
      }
      this.ready = false;
      await this.kill();
      if (this.child?.pid !== undefined) removePidFile(this.stateDir, this.child.pid);
      rmSync(path.join(this.stateDir, LOAD_FILE), { force: true });
    });
  }

  // ---------------------------------------------------------------------------------------------------------------

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** The anvil arguments that load the stored state, or none for an empty chain (moving unreadable state aside). */
  private prepareLoad(): { args: string[]; origin: ChainOrigin } {
    const snapshot = path.join(this.stateDir, SNAPSHOT_FILE);
    if (existsSync(snapshot)) {
      let json: Buffer;
      try {
        // gzip's CRC and length check catch any damage to the file.
        json = gunzipSync(readFileSync(snapshot));
      } catch (err) {
        this.discard(snapshot, err as Error);
        return { args: [], origin: "empty" };
      }
      const load = path.join(this.stateDir, LOAD_FILE);
      writeFileSync(load, json);
      return { args: ["--load-state", load], origin: "snapshot" };
    }
    const legacy = path.join(this.stateDir, LEGACY_STATE_FILE);
    if (existsSync(legacy)) {
      try {
        JSON.parse(readFileSync(legacy, "utf8"));
      } catch (err) {
        this.discard(legacy, err as Error);
        return { args: [], origin: "empty" };
      }
      return { args: ["--load-state", legacy], origin: "legacy-state" };
    }
    return { args: [], origin: "empty" };
  }

  private discard(file: string, err: Error): void {
    const aside = `${file}.unreadable-${Date.now()}`;
    renameSync(file, aside);
    this.discarded = aside;
    this.logger.error(
      { file: aside, err: err.message },
      "local chain: the stored chain state is unreadable; starting an empty chain (the ledger redeploys its contracts and re-relays its log)",
    );
  }

  private async launch(loadArgs: readonly string[]): Promise<void> {
    const { child, diesWithParent } = spawnAnvil(this.stateDir, this.port, [...this.baseArgs, ...loadArgs], this.dieWithParent);
    if (!diesWithParent && this.dieWithParent) {
      this.logger.warn({}, "local chain: setpriv (util-linux) not found; anvil is stopped when the API exits, but would survive a SIGKILL of the API until the next start");
    }
    this.child = child;
    this.stderrTail = "";
    child.stderr?.on("data", (chunk: Buffer) => (this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000)));
    const killOnExit = (): void => void child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", (code, signal) => {
      process.removeListener("exit", killOnExit);
      // The pid file stays while this API runs (it names the owner); stop() removes it.
      if (this.child === child) this.onExit(code, signal);
    });
    try {
      await this.waitForRpc(child, 120_000);
    } catch (err) {
      child.kill("SIGKILL");
      throw err;
    }
    rmSync(path.join(this.stateDir, LOAD_FILE), { force: true });
    this.ready = true;
  }

  private async waitForRpc(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`anvil exited (${child.exitCode ?? child.signalCode}) before it was ready: ${this.stderrTail.trim().slice(-1000)}`);
      }
      try {
        await rpc(this.rpcUrl, "eth_chainId", [], 2000);
        return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`anvil did not answer on ${this.rpcUrl} within ${timeoutMs} ms`);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.ready = false;
    if (this.stopping) return;
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < 60_000);
    if (this.restartTimes.length >= this.maxRestarts) {
      this.onFatal(new Error(`anvil exited (${code ?? signal}) ${this.restartTimes.length + 1} times within a minute: ${this.stderrTail.trim().slice(-500)}`));
      return;
    }
    this.restartTimes.push(now);
    this.logger.error(
      { code, signal, durableBlock: this.durable },
      "local chain: anvil exited unexpectedly; restarting it from the last snapshot (blocks after it were not final and are sent again)",
    );
    setTimeout(() => {
      if (this.stopping) return;
      // A failed restart kills its anvil, whose exit brings us back here (up to maxRestarts a minute).
      void this.serialize(() => this.restart()).catch((err: unknown) => {
        this.logger.error({ err: (err as Error).message }, "local chain: restart failed");
      });
    }, 250).unref();
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    const load = this.prepareLoad();
    await this.launch(load.args);
    this.durable = await this.head();
    this.owed = await this.owedAtHead();
    this.restarts++;
    this.logger.warn({ pid: this.child?.pid, durableBlock: this.durable }, "local chain: anvil restarted from the snapshot");
    if (load.origin !== "snapshot") await this.snapshotIfMoved(true);
  }

  private async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  private async head(): Promise<number> {
    return Number(await rpc<string>(this.rpcUrl, "eth_blockNumber"));
  }

  private async transactionsIn(block: string): Promise<number> {
    const b = await rpc<{ transactions: unknown[] } | null>(this.rpcUrl, "eth_getBlockByNumber", [block, false]);
    return b?.transactions.length ?? 0;
  }

  /** Confirmation blocks still owed to the newest blocks with transactions (after a start or a restart). */
  private async owedAtHead(): Promise<number> {
    const head = await this.head();
    for (let depth = 0; depth < this.confirmations && depth <= head; depth++) {
      if ((await this.transactionsIn("0x" + (head - depth).toString(16))) > 0) return this.confirmations - depth;
    }
    return 0;
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.serialize(() => this.tick()).finally(() => this.schedule());
    }, this.mineEveryMs);
    this.timer.unref();
  }

  /** Mines what waits in the mempool (then the confirmation blocks), and snapshots when it is time. */
  private async tick(): Promise<void> {
    if (!this.ready || this.stopping) return;
    try {
      const pool = await rpc<{ pending: string }>(this.rpcUrl, "txpool_status");
      if (Number(pool.pending) > 0 || this.owed > 0) {
        await rpc(this.rpcUrl, "evm_mine");
        // A confirmation block may take in a transaction that arrived after the pool was read: it is owed its own.
        this.owed = (await this.transactionsIn("latest")) > 0 ? this.confirmations : Math.max(0, this.owed - 1);
      }
      // A big chain takes a while to dump: at least four times that long between dumps bounds their cost.
      const gap = Math.max(this.snapshotEveryMs, 4 * this.lastSnapshotMs);
      if (this.lastSnapshotAt === undefined || Date.now() - this.lastSnapshotAt >= gap) {
        await this.snapshotIfMoved();
      }
    } catch (err) {
      // anvil restarting, or briefly overloaded; the next tick tries again. Logged at most every 10 s.
      if (Date.now() - this.lastTickError > 10_000) {
        this.lastTickError = Date.now();
        this.logger.warn({ err: (err as Error).message }, "local chain: mining or snapshot failed; retrying");
      }
    }
  }

  /** Dumps anvil's state and writes it atomically when the chain moved since the last snapshot (or `force`). */
  private async snapshotIfMoved(force = false): Promise<number> {
    if (!this.ready) throw new Error("anvil is not running");
    // Nothing else mines (--no-mining, and mining runs on this serialized loop), so this is the dump's newest block.
    const head = await this.head();
    if (!force && head <= this.durable) return this.durable;
    const began = Date.now();
    const hex = await rpc<string>(this.rpcUrl, "anvil_dumpState", [false], 120_000);
    const bytes = Buffer.from(hex.slice(2), "hex");
    await writeFileDurablyAsync(path.join(this.stateDir, SNAPSHOT_FILE), bytes);
    this.durable = head;
    this.snapshots++;
    this.snapshotBytes = bytes.length;
    this.lastSnapshotAt = Date.now();
    this.lastSnapshotMs = this.lastSnapshotAt - began;
    return head;
  }
}

/**
 * Starts the local chain: stops an orphaned anvil of this state directory (or refuses when the port is someone
 * else's), loads the last snapshot, and mines and snapshots in the background until `stop()`.
 */
export async function startLocalChain(options: LocalChainOptions): Promise<LocalChain> {
  const chain = new AnvilChain(options);
  try {
    await chain.start();
  } catch (err) {
    await chain.stop().catch(() => undefined);
    throw err;
  }
  return chain;
}
