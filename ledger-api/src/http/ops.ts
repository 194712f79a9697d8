/**
 * /healthz for load balancers and operators, /metrics for Prometheus. Health is "can this instance do its job":
 * the chain answers, the indexer is not halted (nor being rebuilt by a recovery), anchoring keeps its promise (lag
 * within a few intervals), and the relay is not stuck (events wait and nothing was relayed for RELAY_STUCK_AFTER_MS,
 * or a nonce gap keeps every transaction of the relayer from being mined).
 */
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { Type } from "typebox";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { LedgerServices } from "../services.ts";

/** The relay's lag and stuck state (chain/relay.ts), named through the services this plugin is given. */
type RelayHealth = Awaited<ReturnType<LedgerServices["relay"]["health"]>>;

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
  // One read of the relay's state serves the four relay gauges of a scrape.
  let relayRead: { at: number; health: Promise<RelayHealth> } | undefined;
  const relayHealth = (): Promise<RelayHealth> => {
    if (relayRead === undefined || Date.now() - relayRead.at > 1000) {
      relayRead = { at: Date.now(), health: services.relay.health(services.config.relayStuckAfterMs) };
    }
    return relayRead.health;
  };
  new Gauge({
    name: "ledger_relay_rows",
    help: "Relay rows waiting: pending (to send) and sent (not settled yet)",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      const h = await relayHealth();
      this.set({ status: "pending" }, h.pending);
      this.set({ status: "sent" }, h.sent);
    },
  });
  new Gauge({
    name: "ledger_relay_oldest_waiting_seconds",
    help: "Age of the oldest acknowledged entry the relay has not settled",
    registers: [registry],
    async collect() {
      this.set((await relayHealth()).oldestWaitingMs / 1000);
    },
  });
  new Gauge({
    name: "ledger_relay_stuck",
    help: "1 when the relay is stuck (no progress while events wait, or a nonce gap)",
    registers: [registry],
    async collect() {
      this.set((await relayHealth()).stuck === undefined ? 0 : 1);
    },
  });
  new Gauge({
    name: "ledger_chain_durable_block",
    help: "Local chain: the newest block its last snapshot on disk holds",
    registers: [registry],
    collect() {
      const status = services.localChain?.status();
      if (status !== undefined) this.set(status.durableBlock);
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

  // The admission gates (http/admission.ts): how full each is. Their refusals are 503s in the request histogram.
  for (const [metric, help, field] of [
    ["ledger_admission_in_flight", "Work running inside each admission gate (ingest: events; queries: requests)", "inFlight"],
    ["ledger_admission_queued", "Requests holding a place in each admission gate's queue, not running yet", "queued"],
  ] as const) {
    new Gauge({
      name: metric,
      help,
      labelNames: ["gate"],
      registers: [registry],
      collect() {
        for (const gate of Object.values(app.admission)) this.set({ gate: gate.name }, gate.stats()[field]);
      },
    });
  }

  app.decorate("countEvents", (outcome: string, n = 1) => events.inc({ outcome }, n));

  app.addHook("onResponse", async (request, reply) => {
    requests.observe(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // The address `npm start` prints as the service's: whoever opens it lands on the API's map, not on a 404.
  app.get(
    "/",
    {
      schema: {
        tags: ["ops"],
        summary: "Redirects to the OpenAPI document's page (/docs)",
        response: { 302: Type.Null({ description: "to /docs" }) },
      },
    },
    async (_request, reply) => reply.redirect("/docs", 302),
  );

  app.get(
    "/healthz",
    {
      // An operator and a load balancer must see the service even when it sheds everything else.
      config: { shed: false },
      schema: {
        tags: ["ops"],
        summary: "Liveness and readiness: chain reachable, indexer running, anchor lag, relay lag and a stuck relay",
        response: {
          200: Type.Object({}, { additionalProperties: true }),
          503: Type.Object({}, { additionalProperties: true }),
        },
      },
    },
    async (_request, reply) => {
      const { config, provider, indexer, anchorer, relay } = services;
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
      let relayState: RelayHealth | undefined;
      try {
        relayState = await withTimeout(relay.health(config.relayStuckAfterMs), 2000);
        if (relayState.stuck !== undefined) problems.push(`relay stuck: ${relayState.stuck}`);
      } catch (err) {
        problems.push(`relay state unreadable: ${(err as Error).message}`);
      }
      const recovery = services.recoveryStatus();
      if (recovery?.running) problems.push("recovering from a chain that lost blocks: the index is being rebuilt");
      else if (recovery?.lastError !== undefined) problems.push(`recovery failed: ${recovery.lastError}`);
      const local = services.localChain?.status();
      const lead = services.leadership.status();
      const body = {
        status: problems.length === 0 ? "ok" : "unhealthy",
        problems,
        // Several instances on one store: which one runs the indexer, relay and anchorer (epoch of its lease).
        leader: { leading: lead.leading, epoch: lead.epoch ?? null },
        chain: {
          head,
          indexedBlock: index.cursor?.blockNumber ?? null,
          indexerLagBlocks: index.lag ?? null,
          ...(local === undefined
            ? {}
            : { durableBlock: local.durableBlock, snapshotBytes: local.snapshotBytes, restarts: local.restarts }),
        },
        log: { size: anchor.logSize, anchoredSize: anchor.anchoredSize, anchorLagEntries: anchor.lagEntries, anchorLagMs: anchor.lagMs },
        relay:
          relayState === undefined
            ? null
            : {
                pending: relayState.pending,
                sent: relayState.sent,
                unread: relayState.unread,
                oldestWaitingMs: relayState.oldestWaitingMs,
                chainNonce: relayState.chainNonce ?? null,
                oldestSentNonce: relayState.oldestSentNonce ?? null,
                stuck: relayState.stuck ?? null,
              },
        ...(recovery === undefined
          ? {}
          : { recovery: { running: recovery.running, runs: recovery.runs, lastAt: recovery.lastAt ?? null, lastReport: recovery.lastReport ?? null } }),
        // Load is not health: a full queue sheds requests (503 OVERLOADED) while the instance keeps doing its job.
        load: Object.fromEntries(Object.values(app.admission).map((g) => [g.name, g.stats()])),
      };
      return reply.status(problems.length === 0 ? 200 : 503).send(body);
    },
  );

  app.get("/metrics", { config: { shed: false }, schema: { tags: ["ops"], summary: "Prometheus metrics", hide: true } }, async (_request, reply) => {
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
