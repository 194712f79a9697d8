/**
 * The answer's observations (protocol/answer.ts Observations) against what can be checked:
 * - observations (per answer): the summary agrees with the newest observations the answer shows, each of which is
 *   verified as an entry: their number, every reading of theirs within its type's extremes and counted, and the
 *   newest of each type being the summary's `last`; each chart series stays within its type's extremes and count. The counts and extremes of the observations not shown are the
 *   server's word, and the detail says so: the page labels them "as the server counts them".
 * - observations (with every page read, checkObservationPages): the pages' entries fill every run of the answer's
 *   prevIndex chain exactly (each links to the next down to the shown entry the run starts after), so nothing was left
 *   out or added; and the summary is recounted from them and the shown ones: count, times, extremes and last reading
 *   per type, the total, and each chart series folded again from the recount (protocol/observation-series.ts). Each page entry is verified as an entry on its own (verify.ts verifyObservationPages).
 */
import type { ObservationPage, Provenance, TimelineEntry } from "../protocol/answer.ts";
import type { ObservedDoc } from "../protocol/documents.ts";
import { hoursOf, seriesOf } from "../protocol/observation-series.ts";
import { fail, ok, type Check } from "./check.ts";

interface Tally {
  readings: { at: number; value: number }[];
  count: number;
  first: number;
  last: number;
  min: number;
  max: number;
  lastValue: number;
  lastIndex: number;
}

function readingsOf(entry: TimelineEntry): { type: string; unit: string; value: number }[] {
  return (entry.document as ObservedDoc).readings ?? [];
}

function seconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

function shownObservations(answer: Provenance): TimelineEntry[] {
  return answer.timeline.filter((e) => e.kind === "Observed" && e.relation === "own").sort((a, b) => a.index - b.index);
}

export function checkObservationSummary(answer: Provenance): Check<"observations"> {
  const name = "observations";
  const o = answer.observations;
  const shown = shownObservations(answer);
  if (o.shown !== shown.length) return fail(name, `the answer says it shows ${o.shown} observations, its timeline has ${shown.length}`);
  if (o.total < shown.length) return fail(name, `the answer counts ${o.total} observations but shows ${shown.length}`);
  if ((o.total > shown.length) !== (o.next !== null)) {
    return fail(name, o.next === null ? `${o.total - shown.length} observations are not shown and no page leads to them` : "a page is offered but every observation is shown");
  }
  const byType = new Map(o.readings.map((r) => [`${r.type}\u0000${r.unit}`, r]));
  const seen = new Map<string, number>();
  const wrong: string[] = [];
  // Newest first: the first shown entry carrying a type is the newest of the lot that does (the shown ones are the newest).
  for (const entry of [...shown].reverse()) {
    for (const r of readingsOf(entry)) {
      const key = `${r.type}\u0000${r.unit}`;
      const s = byType.get(key);
      if (s === undefined) {
        if (o.types <= o.readings.length) wrong.push(`${r.type} (${r.unit}) of entry ${entry.index} is not in the summary`);
        continue;
      }
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      if (n > s.count) wrong.push(`${r.type} is counted ${s.count} times, the answer shows more`);
      if (r.value < s.min || r.value > s.max) wrong.push(`${r.type} ${r.value} of entry ${entry.index} is outside the summary's ${s.min}..${s.max}`);
      if (n === 1) {
        // An entry carrying a type twice: its last reading of it is the newest.
        const newest = readingsOf(entry).filter((x) => x.type === r.type && x.unit === r.unit).at(-1)?.value;
        if (s.last.index !== entry.index || s.last.value !== newest) {
          wrong.push(`the newest ${r.type} is entry ${entry.index}'s ${newest}, the summary says ${s.last.value} (entry ${s.last.index})`);
        }
      }
    }
  }
  for (const s of o.readings) {
    const drawn = s.series.reduce((n, p) => n + p.n, 0);
    if (drawn > s.count) wrong.push(`${s.type}'s chart draws ${drawn} readings, the summary counts ${s.count}`);
    if (s.series.some((p, i) => p.min < s.min || p.max > s.max || (i > 0 && p.t <= s.series[i - 1]!.t))) {
      wrong.push(`${s.type}'s chart leaves the summary's ${s.min}..${s.max} or is out of order`);
    }
  }
  const oldestShown = shown[0]?.index ?? Number.MAX_SAFE_INTEGER;
  for (const [key, s] of byType) {
    if (!seen.has(key) && s.last.index >= oldestShown) wrong.push(`the summary's newest ${s.type} is entry ${s.last.index}, which the answer does not show`);
  }
  if (wrong.length > 0) return fail(name, [...new Set(wrong)].join("; "));
  const hidden = o.total - shown.length;
  if (hidden === 0) return ok(name, `all ${o.total} observations are shown, each checked, and the summary agrees with them`);
  return ok(
    name,
    `the summary agrees with the ${shown.length} newest observations, each checked; the counts, times and extremes of the ` +
      `other ${hidden} are the server's word until every page is read`,
  );
}

/**
 * With every page read: the pages fill the answer's runs exactly, and recount its summary. `pages` are in the order
 * they were fetched (the cursor's); each page entry's own checks are verify.ts's.
 */
export function checkObservationPages(answer: Provenance, pages: readonly ObservationPage[]): Check<"observations"> {
  const name = "observations";
  const shown = shownObservations(answer);
  const paged = pages.flatMap((p) => p.entries);
  const byIndex = new Map<number, TimelineEntry>();
  for (const e of paged) {
    if (e.kind !== "Observed" || e.relation !== "own") return fail(name, `page entry ${e.index} is a ${e.kind}, not one of the lot's observations`);
    if (byIndex.has(e.index) || shown.some((s) => s.index === e.index)) return fail(name, `entry ${e.index} is in the pages twice`);
    byIndex.set(e.index, e);
  }
  // Each run: from its newest entry down the prevIndex links, through page entries only, to the shown entry it follows.
  const used = new Set<number>();
  for (const run of answer.observations.runs) {
    let at = run.newest;
    while (at > run.after) {
      const e = byIndex.get(at);
      if (e === undefined) return fail(name, `entry ${at} of the run down to ${run.after} is in no page: the pages leave out part of the history`);
      used.add(at);
      at = e.prevIndex;
    }
    if (at !== run.after) return fail(name, `the run from ${run.newest} ends at ${at}, not at the shown entry ${run.after}`);
  }
  const extra = paged.filter((e) => !used.has(e.index)).map((e) => e.index);
  if (extra.length > 0) return fail(name, `page entries ${extra.slice(0, 5).join(", ")} are in none of the answer's runs`);

  const all = [...paged, ...shown].sort((a, b) => a.index - b.index);
  const o = answer.observations;
  if (all.length !== o.total) return fail(name, `the pages and the answer hold ${all.length} observations, the answer counts ${o.total}`);
  const tallies = new Map<string, Tally>();
  for (const e of all) {
    const at = seconds(e.occurredAt);
    for (const r of readingsOf(e)) {
      const key = `${r.type}\u0000${r.unit}`;
      const t = tallies.get(key);
      if (t === undefined) tallies.set(key, { readings: [{ at, value: r.value }], count: 1, first: at, last: at, min: r.value, max: r.value, lastValue: r.value, lastIndex: e.index });
      else {
        t.readings.push({ at, value: r.value });
        t.count++;
        t.first = Math.min(t.first, at);
        t.last = Math.max(t.last, at);
        t.min = Math.min(t.min, r.value);
        t.max = Math.max(t.max, r.value);
        t.lastValue = r.value;
        t.lastIndex = e.index;
      }
    }
  }
  if (tallies.size !== o.types) return fail(name, `the observations carry ${tallies.size} reading types, the answer says ${o.types}`);
  const wrong: string[] = [];
  for (const s of o.readings) {
    const t = tallies.get(`${s.type}\u0000${s.unit}`);
    if (t === undefined) {
      wrong.push(`${s.type} (${s.unit}) is in no observation`);
      continue;
    }
    const shownAs = `${s.count} readings, ${s.min}..${s.max}, last ${s.last.value} (entry ${s.last.index})`;
    const counted = `${t.count} readings, ${t.min}..${t.max}, last ${t.lastValue} (entry ${t.lastIndex})`;
    if (shownAs !== counted) wrong.push(`${s.type}: the answer says ${shownAs}, the observations ${counted}`);
    const times = (iso: string | null) => (iso === null ? Number.NaN : seconds(iso));
    if (times(s.firstAt) !== t.first || times(s.lastAt) !== t.last) wrong.push(`${s.type}: the answer's first and last times are not the observations'`);
    // The chart, folded from the recount as the server folds the store's hours.
    if (s.series.length > 0 && JSON.stringify(seriesOf(hoursOf(t.readings))) !== JSON.stringify(s.series)) {
      wrong.push(`${s.type}: the chart is not what the observations draw`);
    }
  }
  if (wrong.length > 0) return fail(name, wrong.join("; "));
  return ok(name, `all ${o.total} observations read (${paged.length} from ${pages.length} pages), chained without a gap, and the summary recounted from them`);
}
