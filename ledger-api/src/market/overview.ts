/**
 * The market safety centre's answer (GET /v1/market, and the /market page drawn from it): one market, the stalls the
 * authority lists (members.ts), and what the records say about it:
 * - stalls and what each holds (counts here; the lots behind each count at /v1/market/stalls/{stall});
 * - supply: lots arriving at the market's stalls per day, by origin country and region, over the last SUPPLY_DAYS
 *   days with arrivals (`?days=` up to a year);
 * - lab tests per day (count, passed, failed, pass rate), the analytes that failed, and pre-harvest interval
 *   violations (a pesticide applied fewer days before the harvest than its `preHarvestIntervalDays`);
 * - imports with and without customs clearance (ledger-wide, and held in the market);
 * - every open recall with its reach (reach.ts): each affected lot, who holds it, since when, acknowledged or not.
 * Lab tests, interval violations and imports are counted ledger-wide: lots are tested, sprayed and cleared upstream,
 * before they are split into the lots a stall receives.
 *
 * Every figure names the records behind it: a link to the JSON list of its lots, to each lot's shopper page, its
 * provenance answer and the log entry a test or an interval violation comes from.
 *
 * Cost: the store's grouped reads (store/market-store.ts marketFigures) plus one reach per open recall; nothing is
 * read per lot or per stall beyond the stall profiles (scripts/bench-market.ts measures 500 stalls, 50,000 lots).
 */
import { Type, type Static } from "typebox";
import { Hex32 } from "../protocol/answer.ts";
import { linkOf } from "../query/batch-state.ts";
import type { ActorProfile, MarketFigures, MarketPesticideRow, MarketTestRow } from "../store/store.ts";
import { glnText, marketStalls, stallKey, type MarketScope } from "./members.ts";
import { openRecalls, ReachSummary, type MarketContext } from "./reach.ts";

/** Rows of each list (failed tests, violations) the overview carries; the charts count them all. */
const LIST_LIMIT = 100;
/** The charts span at most this many days, ending at the latest day with data. */
export const MAX_DAYS = 366;
/** Countries drawn as their own series; the rest are summed as "other". */
const MAX_COUNTRY_SERIES = 12;

const DAY_MS = 86_400_000;

function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

const Link = Type.String({ description: "a relative URL of the records behind the figure" });

export const MarketStall = Type.Object(
  {
    account: Type.String(),
    name: Type.String(),
    gln: Type.Union([Type.String(), Type.Null()]),
    key: Type.String({ description: "how the stall is named in URLs: its GLN, else its address" }),
    lots: Type.Integer({ description: "active lots it holds" }),
    imported: Type.Integer({ description: "of which imported" }),
    recalledLots: Type.Integer({ description: "of which under an open recall" }),
    awaitingAcknowledgement: Type.Integer({ description: "recalled lots it holds and has not acknowledged" }),
    links: Type.Object({ lots: Link, display: Link }),
  },
  { title: "MarketStall" },
);

const TestRowView = Type.Object({
  logIndex: Type.Integer(),
  batchId: Hex32,
  date: Type.String(),
  lab: Type.String(),
  failed: Type.Array(Type.Object({ name: Type.String(), value: Type.Number(), limit: Type.Number(), unit: Type.String() })),
  links: Type.Object({ entry: Link, provenance: Link }),
});

const ViolationView = Type.Object({
  logIndex: Type.Integer(),
  batchId: Hex32,
  date: Type.String({ description: "the application's date" }),
  substance: Type.String(),
  preHarvestIntervalDays: Type.Integer(),
  harvestDate: Type.Union([Type.String(), Type.Null()]),
  daysBeforeHarvest: Type.Union([Type.Integer(), Type.Null()]),
  links: Type.Object({ entry: Link, provenance: Link }),
});

export const MarketOverview = Type.Object(
  {
    market: Type.Object({
      name: Type.String(),
      stalls: Type.Integer(),
      lots: Type.Integer({ description: "active lots held by the market's stalls" }),
      scope: Type.Object({ glnPrefix: Type.Union([Type.String(), Type.Null()]), actors: Type.Array(Type.String()) }),
    }),
    stalls: Type.Array(MarketStall),
    supply: Type.Object({
      days: Type.Array(Type.String(), { description: "YYYY-MM-DD, every day of the span" }),
      countries: Type.Array(
        Type.Object({
          country: Type.String({ description: "ISO 3166-1 alpha-2, or \"other\"" }),
          lots: Type.Array(Type.Integer(), { description: "arrivals per day, aligned with `days`" }),
          total: Type.Integer(),
          link: Link,
        }),
      ),
      regions: Type.Array(Type.Object({ country: Type.String(), region: Type.String(), total: Type.Integer(), link: Link })),
    }),
    tests: Type.Object({
      days: Type.Array(Type.String()),
      tests: Type.Array(Type.Integer()),
      passed: Type.Array(Type.Integer()),
      failed: Type.Array(Type.Integer()),
      passRate: Type.Array(Type.Union([Type.Number(), Type.Null()]), { description: "percent passed per day, null on a day without tests" }),
      phiViolations: Type.Array(Type.Integer(), { description: "pre-harvest interval violations per day (by application date)" }),
      totals: Type.Object({ tests: Type.Integer(), passed: Type.Integer(), failed: Type.Integer(), phiViolations: Type.Integer() }),
      failedAnalytes: Type.Array(Type.Object({ name: Type.String(), tests: Type.Integer() })),
      latestFailed: Type.Array(TestRowView),
      latestViolations: Type.Array(ViolationView),
    }),
    imports: Type.Object({
      cleared: Type.Integer(),
      pending: Type.Integer(),
      clearedInMarket: Type.Integer(),
      pendingInMarket: Type.Integer(),
      links: Type.Object({ cleared: Link, pending: Link, clearedInMarket: Link, pendingInMarket: Link }),
    }),
    recalls: Type.Array(ReachSummary),
  },
  { title: "MarketOverview" },
);
export type MarketOverview = Static<typeof MarketOverview>;

export interface OverviewContext extends MarketContext {
  readonly scope: MarketScope;
  readonly marketName: string;
}

/** Days the supply chart spans by default, ending on the latest arrival (`?days=` asks for up to MAX_DAYS). */
export const SUPPLY_DAYS = 30;

/** Consecutive days from the first to the last of `days`, at most MAX_DAYS ending at the last. */
function span(days: Iterable<number>): number[] {
  const all = [...days];
  if (all.length === 0) return [];
  const last = Math.max(...all);
  const first = Math.max(Math.min(...all), last - MAX_DAYS + 1);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

function provenanceLink(batchId: string): string {
  return `/v1/batches/${batchId}/provenance`;
}

function testView(t: MarketTestRow): Static<typeof TestRowView> {
  return {
    logIndex: t.index,
    batchId: t.batchId,
    date: isoDay(t.day),
    lab: t.lab,
    failed: t.failed.map((a) => ({ ...a })),
    links: { entry: `/v1/log/entries/${t.index}`, provenance: provenanceLink(t.batchId) },
  };
}

function violationView(p: MarketPesticideRow): Static<typeof ViolationView> {
  return {
    logIndex: p.index,
    batchId: p.batchId,
    date: isoDay(p.day),
    substance: p.substance,
    preHarvestIntervalDays: p.preHarvestIntervalDays,
    harvestDate: p.harvestDate ?? null,
    daysBeforeHarvest: p.daysBeforeHarvest ?? null,
    links: { entry: `/v1/log/entries/${p.index}`, provenance: provenanceLink(p.batchId) },
  };
}

function supplyOf(figures: MarketFigures): MarketOverview["supply"] {
  const days = span(figures.supply.map((s) => s.day));
  const at = new Map(days.map((d, i) => [d, i]));
  const totals = new Map<string, number>();
  const regions = new Map<string, { country: string; region: string; total: number }>();
  for (const s of figures.supply) {
    totals.set(s.country, (totals.get(s.country) ?? 0) + s.lots);
    const key = `${s.country}\u0000${s.region}`;
    const r = regions.get(key) ?? { country: s.country, region: s.region, total: 0 };
    r.total += s.lots;
    regions.set(key, r);
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const own = new Set(ranked.slice(0, MAX_COUNTRY_SERIES).map(([c]) => c));
  const series = new Map<string, number[]>();
  for (const c of [...own, ...(ranked.length > MAX_COUNTRY_SERIES ? ["other"] : [])]) series.set(c, days.map(() => 0));
  for (const s of figures.supply) {
    const i = at.get(s.day);
    if (i === undefined) continue;
    const row = series.get(own.has(s.country) ? s.country : "other")!;
    row[i] = (row[i] ?? 0) + s.lots;
  }
  return {
    days: days.map(isoDay),
    countries: [...series.entries()].map(([country, lots]) => ({
      country,
      lots,
      total: lots.reduce((a, b) => a + b, 0),
      link: country === "other" ? "/v1/market/lots" : `/v1/market/lots?country=${country}`,
    })),
    regions: [...regions.values()]
      .sort((a, b) => b.total - a.total || a.country.localeCompare(b.country) || a.region.localeCompare(b.region))
      .map((r) => ({ ...r, link: `/v1/market/lots?country=${r.country}&region=${encodeURIComponent(r.region)}` })),
  };
}

function testsOf(figures: MarketFigures): MarketOverview["tests"] {
  const days = span([...figures.tests.map((t) => t.day), ...figures.violationsByDay.map((v) => v.day)]);
  const at = new Map(days.map((d, i) => [d, i]));
  const tests = days.map(() => 0);
  const passed = days.map(() => 0);
  const phi = days.map(() => 0);
  for (const t of figures.tests) {
    const i = at.get(t.day);
    if (i === undefined) continue;
    tests[i] = t.tests;
    passed[i] = t.passed;
  }
  for (const v of figures.violationsByDay) {
    const i = at.get(v.day);
    if (i !== undefined) phi[i] = v.violations;
  }
  const analytes = new Map<string, number>();
  for (const t of figures.failedTests) for (const name of new Set(t.failed.map((a) => a.name))) analytes.set(name, (analytes.get(name) ?? 0) + 1);
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  const allTests = sum(figures.tests.map((t) => t.tests));
  const allPassed = sum(figures.tests.map((t) => t.passed));
  return {
    days: days.map(isoDay),
    tests,
    passed,
    failed: tests.map((n, i) => n - (passed[i] ?? 0)),
    passRate: tests.map((n, i) => (n === 0 ? null : Math.round(((passed[i] ?? 0) / n) * 1000) / 10)),
    phiViolations: phi,
    totals: {
      tests: allTests,
      passed: allPassed,
      failed: allTests - allPassed,
      phiViolations: sum(figures.violationsByDay.map((v) => v.violations)),
    },
    failedAnalytes: [...analytes.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([name, n]) => ({ name, tests: n })),
    latestFailed: figures.failedTests.map(testView),
    latestViolations: figures.violations.map(violationView),
  };
}

function stallView(p: ActorProfile, figures: MarketFigures, recalled: ReadonlyMap<string, { lots: number; awaiting: number }>): Static<typeof MarketStall> {
  const held = figures.holdings.find((h) => h.account === p.account);
  const key = stallKey(p);
  const r = recalled.get(p.account);
  return {
    account: p.account,
    name: p.name,
    gln: glnText(p.gln),
    key,
    lots: held?.lots ?? 0,
    imported: held?.imported ?? 0,
    recalledLots: r?.lots ?? 0,
    awaitingAcknowledgement: r?.awaiting ?? 0,
    links: { lots: `/v1/market/stalls/${key}`, display: `/stalls/${key}/display` },
  };
}

export async function marketOverview(ctx: OverviewContext, supplyDays: number = SUPPLY_DAYS): Promise<MarketOverview> {
  await ctx.projection.catchUp();
  const stalls = await marketStalls(ctx.store, ctx.scope);
  const accounts = stalls.map((s) => s.account);
  const figures = await ctx.store.marketFigures(accounts, LIST_LIMIT, Math.min(MAX_DAYS, supplyDays));
  const recalls = await openRecalls(ctx, figures.recalled);
  // Recalled lots per stall, from the reaches: an active lot under any open recall counts once.
  const members = new Set(accounts);
  const perStall = new Map<string, { lots: number; awaiting: number }>();
  const seen = new Set<string>();
  for (const reach of recalls) {
    for (const lot of reach.lots) {
      const holder = lot.custodian.address.toLowerCase();
      if (!lot.mustAcknowledge || !members.has(holder) || seen.has(lot.batchId)) continue;
      seen.add(lot.batchId);
      const r = perStall.get(holder) ?? { lots: 0, awaiting: 0 };
      r.lots += 1;
      if (!lot.acknowledged) r.awaiting += 1;
      perStall.set(holder, r);
    }
  }
  // By name, numbers in names counted as numbers: "Stall 2" before "Stall 11".
  const byName = new Intl.Collator("en", { numeric: true }).compare;
  const stallViews = stalls.map((p) => stallView(p, figures, perStall)).sort((a, b) => byName(a.name, b.name) || a.account.localeCompare(b.account));
  return {
    market: {
      name: ctx.marketName,
      stalls: stalls.length,
      lots: figures.holdings.reduce((a, h) => a + h.lots, 0),
      scope: { glnPrefix: ctx.scope.glnPrefix ?? null, actors: [...ctx.scope.actors] },
    },
    stalls: stallViews,
    supply: supplyOf(figures),
    tests: testsOf(figures),
    imports: {
      ...figures.imports,
      links: {
        cleared: "/v1/market/lots?scope=all&customs=cleared",
        pending: "/v1/market/lots?scope=all&customs=pending",
        clearedInMarket: "/v1/market/lots?customs=cleared",
        pendingInMarket: "/v1/market/lots?customs=pending",
      },
    },
    recalls,
  };
}

/** A lot as the market's lists show it (GET /v1/market/stalls/{stall}, /v1/market/lots). */
export const MarketLot = Type.Object(
  {
    batchId: Hex32,
    gtin: Type.Union([Type.String(), Type.Null()]),
    lot: Type.Union([Type.String(), Type.Null()]),
    product: Type.Union([Type.String(), Type.Null()]),
    origin: Type.Union([
      Type.Object({ country: Type.String(), region: Type.String(), farm: Type.String(), harvestDate: Type.String() }),
      Type.Null(),
    ]),
    quantity: Type.Object({ value: Type.String(), unit: Type.String() }),
    custodian: Type.String(),
    imported: Type.Boolean(),
    customsCleared: Type.Boolean(),
    recalled: Type.Boolean({ description: "recalled itself (an inherited recall shows in the recall reach)" }),
    since: Type.Union([Type.String(), Type.Null()]),
    links: Type.Object({ page: Type.Union([Type.String(), Type.Null()]), provenance: Link, epcis: Link }),
  },
  { title: "MarketLot" },
);
export type MarketLot = Static<typeof MarketLot>;

export function marketLotView(publicBaseUrl: string, h: import("../store/store.ts").LotHolding): MarketLot {
  return {
    batchId: h.batchId,
    gtin: h.gtin ?? null,
    lot: h.lot ?? null,
    product: h.product ?? null,
    origin:
      h.country === undefined
        ? null
        : { country: h.country, region: h.region ?? "", farm: h.farm ?? "", harvestDate: h.harvestDate ?? "" },
    quantity: { value: h.quantity.toString(10), unit: h.unit },
    custodian: h.custodian,
    imported: h.imported,
    customsCleared: h.customsCleared,
    recalled: h.recalled,
    since: h.since === undefined ? null : new Date(h.since.at).toISOString(),
    links: {
      page: linkOf(publicBaseUrl, h.gtin, h.lot).link,
      provenance: provenanceLink(h.batchId),
      epcis: `/v1/batches/${h.batchId}/epcis`,
    },
  };
}
