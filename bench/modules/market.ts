/**
 * The market safety centre at the size issue 11 names: 500 stalls holding 50,000 lots. The market is built straight
 * into a fresh SQLite store through the store's own write methods (`applyChainBatch` for the chain index: profiles,
 * batches, lineage, hand-off events; `indexMarket` for the market projection: origins and holders, arrivals, lab
 * tests, pesticide applications, acknowledgements), since signing and relaying 50,000 lots would measure ingest, not
 * the centre. Then the routes the centre is made of answer through the app's own plugins (`app.inject`, so response
 * schemas and serialisation are in the figure):
 * - GET /v1/market (every aggregate plus the reach of each open recall), beside GET /v1/log/checkpoint on the same
 *   store as the floor of any route;
 * - GET /market (the page, its tables and the charts' data);
 * - GET /v1/market/stalls/{stall} (one stall's 100 lots) and GET /v1/recalls/{lot}/reach (a recall reaching 40 lots).
 * Each figure is the median of the timed requests after warm-up, with p95 and max; the goal is the issue's < 100 ms.
 *
 *   npm run bench -- --only market [--scale 0.1]   (scale shrinks stalls and lots alike)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import Fastify, { type FastifyInstance } from "fastify";
import { randomBytes } from "node:crypto";
import { logRoutes } from "../../ledger-api/src/query/log-routes.ts";
import { MarketProjection } from "../../ledger-api/src/market/projection.ts";
import { marketRoutes } from "../../ledger-api/src/market/routes.ts";
import { StallWatch } from "../../ledger-api/src/market/watch.ts";
import { marketPages } from "../../ledger-api/src/web/market-routes.ts";
import errorHandler from "../../ledger-api/src/http/error-handler.ts";
import { SqliteStore } from "../../ledger-api/src/store/sqlite.ts";
import type { ActorProfile, IndexedBatch, LifecycleEventRow, LineageEdge, MarketArrivalRow, MarketLotRow, MarketPesticideRow, MarketTestRow } from "../../ledger-api/src/store/store.ts";
import type { BenchContext, BenchModule, Figure } from "../lib/types.ts";

const hex = (bytes: number): string => `0x${randomBytes(bytes).toString("hex")}`;
const DAY_MS = 86_400_000;
const ORIGINS = [
  ["KR", "Jeju-do"], ["KR", "Gyeonggi-do"], ["KR", "Jeollanam-do"], ["KR", "Gyeongsangbuk-do"], ["CN", "Shandong"],
  ["CN", "Yunnan"], ["AU", "New South Wales"], ["US", "California"], ["VN", "Lam Dong"], ["NZ", "Hawke's Bay"],
  ["CL", "O'Higgins"], ["TH", "Chiang Mai"], ["JP", "Aomori"], ["PH", "Davao"],
] as const;

export interface MarketSize {
  readonly stalls: number;
  readonly lotsPerStall: number;
  /** Upstream (farm) lots each split into the stall lots; recalls start here. */
  readonly farmLots: number;
  readonly recalls: number;
  readonly tests: number;
  readonly days: number;
}

/** Writes a market of `size` into `store`; returns a stall's key and a recalled farm lot. */
export async function buildMarket(store: SqliteStore, size: MarketSize): Promise<{ stall: string; recalled: string; glnPrefix: string }> {
  const glnPrefix = "880999";
  const now = Date.UTC(2026, 10, 30);
  const profiles: ActorProfile[] = [];
  for (let i = 0; i < size.stalls; i++) {
    const gln = `${glnPrefix}${String(i).padStart(6, "0")}0`;
    profiles.push({ account: hex(20), name: `Stall ${i + 1}`, gln: BigInt(gln), country: "0x4b52", retail: true, blockNumber: 1 });
  }
  const producer = hex(20);
  const farm: string[] = Array.from({ length: size.farmLots }, () => hex(32));
  const batches: IndexedBatch[] = [];
  const lineage: LineageEdge[] = [];
  const events: LifecycleEventRow[] = [];
  const lots: MarketLotRow[] = [];
  const arrivals: MarketArrivalRow[] = [];
  const base = { registrant: producer, quantity: 10n, unit: "kg", offerTo: undefined, head: hex(32), createdTx: hex(32), imported: false, customsCleared: false, recalled: false } as const;
  farm.forEach((batchId, f) => {
    batches.push({ ...base, batchId, gtin: "08801234000017", lot: `F-${f}`, custodian: producer, status: "split", ancestry: 0, createdBlock: 2, updatedBlock: 3, recalled: f < size.recalls, imported: f % 7 === 0, customsCleared: f % 7 === 0 });
  });
  let idx = 0;
  for (let s = 0; s < size.stalls; s++) {
    const stall = profiles[s]!.account;
    for (let l = 0; l < size.lotsPerStall; l++) {
      const n = s * size.lotsPerStall + l;
      const batchId = hex(32);
      const parent = farm[n % farm.length]!;
      const [country, region] = ORIGINS[n % ORIGINS.length]!;
      const imported = country !== "KR";
      const eventHash = hex(32);
      const at = now - ((n * 7919) % size.days) * DAY_MS;
      batches.push({ ...base, batchId, gtin: "08801234000017", lot: `S-${n}`, custodian: stall, status: "active", ancestry: 1, createdBlock: 4, updatedBlock: 5, imported, customsCleared: imported });
      lineage.push({ child: batchId, parent, eventHash: hex(32), quantity: 10n, blockNumber: 4 });
      events.push({ eventHash, kind: "HandOffAccepted", batchId, actor: stall, docHash: hex(32), head: hex(32), details: {}, nonce: 1n, txHash: hex(32), blockNumber: 5, blockHash: hex(32), logIndex: n });
      lots.push({ batchId, product: "Produce", country, region, farm: "Farm", harvestDate: "2026-11-01", imported, holder: stall, heldSince: at, heldEvent: eventHash });
      arrivals.push({ index: idx++, batchId, receiver: stall, day: Math.floor(at / DAY_MS), country, region });
    }
  }
  const tests: MarketTestRow[] = Array.from({ length: size.tests }, (_, i) => ({
    index: idx++,
    batchId: farm[i % farm.length]!,
    day: Math.floor((now - (i % size.days) * DAY_MS) / DAY_MS),
    passed: i % 23 !== 0,
    lab: "Lab",
    failed: i % 23 !== 0 ? [] : [{ name: i % 2 ? "Chlorpyrifos" : "Cadmium", value: 0.2, limit: 0.01, unit: "mg/kg" }],
  }));
  const pesticides: MarketPesticideRow[] = farm.map((batchId, i) => ({
    index: idx++,
    batchId,
    day: Math.floor((now - (i % size.days) * DAY_MS) / DAY_MS),
    substance: "Imidacloprid",
    preHarvestIntervalDays: 14,
    harvestDate: "2026-11-01",
    daysBeforeHarvest: i % 31 === 0 ? 5 : 20,
    violation: i % 31 === 0,
  }));
  // The farm lots' own rows, so their descendants' reach and the recalled sources have origins too.
  for (const batchId of farm) lots.push({ batchId, product: "Produce", country: "KR", region: "Jeju-do", farm: "Farm", harvestDate: "2026-11-01", imported: false, holder: producer, heldSince: now, heldEvent: hex(32) });
  profiles.push({ account: producer, name: "Producer", gln: 0n, country: "0x4b52", retail: false, blockNumber: 1 });
  await store.applyChainBatch({
    previous: undefined,
    cursor: { contracts: "31337:0x01:0x02", blockNumber: 10, blockHash: hex(32) },
    roleChanges: [],
    profiles,
    batches,
    lineage,
    events,
    nonces: [],
    anchors: [],
  });
  // The projection's rows arrive as the projection would write them; its cursor stays at the (empty) log's size.
  if (!(await store.indexMarket(0, 0, { lots, arrivals, tests, pesticides, acks: [] }))) throw new Error("market cursor moved");
  return { stall: `${glnPrefix}0000000`, recalled: farm[0]!, glnPrefix };
}

async function marketApp(store: SqliteStore, glnPrefix: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(errorHandler);
  const projection = new MarketProjection(store);
  const opts = {
    store,
    deployments: { chainId: 31337, ledger: "0x0000000000000000000000000000000000000001", anchor: "0x0000000000000000000000000000000000000002", deployBlock: 0 },
    publicBaseUrl: "http://127.0.0.1:8080",
    publicRpcUrl: "http://127.0.0.1:8080/rpc",
    scope: { glnPrefix, actors: [] },
    marketName: "Bench market",
    projection,
  };
  await app.register(logRoutes, { store });
  await app.register(marketRoutes, { ...opts, watch: new StallWatch({ store, projection, maxConnections: 10 }) });
  await app.register(marketPages, { ...opts, marketLang: undefined });
  await app.ready();
  return app;
}

export interface Timing {
  readonly median: number;
  readonly p95: number;
  readonly max: number;
  readonly bytes: number;
}

/** Times `runs` GETs of `url` after `warm` untimed ones; every answer must be 200. */
export async function timeGet(app: FastifyInstance, url: string, runs: number, warm = 3): Promise<Timing> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < warm + runs; i++) {
    const t0 = performance.now();
    const res = await app.inject({ method: "GET", url });
    const ms = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    bytes = res.rawPayload.length;
    if (i >= warm) times.push(ms);
  }
  times.sort((a, b) => a - b);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { median: at(0.5), p95: at(0.95), max: times.at(-1)!, bytes };
}

export const market: BenchModule = {
  name: "market",
  description: "the market safety centre and its lists for 500 stalls holding 50,000 lots (in-process, app.inject)",
  async run(ctx: BenchContext): Promise<Figure[]> {
    const s = Math.min(1, ctx.scale);
    const size: MarketSize = {
      stalls: Math.max(5, Math.round(500 * s)),
      lotsPerStall: 100,
      farmLots: Math.max(10, Math.round(1250 * s)),
      recalls: 3,
      tests: Math.max(50, Math.round(10_000 * s)),
      days: 90,
    };
    const dir = await mkdtemp(path.join(tmpdir(), "ledger-bench-market-"));
    const store = await SqliteStore.open(dir);
    try {
      ctx.note(`market: building ${size.stalls} stalls x ${size.lotsPerStall} lots, ${size.farmLots} farm lots, ${size.tests} tests`);
      const { stall, recalled, glnPrefix } = await buildMarket(store, size);
      const app = await marketApp(store, glnPrefix);
      const runs = Math.max(10, Math.round(40 * Math.max(s, 0.25)));
      const floor = await timeGet(app, "/v1/log/checkpoint", runs);
      const overview = await timeGet(app, "/v1/market", runs);
      const page = await timeGet(app, "/market", runs);
      const stallLots = await timeGet(app, `/v1/market/stalls/${stall}`, runs);
      const reach = await timeGet(app, `/v1/recalls/${recalled}/reach`, runs);
      await app.close();
      const lots = size.stalls * size.lotsPerStall;
      const figure = (id: string, what: string, t: Timing, baseline?: Timing): Figure => ({
        id,
        what: `${what} (${size.stalls} stalls, ${lots} lots)`,
        value: Math.round(t.median * 10) / 10,
        unit: "ms median",
        ...(baseline ? { baseline: { what: "GET /v1/log/checkpoint, same store", value: Math.round(baseline.median * 1000) / 1000 } } : {}),
        goal: { text: "< 100 ms", met: t.median < 100 },
        detail: { p95: Math.round(t.p95 * 10) / 10, max: Math.round(t.max * 10) / 10, bytes: t.bytes, runs },
      });
      return [
        figure("market.overview", "GET /v1/market", overview, floor),
        figure("market.page", "GET /market (HTML)", page, floor),
        figure("market.stall", "GET /v1/market/stalls/{stall}, 100 lots", stallLots, floor),
        figure("market.reach", `GET /v1/recalls/{lot}/reach, ${lots / size.farmLots} lots`, reach, floor),
      ];
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
