/**
 * Several API instances (issue 10): ingest and provenance throughput with one instance on SQLite (the baseline), one
 * and three on PostgreSQL, and the takeover time after a kill -9 of the leader. Each setup runs on its own anvil
 * chain and, for PostgreSQL, a throwaway cluster's fresh database (bench/lib/instances.ts), not on the 1M-entry log.
 */
import { measureInstances, type Figures } from "../lib/instances.ts";
import { failureDetail } from "../lib/load.ts";
import type { BenchContext, BenchModule, Figure } from "../lib/types.ts";

const CONNECTIONS = 24;
const LEASE_MS = 6000;

export const instances: BenchModule = {
  name: "instances",
  description: "one API instance on SQLite, one and three on PostgreSQL: ingest and provenance throughput, takeover after kill -9",
  async run(ctx: BenchContext): Promise<Figure[]> {
    const events = Math.max(300, Math.round(3000 * ctx.scale));
    const { rows, takeoverMs } = await measureInstances({
      events,
      seconds: ctx.duration,
      connections: CONNECTIONS,
      kills: 3,
      leaseMs: LEASE_MS,
      note: ctx.note,
    });
    const [sqlite, ...postgres] = rows;
    if (sqlite === undefined) return [];
    const detail = (f: Figures) => ({ p50Ms: f.p50, p99Ms: f.p99, failed: f.errors, ...failureDetail(f.failures) });
    const figures: Figure[] = [];
    for (const [kind, what, unit] of [
      ["ingest", `POST /v1/events, one Registered event per request, ${CONNECTIONS} in flight (${events} events)`, "events/s"],
      ["provenance", `GET /v1/batches/{id}/provenance, six-event histories, ${CONNECTIONS} connections`, "req/s"],
    ] as const) {
      figures.push({ id: `instances.${kind}.sqlite`, what: `${what}: 1 instance, SQLite`, value: sqlite[kind].perSecond, unit, detail: detail(sqlite[kind]) });
      for (const r of postgres) {
        figures.push({
          id: `instances.${kind}.postgres${r.setup.instances}`,
          what: `${what}: ${r.setup.name}`,
          value: r[kind].perSecond,
          unit,
          baseline: { what: "1 instance, SQLite", value: sqlite[kind].perSecond },
          detail: detail(r[kind]),
        });
      }
    }
    if (takeoverMs.length > 0) {
      const sorted = [...takeoverMs].sort((a, b) => a - b);
      figures.push({
        id: "instances.takeover",
        what: `kill -9 of the leader of 3 instances to another leading (LEADER_LEASE_MS=${LEASE_MS}), median of ${takeoverMs.length}`,
        value: sorted[Math.floor(sorted.length / 2)]!,
        unit: "ms",
        goal: { text: `<= ${LEASE_MS / 3} ms (a third of the lease)`, met: sorted.at(-1)! <= LEASE_MS / 3 },
        detail: Object.fromEntries(takeoverMs.map((t, i) => [`kill${i + 1}Ms`, t])),
      });
    }
    return figures;
  },
};
