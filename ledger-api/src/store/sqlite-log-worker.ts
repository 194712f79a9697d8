/**
 * The log writer thread of the SQLite driver (sqlite-log-thread.ts starts it): its own writer connection to the
 * database, on which it runs the log's append transaction (sqlite-log.ts SqliteLogAppender), so sequencing, hashing,
 * the inserts, the COMMIT's fsync and WAL checkpoints never block the API's event loop.
 *
 * Loading: started under plain Node 24 type stripping as well as under the test runner, so erasable TypeScript and
 * `.ts` specifiers only. It serves only when started with its role in workerData, so importing it has no effect.
 *
 * Protocol (main -> thread, thread -> main):
 *   - once open: `{ type: "ready", size, root }`, or `{ type: "failed", error }` if the database cannot be opened;
 *   - `{ type: "append", id, items }` -> `{ type: "appended", id, size, root, index, prevIndex, duplicate, leaves }`,
 *     the results packed in typed arrays (one transfer, not an object per entry), or `{ type: "error", id, error }`
 *     with nothing of the group stored;
 *   - `{ type: "close" }`: closes the connection, then the port, so the thread exits on its own.
 */
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";
import type { AppendItem } from "../log/sequencer.ts";
import { configure, SqliteLogAppender } from "./sqlite-log.ts";

export const LOG_WRITER_ROLE = "ledger-sqlite-log-writer";

/**
 * The writer connection's page cache, KiB (SQLite's default is 2,000). Each append descends five B-trees per entry
 * (the table and its indexes) plus the dedup and batch-link probes: with the default cache that was about 20 page
 * reads from the OS per entry (strace), and their system time was most of the thread's. 16 MB keeps the trees' upper
 * levels and hot leaves: the thread's CPU per batched entry went from 65 to 54 us (kernel time 38 to 22 us; bench:profile,
 * 100k log, shared machine), for at most 16 MB of RSS.
 */
const CACHE_KIB = 16_000;

export interface LogWriterData {
  readonly role: typeof LOG_WRITER_ROLE;
  readonly path: string;
  readonly busyTimeoutMs: number;
}

/** An error as data: its class name, message and, for InvalidEntryError, the field. */
export interface ErrorData {
  readonly name: string;
  readonly message: string;
  readonly field?: string;
}

export type LogWriterRequest =
  | { readonly type: "append"; readonly id: number; readonly items: readonly AppendItem[] }
  | { readonly type: "close" };

export type LogWriterReply =
  | { readonly type: "ready"; readonly size: number; readonly root: Uint8Array }
  | { readonly type: "failed"; readonly error: ErrorData }
  | {
      readonly type: "appended";
      readonly id: number;
      readonly size: number;
      readonly root: Uint8Array;
      readonly index: Float64Array;
      readonly prevIndex: Float64Array;
      readonly duplicate: Uint8Array;
      /** 32 bytes per result. */
      readonly leaves: Uint8Array;
    }
  | { readonly type: "error"; readonly id: number; readonly error: ErrorData };

export function errorData(err: unknown): ErrorData {
  const e = err as { name?: unknown; message?: unknown; field?: unknown } | null;
  return {
    name: typeof e?.name === "string" ? e.name : "Error",
    message: typeof e?.message === "string" ? e.message : String(err),
    ...(typeof e?.field === "string" ? { field: e.field } : {}),
  };
}

if (parentPort !== null && (workerData as { role?: unknown } | null)?.role === LOG_WRITER_ROLE) {
  const port = parentPort;
  const data = workerData as LogWriterData;
  let db: DatabaseSync | undefined;
  let appender: SqliteLogAppender | undefined;
  try {
    db = new DatabaseSync(data.path, { timeout: data.busyTimeoutMs });
    configure(db);
    db.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
    appender = new SqliteLogAppender(db, data.path);
    const ready: LogWriterReply = { type: "ready", size: appender.size, root: appender.root.slice() };
    port.postMessage(ready);
  } catch (err) {
    db?.close();
    const failed: LogWriterReply = { type: "failed", error: errorData(err) };
    port.postMessage(failed);
    port.close();
  }
  port.on("message", (request: LogWriterRequest) => {
    if (request.type === "close") {
      db?.close();
      port.close();
      return;
    }
    let reply: LogWriterReply;
    const transfer: ArrayBuffer[] = [];
    try {
      const results = appender!.append(request.items);
      const n = results.length;
      const index = new Float64Array(n);
      const prevIndex = new Float64Array(n);
      const duplicate = new Uint8Array(n);
      const leaves = new Uint8Array(32 * n);
      results.forEach((r, i) => {
        index[i] = r.index;
        prevIndex[i] = r.prevIndex;
        duplicate[i] = r.duplicate ? 1 : 0;
        leaves.set(r.leafHash, 32 * i);
      });
      const root = appender!.root.slice();
      reply = { type: "appended", id: request.id, size: appender!.size, root, index, prevIndex, duplicate, leaves };
      transfer.push(index.buffer, prevIndex.buffer, duplicate.buffer, leaves.buffer, root.buffer as ArrayBuffer);
    } catch (err) {
      reply = { type: "error", id: request.id, error: errorData(err) };
    }
    port.postMessage(reply, transfer);
  });
}
