/**
 * Where a request's per-event CPU work runs (prepare.ts): a pool of ingest worker threads, or the calling thread.
 *
 * Why: parsing, schema checks, canonical JSON, hashing and signature recovery cost ~100-200 us per event; on the
 * event loop they capped ingest and stretched every other request's latency. The pool hands each request's raw body
 * bytes to the least busy worker, so the main thread only admits and appends (ingestor.ts).
 *
 * It is the process's one pool of worker threads for this work: signature recovery (signatures.ts) runs in it, as
 * part of each request, rather than in a pool of its own.
 *
 * Guarantees (test/api/ingest/ingest-pool.test.ts):
 * - `prepare` resolves with the worker's outcome (events or a refusal, both data), each call with its own body's, or
 *   rejects with IngestWorkerError when the worker died with the request on it or threw something that is not a
 *   refusal; a fresh worker replaces a dead one and other requests go on, those queued behind included. A request is
 *   never retried (one that killed a worker would kill the next). Three workers in a row dying before they are ready
 *   (the worker file cannot load) break the pool: every pending and later call rejects with that cause.
 * - Requests wait in the pool's queue, not in a worker's port, until a worker is ready and has fewer than
 *   `maxInFlightPerWorker` of them: a burst does not pile up on one worker while another idles, and a worker that
 *   fails to start fails no request.
 * - Idle workers are unref'd, so the pool never keeps the process alive; a worker with requests on it is ref'd, so
 *   pending work is not dropped by an exiting process. `close()` lets each worker exit on its own (terminate after a
 *   grace period) and rejects what is still pending; a pool still open when the event loop drains is closed on
 *   `beforeExit`, because a worker holding the native secp256k1 addon left to the process's own teardown sometimes
 *   aborts the process (its N-API wrapper throws during environment cleanup; measured 1 exit in 12).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Eip712Domain } from "../protocol/eip712.ts";
import { INGEST_WORKER_ROLE, fastContext, type IngestWorkerData, type IngestWorkerReply, type PrepareRequest } from "./ingest-worker.ts";
import { prepareBody, type PrepareContext, type PrepareOutcome } from "./prepare.ts";
import type { BackendName } from "./signatures.ts";

/** Runs prepare.ts for one request body. */
export interface Preparer {
  /** Worker threads (0: the calling thread). */
  readonly workers: number;
  prepare(body: Uint8Array, now: number): Promise<PrepareOutcome>;
  close(): Promise<void>;
}

/** A worker died or failed on a request; the request was not prepared. */
export class IngestWorkerError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "IngestWorkerError";
  }
}

/** The ledger's domain as a worker can receive it (bigint chainId as a string). */
export interface LedgerDomain {
  readonly name: string;
  readonly version: string;
  readonly chainId: bigint;
  readonly verifyingContract: string;
}

/** prepare.ts on the calling thread: INGEST_WORKERS=0, tests, and the benchmark's naive baseline (its own context). */
export class InlinePreparer implements Preparer {
  readonly workers = 0;
  readonly #context: (now: number) => PrepareContext;

  constructor(context: (now: number) => PrepareContext) {
    this.#context = context;
  }

  static fast(domain: Eip712Domain, maxEvents: number): InlinePreparer {
    return new InlinePreparer(fastContext(domain, maxEvents));
  }

  async prepare(body: Uint8Array, now: number): Promise<PrepareOutcome> {
    return prepareBody(body, this.#context(now));
  }

  async close(): Promise<void> {}
}

interface Pending {
  readonly request: PrepareRequest;
  readonly resolve: (outcome: PrepareOutcome) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly inFlight: Map<number, Pending>;
  ready: boolean;
  dead: boolean;
}

export interface IngestPoolOptions {
  readonly domain: LedgerDomain;
  readonly maxEvents: number;
  /** Worker threads; default availableParallelism(). */
  readonly workers?: number;
  /** Requests queued on one worker at once; default 2, so a worker never idles while its next request is posted. */
  readonly maxInFlightPerWorker?: number;
  /** Worker entry module; default the ingest-worker sibling of this file. */
  readonly workerUrl?: URL;
}

const MAX_STARTUP_FAILURES = 3;

// A pool still open when the event loop drains is closed (see the file comment).
const openPools = new Set<IngestPool>();
function closeOpenPools(): void {
  for (const pool of openPools) void pool.close();
}
const SHUTDOWN_GRACE_MS = 2000;

/**
 * Each worker's young generation, MB (two 8 MB semi-spaces and their large-object space). V8 sizes it from the
 * machine's memory otherwise: on the 24 GB machines this runs on, up to 128 MB per thread under load (measured with
 * v8.getHeapSpaceStatistics), for no measured gain in ingest CPU per event.
 */
export const WORKER_YOUNG_GENERATION_MB = 24;

function defaultWorkerUrl(): URL {
  // Under tsx or type stripping this module is ingest-pool.ts and its sibling is .ts; once compiled, both are .js.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./ingest-worker${ext}`, import.meta.url);
}

export class IngestPool implements Preparer {
  readonly workers: number;
  readonly #data: IngestWorkerData;
  readonly #url: URL;
  readonly #maxInFlight: number;
  readonly #slots = new Set<Slot>();
  #queue: Pending[] = [];
  #nextId = 1;
  #startupFailures = 0;
  #broken: Error | undefined;
  #closed = false;
  #busy = false;
  #backendKnown = false;
  #backendWanted = false;
  readonly #backend: Promise<BackendName>;
  #resolveBackend!: (name: BackendName) => void;
  #rejectBackend!: (err: Error) => void;

  constructor(options: IngestPoolOptions) {
    const workers = options.workers ?? availableParallelism();
    if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${workers}`);
    this.workers = workers;
    this.#maxInFlight = options.maxInFlightPerWorker ?? 2;
    if (!Number.isSafeInteger(this.#maxInFlight) || this.#maxInFlight < 1) {
      throw new RangeError(`maxInFlightPerWorker must be an integer >= 1, got ${this.#maxInFlight}`);
    }
    this.#backend = new Promise((resolve, reject) => {
      this.#resolveBackend = resolve;
      this.#rejectBackend = reject;
    });
    // Never left unhandled: backend() may not be called at all.
    this.#backend.catch(() => {});
    this.#url = options.workerUrl ?? defaultWorkerUrl();
    const d = options.domain;
    this.#data = {
      role: INGEST_WORKER_ROLE,
      domain: { name: d.name, version: d.version, chainId: d.chainId.toString(), verifyingContract: d.verifyingContract },
      maxEvents: options.maxEvents,
    };
    for (let i = 0; i < workers; i++) this.#spawn();
    openPools.add(this);
    if (openPools.size === 1) process.on("beforeExit", closeOpenPools);
  }

  /** The secp256k1 implementation the workers recover with, once the first one is ready; rejects if none ever is. */
  backend(): Promise<BackendName> {
    // Someone waits on a worker: keep the process alive until one is ready, as for a pending request.
    if (!this.#backendKnown) {
      this.#backendWanted = true;
      this.#updateRefs();
    }
    return this.#backend;
  }

  prepare(body: Uint8Array, now: number): Promise<PrepareOutcome> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#closed) return Promise.reject(new IngestWorkerError("the ingest pool is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ request: { id: this.#nextId++, body, now }, resolve, reject });
      this.#pump();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    openPools.delete(this);
    if (openPools.size === 0) process.off("beforeExit", closeOpenPools);
    const err = new IngestWorkerError("the ingest pool closed with the request pending");
    this.#rejectBackend(err);
    for (const p of this.#queue) p.reject(err);
    this.#queue = [];
    await Promise.all(
      [...this.#slots].map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.dead = true;
            for (const p of slot.inFlight.values()) p.reject(err);
            slot.inFlight.clear();
            const timer = setTimeout(() => void slot.worker.terminate(), SHUTDOWN_GRACE_MS);
            slot.worker.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            slot.worker.ref();
            slot.worker.postMessage({ type: "shutdown" });
          }),
      ),
    );
    this.#slots.clear();
  }

  #spawn(): void {
    const worker = new Worker(this.#url, { workerData: this.#data, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    const slot: Slot = { worker, inFlight: new Map(), ready: false, dead: false };
    this.#slots.add(slot);
    worker.on("message", (reply: IngestWorkerReply) => this.#onReply(slot, reply));
    worker.on("error", (err) => this.#onDeath(slot, err));
    worker.on("messageerror", (err) => this.#onDeath(slot, err));
    worker.on("exit", (code) => this.#onDeath(slot, new Error(`exited with code ${code}`)));
    // After the listeners: adding a "message" listener refs the port again.
    if (this.#busy) worker.ref();
    else worker.unref();
  }

  #onReply(slot: Slot, reply: IngestWorkerReply): void {
    if (slot.dead) return;
    if (reply.type === "ready") {
      slot.ready = true;
      this.#startupFailures = 0;
      this.#backendKnown = true;
      this.#resolveBackend(reply.backend);
      this.#pump();
      return;
    }
    const pending = slot.inFlight.get(reply.id);
    if (pending === undefined) return;
    slot.inFlight.delete(reply.id);
    if (reply.type === "result") pending.resolve(reply.outcome);
    else pending.reject(new IngestWorkerError(`ingest worker failed on a request: ${reply.message}`));
    this.#pump();
  }

  #onDeath(slot: Slot, cause: Error): void {
    if (slot.dead) return;
    slot.dead = true;
    this.#slots.delete(slot);
    const err = new IngestWorkerError(`ingest worker died with ${slot.inFlight.size} request(s) on it: ${cause.message}`, cause);
    for (const p of slot.inFlight.values()) p.reject(err);
    slot.inFlight.clear();
    void slot.worker.terminate();
    if (this.#closed) return;
    if (!slot.ready && ++this.#startupFailures >= MAX_STARTUP_FAILURES) {
      this.#broken = new IngestWorkerError(`ingest workers keep dying before they are ready: ${cause.message}`, cause);
      this.#rejectBackend(this.#broken);
      for (const p of this.#queue) p.reject(this.#broken);
      this.#queue = [];
      for (const other of this.#slots) for (const p of other.inFlight.values()) p.reject(this.#broken);
      this.#updateRefs();
      return;
    }
    this.#spawn();
    this.#pump();
  }

  /** Posts queued requests to the least busy ready workers. */
  #pump(): void {
    while (this.#queue.length > 0) {
      let target: Slot | undefined;
      for (const slot of this.#slots) {
        if (slot.ready && !slot.dead && slot.inFlight.size < this.#maxInFlight && (target === undefined || slot.inFlight.size < target.inFlight.size)) {
          target = slot;
        }
      }
      if (target === undefined) break;
      const pending = this.#queue.shift()!;
      target.inFlight.set(pending.request.id, pending);
      // The body moves to the worker without a copy when it owns its ArrayBuffer (a large body). A small one is a
      // view into Node's shared 8 KiB Buffer pool, which a clone would copy whole: it is copied alone, then moved.
      let body = pending.request.body;
      if (body.byteOffset !== 0 || body.byteLength !== body.buffer.byteLength || !(body.buffer instanceof ArrayBuffer)) body = new Uint8Array(body);
      target.worker.postMessage({ ...pending.request, body }, [body.buffer as ArrayBuffer]);
    }
    this.#updateRefs();
  }

  /** Keeps the process alive exactly while work is pending. */
  #updateRefs(): void {
    let busy = this.#queue.length > 0 || (this.#backendWanted && !this.#backendKnown && !this.#closed && this.#broken === undefined);
    for (const slot of this.#slots) if (slot.inFlight.size > 0) busy = true;
    if (busy === this.#busy) return;
    this.#busy = busy;
    for (const slot of this.#slots) {
      if (busy) slot.worker.ref();
      else slot.worker.unref();
    }
  }
}
