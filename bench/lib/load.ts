/** One load run with autocannon (never a loop of fetch): throughput, latency percentiles and what went wrong. */
import autocannon from "autocannon";

export interface LoadOptions {
  readonly url: string;
  readonly method?: "GET" | "POST";
  readonly connections: number;
  /** Request bodies, each sent once in order (POST); the run ends when they are used up. */
  readonly bodies?: readonly string[];
  /** One body sent on every request (the ceiling's generator). */
  readonly body?: string;
  /** Seconds, for runs without `bodies`. */
  readonly duration?: number;
}

export interface LoadResult {
  /** Requests sent, whatever their answer. */
  readonly requests: number;
  /** Of those, answered 2xx: what the throughput counts. */
  readonly ok: number;
  readonly seconds: number;
  /** 2xx answers per second: a refusal is not throughput. */
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses that were not 2xx, and connection errors / timeouts. */
  readonly failed: number;
  /** What failed: responses by status code (non-2xx only), connection errors, timeouts. */
  readonly failures: Readonly<Record<string, number>>;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const bodies = options.bodies;
  let next = 0;
  const started = performance.now();
  const result = await autocannon({
    url: options.url,
    method: options.method ?? "GET",
    connections: bodies ? Math.min(options.connections, bodies.length) : options.connections,
    pipelining: 1,
    timeout: 60,
    headers: { "content-type": "application/json" },
    ...(bodies
      ? {
          amount: bodies.length,
          requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
        }
      : { duration: options.duration ?? 10, ...(options.body ? { body: options.body } : {}) }),
  } as autocannon.Options);
  const seconds = (performance.now() - started) / 1000;
  const requests = result.requests.total;
  const ok = result["2xx"];
  return {
    requests,
    ok,
    seconds,
    perSecond: ok / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
    failures: failuresOf([result]),
  };
}

/** What failed across autocannon runs: non-2xx responses by status code, connection errors, timeouts. */
export function failuresOf(results: readonly autocannon.Result[]): Record<string, number> {
  const failures: Record<string, number> = {};
  const add = (what: string, n: number) => {
    if (n > 0) failures[what] = (failures[what] ?? 0) + n;
  };
  for (const result of results) {
    for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) if (!code.startsWith("2")) add(code, count ?? 0);
    add("errors", result.errors - result.timeouts);
    add("timeouts", result.timeouts);
  }
  return failures;
}

/** What failed, for a figure's detail, e.g. { failures: "500: 3, timeouts: 1" }, when anything did. */
export function failureDetail(failures: Readonly<Record<string, number>>): { failures?: string } {
  const parts = Object.entries(failures).map(([what, n]) => `${what}: ${n}`);
  return parts.length === 0 ? {} : { failures: parts.join(", ") };
}
