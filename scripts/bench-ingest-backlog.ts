/**
 * What a backlog of logged-but-unindexed events costs each ingest request (the rules judge every request against the
 * index with all pending events laid over it; ingest/pending-overlay.ts keeps that replay between requests). The
 * ledger runs on Hardhat's in-process chain with the relay and indexer idle, so the backlog stays pending; for each
 * backlog size it times 20 one-event POSTs (median and p90).
 *
 * `--driver postgres` runs it on a fresh database of a throwaway PostgreSQL cluster instead of SQLite.
 *
 *   node scripts/bench-ingest-backlog.ts [--backlog 0,1000,5000] [--driver sqlite|postgres]
 */
import { parseArgs } from "node:util";
import type { EventDoc } from "../ledger-api/src/protocol/documents.ts";
import { startLedger } from "../test/api/harness.ts";

const { values } = parseArgs({
  options: { backlog: { type: "string", default: "0,1000,5000" }, driver: { type: "string", default: "sqlite" } },
});
if (values.driver !== "sqlite" && values.driver !== "postgres") throw new Error(`--driver sqlite|postgres, not ${values.driver}`);
const sizes = values.backlog.split(",").map(Number);

const registered = (lot: string): EventDoc => ({
  kind: "Registered",
  batch: { gtin: "08801234000017", lot },
  occurredAt: new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, "Z"),
  product: "Jeju Hallabong tangerines",
  origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
  harvestDate: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
  quantity: { value: 10, unit: "kg" },
  imported: false,
});

const ledger = await startLedger({ driver: values.driver });
try {
  let logged = 0;
  for (const size of sizes) {
    while (logged < size) {
      const batch = [];
      for (let i = 0; i < 500 && logged < size; i++, logged++) batch.push(await ledger.sign("cooperative", registered(`BL-${logged}`)));
      const res = await ledger.post(batch);
      if (res.statusCode !== 202) throw new Error(JSON.stringify(res.json));
    }
    const times: number[] = [];
    for (let k = 0; k < 20; k++, logged++) {
      const event = await ledger.sign("cooperative", registered(`BL-${logged}`));
      const t0 = performance.now();
      const res = await ledger.post(event);
      times.push(performance.now() - t0);
      if (res.statusCode !== 202) throw new Error(JSON.stringify(res.json));
    }
    times.sort((a, b) => a - b);
    console.log(`${String(size).padStart(6)} pending: one-event POST median ${times[10]!.toFixed(1)} ms, p90 ${times[18]!.toFixed(1)} ms`);
  }
} finally {
  await ledger.close();
}
