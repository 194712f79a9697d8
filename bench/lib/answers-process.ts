/**
 * The read side alone, for the answers benchmark's same-run baseline: the API's own provenance, observation and
 * resolver routes (query/routes.ts, web/resolver.ts, the error handler) over a data dir the full API has stopped
 * using, with no chain, no workers and no ingest, and the answers' cache sized by ANSWER_CACHE_MB (0: every request
 * builds its answer). Prints `READY <url>`; SIGTERM stops it.
 *
 *   DATA_DIR=... PORT=0 ANSWER_CACHE_MB=0 node bench/lib/answers-process.ts
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import Fastify from "fastify";
import errorHandler from "../../ledger-api/src/http/error-handler.ts";
import { loadConfig } from "../../ledger-api/src/config.ts";
import type { Deployments } from "../../ledger-api/src/chain/contracts.ts";
import { AnswerCache } from "../../ledger-api/src/query/answer-cache.ts";
import { queryRoutes } from "../../ledger-api/src/query/routes.ts";
import { SqliteStore } from "../../ledger-api/src/store/sqlite.ts";
import { resolverRoutes } from "../../ledger-api/src/web/resolver.ts";

const config = loadConfig();
const store = await SqliteStore.open(config.dataDir);
const deployments = JSON.parse(await readFile(path.resolve(config.deploymentsFile), "utf8")) as Deployments;
const cache = new AnswerCache(store, config.answerCacheBytes);
const app = Fastify({ logger: false, routerOptions: { maxParamLength: 4096 } });
await app.register(errorHandler);
const options = { store, cache, deployments, publicBaseUrl: config.publicBaseUrl, publicRpcUrl: config.publicRpcUrl };
await app.register(queryRoutes, options);
await app.register(resolverRoutes, options);
await app.listen({ host: "127.0.0.1", port: config.port });
const address = app.server.address();
const port = typeof address === "object" && address !== null ? address.port : config.port;
console.log(`READY http://127.0.0.1:${port}`);

process.on("SIGTERM", () => {
  void (async () => {
    await app.close();
    await store.close();
    process.exit(0);
  })();
});
