/**
 * The market projection (store/market-store.ts) kept up with the log, as epcis/projection.ts keeps the EPCIS index:
 * in log order behind its own cursor, in chunks, each chunk one store transaction that also moves the cursor; a
 * market read first brings it up to the log's size. Bodies are parsed once, when indexed. Crash-safe by
 * construction: a chunk is indexed entirely or not at all, and its rows are a function of the log up to it, so a
 * restarted (or another) instance continues from the stored cursor.
 *
 * What each kind adds:
 * - Registered: the lot's origin row, held by its registrant;
 * - Split: each child gets its parent's origin, held by the splitter; Merged: the child gets its first parent's;
 * - HandOffAccepted: the lot is held by the receiver from then on, and an arrival row (the supply chart);
 * - Inspected: a test row with the analytes over their limits; PesticideApplied: an application row with its
 *   pre-harvest interval checked against the lot's harvest date (shopper-view's `daysBetween` rule: whole calendar
 *   days from the application to the harvest, a violation when fewer than `preHarvestIntervalDays`);
 * - Observed: an acknowledgement row when it is one (protocol/recall-ack.ts).
 *
 * The projection follows what was logged; a lifecycle event the contract later refuses stays in it. Who holds a lot
 * is read from the chain index, so a refused hand-off only leaves a "since" that no longer applies (and is hidden).
 */
import type { EventDoc, HandOffAcceptedDoc, InspectedDoc, MergedDoc, ObservedDoc, PesticideAppliedDoc, RegisteredDoc, SplitDoc } from "../protocol/documents.ts";
import { recallAckOf } from "../protocol/recall-ack.ts";
import { batchIdOf } from "../protocol/typed-data.ts";
import { bodyOf } from "../query/batch-state.ts";
import type { MarketAckRow, MarketArrivalRow, MarketDelta, MarketLotRow, MarketPesticideRow, MarketTestRow, Store, StoredEntry } from "../store/store.ts";

/** Entries indexed per transaction. */
const CHUNK = 500;

const DAY_MS = 86_400_000;

/** Whole UTC days since 1970 of an RFC 3339 time or a YYYY-MM-DD date. */
export function dayOf(iso: string): number {
  return Math.floor(Date.parse(iso.length === 10 ? `${iso}T00:00:00Z` : iso) / DAY_MS);
}

/** Calendar days from an application's date to the harvest date (both taken as UTC dates). */
export function daysBefore(appliedAt: string, harvestDate: string): number {
  return dayOf(harvestDate.slice(0, 10)) - dayOf(appliedAt.slice(0, 10));
}

/** One chunk's work: rows to write, with the lots it touched kept in memory so later entries of the chunk see them. */
class ChunkBuilder {
  readonly lots = new Map<string, MarketLotRow>();
  readonly arrivals: MarketArrivalRow[] = [];
  readonly tests: MarketTestRow[] = [];
  readonly pesticides: MarketPesticideRow[] = [];
  readonly acks: MarketAckRow[] = [];
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  private async lot(batchId: string): Promise<MarketLotRow | undefined> {
    const id = batchId.toLowerCase();
    const known = this.lots.get(id);
    if (known) return known;
    const [stored] = await this.store.marketLots([id]);
    return stored;
  }

  private put(row: MarketLotRow): void {
    this.lots.set(row.batchId.toLowerCase(), row);
  }

  async add(entry: StoredEntry): Promise<void> {
    const body = bodyOf(entry);
    const doc = body.doc as unknown as EventDoc;
    const signer = body.signer.toLowerCase();
    const eventHash = entry.key.toLowerCase();
    const batchId = entry.batchId.toLowerCase();
    const at = Date.parse(doc.occurredAt);
    switch (doc.kind) {
      case "Registered": {
        const d = doc as RegisteredDoc;
        this.put({
          batchId,
          product: d.product,
          country: d.origin.country,
          region: d.origin.region,
          farm: d.origin.farm.name,
          harvestDate: d.harvestDate,
          imported: d.imported,
          holder: signer,
          heldSince: at,
          heldEvent: eventHash,
        });
        return;
      }
      case "Split": {
        const parent = await this.lot(batchId);
        if (!parent) return;
        for (const child of (doc as SplitDoc).children) {
          this.put({ ...parent, batchId: batchIdOf(child.gtin, child.lot), holder: signer, heldSince: at, heldEvent: eventHash });
        }
        return;
      }
      case "Merged": {
        const [first] = (doc as MergedDoc).parents;
        const parent = first ? await this.lot(batchIdOf(first.gtin, first.lot)) : undefined;
        if (!parent) return;
        this.put({ ...parent, batchId, holder: signer, heldSince: at, heldEvent: eventHash });
        return;
      }
      case "HandOffAccepted": {
        void (doc as HandOffAcceptedDoc);
        const lot = await this.lot(batchId);
        if (!lot) return;
        this.put({ ...lot, holder: signer, heldSince: at, heldEvent: eventHash });
        this.arrivals.push({ index: entry.index, batchId, receiver: signer, day: dayOf(doc.occurredAt), country: lot.country, region: lot.region });
        return;
      }
      case "Inspected": {
        const d = doc as InspectedDoc;
        this.tests.push({
          index: entry.index,
          batchId,
          day: dayOf(d.occurredAt),
          passed: d.passed,
          lab: d.lab.name,
          failed: d.analytes.filter((a) => a.value > a.limit).map((a) => ({ name: a.name, value: a.value, limit: a.limit, unit: a.unit })),
        });
        return;
      }
      case "PesticideApplied": {
        const d = doc as PesticideAppliedDoc;
        const harvest = (await this.lot(batchId))?.harvestDate;
        const gap = harvest === undefined ? undefined : daysBefore(d.occurredAt, harvest);
        this.pesticides.push({
          index: entry.index,
          batchId,
          day: dayOf(d.occurredAt),
          substance: d.substance.name,
          preHarvestIntervalDays: d.preHarvestIntervalDays,
          harvestDate: harvest,
          daysBeforeHarvest: gap,
          violation: gap !== undefined && gap < d.preHarvestIntervalDays,
        });
        return;
      }
      case "Observed": {
        const ack = recallAckOf(doc as ObservedDoc);
        if (ack) this.acks.push({ index: entry.index, batchId, recallEventHash: ack.recallEventHash, signer, eventHash, at });
        return;
      }
      default:
        return;
    }
  }

  delta(): MarketDelta {
    return { lots: [...this.lots.values()], arrivals: this.arrivals, tests: this.tests, pesticides: this.pesticides, acks: this.acks };
  }
}

export class MarketProjection {
  private readonly store: Store;
  private running: Promise<void> | undefined;

  constructor(store: Store) {
    this.store = store;
  }

  /** Resolves once every entry committed when it was called is indexed; concurrent callers share one pass. */
  catchUp(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const size = await this.store.size();
    let cursor = await this.store.marketCursor();
    while (cursor < size) {
      const end = Math.min(cursor + CHUNK, size);
      const chunk = new ChunkBuilder(this.store);
      for (let i = cursor; i < end; i++) {
        const entry = await this.store.entry(i);
        if (entry === undefined) throw new Error(`log entry ${i} is missing below the log size ${size}`);
        await chunk.add(entry);
      }
      // Another instance may have indexed the chunk first; then continue from where it left the cursor.
      cursor = (await this.store.indexMarket(cursor, end, chunk.delta())) ? end : await this.store.marketCursor();
    }
  }
}
