/**
 * What the EPCIS interface (epcis/) keeps in the store: the query index of GET /epcis/events and the capture jobs of
 * POST /epcis/capture. Five methods; a driver implements them over its own tables (SQLite: sqlite-epcis.ts,
 * migration "epcis").
 *
 * The query index is a projection of the log, not part of it: one row per log entry with the terms the EPCIS query
 * filters on, written by epcis/projection.ts in log order behind a cursor. It can be rebuilt from the log at any
 * time, so it is written in its own transactions, never inside an append.
 */

/** The query terms of one log entry, as its EPCIS event reads back (epcis/mapping.ts). */
export interface EpcisIndexRow {
  /** Log index. */
  readonly index: number;
  /** ObjectEvent or TransformationEvent. */
  readonly eventType: string;
  /** Unix milliseconds of eventTime. */
  readonly eventTime: number;
  /** The bizStep the event reads back with, if any (CBV bare word such as "shipping", or a `ledger:` term). */
  readonly bizStep?: string;
  /** The bizLocation id the event reads back with, if any (`https://id.gs1.org/414/{gln}`). */
  readonly bizLocation?: string;
  /** Lower-case 0x batchIds of every lot the event names. */
  readonly lots: readonly string[];
}

/** A conjunction of filters; a list means "any of". Absent filters match everything. */
export interface EpcisFilter {
  readonly eventTypes?: readonly string[];
  readonly bizSteps?: readonly string[];
  readonly bizLocations?: readonly string[];
  /** batchIds */
  readonly lots?: readonly string[];
  /** Unix ms, inclusive. */
  readonly geEventTime?: number;
  /** Unix ms, exclusive. */
  readonly ltEventTime?: number;
  /** Only entries with a log index above this one (paging). */
  readonly afterIndex?: number;
}

/** A capture job as stored. `errors` and `events` are JSON arrays, opaque to the store. */
export interface CaptureJobRecord {
  readonly captureId: string;
  /** Unix ms. */
  readonly createdAt: number;
  readonly finishedAt: number | undefined;
  readonly running: boolean;
  readonly success: boolean;
  readonly errorBehaviour: string;
  readonly errors: string;
  readonly events: string;
}

export interface EpcisStore {
  /** The next log index the query index lacks (every entry below it is indexed). */
  epcisCursor(): Promise<number>;
  /**
   * Writes the rows of entries [from, to) and moves the cursor from `from` to `to`, in one transaction. Resolves
   * false, writing nothing, when the cursor is no longer at `from` (another writer indexed them first).
   */
  indexEpcisEvents(from: number, to: number, rows: readonly EpcisIndexRow[]): Promise<boolean>;
  /** Log indices of indexed entries that match `filter`, ascending, at most `limit`. */
  epcisEvents(filter: EpcisFilter, limit: number): Promise<number[]>;
  /** Inserts or replaces a capture job. */
  saveCaptureJob(job: CaptureJobRecord): Promise<void>;
  captureJob(captureId: string): Promise<CaptureJobRecord | undefined>;
}
