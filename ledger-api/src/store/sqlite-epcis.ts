/**
 * The SQLite side of store/epcis-store.ts (migration "epcis"). Like sqlite-chain-writers.ts, it runs on the store's
 * connections: reads on the read-only one, writes through the store's serialized write queue (`WriteTx`).
 *
 * A query is one statement over epcis_events, filtered and ordered by log index. Each filter column has an index
 * ending in idx, and the lot filter is a primary-key range of epcis_event_lots, so a page costs the rows it skips
 * inside the chosen index, not a scan of the log; bodies are never read here. One choice SQLite cannot make without
 * statistics: a narrow time window combined with another filter is read through the time index (then sorted),
 * a wide one through the other filter's index in log order (stopping at the page); a bounded count decides.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { WriteTx } from "./sqlite-chain-writers.ts";
import { bool, int, optInt, str, type Row } from "./rows.ts";
import type { CaptureJobRecord, EpcisFilter, EpcisIndexRow, EpcisStore } from "./epcis-store.ts";

const CURSOR = "SELECT next_idx FROM epcis_cursor WHERE id = 1";
const WINDOW_COUNT = "SELECT count(*) AS n FROM (SELECT 1 FROM epcis_events WHERE event_time >= ? AND event_time < ? LIMIT ?)";

/** Below this many entries in its time window, a query reads the window and sorts it. */
const NARROW_WINDOW = 20_000;

export class SqliteEpcis implements EpcisStore {
  private readonly writer: DatabaseSync;
  private readonly reader: DatabaseSync;
  private readonly write: WriteTx;
  /** Statements by connection and SQL, prepared on first use: a store opened with fewer migrations has no tables. */
  private readonly prepared = new Map<string, StatementSync>();

  constructor(writer: DatabaseSync, reader: DatabaseSync, write: WriteTx) {
    this.writer = writer;
    this.reader = reader;
    this.write = write;
  }

  private stmt(on: "reader" | "writer", sql: string): StatementSync {
    const key = `${on}:${sql}`;
    let stmt = this.prepared.get(key);
    if (stmt === undefined) {
      stmt = (on === "reader" ? this.reader : this.writer).prepare(sql);
      // Query shapes vary with the filters given; a handful occur in practice, so the cache is bounded, not LRU.
      if (this.prepared.size < 256) this.prepared.set(key, stmt);
    }
    return stmt;
  }

  async epcisCursor(): Promise<number> {
    return int(this.stmt("reader", CURSOR).get() as Row, "next_idx");
  }

  indexEpcisEvents(from: number, to: number, rows: readonly EpcisIndexRow[]): Promise<boolean> {
    return this.write(() => {
      if (int(this.stmt("writer", CURSOR).get() as Row, "next_idx") !== from) return false;
      const insertEvent = this.stmt(
        "writer",
        "INSERT INTO epcis_events (idx, event_type, event_time, biz_step, biz_location) VALUES (?, ?, ?, ?, ?)",
      );
      const insertLot = this.stmt("writer", "INSERT OR IGNORE INTO epcis_event_lots (batch_id, idx) VALUES (?, ?)");
      for (const r of rows) {
        insertEvent.run(r.index, r.eventType, r.eventTime, r.bizStep ?? null, r.bizLocation ?? null);
        for (const lot of r.lots) insertLot.run(lot.toLowerCase(), r.index);
      }
      this.stmt("writer", "UPDATE epcis_cursor SET next_idx = ? WHERE id = 1 AND next_idx = ?").run(to, from);
      return true;
    });
  }

  async epcisEvents(filter: EpcisFilter, limit: number): Promise<number[]> {
    const where: string[] = ["idx > ?"];
    const args: SQLInputValue[] = [filter.afterIndex ?? -1];
    // "+column" keeps SQLite off that column's index, so the time index drives the query.
    const viaTime = await this.narrowWindow(filter);
    const anyOf = (column: string, values: readonly string[] | undefined): void => {
      if (values === undefined) return;
      where.push(`${viaTime ? "+" : ""}${column} IN (${values.map(() => "?").join(", ")})`);
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
    return this.stmt("reader", sql).all(...args, limit).map((row) => int(row, "idx"));
  }

  /** Whether the filter's time window holds few entries (under NARROW_WINDOW), counted through the time index. */
  private async narrowWindow(filter: EpcisFilter): Promise<boolean> {
    if (filter.geEventTime === undefined && filter.ltEventTime === undefined) return false;
    const row = this.stmt("reader", WINDOW_COUNT).get(filter.geEventTime ?? Number.MIN_SAFE_INTEGER, filter.ltEventTime ?? Number.MAX_SAFE_INTEGER, NARROW_WINDOW);
    return int(row as Row, "n") < NARROW_WINDOW;
  }

  saveCaptureJob(job: CaptureJobRecord): Promise<void> {
    return this.write(() => {
      this.stmt(
        "writer",
        `INSERT OR REPLACE INTO epcis_capture_jobs
           (capture_id, created_at, finished_at, running, success, error_behaviour, errors, events)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
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
    const row = this.stmt("reader", "SELECT * FROM epcis_capture_jobs WHERE capture_id = ?").get(captureId);
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
