/**
 * The answers' cache: provenance answers (serialised, with their ETag), the shopper pages rendered from them, traces
 * and observation pages, in one LRU with a byte budget (ANSWER_CACHE_MB).
 *
 * The promise: a cached answer is served only while the store says nothing it was built from has changed, checked
 * on every request against the store, not against events this process saw. An answer is a function of its lots' state
 * (the lot and its ancestors: their log entries, index rows, lineage, recorded events and relay rows), the actors'
 * profiles and roles, and the anchor its proofs lead to; the store keeps a version per lot and one for actors, raised
 * in the same transaction as any such write (store/answer-store.ts), and a lot's last log index tells its appends.
 * So a recall, a new event of the lot or an ancestor, a new profile, or an index reset is seen by the very next
 * request of every API instance on the database. An answer whose proofs are not all anchored also checks the anchors'
 * version. A lot not on chain yet (pending, built partly from this process's ingest state) is never cached.
 *
 * The versions are read before an answer is built and again after; it is cached only if they did not move, so a
 * write that lands during the build cannot leave a stale answer behind.
 */
import { createHash } from "node:crypto";
import type { Provenance, ObservationPage } from "../protocol/answer.ts";
import type { AnswerVersions, Store } from "../store/store.ts";
import type { BatchRef } from "../gs1/digital-link.ts";
import { answerLots, buildProvenance, type ProvenanceContext } from "./provenance.ts";
import { observationPageOf } from "./observations.ts";
import { traceOf, type Trace } from "./trace.ts";
import type { QueryContext } from "./batch-state.ts";

/** An LRU map whose entries each weigh their bytes; past the budget the least recently used go first. */
export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private used = 0;
  readonly budget: number;

  constructor(budget: number) {
    this.budget = budget;
  }

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (hit === undefined) return undefined;
    // Map keeps insertion order: re-inserting makes it the most recently used.
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.budget) return;
    this.map.set(key, { value, bytes });
    this.used += bytes;
    for (const [oldest, entry] of this.map) {
      if (this.used <= this.budget) break;
      this.map.delete(oldest);
      this.used -= entry.bytes;
    }
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.used -= old.bytes;
  }

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.used;
  }
}

/** A provenance answer as the routes send it. */
export interface CachedAnswer {
  readonly batchId: string;
  /** The answer's JSON text, as sent. */
  readonly json: string;
  readonly etag: string;
  readonly onChain: boolean;
  /** What the cache entry was checked against: also the key of everything rendered from this answer. */
  readonly stamp: string;
  /** The answer as an object (parsed again from `json`: the cache keeps only the text). */
  answer(): Provenance;
}

export interface CachedJson {
  readonly json: string;
  readonly etag: string;
}

export interface CacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly budget: number;
  readonly hits: number;
  readonly misses: number;
}

/** Strong entity tag of a JSON text: sha256, base64url, quoted (as query/http-cache.ts etagOf). */
export function etagOfText(json: string): string {
  return `"${createHash("sha256").update(json).digest("base64url")}"`;
}

interface Entry<V> {
  readonly lots: readonly string[];
  readonly settled: boolean;
  readonly stamp: string;
  readonly value: V;
}

/** The store's version key raised by every recall (store/migrations.ts v8, "answers"). */
const RECALLS = "recalls";

/** JS strings are UTF-16 in memory; what an entry costs besides its text is small and counted as a constant. */
const textBytes = (s: string): number => s.length * 2 + 256;

function stampOf(v: AnswerVersions, settled: boolean): string {
  return `${v.versions.join(",")}|${v.lastIndices.join(",")}|${v.actors}${settled ? "" : `|${v.anchors}`}`;
}

export class AnswerCache {
  private readonly lru: ByteLru<Entry<unknown>>;
  private readonly store: Store;
  private hits = 0;
  private misses = 0;

  constructor(store: Store, budgetBytes: number) {
    this.store = store;
    this.lru = new ByteLru(budgetBytes);
  }

  stats(): CacheStats {
    return { entries: this.lru.size, bytes: this.lru.bytes, budget: this.lru.budget, hits: this.hits, misses: this.misses };
  }

  /** The entry under `key` if the store still says what it said when the entry was built. */
  private async valid<V>(key: string): Promise<Entry<V> | undefined> {
    const entry = this.lru.get(key) as Entry<V> | undefined;
    if (entry === undefined) return undefined;
    const now = stampOf(await this.store.answerVersions(entry.lots), entry.settled);
    if (now === entry.stamp) return entry;
    this.lru.delete(key);
    return undefined;
  }

  /**
   * The entry under `key`, or `build`'s result cached under it: `lots` are read before the build, and the result is
   * cached only when the build read those same lots and their versions did not move meanwhile.
   */
  private async through<V>(
    key: string,
    lots: () => Promise<readonly string[]>,
    build: () => Promise<{ value: V; lots: readonly string[]; settled: boolean; cacheable: boolean }>,
    bytes: (value: V) => number,
  ): Promise<Entry<V>> {
    const hit = await this.valid<V>(key);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const before = await lots();
    const v0 = await this.store.answerVersions(before);
    const built = await build();
    const same = built.lots.length === before.length && built.lots.every((id, i) => id === before[i]);
    const v1 = same ? await this.store.answerVersions(built.lots) : undefined;
    const stamp = v1 === undefined ? "" : stampOf(v1, built.settled);
    const entry: Entry<V> = { lots: built.lots, settled: built.settled, stamp, value: built.value };
    if (built.cacheable && v1 !== undefined && stampOf(v0, built.settled) === stamp) {
      this.lru.set(key, entry as Entry<unknown>, bytes(built.value) + built.lots.length * 80);
    }
    return entry;
  }

  /** The provenance answer of a resolved reference, from the cache while the store says it is current. */
  async provenance(ctx: ProvenanceContext, ref: BatchRef): Promise<CachedAnswer> {
    const batchId = ref.batchId.toLowerCase();
    const entry = await this.through<{ json: string; etag: string; onChain: boolean }>(
      `provenance:${batchId}`,
      () => answerLots(ctx, batchId),
      async () => {
        const built = await buildProvenance(ctx, ref);
        const json = JSON.stringify(built.answer);
        return {
          value: { json, etag: etagOfText(json), onChain: built.answer.batch.onChain },
          lots: built.lots,
          settled: built.settled,
          cacheable: built.answer.batch.onChain,
        };
      },
      (v) => textBytes(v.json),
    );
    const { json, etag, onChain } = entry.value;
    return { batchId, json, etag, onChain, stamp: entry.stamp, answer: () => JSON.parse(json) as Provenance };
  }

  /**
   * Something rendered from a provenance answer (a shopper page): cached beside it, valid while the answer is, for
   * as long as the answer's own entry. `key` names everything else the rendering depends on (language, URL, bundle).
   */
  rendered(answer: CachedAnswer, key: string, render: () => string): string {
    if (answer.stamp === "") return render();
    const full = `rendered:${answer.batchId}:${key}`;
    const hit = this.lru.get(full) as Entry<string> | undefined;
    if (hit !== undefined && hit.stamp === answer.stamp) {
      this.hits++;
      return hit.value;
    }
    this.misses++;
    const value = render();
    // Checked through the answer it was rendered from (whose stamp it carries), so it holds no lots of its own.
    this.lru.set(full, { lots: [], settled: true, stamp: answer.stamp, value } as Entry<unknown>, textBytes(value));
    return value;
  }

  /**
   * A lot's trace: valid while every lot in it (ancestors and descendants), the actors and the set of recalls are
   * unchanged ("recalls" is the store's version of every recall: a merged descendant inherits the recall of a parent
   * the trace does not list).
   */
  async trace(ctx: QueryContext, ref: BatchRef): Promise<CachedJson> {
    const batchId = ref.batchId.toLowerCase();
    const lotsOfTrace = (trace: Trace): string[] => [batchId, RECALLS, ...trace.lots.map((l) => l.batchId).filter((id) => id !== batchId).sort()];
    const entry = await this.through<CachedJson>(
      `trace:${batchId}`,
      async () => {
        const [up, down] = await Promise.all([this.store.ancestors(batchId), this.store.descendants(batchId)]);
        return [batchId, RECALLS, ...[...new Set([...up.map((e) => e.parent), ...down.map((e) => e.child)])].filter((id) => id !== batchId).sort()];
      },
      async () => {
        const trace = await traceOf(ctx, ref);
        const json = JSON.stringify(trace);
        return {
          value: { json, etag: etagOfText(json) },
          lots: lotsOfTrace(trace),
          settled: true,
          cacheable: trace.lots.every((l) => l.onChain),
        };
      },
      (v) => textBytes(v.json),
    );
    return entry.value;
  }

  /** A page of a lot's observations: its entries never change; their signers' profiles and pending proofs may. */
  async observations(ctx: QueryContext, batchId: string, cursor: number, limit: number): Promise<CachedJson & { page: () => ObservationPage }> {
    const id = batchId.toLowerCase();
    const entry = await this.through<CachedJson>(
      `observations:${id}:${cursor}:${limit}`,
      async () => [],
      async () => {
        const built = await observationPageOf(ctx, id, cursor, limit);
        const json = JSON.stringify(built.page);
        return { value: { json, etag: etagOfText(json) }, lots: [], settled: built.settled, cacheable: true };
      },
      (v) => textBytes(v.json),
    );
    const { json, etag } = entry.value;
    return { json, etag, page: () => JSON.parse(json) as ObservationPage };
  }
}
