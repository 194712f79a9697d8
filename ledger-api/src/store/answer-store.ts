/**
 * What the provenance answer (query/provenance.ts) and its cache (query/answer-cache.ts) read from the store besides
 * the log and the chain index: reads whose cost does not grow with a lot's observations, and the versions that tell
 * any API instance on the database whether an answer it built is still what the store says.
 *
 * Both are kept by the store in the same transaction as the rows they follow (SQLite: migration "answers", triggers),
 * so they are never behind: a summary is always a recount of the lot's Observed entries, and a version has moved
 * before the write that moved it is visible to any reader.
 */
import type { AnchorRow } from "./index-store.ts";
import type { StoredEntry } from "./store.ts";

/** One reading type (with its unit) over a lot's Observed entries. Times are unix seconds of `occurredAt`. */
export interface ReadingSummaryRow {
  readonly type: string;
  readonly unit: string;
  /** Readings counted (an entry may carry several of a type). */
  readonly count: number;
  readonly firstAt: number | undefined;
  readonly lastAt: number | undefined;
  readonly min: number;
  readonly max: number;
  /** The reading of the newest entry (by log index) that carries this type, and that entry's occurredAt. */
  readonly lastValue: number;
  readonly lastValueAt: number | undefined;
  readonly lastIndex: number;
}

/** A lot's Observed entries counted, and its reading types, most readings first. */
export interface ObservationSummaryRow {
  readonly entries: number;
  readonly firstIndex: number | undefined;
  readonly lastIndex: number | undefined;
  /** Up to the `maxTypes` asked for. */
  readonly readings: readonly ReadingSummaryRow[];
  /** Reading types the lot has in all (so a reader knows how many `readings` left out). */
  readonly types: number;
}

/** One hour (of occurredAt) of one reading type's values. */
export interface ReadingHourRow {
  /** Unix seconds / 3600. */
  readonly hour: number;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
}

/** The store state an answer about some lots was built from; equal stamps mean nothing it read has changed. */
export interface AnswerVersions {
  /** Per lot asked about, in order: the version of its index rows, lineage, recorded events and relay rows ... */
  readonly versions: readonly number[];
  /** ... and its last log index (-1 when it has none). */
  readonly lastIndices: readonly number[];
  /** Raised by every profile or role change. */
  readonly actors: number;
  /** Raised by every anchor recorded (or removed by an index reset). */
  readonly anchors: number;
}

export interface AnswerStore {
  /**
   * The lot's entries of every kind but Observed, in log order, at most `limit` (a caller asking for one more than it
   * will show learns that there are more).
   */
  lifecycleEntriesOfBatch(batchId: string, limit: number): Promise<StoredEntry[]>;
  /** The lot's Observed entries with log index <= `atOrBefore`, newest first, at most `limit`. */
  observationsOfBatch(batchId: string, atOrBefore: number, limit: number): Promise<StoredEntry[]>;
  /** The lot's Observed entries counted and summarised per reading type (at most `maxTypes`, most readings first). */
  observationSummary(batchId: string, maxTypes: number): Promise<ObservationSummaryRow>;
  /** One reading type's hours, the newest `limit`, oldest first. */
  readingHours(batchId: string, type: string, unit: string, limit: number): Promise<ReadingHourRow[]>;
  /** The earliest anchor whose tree contains leaf `leafIndex` (size > leafIndex), undefined if none yet. */
  firstAnchorCovering(leafIndex: number): Promise<AnchorRow | undefined>;
  /**
   * The versions of `batchIds` (and of actors and anchors), read from one snapshot. The key "recalls" may stand among
   * them: its version is raised by every recall (and un-recall by an index reset) of any lot.
   */
  answerVersions(batchIds: readonly string[]): Promise<AnswerVersions>;
}
