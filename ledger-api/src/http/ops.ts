/**
 * /healthz for load balancers and operators, /metrics for Prometheus. Health is "can this instance do its job":
 * the chain answers, the indexer is not halted, and anchoring keeps its promise (lag within a few intervals).
 */
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { Type } from "typebox";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { LedgerServices } from "../services.ts";

export interface OpsOptions {
  readonly services: LedgerServices;
}

/** An anchor lag beyond this many intervals makes the instance unhealthy: its receipts' promise is broken. */
const LAG_INTERVALS_UNHEALTHY = 3;

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function ops(app: FastifyInstance, { services }: OpsOptions): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "ledger_" });
  const requests = new Histogram({
    name: "ledger_http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  const events = new Counter({
    name: "ledger_events_total",
    help: "Events logged and resubmitted (outcome logged / duplicate), and refused requests (refused:<code>)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  new Gauge({
    name: "ledger_log_size",
    help: "Entries in the log",
    registers: [registry],
    async collect() {
      this.set((await services.store.checkpoint()).size);
    },
  });
  new Gauge({
    name: "ledger_anchor_lag_entries",
    help: "Log entries not yet covered by a confirmed anchor",
    registers: [registry],
    async collect() {
      this.set((await services.anchorer.status()).lagEntries);
    },
  });
  new Gauge({
    name: "ledger_indexer_lag_blocks",
    help: "Confirmed blocks not yet indexed",
    registers: [registry],
    collect() {
      this.set(services.indexer.status().lag ?? 0);
    },
  });

  app.decorate("countEvents", (outcome: string, n = 1) => events.inc({ outcome }, n));

  app.addHook("onResponse", async (request, reply) => {
    requests.observe(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.get(
    "/healthz",
    {
      schema: {
        tags: ["ops"],
        summary: "Liveness and readiness: chain reachable, indexer running, anchor lag",
        response: {
          200: Type.Object({}, { additionalProperties: true }),
          503: Type.Object({}, { additionalProperties: true }),
        },
      },
    },
    async (_request, reply) => {
      const { config, provider, indexer, anchorer } = services;
      const problems: string[] = [];
      let head: number | null = null;
      try {
        head = await withTimeout(provider.getBlockNumber(), 2000);
      } catch (err) {
        problems.push(`chain unreachable: ${(err as Error).message}`);
      }
      const index = indexer.status();
      if (index.error) problems.push(`indexer halted: ${index.error.code}`);
      const anchor = await anchorer.status();
      if (anchor.lagMs > LAG_INTERVALS_UNHEALTHY * config.anchorIntervalMs) {
        problems.push(`anchoring is ${Math.round(anchor.lagMs / 1000)} s behind`);
      }
      const body = {
        status: problems.length === 0 ? "ok" : "unhealthy",
        problems,
        chain: { head, indexedBlock: index.cursor?.blockNumber ?? null, indexerLagBlocks: index.lag ?? null },
        log: { size: anchor.logSize, anchoredSize: anchor.anchoredSize, anchorLagEntries: anchor.lagEntries, anchorLagMs: anchor.lagMs },
      };
      return reply.status(problems.length === 0 ? 200 : 503).send(body);
    },
  );

  app.get("/metrics", { schema: { tags: ["ops"], summary: "Prometheus metrics", hide: true } }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

declare module "fastify" {
  interface FastifyInstance {
    /** Counts submitted events by outcome for /metrics. */
    countEvents(outcome: string, n?: number): void;
  }
}

export default fp(ops, { name: "ops" });
