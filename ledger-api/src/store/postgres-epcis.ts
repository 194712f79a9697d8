/**
 * The PostgreSQL side of store/epcis-store.ts (migration "epcis"), mirroring sqlite-epcis.ts: the EPCIS query index
 * and the capture jobs. Any instance may project the log into the index (epcis/projection.ts): the cursor row is
 * locked and compared in the writing transaction, so two instances never index one range twice (the second finds the
 * cursor moved and writes nothing). A query is one statement, filtered and ordered by log index; PostgreSQL's planner,
 * with statistics, picks the index that drives it (SQLite's needs the hint sqlite-epcis.ts gives it).
 */
import { first, type Sql } from "./postgres-rows.ts";
import { bool, int, optInt, str } from "./rows.ts";
import { insertRows } from "./postgres-index.ts";
import type { CaptureJobRecord, EpcisFilter, EpcisIndexRow, EpcisStore } from "./epcis-store.ts";

/** Runs `fn` as one write transaction, after every earlier write transaction of this store object. */
export type PgWrite = <T>(fn: (tx: Sql) => Promise<T>) => Promise<T>;

export class PgEpcis implements EpcisStore {
  private readonly read: Sql;
  private readonly write: PgWrite;

  constructor(read: Sql, write: PgWrite) {
    this.read = read;
    this.write = write;
  }

  async epcisCursor(): Promise<number> {
    return int(first(await this.read.query("SELECT next_idx FROM epcis_cursor WHERE id = 1")) ?? {}, "next_idx");
  }

  indexEpcisEvents(from: number, to: number, rows: readonly EpcisIndexRow[]): Promise<boolean> {
    return this.write(async (tx) => {
      const cursor = first(await tx.query("SELECT next_idx FROM epcis_cursor WHERE id = 1 FOR UPDATE"));
      if (int(cursor ?? {}, "next_idx") !== from) return false;
      await insertRows(
        tx,
        "epcis_events",
        [["idx", "bigint"], ["event_type", "text"], ["event_time", "bigint"], ["biz_step", "text"], ["biz_location", "text"]],
        rows.map((r) => [r.index, r.eventType, r.eventTime, r.bizStep ?? null, r.bizLocation ?? null]),
      );
      await insertRows(
        tx,
        "epcis_event_lots",
        [["batch_id", "text"], ["idx", "bigint"]],
        rows.flatMap((r) => [...new Set(r.lots.map((l) => l.toLowerCase()))].map((lot) => [lot, r.index])),
        "ON CONFLICT DO NOTHING",
      );
      await tx.query("UPDATE epcis_cursor SET next_idx = $1 WHERE id = 1", [to]);
      return true;
    });
  }

  async epcisEvents(filter: EpcisFilter, limit: number): Promise<number[]> {
    const args: unknown[] = [filter.afterIndex ?? -1];
    const where: string[] = ["idx > $1"];
    const param = (value: unknown): string => {
      args.push(value);
      return `$${args.length}`;
    };
    if (filter.eventTypes !== undefined) where.push(`event_type = ANY(${param(filter.eventTypes)}::text[])`);
    if (filter.bizSteps !== undefined) where.push(`biz_step = ANY(${param(filter.bizSteps)}::text[])`);
    if (filter.bizLocations !== undefined) where.push(`biz_location = ANY(${param(filter.bizLocations)}::text[])`);
    if (filter.geEventTime !== undefined) where.push(`event_time >= ${param(filter.geEventTime)}`);
    if (filter.ltEventTime !== undefined) where.push(`event_time < ${param(filter.ltEventTime)}`);
    if (filter.lots !== undefined) {
      const lots = filter.lots.map((l) => l.toLowerCase());
      where.push(`idx IN (SELECT idx FROM epcis_event_lots WHERE batch_id = ANY(${param(lots)}::text[]))`);
    }
    const { rows } = await this.read.query(
      `SELECT idx FROM epcis_events WHERE ${where.join(" AND ")} ORDER BY idx LIMIT ${param(limit)}`,
      args,
    );
    return rows.map((row) => int(row, "idx"));
  }

  saveCaptureJob(job: CaptureJobRecord): Promise<void> {
    return this.write(async (tx) => {
      await tx.query(
        `INSERT INTO epcis_capture_jobs
           (capture_id, created_at, finished_at, running, success, error_behaviour, errors, events)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (capture_id) DO UPDATE SET created_at = excluded.created_at, finished_at = excluded.finished_at,
           running = excluded.running, success = excluded.success, error_behaviour = excluded.error_behaviour,
           errors = excluded.errors, events = excluded.events`,
        [
          job.captureId,
          job.createdAt,
          job.finishedAt ?? null,
          job.running,
          job.success,
          job.errorBehaviour,
          job.errors,
          job.events,
        ],
      );
    });
  }

  async captureJob(captureId: string): Promise<CaptureJobRecord | undefined> {
    const row = first(await this.read.query("SELECT * FROM epcis_capture_jobs WHERE capture_id = $1", [captureId]));
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
