/**
 * The SQLite side of store/epcis-store.ts (migration "epcis"). Like sqlite-chain-writers.ts, it runs on the store's
 * connections: reads on the read-only one, writes through the store's serialized write queue (`WriteTx`).
 *
 * A query is one statement over epcis_events, filtered and ordered by log index. Each filter column has an index
 * ending in idx, and the lot filter is a primary-key range of epcis_event_lots, so a page costs the rows it skips
 * inside the chosen index, not a scan of the log; bodies are never read here.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { WriteTx } from "./sqlite-chain-writers.ts";
import { bool, int, optInt, str, type Row } from "./sqlite-rows.ts";
import type { CaptureJobRecord, EpcisFilter, EpcisIndexRow, EpcisStore } from "./epcis-store.ts";

export class SqliteEpcis implements EpcisStore {
  private readonly reader: DatabaseSync;
  private readonly write: WriteTx;
  private readonly readCursor: StatementSync;
  private readonly writeCursor: StatementSync;
  private readonly moveCursor: StatementSync;
  private readonly insertEvent: StatementSync;
  private readonly insertLot: StatementSync;
  private readonly upsertJob: StatementSync;
  private readonly jobById: StatementSync;
  /** Prepared query statements by shape (which filters, how many values each); a handful in practice. */
  private readonly queries = new Map<string, StatementSync>();

  constructor(writer: DatabaseSync, reader: DatabaseSync, write: WriteTx) {
    this.reader = reader;
    this.write = write;
    this.readCursor = reader.prepare("SELECT next_idx FROM epcis_cursor WHERE id = 1");
    this.writeCursor = writer.prepare("SELECT next_idx FROM epcis_cursor WHERE id = 1");
    this.moveCursor = writer.prepare("UPDATE epcis_cursor SET next_idx = ? WHERE id = 1 AND next_idx = ?");
    this.insertEvent = writer.prepare(
      "INSERT INTO epcis_events (idx, event_type, event_time, biz_step, biz_location) VALUES (?, ?, ?, ?, ?)",
    );
    this.insertLot = writer.prepare("INSERT OR IGNORE INTO epcis_event_lots (batch_id, idx) VALUES (?, ?)");
    this.upsertJob = writer.prepare(
      `INSERT OR REPLACE INTO epcis_capture_jobs
         (capture_id, created_at, finished_at, running, success, error_behaviour, errors, events)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.jobById = reader.prepare("SELECT * FROM epcis_capture_jobs WHERE capture_id = ?");
  }

  async epcisCursor(): Promise<number> {
    return int(this.readCursor.get() as Row, "next_idx");
  }

  indexEpcisEvents(from: number, to: number, rows: readonly EpcisIndexRow[]): Promise<boolean> {
    return this.write(() => {
      if (int(this.writeCursor.get() as Row, "next_idx") !== from) return false;
      for (const r of rows) {
        this.insertEvent.run(r.index, r.eventType, r.eventTime, r.bizStep ?? null, r.bizLocation ?? null);
        for (const lot of r.lots) this.insertLot.run(lot.toLowerCase(), r.index);
      }
      this.moveCursor.run(to, from);
      return true;
    });
  }

  async epcisEvents(filter: EpcisFilter, limit: number): Promise<number[]> {
    const where: string[] = ["idx > ?"];
    const args: SQLInputValue[] = [filter.afterIndex ?? -1];
    const anyOf = (column: string, values: readonly string[] | undefined): void => {
      if (values === undefined) return;
      where.push(`${column} IN (${values.map(() => "?").join(", ")})`);
      args.push(...values);
    };
    anyOf("event_type", filter.eventTypes);
    anyOf("biz_step", filter.bizSteps);
    anyOf("biz_location", filter.bizLocations);
    if (filter.geEventTime !== undefined) {
      where.push("event_time >= ?");
      args.push(filter.geEventTime);
    }
    if (filter.ltEventTime !== undefined) {
      where.push("event_time < ?");
      args.push(filter.ltEventTime);
    }
    if (filter.lots !== undefined) {
      where.push(`idx IN (SELECT idx FROM epcis_event_lots WHERE batch_id IN (${filter.lots.map(() => "?").join(", ")}))`);
      args.push(...filter.lots.map((l) => l.toLowerCase()));
    }
    const sql = `SELECT idx FROM epcis_events WHERE ${where.join(" AND ")} ORDER BY idx LIMIT ?`;
    let stmt = this.queries.get(sql);
    if (stmt === undefined) {
      stmt = this.reader.prepare(sql);
      if (this.queries.size < 256) this.queries.set(sql, stmt);
    }
    return stmt.all(...args, limit).map((row) => int(row, "idx"));
  }

  saveCaptureJob(job: CaptureJobRecord): Promise<void> {
    return this.write(() => {
      this.upsertJob.run(
        job.captureId,
        job.createdAt,
        job.finishedAt ?? null,
        job.running ? 1 : 0,
        job.success ? 1 : 0,
        job.errorBehaviour,
        job.errors,
        job.events,
      );
    });
  }

  async captureJob(captureId: string): Promise<CaptureJobRecord | undefined> {
    const row = this.jobById.get(captureId);
    if (row === undefined) return undefined;
    return {
      captureId: str(row, "capture_id"),
      createdAt: int(row, "created_at"),
      finishedAt: optInt(row, "finished_at"),
      running: bool(row, "running"),
      success: bool(row, "success"),
      errorBehaviour: str(row, "error_behaviour"),
      errors: str(row, "errors"),
      events: str(row, "events"),
    };
  }
}
