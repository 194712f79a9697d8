/**
 * `npm run bench`: builds (or takes from the cache) a 1M-entry log through the real ingest path, runs every benchmark
 * module against it, writes bench/results.json and prints the Markdown table for the README.
 *
 *   npm run bench [-- --only ingest] [--entries 1000000] [--duration 10] [--scale 1] [--out bench/results.json]
 *
 * --scale shrinks every module's load (0.01 for a smoke run on a tiny log); --cache-dir moves the log cache.
 * Benchmarks are not tests: nothing here asserts a timing, the figures are reported beside their baselines.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BodyFactory } from "./lib/events.ts";
import { load } from "./lib/load.ts";
import { copyLog, ensureLog, type BenchLog } from "./lib/log.ts";
import { startApi, startBare } from "./lib/processes.ts";
import { markdownTable, type Results } from "./lib/report.ts";
import type { BenchContext, Figure } from "./lib/types.ts";
import { MODULES } from "./modules/index.ts";

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    entries: { type: "string", default: "1000000" },
    duration: { type: "string", default: "10" },
    scale: { type: "string", default: "1" },
    out: { type: "string", default: new URL("./results.json", import.meta.url).pathname },
    "cache-dir": { type: "string" },
  },
});

const entries = Number(values.entries);
const only = values.only?.split(",").map((s) => s.trim());
const unknown = only?.filter((name) => !MODULES.some((m) => m.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown module(s): ${unknown.join(", ")}; known: ${MODULES.map((m) => m.name).join(", ")}`);
  process.exit(2);
}
const modules = MODULES.filter((m) => only === undefined || only.includes(m.name));

const started = Date.now();
const loadAtStart = loadavg();
const scratch = await mkdtemp(path.join(tmpdir(), "ledger-bench-run-"));
const bodies = new BodyFactory(2);
let benchLog: Promise<BenchLog> | undefined;
let copies = 0;
const ctx: BenchContext = {
  log: () => (benchLog ??= ensureLog(entries, bodies, values["cache-dir"])),
  async workDir() {
    return copyLog(await ctx.log(), path.join(scratch, `copy-${copies++}`));
  },
  startApi,
  startBare,
  load,
  bodies,
  duration: Number(values.duration),
  scale: Number(values.scale),
  note: (message) => process.stderr.write(`[bench] ${message}\n`),
};

const figures: Figure[] = [];
try {
  for (const m of modules) {
    ctx.note(`${m.name}: ${m.description}`);
    figures.push(...(await m.run(ctx)));
  }
} finally {
  await bodies.close();
  await rm(scratch, { recursive: true, force: true });
}

const results: Results = {
  command: `npm run bench${process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""}`,
  startedAt: new Date(started).toISOString(),
  seconds: (Date.now() - started) / 1000,
  machine: { cpus: cpus().length, loadAverageAtStart: loadAtStart, loadAverage: loadavg(), node: process.version },
  entries: benchLog ? (await benchLog).entries : 0,
  figures,
};
await writeFile(values.out, JSON.stringify(results, null, 2) + "\n");
const loads = (l: readonly number[]) => l.map((x) => x.toFixed(1)).join(" ");
console.log(
  `\n${results.command}: ${results.seconds.toFixed(0)} s, ${results.machine.cpus} cores, ` +
    `load average ${loads(loadAtStart)} at the start, ${loads(results.machine.loadAverage)} at the end\n`,
);
console.log(markdownTable(results));
console.log(`\nwritten to ${values.out}`);
