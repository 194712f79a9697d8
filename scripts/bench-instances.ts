/**
 * Several API instances, measured on their own (the same figures `npm run bench -- --only instances` reports):
 * ingest and provenance throughput with one instance on SQLite, one on PostgreSQL and three on PostgreSQL, and the
 * takeover time after the leader is killed. bench/lib/instances.ts says how each is measured.
 *
 *   npm run bench:instances -- [--events 3000] [--seconds 10] [--connections 24] [--kills 3] [--lease-ms 6000]
 */
import { parseArgs } from "node:util";
import { measureInstances } from "../bench/lib/instances.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "3000" },
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "24" },
    kills: { type: "string", default: "3" },
    "lease-ms": { type: "string", default: "6000" },
  },
});
const options = {
  events: Number(values.events),
  seconds: Number(values.seconds),
  connections: Number(values.connections),
  kills: Number(values.kills),
  leaseMs: Number(values["lease-ms"]),
  note: (message: string) => process.stderr.write(`${message} ...\n`),
};
const { rows, takeoverMs } = await measureInstances(options);

const base = rows[0]!;
const fmt = (x: number) => x.toLocaleString("en", { maximumFractionDigits: 0 });
console.log(
  `\nnode scripts/bench-instances.ts --events ${options.events} --seconds ${options.seconds} ` +
    `--connections ${options.connections} --kills ${options.kills} --lease-ms ${options.leaseMs}`,
);
console.log("(2 cores, shared with other work while measured: compare the ratios, not the absolute figures)\n");
console.log("setup                      ingest ev/s  ratio  p50 ms  p99 ms  errors | provenance req/s  ratio  p50 ms  p99 ms  errors");
for (const r of rows) {
  console.log(
    `${r.setup.name.padEnd(26)} ${fmt(r.ingest.perSecond).padStart(11)}  ${(r.ingest.perSecond / base.ingest.perSecond).toFixed(2).padStart(5)}` +
      `  ${fmt(r.ingest.p50).padStart(6)}  ${fmt(r.ingest.p99).padStart(6)}  ${String(r.ingest.errors).padStart(6)} |` +
      ` ${fmt(r.provenance.perSecond).padStart(16)}  ${(r.provenance.perSecond / base.provenance.perSecond).toFixed(2).padStart(5)}` +
      `  ${fmt(r.provenance.p50).padStart(6)}  ${fmt(r.provenance.p99).padStart(6)}  ${String(r.provenance.errors).padStart(6)}`,
  );
}
if (takeoverMs.length > 0) {
  const sorted = [...takeoverMs].sort((a, b) => a - b);
  console.log(
    `\ntakeover after kill -9 of the leader (LEADER_LEASE_MS=${options.leaseMs}, followers try every ` +
      `${Math.floor(options.leaseMs / 3)} ms): ${takeoverMs.map((t) => `${fmt(t)} ms`).join(", ")} ` +
      `(median ${fmt(sorted[Math.floor(sorted.length / 2)]!)} ms)`,
  );
}
