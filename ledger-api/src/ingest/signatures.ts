/**
 * Batched secp256k1 signer recovery off the event loop: a pool of worker_threads running native libsecp256k1.
 *
 * Recovery is the ingest bottleneck (docs/ARCHITECTURE.md "Performance principles"): ~70 us per signature natively, ~1.6 ms
 * with ethers' pure-JS code. One request may carry thousands of events, so recovering them on the main thread would
 * stall every other request. SignaturePool splits a call into batches of up to `batchSize` items, packs each batch
 * into one ArrayBuffer (digest || r || s || v per item, see signature-worker.ts) and transfers it to a worker, which
 * answers in the same buffer. Strings never cross threads one by one; a batch is a single structured-clone-free move.
 *
 * Guarantees:
 * - `recover` resolves with one entry per item, in input order: the EIP-55 checksummed signer address, or null when
 *   the item is malformed or breaks OpenZeppelin ECDSA.recover's rules (65 bytes only, v in {27, 28} or {0, 1},
 *   0 < r < n, 0 < s <= n / 2, non-zero address). Validity is data, never an exception.
 * - Packing happens when a worker has room (at most `maxInFlightPerWorker` batches each), not all up front, so a
 *   20,000-item call does not block the event loop while it is split.
 * - If a worker dies (uncaught error, out of memory, exit), every call with a batch on it rejects with a
 *   SignatureWorkerError and a fresh worker takes its place; other calls go on. Batches are not retried, because a
 *   batch that killed one worker would likely kill the next. Three workers in a row dying before they are ready
 *   (e.g. the worker file cannot load) break the pool: every pending and later call rejects with that cause.
 * - Idle workers are unref'd, so a forgotten pool does not keep the process alive; a worker with batches in
 *   flight is ref'd, so pending work is not dropped by an exiting process. `close()` terminates all workers and
 *   rejects whatever is still pending. A pool still open when the event loop drains is closed on
 *   `beforeExit`: left to the process's own teardown, a worker holding the native addon sometimes aborts the
 *   process (libsecp256k1's N-API wrapper throws Napi::Error during environment cleanup; measured 1 in 12 exits).
 * - Calls of at most `inlineMax` items (default 0: none) are recovered synchronously on the calling thread. Measured,
 *   a small call's worker round trip costs about what inline recovery does, so by default nothing runs inline.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import {
  DIGEST_BYTES,
  ITEM_BYTES,
  RESULT_BYTES,
  RecoveryStatus,
  SIGNATURE_BYTES,
  WORKER_ROLE,
  backendName,
  recoverPacked,
} from "./signature-worker.ts";
import type { BackendName, RecoverRequest, ShutdownRequest, WorkerReply } from "./signature-worker.ts";

export type { BackendName } from "./signature-worker.ts";

/** A 32-byte digest (e.g. an EIP-712 hash) and a 65-byte r || s || v signature, both 0x-prefixed hex. */
export interface SignatureItem {
  readonly digest: string;
  readonly signature: string;
}

export interface SignaturePoolOptions {
  /** Worker threads; default max(1, availableParallelism() - 1), leaving a core for the event loop. */
  readonly workers?: number;
  /** Items per message to a worker; default 256 (~25 KB), large enough to amortise a post, small enough to spread. */
  readonly batchSize?: number;
  /** Batches queued on one worker at once; default 2, so a worker never idles while its next batch is posted. */
  readonly maxInFlightPerWorker?: number;
  /**
   * Calls with at most this many items are recovered on the calling thread. Default 0. Measured with
   * scripts/bench-signatures.ts on 2 cores: a 1-item call takes 110-150 us through a worker and 115-130 us inline;
   * 2-4 items save 0-130 us inline depending on machine load, while blocking the event loop for the whole time. Too
   * small and too noisy a gain to spend the event loop on, so nothing runs inline unless configured.
   */
  readonly inlineMax?: number;
  /** Worker entry module; default the signature-worker sibling of this file (.ts or .js, whichever this file is). */
  readonly workerUrl?: URL;
}

/** A worker died with batches in flight, or the pool could not keep workers alive. */
export class SignatureWorkerError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "SignatureWorkerError";
  }
}

interface Call {
  readonly items: readonly SignatureItem[];
  readonly results: (string | null)[];
  remaining: number;
  settled: boolean;
  readonly resolve: (results: (string | null)[]) => void;
  readonly reject: (err: Error) => void;
}

interface Batch {
  readonly call: Call;
  readonly start: number;
  readonly count: number;
}

interface Slot {
  readonly worker: Worker;
  /** Captured at spawn: Worker.threadId reads -1 once the thread has exited, when it is needed for the error. */
  readonly threadId: number;
  readonly inFlight: Map<number, Batch>;
  ready: boolean;
  dead: boolean;
}

const MAX_STARTUP_FAILURES = 3;

/** Writes `hex` ("0x" + 2 * length hex digits) into bytes[offset..]; false if it is not exactly that. */
function writeHex(bytes: Buffer, offset: number, hex: unknown, length: number): boolean {
  if (typeof hex !== "string" || hex.length !== 2 + 2 * length || hex[0] !== "0" || (hex[1] !== "x" && hex[1] !== "X")) {
    return false;
  }
  // Buffer stops at the first non-hex digit, so the byte count doubles as validation.
  return bytes.write(hex.slice(2), offset, length, "hex") === length;
}

/**
 * Packs items[start, start + count) into a fresh buffer. A malformed item is left as zeros: r = 0 is refused by the
 * recovery rules, so it comes back as "no signer" without a side channel for it.
 */
function pack(items: readonly SignatureItem[], start: number, count: number): ArrayBuffer {
  const buffer = new ArrayBuffer(count * ITEM_BYTES);
  const bytes = Buffer.from(buffer);
  for (let i = 0; i < count; i++) {
    const item = items[start + i];
    const at = i * ITEM_BYTES;
    if (
      item === null ||
      typeof item !== "object" ||
      !writeHex(bytes, at, item.digest, DIGEST_BYTES) ||
      !writeHex(bytes, at + DIGEST_BYTES, item.signature, SIGNATURE_BYTES)
    ) {
      bytes.fill(0, at, at + ITEM_BYTES);
    }
  }
  return buffer;
}

function unpack(buffer: ArrayBuffer, count: number, results: (string | null)[], start: number): void {
  const bytes = Buffer.from(buffer);
  for (let i = 0; i < count; i++) {
    const at = i * RESULT_BYTES;
    results[start + i] = bytes[at] === RecoveryStatus.Ok ? "0x" + bytes.toString("latin1", at + 1, at + RESULT_BYTES) : null;
  }
}

/**
 * Recovers signers synchronously on the calling thread with the same rules and backend as the workers.
 * For tests, benchmarks and tiny calls; it blocks for ~70 us per item.
 */
export function recoverSync(items: readonly SignatureItem[]): (string | null)[] {
  const results: (string | null)[] = new Array<string | null>(items.length);
  const buffer = pack(items, 0, items.length);
  recoverPacked(buffer, items.length);
  unpack(buffer, items.length, results, 0);
  return results;
}

/** The secp256k1 implementation of the calling thread ("js" means the native binding failed to load). */
export const mainThreadBackend: BackendName = backendName;

function positiveInt(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

function defaultWorkerUrl(): URL {
  // Under tsx or type stripping this module is signatures.ts and its sibling is .ts; once compiled, both are .js.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./signature-worker${ext}`, import.meta.url);
}

const openPools = new Set<SignaturePool>();

const SHUTDOWN_GRACE_MS = 2000;

function shutDown(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => void worker.terminate(), SHUTDOWN_GRACE_MS);
    worker.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    worker.ref();
    const request: ShutdownRequest = { type: "shutdown" };
    worker.postMessage(request);
  });
}

function closeOpenVerifiers(): void {
  for (const pool of openPools) void pool.close();
}

export class SignaturePool {
  readonly size: number;
  readonly #batchSize: number;
  readonly #maxInFlight: number;
  readonly #inlineMax: number;
  readonly #workerUrl: URL;
  readonly #slots = new Set<Slot>();
  readonly #queue: Batch[] = [];
  #queueHead = 0;
  #nextId = 1;
  #startupFailures = 0;
  #broken: Error | undefined;
  #closed = false;
  /** Whether a batch is queued or in flight, or backend() is awaited: then every worker is ref'd (see #updateRefs). */
  #busy = false;
  #backendKnown = false;
  #backendWanted = false;
  #backend: Promise<BackendName>;
  #resolveBackend!: (name: BackendName) => void;
  #rejectBackend!: (err: Error) => void;

  constructor(options: SignaturePoolOptions = {}) {
    // Validated once here so a misconfiguration fails at start-up, not on the first request.
    this.size = positiveInt("workers", options.workers, Math.max(1, availableParallelism() - 1), 1);
    this.#batchSize = positiveInt("batchSize", options.batchSize, 256, 1);
    this.#maxInFlight = positiveInt("maxInFlightPerWorker", options.maxInFlightPerWorker, 2, 1);
    this.#inlineMax = positiveInt("inlineMax", options.inlineMax, 0, 0);
    this.#workerUrl = options.workerUrl ?? defaultWorkerUrl();
    this.#backend = new Promise((resolve, reject) => {
      this.#resolveBackend = resolve;
      this.#rejectBackend = reject;
    });
    // Never left unhandled: backend() may not be called at all.
    this.#backend.catch(() => {});
    // Registered for beforeExit only once fully constructed: a constructor refused by the validation above must not
    // leave a half-built pool whose close() (called at beforeExit) would throw and fail the process's exit.
    openPools.add(this);
    if (openPools.size === 1) process.on("beforeExit", closeOpenVerifiers);
    for (let i = 0; i < this.size; i++) this.#spawn();
  }

  /** The secp256k1 implementation the workers use, once the first one is ready; rejects if none ever is. */
  backend(): Promise<BackendName> {
    // Someone is waiting on a worker: keep the process alive until one is ready, as for a pending call.
    if (!this.#backendKnown) {
      this.#backendWanted = true;
      this.#updateRefs();
    }
    return this.#backend;
  }

  /** Signer of each item in order: checksummed address, or null if malformed or refused by the rules. */
  recover(items: readonly SignatureItem[]): Promise<(string | null)[]> {
    if (this.#closed) return Promise.reject(new SignatureWorkerError("SignaturePool is closed"));
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    if (items.length === 0) return Promise.resolve([]);
    if (items.length <= this.#inlineMax) return Promise.resolve(recoverSync(items));
    return new Promise((resolve, reject) => {
      const call: Call = {
        items,
        results: new Array<string | null>(items.length),
        remaining: 0,
        settled: false,
        resolve,
        reject,
      };
      for (let start = 0; start < items.length; start += this.#batchSize) {
        this.#queue.push({ call, start, count: Math.min(this.#batchSize, items.length - start) });
        call.remaining++;
      }
      this.#pump();
    });
  }

  /** Terminates the workers; pending calls reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    openPools.delete(this);
    if (openPools.size === 0) process.off("beforeExit", closeOpenVerifiers);
    const err = new SignatureWorkerError("SignaturePool closed with calls pending");
    this.#rejectBackend(err);
    this.#failQueued(err);
    const slots = [...this.#slots];
    this.#slots.clear();
    for (const slot of slots) {
      slot.dead = true;
      for (const batch of slot.inFlight.values()) this.#fail(batch.call, err);
    }
    // Each worker is asked to exit on its own rather than terminated: terminate() can interrupt the native addon's
    // environment cleanup, which then throws Napi::Error and aborts the whole process. Ref'd meanwhile, so a close()
    // from beforeExit completes; terminate() remains the fallback for a worker that does not exit in time.
    await Promise.all(slots.map((slot) => shutDown(slot.worker)));
  }

  #spawn(): void {
    const worker = new Worker(this.#workerUrl, { workerData: { role: WORKER_ROLE } });
    const slot: Slot = { worker, threadId: worker.threadId, inFlight: new Map(), ready: false, dead: false };
    this.#slots.add(slot);
    worker.on("message", (reply: WorkerReply) => this.#onReply(slot, reply));
    worker.on("error", (err) => this.#onDeath(slot, err));
    worker.on("messageerror", (err) => this.#onDeath(slot, err));
    worker.on("exit", (code) => this.#onDeath(slot, new Error(`exited with code ${code}`)));
    // Only after the listeners: adding a "message" listener refs the worker's port again, and an idle worker must
    // not keep the process alive (measured: unref() first left a ref'd MessagePort behind).
    if (this.#busy) worker.ref();
    else worker.unref();
  }

  #onReply(slot: Slot, reply: WorkerReply): void {
    if (slot.dead) return;
    if (reply.type === "ready") {
      slot.ready = true;
      this.#startupFailures = 0;
      this.#backendKnown = true;
      this.#resolveBackend(reply.backend);
      this.#pump();
      return;
    }
    const batch = slot.inFlight.get(reply.id);
    if (batch === undefined) return;
    slot.inFlight.delete(reply.id);
    const call = batch.call;
    if (!call.settled) {
      unpack(reply.buffer, batch.count, call.results, batch.start);
      if (--call.remaining === 0) {
        call.settled = true;
        call.resolve(call.results);
      }
    }
    this.#pump();
  }

  #onDeath(slot: Slot, cause: Error): void {
    // "error" is followed by "exit"; only the first report counts.
    if (slot.dead) return;
    slot.dead = true;
    this.#slots.delete(slot);
    if (slot.inFlight.size > 0) {
      const err = new SignatureWorkerError(
        `signature worker (thread ${slot.threadId}) died with ${slot.inFlight.size} batch(es) in flight: ${cause.message}`,
        cause,
      );
      for (const batch of slot.inFlight.values()) this.#fail(batch.call, err);
    }
    // Make sure a worker that died without exiting (messageerror) is gone.
    void slot.worker.terminate();
    if (this.#closed) return;
    if (!slot.ready && ++this.#startupFailures >= MAX_STARTUP_FAILURES) {
      this.#broken = new SignatureWorkerError(
        `signature workers keep dying before they are ready (${MAX_STARTUP_FAILURES} in a row): ${cause.message}`,
        cause,
      );
      this.#rejectBackend(this.#broken);
      this.#failQueued(this.#broken);
      for (const other of this.#slots) for (const batch of other.inFlight.values()) this.#fail(batch.call, this.#broken);
      this.#updateRefs();
      return;
    }
    this.#spawn();
    this.#pump();
  }

  #fail(call: Call, err: Error): void {
    if (call.settled) return;
    call.settled = true;
    call.reject(err);
  }

  #failQueued(err: Error): void {
    for (let i = this.#queueHead; i < this.#queue.length; i++) this.#fail(this.#queue[i]!.call, err);
    this.#queue.length = 0;
    this.#queueHead = 0;
  }

  /**
   * Posts queued batches to the least busy ready workers, packing each one only now. Batches wait for a worker to be
   * ready (rather than queue in a starting worker's port) so that a worker failing to start fails no call: the batch
   * goes to its replacement, or the pool breaks with the start-up cause.
   */
  #pump(): void {
    while (this.#queueHead < this.#queue.length) {
      let target: Slot | undefined;
      for (const slot of this.#slots) {
        if (slot.ready && !slot.dead && slot.inFlight.size < this.#maxInFlight && (target === undefined || slot.inFlight.size < target.inFlight.size)) {
          target = slot;
        }
      }
      if (target === undefined) {
        // Workers are saturated; compact the consumed prefix now and then so a never-drained queue cannot grow.
        if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#queueHead);
          this.#queueHead = 0;
        }
        this.#updateRefs();
        return;
      }
      const batch = this.#queue[this.#queueHead++]!;
      // A call that already failed (another of its batches died with a worker) needs no more work.
      if (batch.call.settled) continue;
      const id = this.#nextId++;
      const request: RecoverRequest = { id, count: batch.count, buffer: pack(batch.call.items, batch.start, batch.count) };
      target.inFlight.set(id, batch);
      target.worker.postMessage(request, [request.buffer]);
    }
    // Drained: drop the consumed prefix so the array does not grow for the life of the process.
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#updateRefs();
  }

  /**
   * Keeps the process alive exactly while work is pending. Every worker is ref'd then, including one still starting:
   * queued batches wait for a ready worker, and with all workers unref'd the process would exit under them.
   */
  #updateRefs(): void {
    let busy = this.#queueHead < this.#queue.length || (this.#backendWanted && !this.#backendKnown && !this.#closed);
    for (const slot of this.#slots) if (slot.inFlight.size > 0) busy = true;
    if (busy === this.#busy) return;
    this.#busy = busy;
    for (const slot of this.#slots) {
      if (busy) slot.worker.ref();
      else slot.worker.unref();
    }
  }
}
