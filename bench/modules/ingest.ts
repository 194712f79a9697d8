/**
 * Ingest at market scale (issue 9 item 1), against the 1M-entry log:
 * - Observed events, 500 per request, 4 in flight: events/s, beside the naive path (ethers hashing and recovery on
 *   the main thread, naive.ts) on the same log;
 * - one event per request, 32 in flight: requests/s and p99, beside the naive path and the bare node:http ceiling
 *   with the same generator;
 * - GET /v1/log/checkpoint, 16 connections, beside the ceiling;
 * - the API process's RSS with the 1M-entry log, after the runs above (and after building the log, when this run
 *   built it).
 * Beside each ingest rate, the CPU the API's threads spent per event (/proc: the event loop, the worker threads, the
 * garbage collector's helpers; kernel time included) and the rate that CPU would allow on this machine's cores with
 * nothing else running (cores x 1e6 / us per event): on a shared machine the measured rate is what the API got, the
 * CPU per event what it needs.
 * Every body carries fresh events (new nonces), signed before the timed runs.
 */
import { cpus } from "node:os";
import { failureDetail, type LoadResult } from "../lib/load.ts";
import { threadCpuMs } from "../lib/processes.ts";
import type { BenchContext, BenchModule, Figure } from "../lib/types.ts";

const BATCH = 500;

/** The API's CPU per event over a run: total and by kind of thread, in microseconds. */
function cpuPerEvent(before: Record<string, number>, after: Record<string, number>, events: number) {
  const us = (match: (name: string) => boolean) =>
    (Object.entries(after)
      .filter(([name]) => match(name) && !name.endsWith("(kernel)"))
      .reduce((sum, [name, ms]) => sum + ms - (before[name] ?? 0), 0) *
      1000) /
    Math.max(events, 1);
  const total = us(() => true);
  return {
    apiCpuUsPerEvent: total,
    cpuMainUs: us((n) => n === "MainThread"),
    cpuWorkersUs: us((n) => n.startsWith("WorkerThread")),
    cpuGcUs: us((n) => n.startsWith("V8")),
    cpuBoundPerSecond: total > 0 ? (cpus().length * 1e6) / total : 0,
  };
}

const failures = (run: LoadResult) => failureDetail(run.failures);

export const ingest: BenchModule = {
  name: "ingest",
  description: "POST /v1/events throughput and latency, checkpoint reads, API RSS, each beside its baseline",
  async run(ctx: BenchContext): Promise<Figure[]> {
    const log = await ctx.log();
    const s = ctx.scale;
    const n = (x: number) => Math.max(4, Math.round(x * s));
    ctx.note("signing the request bodies of the timed runs");
    const [fastBatch, naiveBatch, fastSingle, naiveSingle] = await Promise.all([
      ctx.bodies.makeMany(log.source, "observed", n(160), BATCH),
      ctx.bodies.makeMany(log.source, "observed", n(12), BATCH),
      ctx.bodies.makeMany(log.source, "observed", n(24_000), 1, 1000),
      ctx.bodies.makeMany(log.source, "observed", n(3_000), 1, 1000),
    ]);

    ctx.note("ingest workers: batches, single events, checkpoint");
    const api = await ctx.startApi({ dataDir: await ctx.workDir() });
    const url = `${api.url}/v1/events`;
    const cpu0 = threadCpuMs(api.pid);
    const batch = await ctx.load({ url, method: "POST", connections: 4, bodies: fastBatch });
    const cpu1 = threadCpuMs(api.pid);
    const single = await ctx.load({ url, method: "POST", connections: 32, bodies: fastSingle });
    const cpu2 = threadCpuMs(api.pid);
    const batchCpu = cpuPerEvent(cpu0, cpu1, fastBatch.length * BATCH);
    const singleCpu = cpuPerEvent(cpu1, cpu2, fastSingle.length);
    const checkpoint = await ctx.load({ url: `${api.url}/v1/log/checkpoint`, connections: 16, duration: ctx.duration });
    const rssMb = api.rssMb();
    await api.stop();

    ctx.note("naive path: batches, single events");
    const naive = await ctx.startApi({ dataDir: await ctx.workDir(), naive: true });
    const naiveUrl = `${naive.url}/v1/events`;
    const naiveBatchRun = await ctx.load({ url: naiveUrl, method: "POST", connections: 4, bodies: naiveBatch });
    const naiveSingleRun = await ctx.load({ url: naiveUrl, method: "POST", connections: 32, bodies: naiveSingle });
    await naive.stop();

    ctx.note("bare node:http ceiling");
    const bare = await ctx.startBare();
    const bareSingle = await ctx.load({ url: bare.url, method: "POST", connections: 32, body: fastSingle[0]!, duration: ctx.duration });
    const bareGet = await ctx.load({ url: bare.url, connections: 16, duration: ctx.duration });
    await bare.stop();

    const eventsPerSecond = (batch.ok * BATCH) / batch.seconds;
    const naiveEventsPerSecond = (naiveBatchRun.ok * BATCH) / naiveBatchRun.seconds;
    const figures: Figure[] = [
      {
        id: "ingest.batch",
        what: "POST /v1/events, Observed, 500 per request, 4 in flight",
        value: eventsPerSecond,
        unit: "events/s",
        baseline: { what: "naive path (ethers hash + recovery on the main thread)", value: naiveEventsPerSecond },
        goal: { text: ">= 10,000 events/s", met: eventsPerSecond >= 10_000 },
        detail: { p99Ms: batch.p99Ms, failed: batch.failed, baselineFailed: naiveBatchRun.failed, requests: batch.requests, ...failures(batch), ...batchCpu },
      },
      {
        id: "ingest.single",
        what: "POST /v1/events, one event per request, 32 in flight",
        value: single.perSecond,
        unit: "req/s",
        baseline: { what: "naive path", value: naiveSingleRun.perSecond },
        goal: { text: ">= 3,000 req/s, p99 <= 50 ms", met: single.perSecond >= 3000 && single.p99Ms <= 50 },
        detail: {
          p50Ms: single.p50Ms,
          p99Ms: single.p99Ms,
          baselineP99Ms: naiveSingleRun.p99Ms,
          baselineFailed: naiveSingleRun.failed,
          ceilingReqPerSec: bareSingle.perSecond,
          ceilingRatio: single.perSecond / bareSingle.perSecond,
          failed: single.failed,
          ...failures(single),
          ...singleCpu,
        },
      },
      {
        id: "ingest.ceiling",
        what: "the same generator against a bare node:http server (POST, 32 in flight)",
        value: bareSingle.perSecond,
        unit: "req/s",
        detail: { p99Ms: bareSingle.p99Ms },
      },
      {
        id: "log.checkpoint",
        what: "GET /v1/log/checkpoint, 16 connections",
        value: checkpoint.perSecond,
        unit: "req/s",
        baseline: { what: "bare node:http GET", value: bareGet.perSecond },
        goal: { text: "keep (4,539 req/s before)", met: checkpoint.perSecond >= 4539 },
        detail: { p99Ms: checkpoint.p99Ms, failed: checkpoint.failed, ...failures(checkpoint) },
      },
      {
        id: "api.rss",
        what: `API process RSS with the ${log.entries.toLocaleString("en")}-entry log, after the ingest runs`,
        value: rssMb,
        unit: "MB",
        goal: { text: "<= 400 MB", met: rssMb <= 400 },
        detail: log.build ? { afterBuildMb: log.build.rssMb, buildSeconds: log.build.seconds, buildEventsPerSecond: log.build.eventsPerSecond } : {},
      },
    ];
    return figures;
  },
};
