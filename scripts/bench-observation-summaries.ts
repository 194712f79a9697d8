/**
 * What the answers' observation summaries cost an append (migration 8's row trigger parses each Observed entry's body
 * and upserts its lot's totals, readings and hours): N signed observations appended in groups, into a database
 * without those triggers (migrations 1-7) and into one with them, on SQLite (a temporary directory, the append on
 * the calling thread) or on a throwaway PostgreSQL cluster (fsync on). Prints one line per database: entries/s and
 * this process's CPU per entry (on SQLite that is all of the append's CPU; on PostgreSQL the server's is not in it).
 *
 *   node scripts/bench-observation-summaries.ts [--driver sqlite|postgres] [--count 20000] [--group 500]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Wallet } from "ethers";
import { signedObservations } from "../test/api/query/observation-log.ts";
import { startPgCluster } from "../test/api/store/postgres-cluster.ts";
import { PostgresStore } from "../ledger-api/src/store/postgres.ts";
import { PG_MIGRATIONS } from "../ledger-api/src/store/postgres-migrations.ts";
import { SqliteStore } from "../ledger-api/src/store/sqlite.ts";
import { MIGRATIONS } from "../ledger-api/src/store/migrations.ts";
import type { Store } from "../ledger-api/src/store/store.ts";

const { values } = parseArgs({
  options: {
    driver: { type: "string", default: "postgres" },
    count: { type: "string", default: "20000" },
    group: { type: "string", default: "500" },
  },
});
const N = Number(values.count);
const GROUP = Number(values.group);
const signer = Wallet.createRandom();
const domain = { name: "ProvenanceLedger", version: "1", chainId: 31337n, verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3" };
const run = { lot: { gtin: "08801234567893", lot: "BENCH" }, count: N, start: new Date("2026-11-20T00:00:00Z"), stepSeconds: 60,
  readings: (i: number) => [{ type: "Temperature", value: 2 + (i % 7), unit: "Cel" }, { type: "Humidity", value: 60 + (i % 5), unit: "%" }], nonceBase: 1n };
const items = signedObservations(signer, domain, run);

/** Migrations up to (without) "answers", then all of them. */
function withAndWithout<M extends { name: string }>(all: readonly M[]): [string, readonly M[]][] {
  return [
    ["without answers triggers (migrations 1-7)", all.slice(0, all.findIndex((m) => m.name === "answers"))],
    ["with answers triggers (all)", all],
  ];
}

async function measure(label: string, store: Store): Promise<void> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < N; i += GROUP) await store.appendBatch(items.slice(i, i + GROUP));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `${values.driver}, ${label}: ${N} observations in groups of ${GROUP}: ${(ms / 1000).toFixed(2)} s, ` +
      `${(N / (ms / 1000)).toFixed(0)} entries/s, this process's CPU ${(cpu.user / N).toFixed(1)} us user + ` +
      `${(cpu.system / N).toFixed(1)} us system per entry`,
  );
  await store.close();
}

if (values.driver === "sqlite") {
  for (const [label, migrations] of withAndWithout(MIGRATIONS)) {
    const dir = await mkdtemp(path.join(tmpdir(), "ledger-bench-summaries-"));
    try {
      await measure(label, await SqliteStore.open(dir, { migrations }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
} else if (values.driver === "postgres") {
  const cluster = await startPgCluster();
  try {
    for (const [label, migrations] of withAndWithout(PG_MIGRATIONS)) {
      await measure(label, await PostgresStore.open(await cluster.createDatabase(), { migrations }));
    }
  } finally {
    await cluster.stop();
  }
} else {
  console.error(`--driver must be sqlite or postgres, not ${values.driver}`);
  process.exit(2);
}
