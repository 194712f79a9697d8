/**
 * buildApp: the HTTP service over running ledger services (services.ts). Each concern is a plugin; routes are
 * schema-first, and the same schemas produce the OpenAPI document at /docs.
 */
import compress from "@fastify/compress";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { readFileSync } from "node:fs";
import { constants as zlib } from "node:zlib";
import { publicRpcRoutes, type RpcSend } from "./chain/public-rpc.ts";
import { chainRoutes } from "./query/chain-routes.ts";
import admission, { admissionGates } from "./http/admission.ts";
import docs from "./http/docs.ts";
import { epcisRoutes } from "./epcis/routes.ts";
import errorHandler, { clientErrorHandler, frameworkErrors } from "./http/error-handler.ts";
import { MAX_ENCODED_LINK_LENGTH } from "./gs1/digital-link.ts";
import finiteNumbers from "./http/finite-numbers.ts";
import listeners from "./http/listen.ts";
import ops from "./http/ops.ts";
import { ingestRoutes } from "./ingest/routes.ts";
import { logRoutes } from "./query/log-routes.ts";
import { queryRoutes } from "./query/routes.ts";
import type { LedgerServices } from "./services.ts";
import { labelRoutes } from "./web/labels.ts";
import { MarketProjection } from "./market/projection.ts";
import { marketRoutes } from "./market/routes.ts";
import { StallWatch } from "./market/watch.ts";
import { marketPages } from "./web/market-routes.ts";
import { resolverRoutes } from "./web/resolver.ts";

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export interface AppOptions {
  /** A pino logger for production; none (silent) in tests. */
  readonly logger?: FastifyBaseLogger;
}

export async function buildApp(services: LedgerServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config, store } = services;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: config.bodyLimit,
    // Every batch id the resolver accepts, URL-encoded as one path segment (Fastify's default is 100 characters).
    routerOptions: { maxParamLength: MAX_ENCODED_LINK_LENGTH },
    // A client that promises a body (or headers) and never sends it holds its connection for REQUEST_TIMEOUT_MS at
    // most; Node checks its connections against these limits every `connectionsCheckingInterval`.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(config.headersTimeoutMs / 2))),
    },
    // Refusals of the router and of Node's HTTP parser answered with a code of the table (http/errors.ts).
    frameworkErrors,
    clientErrorHandler,
    // Behind a reverse proxy, the client's address (what /rpc budgets by) is in X-Forwarded-For.
    trustProxy: config.trustProxyHops > 0 ? (_address: string, hop: number) => hop < config.trustProxyHops : false,
    // Schemas reject unknown properties instead of silently dropping them: a signed body is taken as signed or not at all.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
  });
  await app.register(errorHandler);
  await app.register(finiteNumbers);
  await app.register(listeners);
  // First of all hooks: an overloaded service refuses before it reads a body or builds an answer.
  await app.register(admission, { gates: admissionGates(config.admission), limits: config.admission });
  // A shopper's phone on a market's mobile signal: the page script (about 180 KB) and the answers travel compressed.
  // Brotli at quality 5 compresses a response in a few milliseconds, for most of quality 11's gain.
  await app.register(compress, {
    encodings: ["br", "gzip"],
    threshold: 1024,
    brotliOptions: { params: { [zlib.BROTLI_PARAM_QUALITY]: 5 } },
  });
  await app.register(docs, { publicBaseUrl: config.publicBaseUrl, version: VERSION });
  await app.register(ops, { services });
  await app.register(ingestRoutes, {
    ingestor: services.ingestor,
    store,
    maxEventsPerRequest: config.maxEventsPerRequest,
    anchorIntervalMs: config.anchorIntervalMs,
  });
  await app.register(logRoutes, { store });
  await app.register(chainRoutes, { store, deployments: services.deployments });
  // JSON-RPC providers (ethers' JsonRpcProvider, Hardhat's) can pass raw calls on; any other Provider gets no /rpc.
  const { send } = services.provider as { send?: RpcSend };
  if (typeof send === "function") {
    await app.register(publicRpcRoutes, {
      deployments: services.deployments,
      send: send.bind(services.provider),
      callsPerMinute: config.rpcCallsPerMinute,
    });
  }
  await app.register(queryRoutes, {
    store,
    pendingLots: services.ingestor,
    deployments: services.deployments,
    publicBaseUrl: config.publicBaseUrl,
    publicRpcUrl: config.publicRpcUrl,
  });
  await app.register(epcisRoutes, {
    store,
    ingestor: services.ingestor,
    deployments: services.deployments,
    publicBaseUrl: config.publicBaseUrl,
    publicRpcUrl: config.publicRpcUrl,
    maxEventsPerRequest: config.maxEventsPerRequest,
  });
  const web = {
    store,
    pendingLots: services.ingestor,
    deployments: services.deployments,
    publicBaseUrl: config.publicBaseUrl,
    publicRpcUrl: config.publicRpcUrl,
  };
  await app.register(labelRoutes, web);
  await app.register(resolverRoutes, web);
  // The market screens share one projection (its catch-up runs once for concurrent readers) and one watch.
  const projection = new MarketProjection(store);
  const market = {
    ...web,
    scope: { glnPrefix: config.market.glnPrefix, actors: config.market.actors },
    marketName: config.market.name,
    projection,
  };
  await app.register(marketRoutes, { ...market, watch: new StallWatch({ store, projection, maxConnections: config.market.maxDisplays }) });
  await app.register(marketPages, { ...market, marketLang: config.market.lang });
  return app;
}
