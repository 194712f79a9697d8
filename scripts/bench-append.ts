/**
 * Append benchmark: N entries through the group-commit Appender into a fresh SQLite store (WAL, synchronous=FULL),
 * from C closed-loop clients (each awaits its receipt before sending the next).
 *
 *   npx tsx scripts/bench-append.ts [--entries 50000] [--concurrency 1000] [--group 1000] [--dir path]
 *
 * Event preparation (hashing test digests) happens before the clock starts; the timed part is Appender.add ->
 * receipt, i.e. validation, ABI encoding, leaf and node hashing, SQLite writes and the COMMIT fsync.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { keccak256, toUtf8Bytes } from "ethers";
import { Appender, withStats } from "../ledger-api/src/log/appender.ts";
import type { AddItem, AddStats } from "../ledger-api/src/log/appender.ts";
import { SqliteStore } from "../ledger-api/src/store/sqlite.ts";

const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "50000" },
    concurrency: { type: "string", default: "1000" },
    group: { type: "string", default: "1000" },
    dir: { type: "string" },
  },
});
const entries = Number(values.entries);
const concurrency = Number(values.concurrency);
const maxGroupSize = Number(values.group);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const signature = "0x" + "ab".repeat(65);
const signer = "0x70997970C51812dc3A010C7d01b50e20d17dc79C".toLowerCase();
const items: AddItem[] = Array.from({ length: entries }, (_, n) => {
  const key = keccak256(toUtf8Bytes(`bench-event-${n}`));
  const body = JSON.stringify({ kind: "Observed", n, tempC: 3.5 + (n % 10) / 10, at: "2025-11-25T03:39:00Z" });
  return {
    key,
    batchId: keccak256(toUtf8Bytes(`/01/09506000134352/10/LOT${n % 500}`)),
    kind: 10,
    eventDigest: key,
    docHash: keccak256(toUtf8Bytes(body)),
    signer,
    signature,
    body,
  };
});

const dir = values.dir ?? (await mkdtemp(join(tmpdir(), "bench-append-")));
const store = await SqliteStore.open(dir);
const appender = new Appender(store, { maxGroupSize, maxQueued: Math.max(concurrency, 1) });
const stats: AddStats = { ok: 0, duplicates: 0, failed: 0, latenciesMs: [] };
const add = withStats(appender.addFn, stats);

let next = 0;
async function client(): Promise<void> {
  while (next < items.length) await add(items[next++] as AddItem);
}
const start = performance.now();
await Promise.all(Array.from({ length: concurrency }, client));
const seconds = (performance.now() - start) / 1000;

const lat = stats.latenciesMs.slice().sort((a, b) => a - b);
const a = appender.stats();
const cp = await store.checkpoint();
console.log(
  `appended ${stats.ok} entries (dup ${stats.duplicates}, failed ${stats.failed}) in ${seconds.toFixed(2)} s: ` +
    `${Math.round(stats.ok / seconds)} entries/s`,
);
console.log(
  `add latency ms: p50 ${percentile(lat, 50).toFixed(1)}  p99 ${percentile(lat, 99).toFixed(1)}  ` +
    `max ${(lat[lat.length - 1] ?? NaN).toFixed(1)}`,
);
console.log(
  `groups ${a.groups} (mean ${(a.items / a.groups).toFixed(0)}, largest ${a.largestGroup}); ` +
    `store commits ${store.stats().commits}; size ${cp.size}; concurrency ${concurrency}, maxGroupSize ${maxGroupSize}`,
);

// Read side: one batched nodes() call of 40 refs, the shape of an inclusion + consistency proof.
const refs = Array.from({ length: 40 }, (_, i) => ({ level: i % 12, index: Math.floor(cp.size / 2 ** (i % 12) / 2) }));
const reads = 2000;
const t0 = performance.now();
for (let i = 0; i < reads; i++) await store.nodes(refs);
console.log(`nodes(): ${((performance.now() - t0) * 1000 / reads).toFixed(0)} µs per 40-ref batch`);

await appender.close();
await store.close();
if (values.dir === undefined) await rm(dir, { recursive: true, force: true });
