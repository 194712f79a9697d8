/**
 * How a reading type's hourly figures become the chart series of the provenance answer (protocol/answer.ts
 * ReadingSummary.series): the newest `chartHours` hours that have readings, folded into at most `chartPoints` spans
 * of equal whole hours, oldest first. The server folds the store's hours with it (query/observations.ts), and a
 * verifier that has read every observation folds its own recount with it (verify/observation-checks.ts), so the
 * chart can be checked exactly.
 */
import { ANSWER_LIMITS } from "./answer-limits.ts";
import type { ReadingPoint } from "./answer.ts";
import type { Static } from "typebox";

/** One hour (unix seconds / 3600) of one reading type: readings counted, lowest, highest, and their sum. */
export interface HourFigures {
  readonly hour: number;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
}

/** `hours` (oldest first, at most `chartHours`) folded into the answer's series. */
export function seriesOf(hours: readonly HourFigures[]): Static<typeof ReadingPoint>[] {
  const first = hours[0];
  const last = hours.at(-1);
  if (first === undefined || last === undefined) return [];
  const span = Math.max(1, Math.ceil((last.hour - first.hour + 1) / ANSWER_LIMITS.chartPoints));
  const points: { t: number; n: number; min: number; max: number; sum: number }[] = [];
  for (const h of hours) {
    const t = (first.hour + Math.floor((h.hour - first.hour) / span) * span) * 3600;
    const p = points.at(-1);
    if (p !== undefined && p.t === t) {
      p.n += h.count;
      p.min = Math.min(p.min, h.min);
      p.max = Math.max(p.max, h.max);
      p.sum += h.sum;
    } else points.push({ t, n: h.count, min: h.min, max: h.max, sum: h.sum });
  }
  return points.map(({ t, n, min, max, sum }) => ({ t, n, min, max, mean: sum / n }));
}

/**
 * The hourly figures of readings given in log order (as the store folds them), the newest `chartHours` hours,
 * oldest first.
 */
export function hoursOf(readings: readonly { readonly at: number; readonly value: number }[]): HourFigures[] {
  const byHour = new Map<number, { hour: number; count: number; min: number; max: number; sum: number }>();
  for (const r of readings) {
    const hour = Math.floor(r.at / 3600);
    const h = byHour.get(hour);
    if (h === undefined) byHour.set(hour, { hour, count: 1, min: r.value, max: r.value, sum: r.value });
    else {
      h.count++;
      h.min = Math.min(h.min, r.value);
      h.max = Math.max(h.max, r.value);
      h.sum += r.value;
    }
  }
  return [...byHour.values()].sort((a, b) => a.hour - b.hour).slice(-ANSWER_LIMITS.chartHours);
}
