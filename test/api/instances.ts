/**
 * API instances as separate processes (`node ledger-api/src/main.ts`, what `npm start` runs after its build), on
 * one chain and one store: for the scale-out test and scripts/bench-instances.ts. The chain is anvil (from
 * @foundry-rs/anvil, run by chain/local-chain.ts) on a free port, mining what waits every 25 ms, with the contracts
 * deployed and the demo actors, relayer and anchorer granted their roles; the instances reach it through RPC_URL, as
 * in production.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import type { Deployments } from "../../ledger-api/src/chain/contracts.ts";
import { startLocalChain, type LocalChain } from "../../ledger-api/src/chain/local-chain.ts";
import { ensureDemoDeployment, demoWallet, LOCAL_KEYS } from "../../ledger-api/src/demo/load.ts";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface SharedChain {
  readonly rpcUrl: string;
  readonly provider: JsonRpcProvider;
  readonly deployments: Deployments;
  readonly deploymentsFile: string;
  stop(): Promise<void>;
}

/** anvil with the contracts deployed and roles granted, in a temporary directory removed by `stop()`. */
export async function startSharedChain(): Promise<SharedChain> {
  const dir = await mkdtemp(path.join(tmpdir(), "ledger-chain-"));
  let chain: LocalChain | undefined;
  try {
    // Coverage-instrumented contracts (hardhat test --coverage) are over the 24 KiB limit.
    // Blocks without confirmations on top (the instances run with CONFIRMATIONS=0), the mempool looked at often.
    chain = await startLocalChain({ stateDir: dir, port: await freePort(), disableCodeSizeLimit: true, confirmations: 0, mineEveryMs: 25 });
    const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 100, cacheTimeout: -1 });
    const deploymentsFile = path.join(dir, "deployments.json");
    const deployments = await ensureDemoDeployment(provider, deploymentsFile);
    const running = chain;
    return {
      rpcUrl: chain.rpcUrl,
      provider,
      deployments,
      deploymentsFile,
      async stop() {
        provider.destroy();
        await running.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface Instance {
  readonly name: string;
  readonly url: string;
  readonly process: ChildProcess;
  /** What it printed (stdout and stderr), for a failing test's message. */
  output(): string;
  /** SIGKILL: no shutdown of any kind, as a crash or an OOM kill. */
  kill(): Promise<void>;
  /** SIGTERM: the orderly stop (gives the lease back). */
  stop(): Promise<void>;
}

export interface InstanceOptions {
  readonly chain: SharedChain;
  /** The shared PostgreSQL store; undefined: the instance's own SQLite store in a temporary DATA_DIR. */
  readonly databaseUrl: string | undefined;
  readonly name: string;
  /** Extra environment (ANCHOR_EVERY, LEADER_LEASE_MS, ...). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts an instance and resolves once it answers /healthz. */
export async function startInstance(options: InstanceOptions): Promise<Instance> {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(tmpdir(), "ledger-instance-"));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["ledger-api/src/main.ts"], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      DATABASE_URL: options.databaseUrl ?? "",
      RPC_URL: options.chain.rpcUrl,
      DEPLOYMENTS_FILE: options.chain.deploymentsFile,
      RELAYER_KEY: demoWallet(LOCAL_KEYS.relayer).privateKey,
      ANCHORER_KEY: demoWallet(LOCAL_KEYS.anchorer).privateKey,
      HOST: "127.0.0.1",
      PORT: String(port),
      CONFIRMATIONS: "0",
      LOG_LEVEL: "warn",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // However this process ends (a failed test run included), the instance does not outlive it.
  const orphanGuard = (): void => void child.kill("SIGKILL");
  process.once("exit", orphanGuard);
  child.once("exit", () => process.removeListener("exit", orphanGuard));
  let output = "";
  child.stdout?.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const cleanup = () => rm(dataDir, { recursive: true, force: true });
  const instance: Instance = {
    name: options.name,
    url,
    process: child,
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      await cleanup();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      await cleanup();
    },
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`instance ${options.name} exited (${child.exitCode}):\n${output}`);
    try {
      await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      return instance;
    } catch {
      if (Date.now() > deadline) {
        await instance.kill();
        throw new Error(`instance ${options.name} did not answer within 120 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface Health {
  readonly status: string;
  readonly leader: { readonly leading: boolean; readonly epoch: number | null };
  readonly log: { readonly size: number; readonly anchoredSize: number };
}

export async function health(instance: Instance): Promise<Health | undefined> {
  try {
    const res = await fetch(`${instance.url}/healthz`, { signal: AbortSignal.timeout(3000) });
    return (await res.json()) as Health;
  } catch {
    return undefined;
  }
}

/** The instance among `instances` that leads now, waiting up to `timeoutMs` for one to. */
export async function leaderOf(instances: readonly Instance[], timeoutMs = 30_000): Promise<Instance> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const i of instances) if ((await health(i))?.leader.leading) return i;
    if (Date.now() > deadline) throw new Error(`no instance leads after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
