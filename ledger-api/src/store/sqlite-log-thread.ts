/**
 * Where the SQLite driver runs the log's append transaction (sqlite-log.ts): on the calling thread, or on a log
 * writer thread with its own connection (sqlite-log-worker.ts).
 *
 * Why a thread: node:sqlite is synchronous, so on the event loop every group commit blocked the API for the length of
 * its sequencing, hashing, inserts and COMMIT, whose fsync alone was measured at p99 11 ms under single-event load and
 * 119 ms under batches (strace, shared machine), plus the WAL checkpoints SQLite runs inside a COMMIT. On the thread
 * the event loop only posts the group and takes the packed results back.
 *
 * Guarantees, the same in both modes (LogStore.appendBatch's): `append` resolves once the group is committed, or
 * rejects with nothing of it stored. Calls must not overlap (the driver runs every write transaction one at a time),
 * so no two connections ever wait on each other's write lock. `size` and `root` are those of the last committed group.
 * If the thread dies with a group on it, that call rejects and a fresh thread takes over, reloading size and root
 * from the database (the group may have committed just before the death: a resubmission then finds it, as after a
 * crash). Three threads in a row that die before they are ready break the writer: every later call rejects.
 */
import { Worker } from "node:worker_threads";
import { InvalidEntryError } from "../log/entry.ts";
import type { Hash } from "../log/hash.ts";
import type { AppendItem, AppendResult } from "../log/sequencer.ts";
import { SqliteLogAppender } from "./sqlite-log.ts";
import { LOG_WRITER_ROLE, type ErrorData, type LogWriterData, type LogWriterReply, type LogWriterRequest } from "./sqlite-log-worker.ts";
import { StoreCorruptError } from "./store.ts";

export interface LogWriter {
  /** Entries committed (the next index). */
  readonly size: number;
  /** Root of the committed tree. */
  readonly root: Hash;
  /** Commits one group (see the file comment). */
  append(items: readonly AppendItem[]): Promise<AppendResult[]>;
  close(): Promise<void>;
}

/** The append transaction on the caller's writer connection. */
export class InlineLogWriter implements LogWriter {
  readonly #appender: SqliteLogAppender;

  constructor(appender: SqliteLogAppender) {
    this.#appender = appender;
  }

  get size(): number {
    return this.#appender.size;
  }

  get root(): Hash {
    return this.#appender.root;
  }

  async append(items: readonly AppendItem[]): Promise<AppendResult[]> {
    return this.#appender.append(items);
  }

  async close(): Promise<void> {}
}

/** The writer thread's error as the class the inline path would have thrown, so callers see one behaviour. */
function revive(error: ErrorData): Error {
  if (error.name === "StoreCorruptError") return new StoreCorruptError(error.message);
  if (error.name === "InvalidEntryError") return Object.assign(new InvalidEntryError(error.field ?? "entry", ""), { message: error.message });
  return Object.assign(new Error(error.message), { name: error.name });
}

function defaultWorkerUrl(): URL {
  // Under tsx or type stripping this module is .ts and so is its sibling; once compiled, both are .js.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./sqlite-log-worker${ext}`, import.meta.url);
}

const MAX_STARTUP_FAILURES = 3;
/** The thread's young generation, MB: as the ingest workers' (ingest-pool.ts WORKER_YOUNG_GENERATION_MB), for the same reason. */
const YOUNG_GENERATION_MB = 24;
const SHUTDOWN_GRACE_MS = 5000;

interface Call {
  readonly id: number;
  readonly resolve: (results: AppendResult[]) => void;
  readonly reject: (err: Error) => void;
}

/** The append transaction on a writer thread (see the file comment). */
export class ThreadLogWriter implements LogWriter {
  readonly #data: LogWriterData;
  readonly #url: URL;
  #worker!: Worker;
  #ready!: Promise<void>;
  #size: number;
  #root: Hash;
  #call: Call | undefined;
  #nextId = 1;
  #startupFailures = 0;
  #broken: Error | undefined;
  #closed = false;
  readonly #exited = new WeakSet<Worker>();

  private constructor(path: string, busyTimeoutMs: number, size: number, root: Hash, url: URL) {
    this.#data = { role: LOG_WRITER_ROLE, path, busyTimeoutMs };
    this.#url = url;
    this.#size = size;
    this.#root = root;
  }

  /**
   * Starts the thread on the database at `path` and waits until it has loaded the log; `size` and `root` are what the
   * caller loaded, checked against the thread's. Rejects with the thread's error if it cannot open the database.
   */
  static async start(path: string, busyTimeoutMs: number, size: number, root: Hash, url?: URL): Promise<ThreadLogWriter> {
    const writer = new ThreadLogWriter(path, busyTimeoutMs, size, root, url ?? defaultWorkerUrl());
    writer.#spawn();
    await writer.#ready;
    if (writer.#size !== size) {
      await writer.close();
      throw new StoreCorruptError(`the log writer thread found ${writer.#size} entries, the store ${size}: another process is writing`);
    }
    return writer;
  }

  get size(): number {
    return this.#size;
  }

  get root(): Hash {
    return this.#root;
  }

  async append(items: readonly AppendItem[]): Promise<AppendResult[]> {
    if (this.#closed) throw new Error("the log writer is closed");
    if (this.#call !== undefined) throw new Error("log writer: appends must not overlap");
    await this.#ready;
    if (this.#broken) throw this.#broken;
    return new Promise<AppendResult[]>((resolve, reject) => {
      const id = this.#nextId++;
      this.#call = { id, resolve, reject };
      this.#worker.ref();
      const request: LogWriterRequest = { type: "append", id, items };
      this.#worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ready.catch(() => undefined);
    const worker = this.#worker;
    // A thread that already ended (the writer broke) has nothing left to close.
    if (this.#exited.has(worker)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate(), SHUTDOWN_GRACE_MS);
      worker.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      worker.ref();
      const request: LogWriterRequest = { type: "close" };
      worker.postMessage(request);
    });
  }

  #spawn(): void {
    const worker = new Worker(this.#url, { workerData: this.#data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.#worker = worker;
    let started = false;
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.on("message", (reply: LogWriterReply) => {
        if (reply.type === "ready") {
          started = true;
          this.#startupFailures = 0;
          this.#size = reply.size;
          this.#root = new Uint8Array(reply.root);
          if (this.#call === undefined) worker.unref();
          resolve();
        } else if (reply.type === "failed") {
          this.#broken = revive(reply.error);
          reject(this.#broken);
        } else {
          this.#onReply(reply);
        }
      });
      const onDeath = (cause: Error) => {
        if (worker !== this.#worker) return;
        if (!started) {
          if (this.#broken === undefined && ++this.#startupFailures < MAX_STARTUP_FAILURES && !this.#closed) {
            this.#spawn();
            this.#ready.then(resolve, reject);
            return;
          }
          this.#broken ??= new Error(`the log writer thread keeps dying before it is ready: ${cause.message}`, { cause });
          reject(this.#broken);
          return;
        }
        if (this.#closed) return;
        const call = this.#call;
        this.#call = undefined;
        call?.reject(new Error(`the log writer thread died with a group on it: ${cause.message}`, { cause }));
        // A fresh thread reloads size and root from what the database holds.
        this.#spawn();
        this.#ready.catch(() => undefined);
      };
      worker.on("error", onDeath);
      worker.on("messageerror", onDeath);
      worker.on("exit", (code) => {
        this.#exited.add(worker);
        onDeath(new Error(`exited with code ${code}`));
      });
    });
    // Never unhandled: append() and close() await it.
    this.#ready.catch(() => undefined);
    // Ref'd while it starts (a caller waits for it), unref'd once idle: an open store does not keep a process alive.
    worker.ref();
  }

  #onReply(reply: Extract<LogWriterReply, { type: "appended" | "error" }>): void {
    const call = this.#call;
    if (call === undefined || call.id !== reply.id) return;
    this.#call = undefined;
    this.#worker.unref();
    if (reply.type === "error") {
      call.reject(revive(reply.error));
      return;
    }
    this.#size = reply.size;
    this.#root = reply.root;
    const results: AppendResult[] = new Array<AppendResult>(reply.index.length);
    for (let i = 0; i < results.length; i++) {
      results[i] = {
        index: reply.index[i]!,
        prevIndex: reply.prevIndex[i]!,
        duplicate: reply.duplicate[i] === 1,
        leafHash: reply.leaves.subarray(32 * i, 32 * i + 32),
      };
    }
    call.resolve(results);
  }
}
