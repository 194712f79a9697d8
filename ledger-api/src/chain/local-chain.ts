/**
 * The local development chain that `npm start` runs when no RPC_URL is configured: anvil (from the npm package
 * @foundry-rs/anvil, a prebuilt binary shipped inside the registry package) with its state in the data directory.
 *
 * Durability: anvil writes its whole state to `state.json` every `stateIntervalSeconds` and on a clean exit
 * (SIGINT / SIGTERM). A hard kill loses at most the last interval of blocks; the API's indexer then sees a chain
 * shorter than its cursor (or a different block at the cursor's height) and halts with CHAIN_BEHIND_CURSOR /
 * REORG_BELOW_CURSOR (see indexer.ts) rather than index the new history on top of the old, so the two never
 * silently disagree. Recover by resetting the index (store.resetIndex()) and restarting.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** The well-known development mnemonic: its keys are public, so this chain must never hold anything of value. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

export interface LocalChainOptions {
  readonly stateDir: string;
  readonly port: number;
  readonly host?: string;
  readonly chainId?: number;
  /**
   * Seconds between blocks (default 1). Interval mining (rather than one block per transaction) lets confirmations
   * accrue; 0 mines a block per transaction at once, which tests use.
   */
  readonly blockTimeSeconds?: number;
  readonly stateIntervalSeconds?: number;
  readonly accounts?: number;
  /**
   * Lifts the EIP-170 contract size limit. Only for tests: `hardhat test --coverage` deploys instrumented bytecode
   * larger than 24 KiB, which a real chain (and anvil by default) refuses.
   */
  readonly disableCodeSizeLimit?: boolean;
}

export interface LocalChain {
  readonly rpcUrl: string;
  readonly chainId: number;
  /** Stops anvil cleanly so it writes its final state. */
  stop(): Promise<void>;
}

function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const platform = `@foundry-rs/anvil-${process.platform === "win32" ? "win32" : process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
  const pkg = path.dirname(require.resolve(`${platform}/package.json`));
  return path.join(pkg, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}

async function waitForRpc(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`anvil exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`anvil did not answer on ${url} within ${timeoutMs} ms`);
}

export async function startLocalChain(options: LocalChainOptions): Promise<LocalChain> {
  const host = options.host ?? "127.0.0.1";
  const chainId = options.chainId ?? 31337;
  mkdirSync(options.stateDir, { recursive: true });
  const args = [
    "--host", host,
    "--port", String(options.port),
    "--chain-id", String(chainId),
    "--mnemonic", DEV_MNEMONIC,
    "--accounts", String(options.accounts ?? 20),
    ...(options.blockTimeSeconds === 0 ? [] : ["--block-time", String(options.blockTimeSeconds ?? 1)]),
    "--state", path.join(options.stateDir, "state.json"),
    "--state-interval", String(options.stateIntervalSeconds ?? 5),
    "--preserve-historical-states",
    "--silent",
    ...(options.disableCodeSizeLimit ? ["--disable-code-size-limit"] : []),
  ];
  const child = spawn(anvilBinary(), args, { stdio: ["ignore", "inherit", "inherit"] });
  const rpcUrl = `http://${host}:${options.port}`;
  try {
    await waitForRpc(rpcUrl, child, 20_000);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    rpcUrl,
    chainId,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGINT");
      }),
  };
}
