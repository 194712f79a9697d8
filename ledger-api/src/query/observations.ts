/**
 * A lot's observations at any volume: what the provenance answer says of them (protocol/answer.ts Observations) and
 * the cursor pages of the older ones (GET /v1/batches/{id}/observations).
 *
 * The answer carries the store's summary per reading type (counted by the store as each entry is appended, so it is
 * a recount of the log, not an estimate), a chart series per reading type drawn from the store's hourly figures, the
 * newest few observations in full, and `runs`: where the lot's prevIndex chain passes through observations it does
 * not show. A page is the lot's Observed entries at or before a cursor (a log index), newest first; following `next`
 * from the answer reaches every older observation exactly once, whatever is appended meanwhile (new ones are newer
 * than any cursor). Each page entry carries its own proof, to the earliest anchor covering the page's newest entry.
 */
import { ANSWER_LIMITS, type ObservationPage, type ObservationRun, type Observations, type ReadingSummary } from "../protocol/answer.ts";
import { seriesOf } from "../protocol/observation-series.ts";
import { Kind } from "../protocol/typed-data.ts";
import type { Store, StoredEntry } from "../store/store.ts";
import { actorCache, type QueryContext } from "./batch-state.ts";
import { timelineEntry } from "./timeline.ts";

function iso(seconds: number | undefined): string | null {
  return seconds === undefined ? null : new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

/**
 * Where the chain of the lot's shown entries (`own`, in log order) passes through entries it does not show: each
 * such gap must lead to an Observed entry of the lot newer than the shown entry before it (the store's lifecycle
 * reads leave out no other kind). A gap that does not is left out of the runs, so completeness reports it as a break.
 */
async function runsOf(store: Store, batchId: string, own: readonly StoredEntry[]): Promise<ObservationRun[]> {
  const runs: ObservationRun[] = [];
  for (let i = 0; i < own.length; i++) {
    const e = own[i] as StoredEntry;
    const after = i === 0 ? -1 : (own[i - 1] as StoredEntry).index;
    if (e.prevIndex === after || e.prevIndex <= after) continue;
    const linked = await store.entry(e.prevIndex);
    if (linked?.kind === Kind.Observed && linked.batchId === batchId.toLowerCase()) runs.push({ newest: e.prevIndex, after });
  }
  return runs;
}

/** What the answer says of the lot's observations; `next` is the newest observation not shown, if any. */
export async function observationsView(
  store: Store,
  batchId: string,
  own: readonly StoredEntry[],
  shown: number,
  next: StoredEntry | undefined,
): Promise<Observations> {
  const [summary, runs] = await Promise.all([store.observationSummary(batchId, ANSWER_LIMITS.readingTypes), runsOf(store, batchId, own)]);
  const readings: ReadingSummary[] = await Promise.all(
    summary.readings.map(async (r, i) => ({
      type: r.type,
      unit: r.unit,
      count: r.count,
      firstAt: iso(r.firstAt),
      lastAt: iso(r.lastAt),
      min: r.min,
      max: r.max,
      last: { value: r.lastValue, at: iso(r.lastValueAt), index: r.lastIndex },
      series: i < ANSWER_LIMITS.chartTypes ? seriesOf(await store.readingHours(batchId, r.type, r.unit, ANSWER_LIMITS.chartHours)) : [],
    })),
  );
  return {
    total: summary.entries,
    shown,
    readings,
    types: summary.types,
    next: next === undefined ? null : String(next.index),
    runs,
  };
}

/** What a page was built from, for the cache: settled once an anchor covers its newest entry. */
export interface BuiltPage {
  readonly page: ObservationPage;
  readonly settled: boolean;
}

/** The lot's Observed entries at or before log index `cursor`, newest first, at most `limit`. */
export async function observationPageOf(ctx: QueryContext, batchId: string, cursor: number, limit: number): Promise<BuiltPage> {
  const { store } = ctx;
  const rows = await store.observationsOfBatch(batchId, cursor, limit + 1);
  const entries = rows.slice(0, limit);
  const newest = entries[0];
  const covering = newest === undefined ? undefined : await store.firstAnchorCovering(newest.index);
  const anchor = covering ?? (await store.latestAnchor());
  const actorOf = actorCache(store);
  const none = new Map();
  return {
    page: {
      batchId: batchId.toLowerCase(),
      entries: await Promise.all(entries.map((e) => timelineEntry(ctx, e, "own", none, anchor, 0, actorOf))),
      next: rows[limit] === undefined ? null : String((rows[limit] as StoredEntry).index),
    },
    settled: newest === undefined || covering !== undefined,
  };
}
