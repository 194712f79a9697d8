/**
 * The benchmark's log: `entries` entries built through the real ingest path (signed Observed readings on 100
 * registered lots, POSTed 500 per request, 4 in flight, to the API process with its ingest workers and its store),
 * cached between runs in `<tmpdir>/ledger-bench/<code version>-<entries>`. The code version is a hash of the sources
 * that decide what is stored (ledger-api/src: store, log, protocol, ingest, chain), so a change there rebuilds it.
 * Servers never write to the cache: each gets a copy (BenchContext.workDir).
 */
import { createHash } from "node:crypto";
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request, Agent } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { LedgerClient } from "../../ledger-api/src/client/client.ts";
import { demoWallet } from "../../ledger-api/src/demo/load.ts";
import { SqliteStore } from "../../ledger-api/src/store/sqlite.ts";
import { demoActors } from "../../ledger-api/src/demo/story.ts";
import type { BodyFactory, EventSource } from "./events.ts";
import { startApi } from "./processes.ts";
import { Progress } from "./progress.ts";

export interface BenchLog {
  /** The cached data dir (read only: copy it before serving). */
  readonly dir: string;
  readonly entries: number;
  readonly source: EventSource;
  /** Set when this run built the log. */
  readonly build?: { readonly seconds: number; readonly eventsPerSecond: number; readonly rssMb: number };
}

const ROOT = new URL("../../", import.meta.url).pathname;
const VERSIONED = ["store", "log", "protocol", "ingest", "chain"].map((d) => path.join(ROOT, "ledger-api/src", d));
const LOTS = 100;
const GTIN = "08801234000017";

async function codeVersion(): Promise<string> {
  const hash = createHash("sha256");
  for (const dir of VERSIONED) {
    for (const name of (await readdir(dir)).sort()) {
      hash.update(name);
      hash.update(await readFile(path.join(dir, name)));
    }
  }
  return hash.digest("hex").slice(0, 16);
}

function postOnce(agent: Agent, url: string, body: string): Promise<{ status: number; text: string; retryAfter: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url + "/v1/events", { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, retryAfter: Number(res.headers["retry-after"] ?? 1) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** POSTs a body, retrying when the API sheds load (503 with Retry-After), as a well-behaved client does. */
async function post(agent: Agent, url: string, body: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const { status, text, retryAfter } = await postOnce(agent, url, body);
    if (status === 202) return;
    if (status !== 503 || attempt >= 60) throw new Error(`POST /v1/events ${status}: ${text.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, Math.max(0.2, Math.min(retryAfter, 5)) * 1000));
  }
}

async function sourceFor(url: string): Promise<EventSource> {
  const domain = await new LedgerClient(url).domain();
  const wallet = demoWallet(demoActors.cooperative.keyIndex);
  return {
    domain: { name: String(domain.name), version: String(domain.version), chainId: String(domain.chainId), verifyingContract: String(domain.verifyingContract) },
    signer: { address: wallet.address, privateKey: wallet.privateKey },
    gtin: GTIN,
    lots: Array.from({ length: LOTS }, (_, i) => `BENCH-${i}`),
  };
}

async function build(dir: string, entries: number, bodies: BodyFactory): Promise<BenchLog> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const api = await startApi({ dataDir: dir });
  try {
    const source = await sourceFor(api.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const started = performance.now();
    const [registered] = await bodies.make(source, "registered", 1, LOTS);
    await post(agent, api.url, registered!);
    const perBody = 500;
    const total = Math.ceil((entries - LOTS) / perBody);
    const progress = new Progress(`building a ${entries.toLocaleString("en")}-entry log`, entries);
    // Signing runs ahead of the POSTs by a few chunks; four requests in flight, as the ingest figure measures.
    const chunk = 8;
    const queue: Promise<string[]>[] = [];
    let made = 0;
    const refill = () => {
      while (queue.length < 4 && made < total) {
        const n = Math.min(chunk, total - made);
        queue.push(bodies.make(source, "observed", n, perBody));
        made += n;
      }
    };
    let logged = LOTS;
    refill();
    while (queue.length > 0) {
      const batch = await queue.shift()!;
      refill();
      let at = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (at < batch.length) {
            await post(agent, api.url, batch[at++]!);
            logged += perBody;
            progress.update(Math.min(logged, entries));
          }
        }),
      );
    }
    progress.done();
    const seconds = (performance.now() - started) / 1000;
    const rssMb = api.rssMb();
    agent.destroy();
    const log: BenchLog = { dir, entries, source, build: { seconds, eventsPerSecond: (logged - LOTS) / seconds, rssMb } };
    await api.stop();
    await writeFile(path.join(dir, "bench-log.json"), JSON.stringify({ entries, logged, source, build: log.build }, null, 2));
    return log;
  } catch (err) {
    await api.stop();
    throw err;
  }
}

/** The cached log of `entries` entries for this code version, built first if needed. */
export async function ensureLog(entries: number, bodies: BodyFactory, cacheRoot = path.join(tmpdir(), "ledger-bench")): Promise<BenchLog> {
  const dir = path.join(cacheRoot, `${await codeVersion()}-${entries}`);
  try {
    const saved = JSON.parse(await readFile(path.join(dir, "bench-log.json"), "utf8")) as { entries: number; source: EventSource };
    await stat(path.join(dir, "ledger.db"));
    return { dir, entries: saved.entries, source: saved.source };
  } catch {
    return build(dir, entries, bodies);
  }
}

/**
 * A writable copy of the log's data dir. Its chain index is reset (the log is kept): anvil reloaded from its state
 * file does not always give back the same block hashes, which the indexer rightly takes for a reorg and halts on
 * (local-chain.ts); with the index reset it re-reads the reloaded chain from the deployment block.
 */
export async function copyLog(log: BenchLog, to: string): Promise<string> {
  await rm(to, { recursive: true, force: true });
  await cp(log.dir, to, { recursive: true });
  const store = await SqliteStore.open(to);
  try {
    await store.resetIndex();
  } finally {
    await store.close();
  }
  return to;
}
