/**
 * Service configuration, read from the environment once at start-up and validated there, so a misconfiguration
 * fails loudly before the first request (never halfway through one). Every variable is documented in the README.
 */
import { availableParallelism } from "node:os";
import path from "node:path";
import type { AdmissionLimits } from "./http/admission.ts";

export interface Config {
  /** Where the store (ledger.db, unless databaseUrl is set) and the local chain's state live. */
  readonly dataDir: string;
  /** A PostgreSQL database (postgres://...) several API instances share; unset: SQLite in dataDir. */
  readonly databaseUrl: string | undefined;
  /**
   * With PostgreSQL: how long the leader lease lasts without renewal. A leader that stopped renewing (frozen, cut
   * off) is replaced after at most this plus a third of it; one whose process died, within a third of it.
   */
  readonly leaderLeaseMs: number;
  readonly host: string;
  readonly port: number;
  /**
   * Connections the kernel holds for the API before it accepts them (listen(2)'s backlog; the kernel caps it at
   * net.core.somaxconn). A connection that finds it full is dropped and its client retries only after 1, 3, 7 s:
   * a burst of new connections beyond it meets client timeouts instead of the admission gates' quick 503s.
   */
  readonly listenBacklog: number;
  /** Listening sockets sharing the port (SO_REUSEPORT, Linux): each accepts one connection per event-loop turn. */
  readonly listenSockets: number;
  /** The base of every QR code: `{publicBaseUrl}/01/{gtin}/10/{lot}`. Must be reachable by shoppers' phones. */
  readonly publicBaseUrl: string;
  /** EVM JSON-RPC endpoint; unset means `npm start` runs a local chain. */
  readonly rpcUrl: string | undefined;
  /**
   * The RPC endpoint shoppers' browsers verify against (the shopper page reads the chain itself, not our word). It
   * should be a node the shopper can trust and reach, e.g. the market authority's public read-only RPC.
   */
  readonly publicRpcUrl: string;
  /** JSON file with the deployed contract addresses (written by scripts/deploy.ts). */
  readonly deploymentsFile: string;
  /** Private keys of the relayer (pays gas for lifecycle events) and the anchorer (commits log roots). */
  readonly relayerKey: string | undefined;
  readonly anchorerKey: string | undefined;
  /** Anchor after this many new entries ... */
  readonly anchorEvery: number;
  /** ... or this many milliseconds after the oldest unanchored entry, whichever comes first. */
  readonly anchorIntervalMs: number;
  /** Blocks on top of a transaction's block before it counts as final; reorgs deeper than this are not handled. */
  readonly confirmations: number;
  /** Largest request body accepted, in bytes. */
  readonly bodyLimit: number;
  /** Most events accepted in one POST /v1/events. */
  readonly maxEventsPerRequest: number;
  /** Ingest worker threads (parsing, schema, hashing, signature recovery); 0 runs that work on the main thread. */
  readonly ingestWorkers: number;
  /** Chain reads each client address may make through POST /rpc per minute; 0 for no limit. */
  readonly rpcCallsPerMinute: number;
  /** Reverse proxies in front of the API whose X-Forwarded-For is believed (0: the peer's address is the client's). */
  readonly trustProxyHops: number;
  /** A relayed or anchoring transaction still pending this long is replaced at higher fees; 0 never. */
  readonly feeBumpAfterMs: number;
  /** Local mode: the port of the local anvil chain. */
  readonly chainPort: number;
  /** Local mode: least time between two snapshots of the chain (a block counts final once one holds it). */
  readonly chainSnapshotMs: number;
  /** The relay counts as stuck (/healthz 503) when events wait and nothing was relayed for this long. */
  readonly relayStuckAfterMs: number;
  /** Most lifecycle events the relay sends in one transaction (relayGroup); 1 sends each as its own call. */
  readonly relayGroupSize: number;
  /** Most Observed events one signer may record about one lot in any 24 hours; 0 for no limit. */
  readonly observationsPerLotPerDay: number;
  /** A request's headers and body must arrive within this; then the connection is closed (408). */
  readonly requestTimeoutMs: number;
  /** A request's headers must arrive within this (at most requestTimeoutMs). */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** The market the safety centre (/market) covers: see `MarketConfig`. */
  readonly market: MarketConfig;
  /** Bytes the answers' cache (query/answer-cache.ts) may hold: provenance answers, shopper pages, traces, pages. */
  readonly answerCacheBytes: number;
  /** Load shedding: bounded admission and process pressure limits (http/admission.ts). */
  readonly admission: AdmissionLimits;
}

/**
 * One market: the retail actors whose GLN starts with `glnPrefix` or whose address is in `actors` (with neither,
 * every retail actor), its name on the safety centre, the language its stall displays fall back to, and how many
 * displays one instance streams to.
 */
export interface MarketConfig {
  readonly name: string;
  readonly glnPrefix: string | undefined;
  /** Lower-case addresses. */
  readonly actors: readonly string[];
  /** ko, zh or en; undefined: a display follows its browser's Accept-Language. */
  readonly lang: "ko" | "zh" | "en" | undefined;
  readonly maxDisplays: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

function key(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!/^0x[0-9a-fA-F]{64}$/.test(raw)) throw new ConfigError(`${name} must be a 0x-prefixed 32-byte hex private key`);
  return raw;
}

function databaseUrl(env: Env): string | undefined {
  const raw = env.DATABASE_URL;
  if (raw === undefined || raw === "") return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL, got "${raw.replace(/:[^:@/]*@/, ":***@")}"`);
  }
  if (!["postgres:", "postgresql:"].includes(parsed.protocol)) {
    throw new ConfigError(`DATABASE_URL must be a postgres:// or postgresql:// URL, got a ${parsed.protocol} one`);
  }
  return raw;
}

function url(env: Env, name: string, fallback: string | undefined): string | undefined {
  const raw = env[name] || fallback;
  if (raw === undefined) return undefined;
  try {
    const parsed = new URL(raw);
    if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) throw new Error("protocol");
  } catch {
    throw new ConfigError(`${name} must be an http(s) or ws(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
}

function marketConfig(env: Env): MarketConfig {
  const prefix = env.MARKET_GLN_PREFIX || undefined;
  if (prefix !== undefined && !/^[0-9]{1,13}$/.test(prefix)) {
    throw new ConfigError(`MARKET_GLN_PREFIX must be 1 to 13 digits (the start of the market's stalls' GLNs), got "${prefix}"`);
  }
  const actors = (env.MARKET_ACTORS ?? "")
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  for (const a of actors) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(a)) throw new ConfigError(`MARKET_ACTORS must be comma-separated 0x addresses, got "${a}"`);
  }
  const lang = env.MARKET_LANG || undefined;
  if (lang !== undefined && lang !== "ko" && lang !== "zh" && lang !== "en") {
    throw new ConfigError(`MARKET_LANG must be ko, zh or en, got "${lang}"`);
  }
  const name = env.MARKET_NAME || "Market";
  if (name.length > 120) throw new ConfigError("MARKET_NAME must be at most 120 characters");
  return {
    name,
    glnPrefix: prefix,
    actors: [...new Set(actors.map((a) => a.toLowerCase()))],
    lang,
    maxDisplays: int(env, "MARKET_DISPLAYS_MAX", 1000, 1, 100_000),
  };
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const dataDir = path.resolve(cwd, env.DATA_DIR || "data");
  const host = env.HOST || "127.0.0.1";
  const port = int(env, "PORT", 8080, 0, 65535);
  const publicBaseUrl = url(env, "PUBLIC_BASE_URL", `http://${host}:${port}`) as string;
  // 30 s carries BODY_LIMIT's megabyte over a slow mobile link; a client that promises more than it sends is cut off.
  const requestTimeoutMs = int(env, "REQUEST_TIMEOUT_MS", 30_000, 1);
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeoutMs = int(env, "HEADERS_TIMEOUT_MS", Math.min(10_000, requestTimeoutMs), 1, requestTimeoutMs);
  return {
    dataDir,
    databaseUrl: databaseUrl(env),
    leaderLeaseMs: int(env, "LEADER_LEASE_MS", 6000, 300, 600_000),
    host,
    port,
    listenBacklog: int(env, "LISTEN_BACKLOG", 4096, 1, 65_535),
    listenSockets: int(env, "LISTEN_SOCKETS", 8, 1, 64),
    publicBaseUrl,
    rpcUrl: url(env, "RPC_URL", undefined),
    // Default: this server's read-only /rpc, reachable wherever the pages are (chain/public-rpc.ts).
    publicRpcUrl: url(env, "PUBLIC_RPC_URL", `${publicBaseUrl}/rpc`) as string,
    deploymentsFile: path.resolve(cwd, env.DEPLOYMENTS_FILE || path.join(dataDir, "deployments.json")),
    relayerKey: key(env, "RELAYER_KEY"),
    anchorerKey: key(env, "ANCHORER_KEY"),
    anchorEvery: int(env, "ANCHOR_EVERY", 256, 1),
    anchorIntervalMs: int(env, "ANCHOR_INTERVAL_MS", 10_000, 100),
    confirmations: int(env, "CONFIRMATIONS", 1, 0, 256),
    bodyLimit: int(env, "BODY_LIMIT", 1_048_576, 1024),
    maxEventsPerRequest: int(env, "MAX_EVENTS_PER_REQUEST", 500, 1, 10_000),
    ingestWorkers: int(env, "INGEST_WORKERS", availableParallelism(), 0, 64),
    rpcCallsPerMinute: int(env, "RPC_CALLS_PER_MINUTE", 6000, 0),
    trustProxyHops: int(env, "TRUST_PROXY_HOPS", 0, 0, 10),
    feeBumpAfterMs: int(env, "FEE_BUMP_AFTER_MS", 60_000, 0),
    chainPort: int(env, "CHAIN_PORT", 8545, 1, 65535),
    chainSnapshotMs: int(env, "CHAIN_SNAPSHOT_MS", 250, 0, 600_000),
    relayStuckAfterMs: int(env, "RELAY_STUCK_AFTER_MS", 120_000, 1000),
    relayGroupSize: int(env, "RELAY_GROUP_SIZE", 50, 1, 500),
    // A cold-chain logger reading every minute (1,440 a day) plus a smart scale weighing up to once a minute (1,440),
    // with room to spare; a lot's page stays readable however many parties observe it.
    observationsPerLotPerDay: int(env, "OBSERVATIONS_PER_LOT_PER_DAY", 3000, 0),
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: int(env, "KEEP_ALIVE_TIMEOUT_MS", 72_000, 1),
    market: marketConfig(env),
    // A 10-event lot's answer is about 30 KB and its page 40 KB: 64 MB holds about a thousand hot lots in each form.
    answerCacheBytes: int(env, "ANSWER_CACHE_MB", 64, 0, 65_536) * MiB,
    admission: admissionLimits(env),
  };
}

const MiB = 2 ** 20;

/**
 * Defaults sized for a 2-core machine. Ingest: a request passes three stages one after another (parsed, checked and
 * recovered on an ingest worker, judged on the event loop, appended on the log writer thread), so uploads in progress
 * must hold a few requests for the stages to overlap: 768 KiB holds three requests of 500 Observed events (250 KB
 * each), one per stage. With a quarter megabyte, one such request at a time went through the three stages alone:
 * 500-event batches came in at 4,273 events/s against 5,971 with a megabyte (`npm run bench:profile -- --phases
 * batch`, 20,000-entry log); on the 1,000,000-entry log (`npm run bench -- --only ingest`) 768 KiB gave what a
 * megabyte gave (5,312 and 5,313 events/s) for less memory (RSS after the runs 388 MB against 394). A larger body
 * runs alone. Queries are synchronous SQLite reads on the event loop, so more in flight adds no parallelism: two
 * slots and a queue that drains well within the wait limit keep the answers coming while the loop still reads (and
 * refuses) every other request.
 */
function admissionLimits(env: Env): AdmissionLimits {
  return {
    ingestBytesInFlight: int(env, "INGEST_BYTES_IN_FLIGHT", 768 * 1024, 1024),
    ingestQueue: int(env, "INGEST_QUEUE", 16, 0, 100_000),
    queriesInFlight: int(env, "QUERIES_IN_FLIGHT", 2, 1, 1000),
    queriesQueue: int(env, "QUERIES_QUEUE", 32, 0, 100_000),
    maxWaitMs: int(env, "ADMISSION_MAX_WAIT_MS", 1000, 0, 600_000),
    maxEventLoopDelayMs: int(env, "MAX_EVENT_LOOP_DELAY_MS", 1000, 0),
    maxHeapUsedBytes: int(env, "MAX_HEAP_MB", 2048, 0) * MiB,
    maxRssBytes: int(env, "MAX_RSS_MB", 3072, 0) * MiB,
  };
}
