/**
 * The log appender: the single entry point for adding events to the log, with group commit.
 *
 * `add(item)` returns a promise of a Receipt. Contract:
 *   - Resolved: the entry is committed (LogStore.appendBatch durability: with the SQLite driver it survives a process
 *     crash and power loss). `index` is final and dense; `leafHash` is what inclusion proofs will prove.
 *   - Rejected with AppendFailedError: nothing of the item's group was stored; the caller may retry.
 *   - Rejected with InvalidEntryError / AppenderOverloadedError / AppenderClosedError: the item was never queued.
 *   - Process crash while pending: the item's whole group is stored or none of it. Retrying after a crash is safe:
 *     the key (the event's EIP-712 digest) deduplicates, and a duplicate gets the first entry's receipt.
 *
 * Group commit: items queued while a commit is running, or in the same event-loop turn, go into one appendBatch call
 * (one transaction, one fsync), up to `maxGroupSize` each, in arrival order. Arrival order is log order.
 * Backpressure: at most `maxQueued` items wait for a transaction; beyond that `add` rejects at once, so a burst
 * cannot grow memory without bound and the HTTP layer can answer 503 + Retry-After.
 *
 * Cross-cutting limits and metrics wrap `add` (see withBodySizeLimit, withStats) rather than living in this class.
 */
import { ENTRY_VERSION, NO_PREVIOUS, normalizeEntry } from "./entry.ts";
import type { LogEntryInput } from "./entry.ts";
import { bytesToHex } from "./hash.ts";
import type { AppendItem, AppendResult } from "./sequencer.ts";

/** One event to log. */
export interface AddItem extends LogEntryInput {
  /** Idempotency key: the event's EIP-712 digest hex. */
  readonly key: string;
  /** The submitted JSON document, served back verbatim. */
  readonly body: string;
  /** The signer's nonce (decimal) the entry spends, if any (see AppendItem.nonce). */
  readonly nonce?: string;
}

export interface Receipt {
  readonly index: number;
  /** 0x hex of the RFC 9162 leaf hash. */
  readonly leafHash: string;
  /** Previous entry of the same batch, or -1. */
  readonly prevIndex: number;
  /** True when this key was already logged: the receipt is that entry's. */
  readonly duplicate: boolean;
}

export type AddFn = (item: AddItem) => Promise<Receipt>;

/** What the appender needs from a store (LogStore satisfies it). */
export interface BatchSink {
  appendBatch(items: readonly AppendItem[]): Promise<AppendResult[]>;
}

export interface AppenderOptions {
  /** Largest group committed in one transaction. */
  readonly maxGroupSize?: number;
  /** Most items waiting for a transaction before add() rejects with AppenderOverloadedError. */
  readonly maxQueued?: number;
  /** Clock for received_at (ms since epoch); injectable for tests. */
  readonly now?: () => number;
}

interface ValidOptions {
  readonly maxGroupSize: number;
  readonly maxQueued: number;
  readonly now: () => number;
}

/** Validated once at construction, so a misconfiguration fails at start-up, not on the first request. */
function validOptions(o: AppenderOptions): ValidOptions {
  const maxGroupSize = o.maxGroupSize ?? 1000;
  const maxQueued = o.maxQueued ?? 20_000;
  if (!Number.isSafeInteger(maxGroupSize) || maxGroupSize < 1) throw new RangeError(`maxGroupSize: ${maxGroupSize}`);
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 1) throw new RangeError(`maxQueued: ${maxQueued}`);
  return { maxGroupSize, maxQueued, now: o.now ?? Date.now };
}

/** More than maxQueued items are waiting; retry later. */
export class AppenderOverloadedError extends Error {
  readonly queued: number;
  constructor(queued: number) {
    super(`log appender overloaded: ${queued} items already waiting`);
    this.name = "AppenderOverloadedError";
    this.queued = queued;
  }
}

export class AppenderClosedError extends Error {
  constructor() {
    super("log appender is closed");
    this.name = "AppenderClosedError";
  }
}

/** The transaction of the item's group failed; nothing of that group was stored. */
export class AppendFailedError extends Error {
  readonly groupSize: number;
  constructor(groupSize: number, options: { cause: unknown }) {
    super(`log append of a group of ${groupSize} failed: ${String((options.cause as Error)?.message ?? options.cause)}`, options);
    this.name = "AppendFailedError";
    this.groupSize = groupSize;
  }
}

interface Pending {
  readonly item: AppendItem;
  /** Items of one addAll() share a unit; a group never splits a unit. */
  readonly unit: number;
  readonly resolve: (r: Receipt) => void;
  readonly reject: (e: unknown) => void;
}

export interface AppenderStats {
  readonly groups: number;
  readonly failedGroups: number;
  readonly items: number;
  readonly largestGroup: number;
}

export class Appender {
  private readonly opts: ValidOptions;
  private queue: Pending[] = [];
  private scheduled = false;
  /** True from the start of a drain until the moment it sees an empty queue (set and cleared synchronously). */
  private running = false;
  private drained: Promise<void> = Promise.resolve();
  private closed = false;
  private counters = { groups: 0, failedGroups: 0, items: 0, largestGroup: 0 };
  private nextUnit = 0;

  private readonly sink: BatchSink;

  constructor(sink: BatchSink, options: AppenderOptions = {}) {
    this.sink = sink;
    this.opts = validOptions(options);
  }

  /** Queues one event; see the module comment for what resolution and rejection mean. */
  add(item: AddItem): Promise<Receipt> {
    return this.addAll([item]).then((receipts) => receipts[0] as Receipt);
  }

  /**
   * Queues events that must be logged together: they are committed in one transaction (never split across groups,
   * even past maxGroupSize) in the given order, so they all resolve or all reject. Nothing is queued if any is
   * malformed or the queue has no room for all of them.
   */
  addAll(items: readonly AddItem[]): Promise<Receipt[]> {
    if (this.closed) return Promise.reject(new AppenderClosedError());
    if (this.queue.length + items.length > this.opts.maxQueued) {
      return Promise.reject(new AppenderOverloadedError(this.queue.length));
    }
    let prepared: AppendItem[];
    try {
      prepared = items.map((item) => this.prepare(item));
    } catch (e) {
      return Promise.reject(e);
    }
    const unit = this.nextUnit++;
    const receipts = prepared.map(
      (item) =>
        new Promise<Receipt>((resolve, reject) => {
          this.queue.push({ item, unit, resolve, reject });
        }),
    );
    this.schedule();
    // One group commits or fails the whole unit, so every receipt settles the same way.
    return Promise.all(receipts);
  }

  /** Checked per item before queueing, so a malformed event is refused alone instead of failing its whole group. */
  private prepare(item: AddItem): AppendItem {
    const { key, body, nonce, ...input } = item;
    const { version: _v, prevIndex: _p, ...entry } = normalizeEntry({
      ...input,
      version: ENTRY_VERSION,
      prevIndex: NO_PREVIOUS,
    });
    if (typeof key !== "string" || key.length === 0) throw new TypeError("key must be a non-empty string");
    return { key, body, entry, receivedAt: this.opts.now(), ...(nonce === undefined ? {} : { nonce }) };
  }

  /** The bound method, for wrapping with decorators. */
  get addFn(): AddFn {
    return (item) => this.add(item);
  }

  stats(): AppenderStats {
    return { ...this.counters };
  }

  /** Items waiting for a transaction (not counting the group being committed). */
  get queued(): number {
    return this.queue.length;
  }

  /** Stops accepting items and waits until everything already accepted is committed or rejected. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.scheduled || this.running) {
      await (this.running ? this.drained : new Promise<void>((r) => setImmediate(r)));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // setImmediate, not a microtask: it runs after the poll phase, so every request whose I/O completed during the
    // previous (blocking) commit has been read and queued, and joins this group.
    setImmediate(() => {
      this.scheduled = false;
      this.drained = this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    // `running` is cleared in the same synchronous step that finds the queue empty (no await in between, hence the
    // loop is inline here): an add() after that schedules a new drain, an add() before it is seen by the loop.
    // No item can be left queued with nobody to commit it.
    while (this.queue.length > 0) {
      const group = this.takeGroup();
      this.counters.groups++;
      this.counters.largestGroup = Math.max(this.counters.largestGroup, group.length);
      let results: AppendResult[];
      try {
        results = await this.sink.appendBatch(group.map((p) => p.item));
        if (results.length !== group.length) throw new Error(`store returned ${results.length} results`);
      } catch (cause) {
        this.counters.failedGroups++;
        const err = new AppendFailedError(group.length, { cause });
        for (const p of group) p.reject(err);
        continue;
      }
      this.counters.items += group.length;
      group.forEach((p, i) => {
        const r = results[i] as AppendResult;
        p.resolve({ index: r.index, leafHash: bytesToHex(r.leafHash), prevIndex: r.prevIndex, duplicate: r.duplicate });
      });
    }
    this.running = false;
  }

  /** The next group: up to maxGroupSize items, ending at a unit boundary; a unit larger than that goes alone. */
  private takeGroup(): Pending[] {
    const q = this.queue;
    let n = Math.min(q.length, this.opts.maxGroupSize);
    while (n > 0 && n < q.length && q[n]!.unit === q[n - 1]!.unit) n--;
    if (n === 0) {
      n = 1;
      while (n < q.length && q[n]!.unit === q[0]!.unit) n++;
    }
    return q.splice(0, n);
  }
}

/** Body size limit (bytes of UTF-8), applied before an item is queued. */
export class BodyTooLargeError extends Error {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super(`event body of ${bytes} bytes exceeds the limit of ${limit}`);
    this.name = "BodyTooLargeError";
    this.bytes = bytes;
    this.limit = limit;
  }
}

export function withBodySizeLimit(add: AddFn, maxBytes: number): AddFn {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`maxBytes: ${maxBytes}`);
  return (item) => {
    const bytes = Buffer.byteLength(item.body, "utf8");
    return bytes > maxBytes ? Promise.reject(new BodyTooLargeError(bytes, maxBytes)) : add(item);
  };
}

/** Per-call latency and outcome counters around any AddFn. */
export interface AddStats {
  ok: number;
  duplicates: number;
  failed: number;
  /** Milliseconds from call to settlement, one per settled call, in settlement order. */
  readonly latenciesMs: number[];
}

export function withStats(add: AddFn, stats: AddStats): AddFn {
  return async (item) => {
    const start = performance.now();
    try {
      const receipt = await add(item);
      if (receipt.duplicate) stats.duplicates++;
      else stats.ok++;
      return receipt;
    } catch (e) {
      stats.failed++;
      throw e;
    } finally {
      stats.latenciesMs.push(performance.now() - start);
    }
  };
}
