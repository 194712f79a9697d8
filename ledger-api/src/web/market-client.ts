/// <reference lib="dom" />
/**
 * The safety centre's script (bundle.ts builds it, with uPlot, to web-dist/market.js): draws the two time series of
 * the overview the page was rendered from (embedded as JSON) with uPlot:
 * - supply: lots arriving at the market's stalls per day, one series per origin country;
 * - lab tests: tests, failed tests and pre-harvest interval violations per day, and the pass rate on its own axis.
 * Each chart's data is exactly the overview's arrays (x: the days as unix seconds). The instances are on
 * `window.marketCharts`, and each container's `data-chart-data` holds the JSON of the data its instance holds, so a
 * test can compare what is drawn with GET /v1/market.
 */
import uPlot from "uplot";
import type { MarketOverview } from "../market/overview.ts";
import type { MarketPageConfig } from "./market-page.ts";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#843c39"];

const config = JSON.parse(document.getElementById("market-config")?.textContent ?? "{}") as MarketPageConfig;
const overview = JSON.parse(document.getElementById("market-data")?.textContent ?? "null") as Pick<MarketOverview, "supply" | "tests">;

function seconds(days: readonly string[]): number[] {
  return days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
}

function container(name: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-chart="${name}"]`);
  if (!el) throw new Error(`the page has no ${name} chart`);
  return el;
}

function width(el: HTMLElement): number {
  return Math.max(320, Math.floor(el.getBoundingClientRect().width));
}

function draw(name: string, opts: Omit<uPlot.Options, "width">, data: uPlot.AlignedData): uPlot {
  const el = container(name);
  const chart = new uPlot({ ...opts, width: width(el) }, data, el);
  el.setAttribute("data-chart-data", JSON.stringify(chart.data));
  el.setAttribute("data-series", JSON.stringify(chart.series.slice(1).map((s) => s.label)));
  return chart;
}

function supplyChart(): uPlot {
  const { supply } = overview;
  const series: uPlot.Series[] = [
    {},
    ...supply.countries.map((c, i) => ({
      label: c.country === "other" ? config.labels.other : `${config.countries[c.country] ?? c.country} (${c.country})`,
      stroke: PALETTE[i % PALETTE.length],
      width: 2,
      points: { show: true },
    })),
  ];
  return draw(
    "supply",
    { height: 300, series, axes: [{}, { label: "lots / day" }], scales: { x: { time: true } } },
    [seconds(supply.days), ...supply.countries.map((c) => c.lots)],
  );
}

function testsChart(): uPlot {
  const { tests } = overview;
  const series: uPlot.Series[] = [
    {},
    { label: config.labels.tests, stroke: "#1f77b4", width: 2, points: { show: true } },
    { label: config.labels.failed, stroke: "#d62728", width: 2, points: { show: true } },
    { label: config.labels.phiViolations, stroke: "#ff7f0e", width: 2, dash: [6, 4], points: { show: true } },
    { label: config.labels.passRate, stroke: "#2ca02c", width: 1, scale: "%", points: { show: true } },
  ];
  return draw(
    "tests",
    {
      height: 300,
      series,
      scales: { x: { time: true }, "%": { range: [0, 100] } },
      axes: [{}, { label: "per day" }, { scale: "%", side: 1, label: "%", grid: { show: false } }],
    },
    [seconds(tests.days), tests.tests, tests.failed, tests.phiViolations, tests.passRate],
  );
}

if (overview !== null) {
  const charts = { supply: supplyChart(), tests: testsChart() };
  (window as unknown as { marketCharts: typeof charts }).marketCharts = charts;
  document.body.setAttribute("data-charts", "ready");
}
