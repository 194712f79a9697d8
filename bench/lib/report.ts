/** bench/results.json and the Markdown table the README's Benchmarks section shows. */
import type { Figure } from "./types.ts";

export interface Results {
  readonly command: string;
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: {
    readonly cpus: number;
    readonly loadAverageAtStart: readonly number[];
    /** At the end. */
    readonly loadAverage: readonly number[];
    readonly node: string;
  };
  readonly entries: number;
  readonly figures: readonly Figure[];
}

function num(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value >= 100) return Math.round(value).toLocaleString("en");
  // Below 1 (a ratio, a median of microseconds), two significant digits rather than a rounded zero.
  return value !== 0 && Math.abs(value) < 1 ? String(Number(value.toPrecision(2))) : value.toFixed(1);
}

export function markdownTable(results: Results): string {
  const rows = results.figures.map((f) => {
    const ratio = f.baseline && f.baseline.value > 0 ? `${(f.value / f.baseline.value).toFixed(2)}x` : "";
    const baseline = f.baseline ? `${num(f.baseline.value)} (${f.baseline.what})` : "";
    const goal = f.goal ? `${f.goal.text}: ${f.goal.met ? "met" : "not met"}` : "";
    const detail = Object.entries(f.detail ?? {})
      .filter(([k]) => /Ms$|ceilingRatio|afterBuildMb|failed|failures|apiCpuUsPerEvent|cpuBoundPerSecond|transactions|savedVs/i.test(k))
      .map(([k, v]) => `${k} ${typeof v === "number" ? num(v) : v}`)
      .join(", ");
    return `| ${f.what} | ${num(f.value)} ${f.unit} | ${baseline} | ${ratio} | ${goal} | ${detail} |`;
  });
  return [
    "| figure | measured | baseline (same run) | ratio | goal | detail |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
