/**
 * What the answers' observation summaries cost the PostgreSQL append (migration 8's row trigger parses each Observed
 * entry's body and upserts its lot's totals, readings and hours): N signed observations appended in groups, into a
 * database without those triggers (migrations 1-7) and into one with them, on a throwaway cluster (fsync on).
 * Usage: node scripts/bench-observation-summaries.ts [count] [group]. Prints one line per database.
 */
import { Wallet } from "ethers";
import { signedObservations } from "../test/api/query/observation-log.ts";
import { startPgCluster } from "../test/api/store/postgres-cluster.ts";
import { PostgresStore } from "../ledger-api/src/store/postgres.ts";
import { PG_MIGRATIONS } from "../ledger-api/src/store/postgres-migrations.ts";

const signer = Wallet.createRandom();
const domain = { name: "ProvenanceLedger", version: "1", chainId: 31337n, verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3" };
const N = Number(process.argv[2] ?? 20_000);
const GROUP = Number(process.argv[3] ?? 500);
const run = { lot: { gtin: "08801234567893", lot: "BENCH" }, count: N, start: new Date("2026-11-20T00:00:00Z"), stepSeconds: 60,
  readings: (i: number) => [{ type: "Temperature", value: 2 + (i % 7), unit: "Cel" }, { type: "Humidity", value: 60 + (i % 5), unit: "%" }], nonceBase: 1n };
const items = signedObservations(signer, domain, run);
const cluster = await startPgCluster();
try {
  for (const [label, migrations] of [["without answers triggers (migrations 1-7)", PG_MIGRATIONS.slice(0, PG_MIGRATIONS.findIndex((m) => m.name === "answers"))], ["with answers triggers (all)", PG_MIGRATIONS]] as const) {
    const store = await PostgresStore.open(await cluster.createDatabase(), { migrations });
    const t0 = performance.now();
    for (let i = 0; i < N; i += GROUP) await store.appendBatch(items.slice(i, i + GROUP));
    const ms = performance.now() - t0;
    console.log(`${label}: ${N} observations in groups of ${GROUP}: ${(ms / 1000).toFixed(2)} s, ${(N / (ms / 1000)).toFixed(0)} entries/s`);
    await store.close();
  }
} finally {
  await cluster.stop();
}
