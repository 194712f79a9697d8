/**
 * GET /epcis/events' store query on a large index: fills a fresh SQLite store's EPCIS index (store/epcis-store.ts)
 * with N synthetic entries (default 1,000,000: 20,000 lots, 11 bizSteps, 200 locations, one event a minute), then
 * times each filter shape's first page (100 events) and a deep page.
 *
 *   node scripts/bench-epcis-query.ts [--entries 1000000]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { keccak256, toUtf8Bytes } from "ethers";
import { SqliteStore } from "../ledger-api/src/store/sqlite.ts";
import type { EpcisFilter, EpcisIndexRow } from "../ledger-api/src/store/store.ts";

const arg = process.argv.indexOf("--entries");
const N = arg > 0 ? Number(process.argv[arg + 1]) : 1_000_000;
const STEPS = ["commissioning", "inspecting", "shipping", "receiving", "void_shipping", "sensor_reporting", "ledger:applying_pesticide", "ledger:clearing_customs"];
const LOTS = 20_000;
const lotId = (i: number) => keccak256(toUtf8Bytes(`lot-${i}`));
const lots = Array.from({ length: LOTS }, (_, i) => lotId(i));
const T0 = Date.parse("2025-01-01T00:00:00Z");

const dir = await mkdtemp(path.join(tmpdir(), "bench-epcis-"));
const store = await SqliteStore.open(dir);
try {
  const fillStart = performance.now();
  for (let from = 0; from < N; from += 10_000) {
    const rows: EpcisIndexRow[] = [];
    for (let i = from; i < Math.min(from + 10_000, N); i++) {
      const step = STEPS[i % STEPS.length] as string;
      rows.push({
        index: i,
        eventType: i % 50 === 0 ? "TransformationEvent" : "ObjectEvent",
        eventTime: T0 + i * 60_000,
        ...(step === "sensor_reporting" && i % 3 === 0 ? {} : { bizStep: step }),
        ...(i % 4 === 0 ? { bizLocation: `https://id.gs1.org/414/880123400${String(i % 200).padStart(3, "0")}5` } : {}),
        lots: [lots[(i * 7919) % LOTS] as string],
      });
    }
    await store.indexEpcisEvents(from, from + rows.length, rows);
  }
  console.log(`indexed ${N.toLocaleString()} entries in ${((performance.now() - fillStart) / 1000).toFixed(1)} s`);

  const mid = T0 + Math.floor(N / 2) * 60_000;
  const cases: [string, EpcisFilter][] = [
    ["no filter", {}],
    ["EQ_bizStep=shipping", { bizSteps: ["shipping"] }],
    ["EQ_bizStep=receiving,void_shipping", { bizSteps: ["receiving", "void_shipping"] }],
    ["MATCH_anyEPC (one lot, ~50 events)", { lots: [lots[1234] as string] }],
    ["EQ_bizLocation (one GLN)", { bizLocations: ["https://id.gs1.org/414/8801234000405"] }],
    ["GE/LT_eventTime (one day in the middle)", { geEventTime: mid, ltEventTime: mid + 86_400_000 }],
    ["bizStep + eventTime day", { bizSteps: ["shipping"], geEventTime: mid, ltEventTime: mid + 86_400_000 }],
    ["eventType=TransformationEvent + eventTime day", { eventTypes: ["TransformationEvent"], geEventTime: mid, ltEventTime: mid + 86_400_000 }],
    ["bizStep=shipping, page after index N/2", { bizSteps: ["shipping"], afterIndex: Math.floor(N / 2) }],
  ];
  for (const [name, filter] of cases) {
    const times: number[] = [];
    let count = 0;
    for (let r = 0; r < 7; r++) {
      const t = performance.now();
      count = (await store.epcisEvents(filter, 101)).length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`${name}: ${count} rows, median ${times[3]?.toFixed(2)} ms (max ${times[6]?.toFixed(2)} ms)`);
  }
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
