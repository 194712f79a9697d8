/**
 * Overload: what `npm start`'s server does when far more work arrives than it can do. Starts the server as `npm start`
 * runs it (`hardhat build --quiet`, then `node ledger-api/src/main.ts`: local anvil, demo story, default limits, or
 * the limits in the environment) in a temp dir, then drives it with
 * autocannon (every connection sends its next request as soon as the previous one is answered; 10 s client timeout):
 *
 *   ingest-200    200 connections POSTing 100-event bodies (Observed events of a lot of their own, each signed once;
 *                 the server runs without the observation budget, OBSERVATIONS_PER_LOT_PER_DAY=0)
 *   ingest-1000   the same with 1,000 connections
 *   query-1000    1,000 connections GETting a demo lot's provenance, right after the ingest flood
 *
 * For each run: responses by status, latency of the accepted (2xx) and of the refused (503) answers, client timeouts
 * and errors, events acknowledged (202, not duplicates) against events the log gained (a difference means events
 * stored for a submitter who never saw the receipt), /healthz answered during the run (probed every 500 ms), and the
 * API process's peak RSS (sampled every 250 ms from /proc). To tell where a slow answer waited: what the server
 * counted (/metrics: responses by status and the time from reading each request to answering it), the listening
 * socket's accept queue (ss) and the kernel's count of connections dropped for a full one, and this process's own
 * event-loop delay (autocannon runs here: a client too busy to read its sockets makes answers look late).
 *
 *   node scripts/bench-overload.ts [--duration 60] [--runs ingest-200,ingest-1000,query-1000] [--bodies 3000]
 *
 * Bodies are signed before the runs (native libsecp256k1; the EIP-712 digest from the server's own derivation), one
 * pool shared by the ingest runs; a run that exhausts it says so, since repeated bodies are answered as duplicates.
 */
import autocannon from "autocannon";
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { concat, getBytes, hexlify, keccak256, TypedDataEncoder, type TypedDataDomain } from "ethers";
import { TYPES } from "../ledger-api/src/protocol/typed-data.ts";
import { signEvent } from "../ledger-api/src/client/client.ts";
import { demoWallets } from "../ledger-api/src/demo/load.ts";
import { demoBatches } from "../ledger-api/src/demo/story.ts";
import type { EventDoc, SignedEvent } from "../ledger-api/src/protocol/documents.ts";
import { deriveEvent } from "../ledger-api/src/protocol/typed-values.ts";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    runs: { type: "string", default: "ingest-200,ingest-1000,query-1000" },
    bodies: { type: "string", default: "3000" },
    events: { type: "string", default: "100" },
  },
});
const DURATION_S = Number(args.duration);
const RUNS = args.runs.split(",").map((r) => r.trim()).filter(Boolean);
const BODIES = Number(args.bodies);
const EVENTS_PER_BODY = Number(args.events);

interface NativeSigner {
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
}
const native = createRequire(import.meta.url)("secp256k1/bindings") as NativeSigner;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function ms(x: number): string {
  if (Number.isNaN(x)) return "-";
  return x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`;
}

/**
 * The kernel's count of connections it could not queue for accept() because a listening socket's backlog was full
 * (TcpExt ListenOverflows). It counts every listener of this network namespace: other processes' overflows show too.
 */
async function listenOverflows(): Promise<number> {
  const lines = (await readFile("/proc/net/netstat", "utf8").catch(() => "")).split("\n").filter((l) => l.startsWith("TcpExt:"));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf("ListenOverflows");
  return i < 0 ? NaN : Number(values[i]);
}

/** Connections waiting in the listening socket's accept queue (ss's Recv-Q for a listener), and its backlog (Send-Q). */
async function acceptQueue(port: number): Promise<{ queued: number; backlog: number }> {
  const out = await new Promise<string>((resolve) =>
    execFile("ss", ["-ltnH", `sport = :${port}`], (err, stdout) => resolve(err ? "" : stdout)),
  );
  // One line per listening socket (several share the port with SO_REUSEPORT): connections waiting in all of them.
  const lines = out.trim().split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/));
  const queued = lines.reduce((sum, [, recvQ]) => sum + Number(recvQ), 0);
  return { queued: lines.length === 0 ? NaN : queued, backlog: Number(lines[0]?.[2] ?? NaN) };
}

/** Server-side counts of one status: responses, and how many were sent within 0.1 s and 1 s of the request being read. */
interface ServerCount {
  readonly n: number;
  readonly within100ms: number;
  readonly within1s: number;
}

/**
 * What the server itself counted, from /metrics (ledger_http_request_duration_seconds): responses of the benchmarked
 * routes (every route but /healthz and /metrics) by status, with the time from reading each request to answering it.
 */
async function serverResponses(base: string): Promise<Map<string, ServerCount>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = new Map<string, ServerCount>();
  const add = (status: string, field: keyof ServerCount, value: number) => {
    const c = out.get(status) ?? { n: 0, within100ms: 0, within1s: 0 };
    out.set(status, { ...c, [field]: c[field] + value });
  };
  for (const line of text.split("\n")) {
    if (!line.startsWith("ledger_http_request_duration_seconds") || /route="\/(healthz|metrics)"/.test(line)) continue;
    const status = /status="(\d+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (status === undefined) continue;
    if (line.startsWith("ledger_http_request_duration_seconds_count")) add(status, "n", value);
    else if (line.includes('le="0.1"')) add(status, "within100ms", value);
    else if (line.includes('le="1"')) add(status, "within1s", value);
  }
  return out;
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function logSize(base: string): Promise<number> {
  return (await json<{ size: number }>(`${base}/v1/log/checkpoint`)).size;
}

/** `count` bodies of EVENTS_PER_BODY Observed events on `batch`, signed by `key` with fresh nonces. */
function signBodies(domain: TypedDataDomain, key: string, signer: string, batch: { gtin: string; lot: string }, count: number): string[] {
  const doc: EventDoc = { kind: "Observed", batch, occurredAt: "2026-11-20T08:00:00Z", readings: [{ type: "Temperature", value: 3.5, unit: "CEL" }] };
  const deadline = Math.floor(Date.now() / 1000) + 86_400;
  const encoder = TypedDataEncoder.from(TYPES[deriveEvent(doc, { nonce: "1", deadline }).kind] as Record<string, { name: string; type: string }[]>);
  const domainSeparator = TypedDataEncoder.hashDomain(domain);
  const privateKey = getBytes(key);
  const bodies: string[] = [];
  let nonce = BigInt(Date.now()) * 1_000_000n;
  for (let b = 0; b < count; b++) {
    const events: SignedEvent[] = [];
    for (let i = 0; i < EVENTS_PER_BODY; i++) {
      const n = String(nonce++);
      const { values } = deriveEvent(doc, { nonce: n, deadline });
      const digest = keccak256(concat(["0x1901", domainSeparator, encoder.hash(values as unknown as Record<string, unknown>)]));
      const { signature, recid } = native.ecdsaSign(getBytes(digest), privateKey);
      events.push({ doc, signer, nonce: n, deadline, signature: hexlify(signature) + (27 + recid).toString(16) });
    }
    bodies.push(JSON.stringify(events));
  }
  return bodies;
}

/** Signed bodies not yet stored: each is sent until the server takes it. Once used up, bodies repeat (duplicates). */
class BodyPool {
  private readonly fresh: string[];
  private readonly returned: string[] = [];
  private used = 0;
  exhausted = false;
  constructor(bodies: string[]) {
    this.fresh = bodies;
  }
  take(): string {
    const back = this.returned.pop();
    if (back !== undefined) return back;
    if (this.used >= this.fresh.length) this.exhausted = true;
    return this.fresh[this.used++ % this.fresh.length] as string;
  }
  giveBack(body: string): void {
    this.returned.push(body);
  }
}

interface RunResult {
  readonly name: string;
  readonly requests: number;
  readonly byStatus: Record<string, number>;
  readonly okLatency: { p50: number; p99: number };
  readonly refusedLatency: { p50: number; p99: number };
  readonly timeouts: number;
  readonly errors: number;
  readonly acknowledgedEvents: number;
  readonly storedEvents: number;
  readonly health: { probes: number; ok: number; p50: number; max: number };
  readonly peakRssMiB: number;
  readonly poolExhausted: boolean;
  /** Responses the server counted during the run, by status (/metrics; without the /healthz probes). */
  readonly serverByStatus: Record<string, ServerCount>;
  /** Most connections seen waiting in the listeners' accept queues, and the backlog of each. */
  readonly acceptQueue: { peak: number; backlog: number };
  /** Connections the kernel dropped for a full accept queue during the run (whole network namespace). */
  readonly listenOverflows: number;
  /** When the client timeouts happened, seconds into the run. */
  readonly timedOutAt: readonly number[];
  /** The server's longest event-loop stall seen during the run (its /metrics), ms. */
  readonly serverLoopMaxMs: number;
  /** This process's (the client's) event-loop delay during the run, ms. */
  readonly clientLoopDelay: { p99: number; max: number };
}

async function run(
  name: string,
  base: string,
  port: number,
  pid: number,
  connections: number,
  request: autocannon.Request,
  pool: BodyPool | undefined,
): Promise<RunResult> {
  const before = await logSize(base);
  const serverBefore = await serverResponses(base);
  const overflowsBefore = await listenOverflows();
  const latencies = new Map<number, number[]>();
  const clientLoop = monitorEventLoopDelay({ resolution: 10 });
  clientLoop.enable();
  // Receipts of events this run logged (a repeated body is answered 202 with its original receipts, marked duplicate).
  let freshReceipts = 0;
  let peakRss = await rssOf(pid);
  let peakQueued = 0;
  let backlog = NaN;
  let stop = false;
  const rssLoop = (async () => {
    while (!stop) {
      const [rss, queue] = await Promise.all([rssOf(pid), acceptQueue(port)]);
      peakRss = Math.max(peakRss, rss);
      if (queue.queued > peakQueued) peakQueued = queue.queued;
      if (!Number.isNaN(queue.backlog)) backlog = queue.backlog;
      await sleep(250);
    }
  })();
  const health: number[] = [];
  let serverLoopMax = 0;
  let healthOk = 0;
  let probes = 0;
  const healthLoop = (async () => {
    while (!stop) {
      const t0 = performance.now();
      probes++;
      try {
        const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.status === 200) healthOk++;
        health.push(performance.now() - t0);
        // The server's longest event-loop stall since the previous scrape (prom-client resets it on each one).
        const metrics = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
        const lag = Number(/^ledger_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1]);
        if (lag > serverLoopMax) serverLoopMax = lag;
      } catch {
        health.push(10_000);
      }
      await sleep(500);
    }
  })();

  let done!: (result: autocannon.Result) => void;
  let failed!: (err: Error) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => ((done = resolve), (failed = reject)));
  const instance = autocannon(
    {
      url: base,
      connections,
      duration: DURATION_S,
      timeout: 10,
      requests: [
        pool
          ? {
              ...request,
              // Each request takes an unused body; a refused one is not stored, so its body goes back for reuse.
              setupRequest: (req: autocannon.Request, context: object) => {
                const body = pool.take();
                (context as { body?: string }).body = body;
                return { ...req, body };
              },
              onResponse: (status: number, answer: string, context: object) => {
                const { body } = context as { body?: string };
                if (status !== 202 && body !== undefined) pool.giveBack(body);
                if (status === 202) {
                  try {
                    const { receipts = [] } = JSON.parse(answer) as { receipts?: { duplicate?: boolean }[] };
                    freshReceipts += receipts.filter((r) => r.duplicate === false).length;
                  } catch {
                    // Not a list of receipts: counted as none.
                  }
                }
              },
            }
          : request,
      ],
    },
    (err, result) => (err ? failed(err as Error) : done(result)),
  );
  // When in the run the client gave up on its requests (seconds since the start): at the start, or all along.
  const started = performance.now();
  const timedOutAt: number[] = [];
  instance.on("reqError", (err: Error) => {
    if (err.message === "request timed out") timedOutAt.push((performance.now() - started) / 1000);
  });
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    const list = latencies.get(statusCode) ?? [];
    list.push(responseTime);
    latencies.set(statusCode, list);
  });
  const result = await finished;
  clientLoop.disable();
  // Requests the client gave up on may still be committing: let them finish before counting what the log gained.
  await sleep(3000);
  stop = true;
  await Promise.all([rssLoop, healthLoop]);
  const after = await logSize(base);
  const overflows = (await listenOverflows()) - overflowsBefore;
  const serverAfter = await serverResponses(base);
  const serverByStatus = Object.fromEntries(
    [...serverAfter]
      .map(([s, c]) => {
        const b = serverBefore.get(s) ?? { n: 0, within100ms: 0, within1s: 0 };
        return [s, { n: c.n - b.n, within100ms: c.within100ms - b.within100ms, within1s: c.within1s - b.within1s }] as const;
      })
      .filter(([, c]) => c.n > 0),
  );

  const all = (pred: (s: number) => boolean) => [...latencies].filter(([s]) => pred(s)).flatMap(([, l]) => l).sort((a, b) => a - b);
  const ok = all((s) => s >= 200 && s < 300);
  const refused = all((s) => s === 503 || s === 429);
  const byStatus = Object.fromEntries([...latencies].map(([s, l]) => [String(s), l.length]));
  health.sort((a, b) => a - b);
  return {
    name,
    requests: result.requests.total,
    byStatus,
    okLatency: { p50: quantile(ok, 0.5), p99: quantile(ok, 0.99) },
    refusedLatency: { p50: quantile(refused, 0.5), p99: quantile(refused, 0.99) },
    timeouts: result.timeouts,
    errors: result.errors,
    acknowledgedEvents: freshReceipts,
    storedEvents: after - before,
    health: { probes, ok: healthOk, p50: quantile(health, 0.5), max: health.at(-1) ?? NaN },
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    poolExhausted: pool?.exhausted ?? false,
    serverByStatus,
    acceptQueue: { peak: peakQueued, backlog },
    listenOverflows: overflows,
    timedOutAt,
    serverLoopMaxMs: serverLoopMax * 1000,
    clientLoopDelay: { p99: clientLoop.percentile(99) / 1e6, max: clientLoop.max / 1e6 },
  };
}

function report(r: RunResult): void {
  const statuses = Object.entries(r.byStatus).map(([s, n]) => `${s}: ${n}`).join(", ");
  console.log(`\n${r.name} (${DURATION_S} s)`);
  console.log(`  responses ${statuses || "none"}; client timeouts ${r.timeouts}, errors ${r.errors}`);
  console.log(`  accepted latency p50 ${ms(r.okLatency.p50)}, p99 ${ms(r.okLatency.p99)}; refused latency p50 ${ms(r.refusedLatency.p50)}, p99 ${ms(r.refusedLatency.p99)}`);
  if (r.name.startsWith("ingest")) {
    // Requests still in progress when the run stops finish and commit after their client has left: at most the
    // ingest gate's events in flight.
    console.log(`  events logged with a receipt the client saw (202, not duplicates) ${r.acknowledgedEvents}, log grew by ${r.storedEvents}: ${r.storedEvents - r.acknowledgedEvents} logged without a receipt seen (in progress when the client stopped, or answered after its timeout)${r.poolExhausted ? "; body pool exhausted: later requests were duplicates" : ""}`);
  }
  const pct = (part: number, n: number) => `${Math.round((100 * part) / n)}%`;
  const server = Object.entries(r.serverByStatus)
    .map(([s, c]) => `${s}: ${c.n} (${pct(c.within100ms, c.n)} within 0.1 s, ${pct(c.within1s, c.n)} within 1 s)`)
    .join(", ");
  // Answers the client gave up on, or that arrived after the run, are counted here but not above.
  console.log(`  the server counted ${server || "nothing"}, each from reading its request to answering it`);
  console.log(
    `  accept queue: at most ${r.acceptQueue.peak} connections waiting (backlog ${r.acceptQueue.backlog}); ` +
      `connections dropped for a full accept queue: ${r.listenOverflows} (kernel counter, every listener of this namespace)`,
  );
  if (r.timedOutAt.length > 0) {
    const t = [...r.timedOutAt].sort((a, b) => a - b);
    console.log(`  client timeouts happened ${quantile(t, 0).toFixed(1)} to ${(t.at(-1) as number).toFixed(1)} s into the run (median ${quantile(t, 0.5).toFixed(1)} s)`);
  }
  console.log(`  the server's longest event-loop stall ${ms(r.serverLoopMaxMs)}`);
  console.log(`  the client's own event-loop delay: p99 ${ms(r.clientLoopDelay.p99)}, max ${ms(r.clientLoopDelay.max)}`);
  console.log(`  /healthz during the run: ${r.health.ok}/${r.health.probes} answered 200, p50 ${ms(r.health.p50)}, max ${ms(r.health.max)}`);
  console.log(`  API process peak RSS ${r.peakRssMiB} MiB`);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "ledger-overload-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let output = "";
  // As `npm start`: the contracts built (a coverage build left by `npm test` would not deploy), then the server.
  execFileSync(process.execPath, ["node_modules/.bin/hardhat", "build", "--quiet"], { stdio: "inherit" });
  const server = spawn(process.execPath, ["ledger-api/src/main.ts"], {
    env: {
      // The observation budget off, as in the other benchmarks: one signer observes one lot far beyond it, and what is
      // measured here is the shedding of load, not the budget (its 429s would stand in for the 503s).
      OBSERVATIONS_PER_LOT_PER_DAY: "0",
      ...process.env,
      DATA_DIR: dir,
      PORT: String(port),
      CHAIN_PORT: String(await freePort()),
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  server.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  try {
    const started = Date.now();
    while (!output.includes("Demo batches:")) {
      if (server.exitCode !== null) throw new Error(`the server exited ${server.exitCode}:\n${output}`);
      if (Date.now() - started > 180_000) throw new Error(`the server did not come up in 180 s:\n${output}`);
      await sleep(200);
    }
    const pid = server.pid as number;
    const demoLot = encodeURIComponent(`/01/${demoBatches.tangerines.gtin}/10/${demoBatches.tangerines.lot}`);
    // The demo lot answers once its Registered event is indexed.
    while ((await fetch(`${base}/v1/batches/${demoLot}/provenance`)).status !== 200) await sleep(500);

    // The ingest runs observe a lot of their own, so the query run's demo lot keeps its size.
    const { domain } = await json<{ domain: TypedDataDomain }>(`${base}/v1/chain`);
    const wallets = demoWallets();
    const batch = { gtin: demoBatches.tangerines.gtin, lot: `BENCH-${Date.now() % 1_000_000}` };
    const registered = await signEvent(wallets.cooperative, domain, {
      kind: "Registered",
      batch,
      occurredAt: "2026-11-19T08:00:00Z",
      product: "Jeju Hallabong tangerines",
      origin: { country: "KR", region: "Jeju-do", farm: { name: "Bench Orchard" } },
      harvestDate: "2026-11-18",
      quantity: { value: 1000, unit: "kg" },
      imported: false,
    });
    await json(`${base}/v1/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(registered) });

    const ingestRuns = RUNS.filter((r) => r.startsWith("ingest")).length;
    const t0 = performance.now();
    // The lot's custodian observes it (only a party to the lot may, ingest/ingestor.ts).
    const observer = wallets.cooperative;
    const bodies = ingestRuns === 0 ? [] : signBodies(domain, observer.privateKey, observer.address, batch, BODIES);
    console.log(`signed ${bodies.length} bodies of ${EVENTS_PER_BODY} events in ${ms(performance.now() - t0)}`);
    if (bodies.length > 0) {
      // One body through the front door first: the fast signing must produce what the server accepts.
      const probe = await fetch(`${base}/v1/events`, { method: "POST", headers: { "content-type": "application/json" }, body: bodies[0] });
      if (probe.status !== 202) throw new Error(`a signed body was refused: ${probe.status} ${await probe.text()}`);
    }
    const pool = new BodyPool(bodies.slice(1));

    console.log(`server pid ${pid}, ${base}; ${RUNS.join(", ")}; machine: ${(await readFile("/proc/loadavg", "utf8")).trim()} (load average)`);
    for (const name of RUNS) {
      const [kind, n] = name.split("-");
      const connections = Number(n);
      const result =
        kind === "ingest"
          ? await run(name, base, port, pid, connections, { method: "POST", path: "/v1/events", headers: { "content-type": "application/json" } }, pool)
          : await run(name, base, port, pid, connections, { method: "GET", path: `/v1/batches/${demoLot}/provenance` }, undefined);
      report(result);
    }
  } catch (err) {
    console.error(`server output:\n${output.slice(-4000)}`);
    throw err;
  } finally {
    if (server.exitCode === null) {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGINT");
      await Promise.race([exited, sleep(15_000)]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
