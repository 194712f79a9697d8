/**
 * A ledger a real browser can talk to: anvil on a free port (the page verifies against its JSON-RPC, as a shopper's
 * phone would against the authority's node), the contracts deployed with the demo roles, the API listening on a free
 * port, the demo story loaded through the API, relayed, indexed and anchored. And Debian's Chromium driven by
 * playwright-core, with the flags this closed network needs.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import type { FastifyInstance } from "fastify";
import { chromium, type Browser } from "playwright-core";
import { buildApp } from "../../ledger-api/src/app.ts";
import { startLocalChain, type LocalChain } from "../../ledger-api/src/chain/local-chain.ts";
import { loadConfig } from "../../ledger-api/src/config.ts";
import { LOCAL_KEYS, demoWallet, describeDemoLoad, ensureDemoDeployment, loadDemo } from "../../ledger-api/src/demo/load.ts";
import { openLedgerServices, type LedgerServices } from "../../ledger-api/src/services.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface LiveLedger {
  readonly baseUrl: string;
  readonly rpcUrl: string;
  readonly app: FastifyInstance;
  readonly services: LedgerServices;
  close(): Promise<void>;
}

export interface LiveLedgerOptions {
  /** Load the demo market too (demo/market-story.ts): twelve stalls, a recall reaching three. */
  readonly market?: boolean;
  /**
   * Where pages send phones for chain reads: "node" (anvil's own JSON-RPC, the default) or "api" (the server's
   * read-only /rpc, as `npm start` does by default).
   */
  readonly publicRpc?: "node" | "api";
}

export async function startLiveLedger(options: LiveLedgerOptions = {}): Promise<LiveLedger> {
  const dir = await mkdtemp(path.join(tmpdir(), "ledger-browser-"));
  const chain: LocalChain = await startLocalChain({
    stateDir: path.join(dir, "chain"),
    port: await freePort(),
    // The services below run with CONFIRMATIONS=0: no empty blocks on top of each mined one.
    confirmations: 0,
    mineEveryMs: 20,
    // `npm test` runs with --coverage, whose instrumented contracts exceed the 24 KiB limit.
    disableCodeSizeLimit: true,
  });
  // No response cache (as main.ts): the indexer must see the block the role grants were just mined in.
  const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 100, cacheTimeout: -1 });
  try {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      DATA_DIR: dir,
      PORT: String(port),
      PUBLIC_BASE_URL: baseUrl,
      RPC_URL: chain.rpcUrl,
      PUBLIC_RPC_URL: options.publicRpc === "api" ? `${baseUrl}/rpc` : chain.rpcUrl,
      CONFIRMATIONS: "0",
      ANCHOR_EVERY: "10000",
      ANCHOR_INTERVAL_MS: "600000",
    });
    const deployments = await ensureDemoDeployment(provider, config.deploymentsFile);
    const services = await openLedgerServices({
      config,
      provider,
      deployments,
      relayer: new Wallet(demoWallet(LOCAL_KEYS.relayer).privateKey, provider),
      anchorer: new Wallet(demoWallet(LOCAL_KEYS.anchorer).privateKey, provider),
    });
    const app = await buildApp(services);
    await app.listen({ host: "127.0.0.1", port });
    // The ingest rules read roles from the chain index: index the deployment's grants before the first event, or
    // a loaded machine races the indexer's poll and the demo is refused (SIGNER_LACKS_ROLE).
    await services.indexer.syncOnce();
    const load = await loadDemo(baseUrl, { market: options.market ?? false });
    if (load.refused.length > 0) throw new Error(`the demo was refused in part: ${describeDemoLoad(load)}`);
    // Relay everything (each pass ingests new entries, sends what is ready and settles what was sent), then anchor
    // and index. Done when the relay has looked at every entry and has nothing pending or in flight.
    const { store } = services;
    const unsettled = async () =>
      (await store.relayCursor()) < (await store.size()) ||
      (await store.relayRows("pending")).length > 0 ||
      (await store.relayRows("sent")).length > 0;
    for (let pass = 0; await unsettled(); pass++) {
      if (pass === 80) {
        const refused = (await store.relayRows("refused")).map((r) => `${r.index}: ${r.errorName ?? ""} ${r.error ?? ""}`);
        throw new Error(`the demo story did not settle on chain in 80 relay passes (${(await store.relayRows("pending")).length} pending, refused: ${refused.join("; ")})`);
      }
      await services.syncOnce();
    }
    await services.anchorer.anchorNow();
    await services.indexer.syncOnce();
    return {
      baseUrl,
      rpcUrl: chain.rpcUrl,
      app,
      services,
      async close() {
        await app.close();
        await services.close();
        provider.destroy();
        await chain.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    provider.destroy();
    await chain.stop();
    throw err;
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}
