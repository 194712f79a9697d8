/**
 * The SQLite side of store/answer-store.ts (migration "answers"). Reads only, on the store's read-only connection;
 * the summaries and versions they read are written by the migration's triggers inside the writes they follow.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { AnswerStore, AnswerVersions, ObservationSummaryRow, ReadingHourRow, ReadingSummaryRow } from "./answer-store.ts";
import type { AnchorRow } from "./index-store.ts";
import { ANCHOR_COLUMNS, toAnchor } from "./index-rows.ts";
import { ENTRY_COLUMNS, int, optInt, str, toEntry, type Row } from "./rows.ts";
import type { StoredEntry } from "./store.ts";

const OBSERVED = 10;

const SQL = {
  lifecycle: `SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE batch_id = ? AND kind <> ${OBSERVED} ORDER BY idx LIMIT ?`,
  observations: `SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE batch_id = ? AND kind = ${OBSERVED} AND idx <= ? ORDER BY idx DESC LIMIT ?`,
  totals: "SELECT entries, first_idx, last_idx FROM observation_totals WHERE batch_id = ?",
  readings:
    "SELECT type, unit, count, first_at, last_at, min, max, last_value, last_value_at, last_idx FROM observation_readings " +
    "WHERE batch_id = ? ORDER BY count DESC, type, unit LIMIT ?",
  types: "SELECT count(*) AS n FROM observation_readings WHERE batch_id = ?",
  hours:
    "SELECT hour, count, min, max, sum FROM (SELECT hour, count, min, max, sum FROM observation_hours " +
    "WHERE batch_id = ? AND type = ? AND unit = ? ORDER BY hour DESC LIMIT ?) ORDER BY hour",
  firstAnchor: `SELECT ${ANCHOR_COLUMNS} FROM anchors WHERE size > ? ORDER BY size LIMIT 1`,
  version: "SELECT version FROM answer_versions WHERE key = ?",
  lastIndex: "SELECT max(idx) AS idx FROM log_entries WHERE batch_id = ?",
} as const;

function num(row: Row, col: string): number {
  const v = row[col];
  if (typeof v === "number") return v;
  return int(row, col);
}

function toReading(row: Row): ReadingSummaryRow {
  return {
    type: str(row, "type"),
    unit: str(row, "unit"),
    count: int(row, "count"),
    firstAt: optInt(row, "first_at"),
    lastAt: optInt(row, "last_at"),
    min: num(row, "min"),
    max: num(row, "max"),
    lastValue: num(row, "last_value"),
    lastValueAt: optInt(row, "last_value_at"),
    lastIndex: int(row, "last_idx"),
  };
}

export class SqliteAnswers implements AnswerStore {
  private readonly reader: DatabaseSync;
  /** Prepared on first use: a store opened with fewer migrations (tests) has no such tables. */
  private readonly prepared = new Map<keyof typeof SQL, StatementSync>();

  constructor(reader: DatabaseSync) {
    this.reader = reader;
  }

  private q(name: keyof typeof SQL): StatementSync {
    let stmt = this.prepared.get(name);
    if (stmt === undefined) {
      stmt = this.reader.prepare(SQL[name]);
      this.prepared.set(name, stmt);
    }
    return stmt;
  }

  async lifecycleEntriesOfBatch(batchId: string, limit: number): Promise<StoredEntry[]> {
    return this.q("lifecycle").all(batchId.toLowerCase(), limit).map(toEntry);
  }

  async observationsOfBatch(batchId: string, atOrBefore: number, limit: number): Promise<StoredEntry[]> {
    return this.q("observations").all(batchId.toLowerCase(), atOrBefore, limit).map(toEntry);
  }

  async observationSummary(batchId: string, maxTypes: number): Promise<ObservationSummaryRow> {
    const id = batchId.toLowerCase();
    return this.snapshot(() => {
      const totals = this.q("totals").get(id);
      const readings = this.q("readings").all(id, maxTypes).map(toReading);
      const types = int(this.q("types").get(id) ?? { n: 0 }, "n");
      return {
        entries: totals === undefined ? 0 : int(totals, "entries"),
        firstIndex: optInt(totals, "first_idx"),
        lastIndex: optInt(totals, "last_idx"),
        readings,
        types,
      };
    });
  }

  async readingHours(batchId: string, type: string, unit: string, limit: number): Promise<ReadingHourRow[]> {
    return this.q("hours")
      .all(batchId.toLowerCase(), type, unit, limit)
      .map((row) => ({ hour: int(row, "hour"), count: int(row, "count"), min: num(row, "min"), max: num(row, "max"), sum: num(row, "sum") }));
  }

  async firstAnchorCovering(leafIndex: number): Promise<AnchorRow | undefined> {
    const row = this.q("firstAnchor").get(leafIndex);
    return row === undefined ? undefined : toAnchor(row);
  }

  async answerVersions(batchIds: readonly string[]): Promise<AnswerVersions> {
    return this.snapshot(() => {
      const version = (key: string): number => optInt(this.q("version").get(key), "version") ?? 0;
      const ids = batchIds.map((id) => id.toLowerCase());
      return {
        versions: ids.map(version),
        lastIndices: ids.map((id) => optInt(this.q("lastIndex").get(id), "idx") ?? -1),
        actors: version("actors"),
        anchors: version("anchors"),
      };
    });
  }

  /** Runs several reads in one read transaction, so they see one committed state. */
  private snapshot<T>(fn: () => T): T {
    if (this.reader.isTransaction) return fn();
    this.reader.exec("BEGIN");
    try {
      return fn();
    } finally {
      this.reader.exec("COMMIT");
    }
  }
}
