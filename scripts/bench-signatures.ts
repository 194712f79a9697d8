/**
 * Signer-recovery throughput: ethers (pure JS) vs native libsecp256k1 on the main thread, and the ingest pool (the
 * one pool of worker threads, which recovers as part of preparing each request body: parsing, schema, derivation,
 * hashing and recovery), and how responsive the event loop stays while the pool works.
 *
 *   node scripts/bench-signatures.ts [--items 40000] [--workers 2] [--ethers-items 2000]
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { hexlify, randomBytes, recoverAddress } from "ethers";
import { runJob } from "../bench/lib/sign-worker.ts";
import { IngestPool } from "../ledger-api/src/ingest/ingest-pool.ts";
import { backendName, recoverSync } from "../ledger-api/src/ingest/signatures.ts";
import type { SignatureItem } from "../ledger-api/src/ingest/signatures.ts";
import { threadEntries } from "../ledger-api/src/thread-bundles.ts";

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
console.log(`node ${process.version}, ${ITEMS} items, backend: ${backendName}`);

// (a) ethers, pure JS, main thread.
{
  const sample = items.slice(0, ETHERS_ITEMS);
  const t = performance.now();
  for (const it of sample) recoverAddress(it.digest, it.signature);
  console.log(`(a) ethers recoverAddress, main thread:       ${rate(sample.length, performance.now() - t)}`);
}

// (b) native libsecp256k1, main thread (the same code path the workers run, plus packing and unpacking).
{
  recoverSync(items.slice(0, 1000)); // warm-up
  const t = performance.now();
  recoverSync(items);
  const ms = performance.now() - t;
  console.log(`(b) native libsecp256k1, main thread:         ${rate(items.length, ms)} (event loop blocked ${ms.toFixed(0)} ms)`);
}

// (c) the ingest pool on request bodies of 500 signed Observed events (the events' whole preparation, recovery
// included), with its workers as the API runs them (bundled); also with one worker.
const DOMAIN = { name: "ProvenanceLedger", version: "1", chainId: 31337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const key = hexlify(randomBytes(32));
const signer = new (await import("ethers")).Wallet(key).address;
const bodies = runJob({
  id: 1,
  domain: { ...DOMAIN, chainId: String(DOMAIN.chainId) },
  privateKey: key,
  signer,
  gtin: "08801234000017",
  lots: Array.from({ length: 100 }, (_, i) => `SIG-${i}`),
  kind: "observed",
  bodies: Math.max(1, Math.round(ITEMS / 500)),
  perBody: 500,
  nonceBase: "1000",
  firstSeq: 0,
  deadline: Math.floor(Date.now() / 1000) + 86_400,
}).map((b) => Buffer.from(b));
const events = bodies.length * 500;
const entries = await threadEntries();
for (const workers of [...new Set([WORKERS, 1])]) {
  const pool = new IngestPool({ domain: DOMAIN, maxEvents: 500, workers, workerUrl: entries?.ingestWorker });
  console.log(`    pool backend: ${await pool.backend()}${entries ? " (bundled workers)" : ""}`);
  const now = Math.floor(Date.now() / 1000);
  await Promise.all(bodies.slice(0, 4).map((b) => pool.prepare(Buffer.from(b), now))); // warm-up
  const t = performance.now();
  const { result, lags } = await withLagProbe(() => Promise.all(bodies.map((b) => pool.prepare(Buffer.from(b), now))));
  const ms = performance.now() - t;
  if (result.some((o) => !o.ok || o.events.some((e) => e.badSignature !== null))) throw new Error("the pool refused a body");
  console.log(`(c) ingest pool, ${workers} worker(s), 500 events a body: ${rate(events, ms)}`);
  console.log(`    event loop during (c): ${describeLags(lags)}`);
  await pool.close();
}
