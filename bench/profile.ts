/**
 * `npm run bench:profile`: where the API's time and memory go under each ingest load, measured on the benchmark's
 * log (bench/lib/log.ts, built through the real ingest path and cached). One API process per load, so each profile
 * and each memory curve is that load's alone:
 *   - idle: the API started on the log, doing nothing but its chain workers;
 *   - batch: Observed events, 500 per request, 4 in flight (the ingest figure's load; --batch-connections changes it);
 *   - single: one event per request, 32 in flight;
 *   - checkpoint: GET /v1/log/checkpoint, 16 connections.
 * For each: throughput and latency (autocannon), RSS before and after, the CPU each kind of thread spent per event
 * (the threads' own counters in /proc: MainThread is the event loop, WorkerThread the ingest workers and the store's
 * log writer, V8Worker the garbage collector's helpers), and the main thread's heap and V8 heap spaces over time
 * (memory.jsonl). Optional:
 *   --cpu-prof   a V8 CPU profile of every thread (.cpuprofile files), the event loop's summarised here;
 *   --strace     every fsync / fdatasync with its duration and thread (strace -f -T), summarised per thread: the
 *                time SQLite's commits wait on the disk, and on which thread.
 *
 *   npm run bench:profile -- [--entries 20000] [--phases idle,batch,single,checkpoint] [--batches 60]
 *     [--singles 8000] [--batch-connections 4] [--cpu-prof] [--strace] [--out <dir>] [--cache-dir <dir>]
 *
 * Figures are not assertions: on a shared machine compare shares and CPU per event, not rates.
 */
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { summarizeProfile } from "./lib/cpuprofile.ts";
import { BodyFactory } from "./lib/events.ts";
import { load, type LoadResult } from "./lib/load.ts";
import { copyLog, ensureLog } from "./lib/log.ts";
import { startApi, threadCpuMs } from "./lib/processes.ts";

const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "20000" },
    phases: { type: "string", default: "idle,batch,single,checkpoint" },
    batches: { type: "string", default: "60" },
    singles: { type: "string", default: "8000" },
    "batch-connections": { type: "string", default: "4" },
    "cpu-prof": { type: "boolean", default: false },
    strace: { type: "boolean", default: false },
    out: { type: "string", default: path.join(tmpdir(), "ledger-profile") },
    "cache-dir": { type: "string" },
  },
});

const PHASES = ["idle", "batch", "single", "checkpoint"] as const;
type Phase = (typeof PHASES)[number];
const phases = values.phases.split(",").map((p) => p.trim()) as Phase[];
const unknown = phases.filter((p) => !PHASES.includes(p));
if (unknown.length > 0) {
  console.error(`unknown phase(s): ${unknown.join(", ")}; known: ${PHASES.join(", ")}`);
  process.exit(2);
}

/** fsync durations per thread from strace's output (`<tid> <time> fsync(<fd>) = 0 <seconds>`). */
async function fsyncsByThread(file: string, mainTid: number): Promise<Record<string, { count: number; totalMs: number; p50Ms: number; p99Ms: number; maxMs: number }>> {
  const byThread = new Map<string, number[]>();
  for (const line of (await readFile(file, "utf8")).split("\n")) {
    const m = /^(\d+)\s+\S+\s+f(?:data)?sync\(.*<([\d.]+)>$/.exec(line);
    if (m === null) continue;
    const who = Number(m[1]) === mainTid ? "main thread" : `thread ${m[1]}`;
    byThread.set(who, [...(byThread.get(who) ?? []), Number(m[2]) * 1000]);
  }
  const at = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return Object.fromEntries(
    [...byThread].map(([who, ms]) => {
      const sorted = ms.sort((a, b) => a - b);
      const round = (x: number) => Math.round(x * 100) / 100;
      return [who, { count: ms.length, totalMs: round(ms.reduce((a, b) => a + b, 0)), p50Ms: round(at(sorted, 0.5)), p99Ms: round(at(sorted, 0.99)), maxMs: round(at(sorted, 1)) }];
    }),
  );
}

const bodies = new BodyFactory(2);
const log = await ensureLog(Number(values.entries), bodies, values["cache-dir"]);
await mkdir(values.out, { recursive: true });
const report: Record<string, unknown> = { entries: log.entries, log: log.dir, build: log.build, loadAverageAtStart: loadavg() };
console.error(`[profile] log of ${log.entries.toLocaleString("en")} entries at ${log.dir}; output in ${values.out}`);

try {
  for (const phase of phases) {
    const dir = path.join(values.out, phase);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const eventsPerBody = phase === "batch" ? 500 : 1;
    const payload =
      phase === "batch"
        ? await bodies.makeMany(log.source, "observed", Number(values.batches), 500)
        : phase === "single"
          ? await bodies.makeMany(log.source, "observed", Number(values.singles), 1, 1000)
          : [];
    const api = await startApi({
      dataDir: await copyLog(log, path.join(dir, "data")),
      env: { BENCH_MEMORY_LOG: path.join(dir, "memory.jsonl"), BENCH_MEMORY_MS: "500", BENCH_ERROR_LOG: path.join(dir, "errors.log") },
      nodeArgs: values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [],
    });
    const rssReadyMb = api.rssMb();
    // Past start-up (the indexer re-reads the copy's chain), so the phase measures its load.
    await new Promise((r) => setTimeout(r, 5000));
    const tracer = values.strace
      ? spawn("strace", ["-f", "-T", "-tt", "-e", "trace=fsync,fdatasync", "-o", path.join(dir, "strace.txt"), "-p", String(api.pid)], { stdio: "ignore" })
      : undefined;
    if (tracer) await new Promise((r) => setTimeout(r, 1000));
    const rssBeforeMb = api.rssMb();
    const cpuBefore = threadCpuMs(api.pid);
    let result: LoadResult | undefined;
    if (phase === "batch" || phase === "single") {
      result = await load({ url: `${api.url}/v1/events`, method: "POST", connections: phase === "batch" ? Number(values["batch-connections"]) : 32, bodies: payload });
    } else if (phase === "checkpoint") {
      result = await load({ url: `${api.url}/v1/log/checkpoint`, connections: 16, duration: 10 });
    } else {
      await new Promise((r) => setTimeout(r, 10_000));
    }
    const cpuAfter = threadCpuMs(api.pid);
    const rssAfterMb = api.rssMb();
    if (tracer) {
      tracer.kill("SIGINT");
      await new Promise((r) => tracer.once("exit", r));
    }
    const events = payload.length * eventsPerBody;
    const cpuMs = Object.fromEntries(Object.entries(cpuAfter).map(([name, ms]) => [name, ms - (cpuBefore[name] ?? 0)]).filter(([, ms]) => (ms as number) > 0));
    const cpuUsPerEvent = events === 0 ? undefined : Object.fromEntries(Object.entries(cpuMs).map(([name, ms]) => [name, Math.round(((ms as number) * 1000) / events)]));
    await api.stop();
    const entry: Record<string, unknown> = {
      rssReadyMb,
      rssBeforeMb,
      rssAfterMb,
      ...(result ? { perSecond: result.perSecond, eventsPerSecond: (result.ok * eventsPerBody) / result.seconds, p50Ms: result.p50Ms, p99Ms: result.p99Ms, failures: result.failures } : {}),
      cpuMs,
      ...(cpuUsPerEvent ? { cpuUsPerEvent } : {}),
    };
    if (tracer) entry.fsyncs = await fsyncsByThread(path.join(dir, "strace.txt"), api.pid);
    if (values["cpu-prof"]) {
      // The event loop's profile is the first thread's (thread id 0 in the file name).
      const main = (await readdir(dir)).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
      if (main) entry.mainThreadProfile = summarizeProfile(path.join(dir, main), 15);
    }
    report[phase] = entry;
    console.error(`[profile] ${phase}: ${JSON.stringify({ ...entry, mainThreadProfile: undefined })}`);
    await rm(path.join(dir, "data"), { recursive: true, force: true });
  }
} finally {
  await bodies.close();
}
report.loadAverageAtEnd = loadavg();
await writeFile(path.join(values.out, "report.json"), JSON.stringify(report, null, 2) + "\n");
console.log(JSON.stringify(report, null, 2));
