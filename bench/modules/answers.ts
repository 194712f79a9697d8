/**
 * Answers at market scale (issue 9 items 2 and 3), each figure beside its baseline from the same run:
 * - provenance of a 10-event lot, 16 connections (autocannon), on the suite's log: the full API with its answers'
 *   cache; the same read routes with the cache (answers-process.ts, ANSWER_CACHE_MB=64) and without it (=0), on the
 *   API's data dir once it has stopped; and the bare node:http ceiling;
 * - a lot with 100,000 observations (posted through the API's ingest, 500 per request): its answer's and its shopper
 *   page's bytes, its answer's latency cached and uncached, and the page verified on the emulated phone
 *   (bench/lib/phone.ts, as scripts/bench-page.ts);
 * - the trace of a lot with 100,000 lots in the index and lineage depth 32, built straight into a store (as the
 *   market module does), cached and uncached, in process (app.inject).
 *
 *   npm run bench -- --only answers [--entries 20000 --scale 0.1 --duration 5]
 *
 * Scale shrinks the big lot's observations and the trace's lots; the small lot stays ten events.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import Fastify from "fastify";
import errorHandler from "../../ledger-api/src/http/error-handler.ts";
import { AnswerCache } from "../../ledger-api/src/query/answer-cache.ts";
import { queryRoutes } from "../../ledger-api/src/query/routes.ts";
import { SqliteStore } from "../../ledger-api/src/store/sqlite.ts";
import type { IndexedBatch, LineageEdge } from "../../ledger-api/src/store/store.ts";
import type { Provenance } from "../../ledger-api/src/protocol/answer.ts";
import { buildWebBundle } from "../../ledger-api/src/web/bundle.ts";
import { launchChromium } from "../../test/browser/harness.ts";
import type { EventSource } from "../lib/events.ts";
import { freePort, startAnswers } from "../lib/processes.ts";
import { measurePhone } from "../lib/phone.ts";
import type { BenchContext, BenchModule, Figure } from "../lib/types.ts";
import { timeGet } from "./market.ts";

const hex = (bytes: number): string => `0x${randomBytes(bytes).toString("hex")}`;
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** POSTs a body of signed events, retrying when the API sheds load (503 with Retry-After). */
async function post(url: string, body: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${url}/v1/events`, { method: "POST", headers: { "content-type": "application/json" }, body });
    if (res.status === 202) return;
    const text = await res.text();
    if (res.status !== 503 || attempt >= 60) throw new Error(`POST /v1/events: ${res.status} ${text.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, Math.min(5, Number(res.headers.get("retry-after") ?? 1)) * 1000));
  }
}

/** Waits until the lot's answer is on chain with every proof anchored: what the cache keeps. */
async function settled(url: string, path: string, timeoutMs = 600_000): Promise<Provenance> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/v1/batches/${encodeURIComponent(path)}/provenance`);
    if (res.status === 200) {
      const answer = (await res.json()) as Provenance;
      if (answer.batch.onChain && answer.timeline.every((t) => t.anchored)) return answer;
    }
    if (performance.now() > until) throw new Error(`${path} was not indexed and anchored within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** `lots` lots in chains of `depth` splits (each chain a root and its descendants), straight into the index. */
async function buildLineage(store: SqliteStore, lots: number, depth: number): Promise<{ deepest: string; root: string }> {
  const holder = hex(20);
  const batches: IndexedBatch[] = [];
  const lineage: LineageEdge[] = [];
  const base = { registrant: holder, custodian: holder, unit: "kg", offerTo: undefined, head: hex(32), createdTx: hex(32), imported: false, customsCleared: false, recalled: false } as const;
  let deepest = "";
  let root = "";
  for (let n = 0; n < lots; ) {
    let parent: string | undefined;
    for (let d = 0; d <= depth && n < lots; d++, n++) {
      const batchId = hex(32);
      batches.push({ ...base, batchId, gtin: "08801234000017", lot: `T-${n}`, quantity: BigInt(1000 - d), status: d < depth ? "split" : "active", ancestry: d, createdBlock: 2, updatedBlock: 3 });
      if (parent !== undefined) lineage.push({ parent, child: batchId, eventHash: hex(32), quantity: BigInt(1000 - d), blockNumber: 3 });
      if (d === 0 && root === "") root = batchId;
      if (d === depth && deepest === "") deepest = batchId;
      parent = batchId;
    }
  }
  await store.applyChainBatch({
    previous: undefined,
    cursor: { contracts: "31337:0x01:0x02", blockNumber: 10, blockHash: hex(32) },
    roleChanges: [],
    profiles: [{ account: holder, name: "Wholesaler", gln: 0n, country: "0x4b52", retail: false, blockNumber: 1 }],
    batches,
    lineage,
    events: [],
    nonces: [],
    anchors: [],
  });
  return { deepest, root };
}

async function traceFigures(ctx: BenchContext): Promise<Figure[]> {
  const lots = Math.max(1000, Math.round(100_000 * Math.min(1, ctx.scale)));
  const dir = await mkdtemp(path.join(tmpdir(), "ledger-bench-trace-"));
  const store = await SqliteStore.open(dir);
  try {
    ctx.note(`answers: building ${lots} lots in lineage chains of depth 32`);
    const { deepest, root } = await buildLineage(store, lots, 32);
    const appWith = async (cacheMb: number) => {
      const app = Fastify({ logger: false, routerOptions: { maxParamLength: 4096 } });
      await app.register(errorHandler);
      const deployments = { chainId: 31337, ledger: "0x0000000000000000000000000000000000000001", anchor: "0x0000000000000000000000000000000000000002" } as never;
      await app.register(queryRoutes, { store, deployments, publicBaseUrl: "http://127.0.0.1", publicRpcUrl: "http://127.0.0.1/rpc", cache: new AnswerCache(store, cacheMb * 2 ** 20) });
      return app;
    };
    const runs = 30;
    const cached = await appWith(64);
    const uncached = await appWith(0);
    const up = { with: await timeGet(cached, `/v1/batches/${deepest}/trace`, runs), without: await timeGet(uncached, `/v1/batches/${deepest}/trace`, runs) };
    const down = { with: await timeGet(cached, `/v1/batches/${root}/trace`, runs), without: await timeGet(uncached, `/v1/batches/${root}/trace`, runs) };
    await cached.close();
    await uncached.close();
    const figure = (id: string, what: string, t: typeof up): Figure => ({
      id,
      what: `${what} (${lots.toLocaleString("en")} lots in the index, in process)`,
      value: round(t.with.median, 2),
      unit: "ms median",
      baseline: { what: "uncached (ANSWER_CACHE_MB=0), same run", value: round(t.without.median, 2) },
      detail: { p95: round(t.with.p95, 2), uncachedP95: round(t.without.p95, 2), ratio: round(t.without.median / t.with.median, 1), bytes: t.with.bytes, runs },
    });
    return [
      figure("answers.trace.up", "GET /v1/batches/{id}/trace of the deepest lot: 32 ancestors", up),
      figure("answers.trace.down", "GET /v1/batches/{id}/trace of a root: 32 descendants", down),
    ];
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export const answers: BenchModule = {
  name: "answers",
  description: "provenance answers cached and uncached beside the bare ceiling, a lot with 100,000 observations (bytes, phone), traces at depth 32",
  async run(ctx: BenchContext): Promise<Figure[]> {
    const log = await ctx.log();
    const dir = await ctx.workDir();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // A fixed port, so the pages name a /rpc the phone can reach.
    const api = await ctx.startApi({ dataDir: dir, env: { PORT: String(port), PUBLIC_BASE_URL: base, ANCHOR_INTERVAL_MS: "2000" } });
    const small: EventSource = { ...log.source, lots: ["ANSWERS-SMALL"] };
    const big: EventSource = { ...log.source, lots: ["ANSWERS-BIG"] };
    const bigCount = Math.max(1000, Math.round(100_000 * Math.min(1, ctx.scale)));
    const figures: Figure[] = [];
    let phone: Awaited<ReturnType<typeof measurePhone>> | undefined;
    let bigBytes = { answer: 0, page: 0 };
    let bigAnswer = { cached: 0, uncached: 0 };
    const smallPath = `/01/${small.gtin}/10/ANSWERS-SMALL`;
    const bigPath = `/01/${big.gtin}/10/ANSWERS-BIG`;
    let cachedApi: Awaited<ReturnType<BenchContext["load"]>>;
    try {
      ctx.note(`answers: a 10-event lot and a lot of ${bigCount.toLocaleString("en")} observations, through the API`);
      await post(api.url, (await ctx.bodies.make(small, "registered", 1, 1))[0]!);
      await post(api.url, (await ctx.bodies.make(big, "registered", 1, 1))[0]!);
      await settled(api.url, bigPath);
      await post(api.url, (await ctx.bodies.make(small, "observed", 1, 9))[0]!);
      const bodies = await ctx.bodies.make(big, "observed", Math.ceil(bigCount / 500), 500);
      for (let i = 0; i < bodies.length; i += 4) await Promise.all(bodies.slice(i, i + 4).map((b) => post(api.url, b)));
      await settled(api.url, smallPath);
      const answer = await settled(api.url, bigPath);
      ctx.note(`answers: the big lot holds ${answer.observations.total} observations`);

      const res = await fetch(`${api.url}/v1/batches/${encodeURIComponent(bigPath)}/provenance`);
      const page = await fetch(`${api.url}${bigPath}?lang=ko`, { headers: { accept: "text/html" } });
      bigBytes = { answer: (await res.arrayBuffer()).byteLength, page: (await page.arrayBuffer()).byteLength };

      ctx.note("answers: provenance of the 10-event lot, full API with its cache, 16 connections");
      const url = `${api.url}/v1/batches/${encodeURIComponent(smallPath)}/provenance`;
      await ctx.load({ url, connections: 16, duration: 1 });
      cachedApi = await ctx.load({ url, connections: 16, duration: ctx.duration });

      ctx.note("answers: the 100,000-observation lot's page on the emulated phone");
      await buildWebBundle({ ifMissing: true });
      const browser = await launchChromium();
      try {
        phone = await measurePhone(browser, `${base}${bigPath}`, ctx.scale >= 1 ? 3 : 1);
      } finally {
        await browser.close();
      }
    } finally {
      await api.stop();
    }

    const measure = async (cacheMb: number) => {
      const served = await startAnswers(dir, cacheMb);
      try {
        const url = `${served.url}/v1/batches/${encodeURIComponent(smallPath)}/provenance`;
        await ctx.load({ url, connections: 16, duration: 1 });
        const small = await ctx.load({ url, connections: 16, duration: ctx.duration });
        const bigUrl = `${served.url}/v1/batches/${encodeURIComponent(bigPath)}/provenance`;
        const big = await ctx.load({ url: bigUrl, connections: 4, duration: Math.max(2, Math.round(ctx.duration / 2)) });
        return { small, big };
      } finally {
        await served.stop();
      }
    };
    ctx.note("answers: the same read routes with and without the cache, on the stopped API's data dir");
    const withCache = await measure(64);
    const without = await measure(0);
    bigAnswer = { cached: withCache.big.p50Ms, uncached: without.big.p50Ms };
    const bare = await ctx.startBare();
    const ceiling = await ctx.load({ url: bare.url, connections: 16, duration: ctx.duration });
    await bare.stop();

    figures.push(
      {
        id: "answers.provenance",
        what: `GET provenance of a 10-event lot, 16 connections, full API with its cache (${log.entries.toLocaleString("en")}-entry log)`,
        value: Math.round(cachedApi.perSecond),
        unit: "req/s",
        baseline: { what: "the same routes without the cache (ANSWER_CACHE_MB=0), same run", value: Math.round(without.small.perSecond) },
        goal: { text: ">= 3,000 req/s and p99 <= 10 ms", met: cachedApi.perSecond >= 3000 && cachedApi.p99Ms <= 10 },
        detail: {
          p50Ms: cachedApi.p50Ms,
          p99Ms: cachedApi.p99Ms,
          uncachedP50Ms: without.small.p50Ms,
          uncachedP99Ms: without.small.p99Ms,
          ratio: round(cachedApi.perSecond / Math.max(1, without.small.perSecond)),
          readRoutesCachedReqPerSec: Math.round(withCache.small.perSecond),
          ceilingRatio: round(cachedApi.perSecond / ceiling.perSecond, 2),
          failed: cachedApi.failed,
        },
      },
      {
        id: "answers.ceiling",
        what: "the same generator against a bare node:http server (GET, 16 connections)",
        value: Math.round(ceiling.perSecond),
        unit: "req/s",
        detail: { p50Ms: ceiling.p50Ms, p99Ms: ceiling.p99Ms },
      },
      {
        id: "answers.big.answer",
        what: `provenance answer of a lot with ${bigCount.toLocaleString("en")} observations`,
        value: round(bigBytes.answer / 1024),
        unit: "KB",
        goal: { text: "<= 100 KB", met: bigBytes.answer <= 100 * 1024 },
        detail: { p50MsCached: bigAnswer.cached, p50MsUncached: bigAnswer.uncached },
      },
      {
        id: "answers.big.page",
        what: `shopper page of a lot with ${bigCount.toLocaleString("en")} observations`,
        value: round(bigBytes.page / 1024),
        unit: "KB",
        goal: { text: "<= 150 KB", met: bigBytes.page <= 150 * 1024 },
      },
    );
    if (phone !== undefined) {
      figures.push({
        id: "answers.big.phone",
        what: `that page verified on the emulated phone (4x CPU, slow 4G), first visit`,
        value: Math.round(phone.first.verdictMs),
        unit: "ms to the verdict",
        goal: { text: "<= 3,000 ms, verified", met: phone.first.verdictMs <= 3000 && phone.verdicts.every((v) => v === "verified") },
        detail: {
          verdicts: phone.verdicts.join(","),
          fcpMs: Math.round(phone.first.fcpMs),
          transferKiB: round(phone.first.bytes / 1024),
          rpcRequests: phone.first.rpcRequests,
          repeatVerdictMs: Math.round(phone.repeat.verdictMs),
        },
      });
    }
    figures.push(...(await traceFigures(ctx)));
    return figures;
  },
};
