/**
 * `npm start`: the ledger API, and with no RPC_URL configured, everything it needs on this machine.
 *
 * Local mode (RPC_URL unset): starts anvil with its state in {DATA_DIR}/chain (chain/local-chain.ts: snapshots
 * written atomically, a block final once a snapshot holds it, anvil restarted if it dies and never left behind),
 * deploys the contracts once (the deployments file records them; later starts reuse them, and redeploy them at the
 * same addresses if the chain lost them), grants the demo actors their roles, recovers from a chain that lost blocks
 * (chain/recovery.ts), serves the API, and at every start submits the demo story through the API itself
 * (demo/load.ts: steps already logged are duplicates, so an interrupted first load is completed). Ctrl-C and SIGTERM
 * stop cleanly (a last snapshot, then anvil); `npm start` again resumes the same chain and the same log.
 *
 * Network mode (RPC_URL set): the contracts must already be deployed (scripts/deploy.ts writes DEPLOYMENTS_FILE) and
 * RELAYER_KEY / ANCHORER_KEY name funded accounts holding RELAYER_ROLE / ANCHORER_ROLE.
 */
import { networkInterfaces } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { pino } from "pino";
import { buildApp } from "./app.ts";
import { readDeployments, type Deployments } from "./chain/contracts.ts";
import { startLocalChain, type LocalChain } from "./chain/local-chain.ts";
import { loadConfig, ConfigError } from "./config.ts";
import {
  LOCAL_KEYS,
  demoBatchUrls,
  demoMarketUrls,
  demoClock,
  demoRolesIndexed,
  demoWallet,
  describeDemoLoad,
  ensureDemoDeployment,
  loadDemo,
} from "./demo/load.ts";
import { openLedgerServices } from "./services.ts";
import { listen } from "./http/listen.ts";
import { buildWebBundle } from "./web/bundle.ts";

async function main(): Promise<void> {
  // In local mode the demo market has a name of its own unless MARKET_NAME gives one.
  const config = loadConfig(process.env.RPC_URL ? process.env : { MARKET_NAME: "Mangwon Market (demo)", ...process.env });
  const log = pino({ level: process.env.LOG_LEVEL ?? "info" });
  // Routine chain progress (every indexed range, every relayed transaction) is debug; problems are not.
  const chainLog = log.child({ component: "chain" });
  let chain: LocalChain | undefined;
  let rpcUrl = config.rpcUrl;
  // Until the API is up, a signal or a fatal chain error only has the chain to stop; replaced below.
  let stop: (reason: string, code?: number) => Promise<void> = async (_reason, code = 1) => {
    await chain?.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop("SIGINT", 0));
  process.on("SIGTERM", () => void stop("SIGTERM", 0));
  if (rpcUrl === undefined) {
    // anvil stays on loopback (its admin methods would let anyone on the network wipe it); phones read the chain
    // through the API's read-only /rpc. CHAIN_UNLIMITED_CODE_SIZE=1 is for coverage-instrumented contract builds.
    chain = await startLocalChain({
      stateDir: path.join(config.dataDir, "chain"),
      port: config.chainPort,
      disableCodeSizeLimit: process.env.CHAIN_UNLIMITED_CODE_SIZE === "1",
      confirmations: config.confirmations,
      snapshotEveryMs: config.chainSnapshotMs,
      logger: chainLog.child({ component: "local-chain" }),
      onFatal: (err) => {
        chainLog.fatal({ err: err.message }, "the local chain cannot be kept running; stopping");
        void stop("local chain failed", 1);
      },
    });
    rpcUrl = chain.rpcUrl;
  }
  // No response cache: the indexer must see the block a grant or relay was just mined in, not a 250 ms old head.
  // Loopback to our own anvil is cheap: poll it often, so deploying and granting (one receipt after another) is quick.
  const provider = new JsonRpcProvider(rpcUrl, undefined, { pollingInterval: chain ? 100 : 500, cacheTimeout: -1 });

  let deployments: Deployments;
  if (chain) {
    deployments = await ensureDemoDeployment(provider, config.deploymentsFile);
    // Durable before anything is built on it.
    await chain.snapshot();
  } else {
    const found = readDeployments(config.deploymentsFile);
    if (!found) throw new ConfigError(`no deployments file at ${config.deploymentsFile}: run scripts/deploy.ts first`);
    deployments = found;
  }
  const relayerKey = config.relayerKey ?? (chain ? demoWallet(LOCAL_KEYS.relayer).privateKey : undefined);
  const anchorerKey = config.anchorerKey ?? (chain ? demoWallet(LOCAL_KEYS.anchorer).privateKey : undefined);
  if (!relayerKey || !anchorerKey) throw new ConfigError("RELAYER_KEY and ANCHORER_KEY are required with RPC_URL");

  const services = await openLedgerServices({
    config,
    provider,
    deployments,
    relayer: new Wallet(relayerKey, provider),
    anchorer: new Wallet(anchorerKey, provider),
    logger: {
      info: (obj, msg) => chainLog.debug(obj, msg),
      warn: (obj, msg) => chainLog.warn(obj, msg),
      error: (obj, msg) => chainLog.error(obj, msg),
    },
    ...(chain
      ? {
          durableBlock: () => chain.durableBlock(),
          localChain: chain,
          autoRecover: {
            redeploy: () => ensureDemoDeployment(provider, config.deploymentsFile),
            clearPool: () => chain.dropPendingTransactions(),
          },
        }
      : {}),
  });
  // The shopper page's script and the verifier (/assets/shopper.js, /assets/verify.js), rebuilt at each start
  // (esbuild takes well under a second) so they never lag the code.
  await buildWebBundle();
  const app = await buildApp(services, { logger: log });
  await services.startWorkers();
  await listen(app, { host: config.host, port: config.port, backlog: config.listenBacklog, listeners: config.listenSockets });

  let stopping = false;
  stop = async (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    app.log.info(`${reason}: stopping`);
    await app.close();
    await services.close();
    provider.destroy();
    await chain?.stop();
    process.exit(code);
  };

  // Loaded through loopback when listening on every interface.
  const apiUrl = `http://${["0.0.0.0", "::"].includes(config.host) ? "127.0.0.1" : config.host}:${config.port}`;
  if (chain && process.env.DEMO !== "0") {
    // At every start: a load cut short (Ctrl-C, a kill) is completed, and steps already logged come back as duplicates.
    try {
      await demoRolesIndexed(services.store);
      console.log(describeDemoLoad(await loadDemo(apiUrl, { clock: demoClock(config.dataDir), market: true })));
    } catch (err) {
      // Ctrl-C in the middle of the load closes the server under it: the next start completes the story.
      if (stopping) return;
      throw err;
    }
  }
  console.log(`\nProvenance ledger API listening on ${config.host}:${config.port}, public at ${config.publicBaseUrl} (OpenAPI: ${config.publicBaseUrl}/docs)`);
  console.log(`Chain ${deployments.chainId}: ledger ${deployments.ledger}, anchor ${deployments.anchor}`);
  const publicHost = new URL(config.publicBaseUrl).hostname;
  if (["127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::]"].includes(publicHost)) {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((i) => i?.family === "IPv4" && !i.internal)?.address;
    console.log(
      `Note: QR codes point at ${config.publicBaseUrl}, which a phone cannot open. For phones on this network, start with ` +
        `HOST=0.0.0.0 PUBLIC_BASE_URL=http://${lan ?? "<this machine's LAN address>"}:${config.port}`,
    );
  }
  console.log("Demo batches: what their QR codes hold, and a printable label of each:");
  for (const { label, url } of demoBatchUrls(config.publicBaseUrl)) {
    const sheet = `${config.publicBaseUrl}/v1/batches/${encodeURIComponent(new URL(url).pathname)}/label`;
    console.log(`  ${label}\n    ${url}\n    ${sheet}`);
  }
  if (chain && process.env.DEMO !== "0") {
    console.log("The demo market: its safety centre and each stall's display (1920x1080; ?lang=ko|zh|en):");
    for (const { label, url } of demoMarketUrls(config.publicBaseUrl)) console.log(`  ${label}\n    ${url}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? `configuration error: ${err.message}` : err);
  process.exit(1);
});
