/**
 * The PostgreSQL side of store/answer-store.ts (migration "answers" of postgres-migrations.ts), mirroring
 * sqlite-answers.ts. Reads only, on the pool; the summaries and versions they read are written by the migration's
 * triggers inside the writes they follow. A read that needs several tables' agreement is one statement, so it sees
 * one snapshot (READ COMMITTED gives each statement its own).
 */
import type { AnswerStore, AnswerVersions, ObservationSummaryRow, ReadingHourRow, ReadingSummaryRow } from "./answer-store.ts";
import type { AnchorRow } from "./index-store.ts";
import { ANCHOR_COLUMNS, toAnchor } from "./index-rows.ts";
import { first, type Sql } from "./postgres-rows.ts";
import { ENTRY_COLUMNS, int, optInt, toEntry, type Row } from "./rows.ts";
import { StoreCorruptError, type StoredEntry } from "./store.ts";

const OBSERVED = 10;

const SQL = {
  lifecycle: `SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE batch_id = $1 AND kind <> ${OBSERVED} ORDER BY idx LIMIT $2`,
  observations:
    `SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE batch_id = $1 AND kind = ${OBSERVED} AND idx <= $2 ` +
    "ORDER BY idx DESC LIMIT $3",
  // Reading types ordered as SQLite orders them (byte-wise, whatever the database's collation).
  summary: `
    SELECT t.entries, t.first_idx, t.last_idx,
      (SELECT count(*) FROM observation_readings WHERE batch_id = $1) AS types,
      (SELECT coalesce(json_agg(r ORDER BY r.count DESC, r.type COLLATE "C", r.unit COLLATE "C"), '[]'::json) FROM (
         SELECT type, unit, count, first_at, last_at, min, max, last_value, last_value_at, last_idx
         FROM observation_readings WHERE batch_id = $1
         ORDER BY count DESC, type COLLATE "C", unit COLLATE "C" LIMIT $2) r) AS readings
    FROM (SELECT 1) AS one LEFT JOIN observation_totals t ON t.batch_id = $1`,
  hours: `
    SELECT hour, count, min, max, sum FROM (
      SELECT hour, count, min, max, sum FROM observation_hours
      WHERE batch_id = $1 AND type = $2 AND unit = $3 ORDER BY hour DESC LIMIT $4) h
    ORDER BY hour`,
  firstAnchor: `SELECT ${ANCHOR_COLUMNS} FROM anchors WHERE size > $1 ORDER BY size LIMIT 1`,
  versions: `
    SELECT
      ARRAY(SELECT coalesce((SELECT version FROM answer_versions WHERE key = u.id), 0)::text
            FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord) ORDER BY u.ord) AS versions,
      ARRAY(SELECT coalesce((SELECT max(idx) FROM log_entries WHERE batch_id = u.id), -1)::text
            FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord) ORDER BY u.ord) AS last_indices,
      coalesce((SELECT version FROM answer_versions WHERE key = 'actors'), 0) AS actors,
      coalesce((SELECT version FROM answer_versions WHERE key = 'anchors'), 0) AS anchors`,
} as const;

/** A JSON number from json_agg (double precision and bigint columns both arrive as numbers). */
function jsonNum(value: unknown, col: string): number {
  if (typeof value !== "number") throw new StoreCorruptError(`observation_readings.${col}: expected a number, got ${typeof value}`);
  return value;
}

function jsonOptInt(value: unknown, col: string): number | undefined {
  return value === null || value === undefined ? undefined : jsonNum(value, col);
}

function toReading(r: Record<string, unknown>): ReadingSummaryRow {
  if (typeof r.type !== "string" || typeof r.unit !== "string") throw new StoreCorruptError("observation_readings: type or unit is not text");
  return {
    type: r.type,
    unit: r.unit,
    count: jsonNum(r.count, "count"),
    firstAt: jsonOptInt(r.first_at, "first_at"),
    lastAt: jsonOptInt(r.last_at, "last_at"),
    min: jsonNum(r.min, "min"),
    max: jsonNum(r.max, "max"),
    lastValue: jsonNum(r.last_value, "last_value"),
    lastValueAt: jsonOptInt(r.last_value_at, "last_value_at"),
    lastIndex: jsonNum(r.last_idx, "last_idx"),
  };
}

/** A float8 column (node-postgres parses it to a number). */
function real(row: Row, col: string): number {
  const v = row[col];
  if (typeof v !== "number") throw new StoreCorruptError(`column ${col}: expected a number, got ${typeof v}`);
  return v;
}

/** An int8[] sent back as text[] (node-postgres leaves int8 array elements as strings). */
function ints(row: Row, col: string): number[] {
  const v = row[col];
  if (!Array.isArray(v)) throw new StoreCorruptError(`column ${col}: expected an array`);
  return v.map((x) => {
    const n = Number(x);
    if (typeof x !== "string" || !Number.isSafeInteger(n)) throw new StoreCorruptError(`column ${col}: ${String(x)} is not an integer`);
    return n;
  });
}

export class PgAnswers implements AnswerStore {
  private readonly read: Sql;

  constructor(read: Sql) {
    this.read = read;
  }

  async lifecycleEntriesOfBatch(batchId: string, limit: number): Promise<StoredEntry[]> {
    return (await this.read.query(SQL.lifecycle, [batchId.toLowerCase(), limit])).rows.map(toEntry);
  }

  async observationsOfBatch(batchId: string, atOrBefore: number, limit: number): Promise<StoredEntry[]> {
    return (await this.read.query(SQL.observations, [batchId.toLowerCase(), atOrBefore, limit])).rows.map(toEntry);
  }

  async observationSummary(batchId: string, maxTypes: number): Promise<ObservationSummaryRow> {
    const row = first(await this.read.query(SQL.summary, [batchId.toLowerCase(), maxTypes]));
    if (row === undefined) throw new StoreCorruptError("the observation summary read returned no row");
    const readings = row.readings;
    if (!Array.isArray(readings)) throw new StoreCorruptError("the observation summary's readings are not a list");
    return {
      entries: optInt(row, "entries") ?? 0,
      firstIndex: optInt(row, "first_idx"),
      lastIndex: optInt(row, "last_idx"),
      readings: readings.map((r) => toReading(r as Record<string, unknown>)),
      types: int(row, "types"),
    };
  }

  async readingHours(batchId: string, type: string, unit: string, limit: number): Promise<ReadingHourRow[]> {
    const { rows } = await this.read.query(SQL.hours, [batchId.toLowerCase(), type, unit, limit]);
    return rows.map((row) => ({ hour: int(row, "hour"), count: int(row, "count"), min: real(row, "min"), max: real(row, "max"), sum: real(row, "sum") }));
  }

  async firstAnchorCovering(leafIndex: number): Promise<AnchorRow | undefined> {
    const row = first(await this.read.query(SQL.firstAnchor, [leafIndex]));
    return row === undefined ? undefined : toAnchor(row);
  }

  async answerVersions(batchIds: readonly string[]): Promise<AnswerVersions> {
    const row = first(await this.read.query(SQL.versions, [batchIds.map((id) => id.toLowerCase())]));
    if (row === undefined) throw new StoreCorruptError("the answer versions read returned no row");
    return { versions: ints(row, "versions"), lastIndices: ints(row, "last_indices"), actors: int(row, "actors"), anchors: int(row, "anchors") };
  }
}
