/**
 * The API as the benchmark runs it: a child process on a given data dir with its own local chain (anvil), the real
 * services and routes, no demo story. `BENCH_NAIVE=1` swaps the ingest workers for the naive path the figures are
 * compared with (naive.ts). Prints `READY <url>` on stdout once listening; SIGTERM stops it cleanly (anvil writes
 * its state, so a cached log's chain resumes with it).
 *
 * `BENCH_MEMORY_LOG=<file>` appends the process's memory (process.memoryUsage() and V8's heap spaces, MB) as a JSON
 * line every `BENCH_MEMORY_MS` (default 1000) with the log's size and the appender's group counts, to follow heap
 * and RSS over a growing log.
 * `BENCH_ERROR_LOG=<file>` writes the errors the API logs (what a 500 was) there.
 *
 *   DATA_DIR=... PORT=... CHAIN_PORT=... [BENCH_NAIVE=1] [BENCH_MEMORY_LOG=...] [BENCH_ERROR_LOG=...]
 *     node bench/lib/api-process.ts
 */
import { appendFileSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { pino } from "pino";
import { buildApp } from "../../ledger-api/src/app.ts";
import { startLocalChain } from "../../ledger-api/src/chain/local-chain.ts";
import { loadConfig } from "../../ledger-api/src/config.ts";
import { LOCAL_KEYS, demoWallet, ensureDemoDeployment } from "../../ledger-api/src/demo/load.ts";
import { openLedgerServices } from "../../ledger-api/src/services.ts";
import { naivePreparer } from "./naive.ts";

const config = loadConfig();
// The chain and the services as `npm start` runs them (main.ts): its confirmations and snapshot interval, and
// finality bounded by the durable snapshot, so what the relay counts confirmed here is what it counts there.
const chain = await startLocalChain({
  stateDir: path.join(config.dataDir, "chain"),
  port: config.chainPort,
  // As main.ts: a coverage-instrumented build of the contracts (npm test's) exceeds the 24 KiB code size limit.
  disableCodeSizeLimit: process.env.CHAIN_UNLIMITED_CODE_SIZE === "1",
  confirmations: config.confirmations,
  snapshotEveryMs: config.chainSnapshotMs,
});
const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 100, cacheTimeout: -1 });
const deployments = await ensureDemoDeployment(provider, config.deploymentsFile);
const naive = process.env.BENCH_NAIVE === "1";
const services = await openLedgerServices({
  config,
  provider,
  deployments,
  relayer: new Wallet(demoWallet(LOCAL_KEYS.relayer).privateKey, provider),
  anchorer: new Wallet(demoWallet(LOCAL_KEYS.anchorer).privateKey, provider),
  durableBlock: () => chain.durableBlock(),
  localChain: chain,
  ...(naive ? { preparer: (domain) => naivePreparer(domain, config.maxEventsPerRequest) } : {}),
});
const errorLog = process.env.BENCH_ERROR_LOG;
const app = await buildApp(services, errorLog ? { logger: pino({ level: "error" }, pino.destination(errorLog)) } : {});
await services.startWorkers();
await app.listen({ host: "127.0.0.1", port: config.port });
const address = app.server.address();
const port = typeof address === "object" && address !== null ? address.port : config.port;
console.log(`READY http://127.0.0.1:${port}`);

const memoryLog = process.env.BENCH_MEMORY_LOG;
if (memoryLog) {
  const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
  const sample = setInterval(() => {
    void services.store.size().then((entries) => {
      const m = process.memoryUsage();
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_size)]));
      const line = { t: Date.now(), entries, rss: mb(m.rss), heapUsed: mb(m.heapUsed), heapTotal: mb(m.heapTotal), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers), spaces, appender: services.appender.stats() };
      appendFileSync(memoryLog, JSON.stringify(line) + "\n");
    });
  }, Number(process.env.BENCH_MEMORY_MS ?? 1000));
  sample.unref();
}

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await app.close();
    await services.close();
    provider.destroy();
    await chain.stop();
    process.exit(0);
  })();
});
