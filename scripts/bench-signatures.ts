/**
 * Signer-recovery throughput: ethers (pure JS) vs native libsecp256k1 on the main thread vs the worker pool, and how
 * responsive the event loop stays while the pool works.
 *
 *   npx tsx scripts/bench-signatures.ts [--items 40000] [--workers 2] [--ethers-items 2000]
 *
 * (Plain `node scripts/bench-signatures.ts` cannot run it yet: the project's `.js` import specifiers need tsx to map
 * them to `.ts` files. The worker file itself does load under plain Node type stripping.)
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { hexlify, randomBytes, recoverAddress } from "ethers";
import { SignaturePool, mainThreadBackend, recoverSync } from "../ledger-api/src/ingest/signatures.ts";
import type { SignatureItem } from "../ledger-api/src/ingest/signatures.ts";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "40000" },
    workers: { type: "string", default: "2" },
    "ethers-items": { type: "string", default: "2000" },
  },
});
const ITEMS = Number(values.items);
const WORKERS = Number(values.workers);
const ETHERS_ITEMS = Number(values["ethers-items"]);

// Fixtures are signed with the native binding directly: signing 40,000 items through ethers would take a minute.
interface NativeSigner {
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
}
const native = createRequire(import.meta.url)("secp256k1/bindings") as NativeSigner;

function fixtures(count: number): SignatureItem[] {
  const keys = Array.from({ length: 64 }, () => randomBytes(32));
  return Array.from({ length: count }, (_, i) => {
    const digest = randomBytes(32);
    const { signature, recid } = native.ecdsaSign(digest, keys[i % keys.length]!);
    return { digest: hexlify(digest), signature: hexlify(signature) + (27 + recid).toString(16) };
  });
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString("en-US")}/s (${count} in ${ms.toFixed(0)} ms)`;
}

/** Delays of a 1 ms interval timer while `work` runs: how long the event loop was unavailable to other work. */
async function withLagProbe<T>(work: () => Promise<T>): Promise<{ result: T; lags: number[] }> {
  let last = performance.now();
  const lags: number[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  try {
    return { result: await work(), lags };
  } finally {
    clearInterval(timer);
  }
}

function describeLags(lags: number[]): string {
  const sorted = [...lags].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `setInterval(1 ms) lag over ${lags.length} ticks: p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms, max ${at(1).toFixed(2)} ms`;
}

const items = fixtures(ITEMS);
console.log(`node ${process.version}, ${ITEMS} items, main-thread backend: ${mainThreadBackend}`);

// (a) ethers, pure JS, main thread.
{
  const sample = items.slice(0, ETHERS_ITEMS);
  const t = performance.now();
  for (const it of sample) recoverAddress(it.digest, it.signature);
  console.log(`(a) ethers recoverAddress, main thread:       ${rate(sample.length, performance.now() - t)}`);
}

// (b) native libsecp256k1, main thread (the same code path the workers run, plus packing and unpacking).
let expected: (string | null)[];
{
  recoverSync(items.slice(0, 1000)); // warm-up
  const t = performance.now();
  expected = recoverSync(items);
  const ms = performance.now() - t;
  console.log(`(b) native libsecp256k1, main thread:         ${rate(items.length, ms)} (event loop blocked ${ms.toFixed(0)} ms)`);
}

// (c) the worker pool; also with one worker (the default on a 2-core machine), which leaves the main thread a core.
for (const workers of [...new Set([WORKERS, 1])]) {
  const pool = new SignaturePool({ workers });
  console.log(`    pool backend: ${await pool.backend()}`);
  await pool.recover(items.slice(0, 5000)); // warm-up: workers ready and JIT-compiled
  const t = performance.now();
  const { result, lags } = await withLagProbe(() => pool.recover(items));
  const ms = performance.now() - t;
  if (result.some((r, i) => r !== expected[i])) throw new Error("pool and main-thread results differ");
  console.log(`(c) worker pool, ${workers} worker(s):               ${rate(items.length, ms)}`);
  console.log(`    event loop during (c): ${describeLags(lags)}`);

  // Per-call latency for tiny calls: worker round trip vs inline, to choose the inlineMax default.
  if (workers === WORKERS) {
    for (const n of [1, 2, 4, 8, 16]) {
      const batch = items.slice(0, n);
      const rounds = 300;
      let t0 = performance.now();
      for (let i = 0; i < rounds; i++) await pool.recover(batch);
      const pooled = (performance.now() - t0) / rounds;
      t0 = performance.now();
      for (let i = 0; i < rounds; i++) recoverSync(batch);
      const inline = (performance.now() - t0) / rounds;
      console.log(
        `    ${String(n).padStart(2)} item(s) per call: pool ${(pooled * 1000).toFixed(0)} us, ` +
          `inline ${(inline * 1000).toFixed(0)} us (blocking)`,
      );
    }
  }
  await pool.close();
}
