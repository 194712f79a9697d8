/**
 * The SQLite side of store/market-store.ts (migration "market"). Like sqlite-epcis.ts it runs on the store's
 * connections: reads on the read-only one, writes through the store's serialized write queue.
 *
 * Every read is plain SQL a PostgreSQL driver can run as written (IN lists, GROUP BY, LEFT JOIN; no JSON functions:
 * failed analytes travel as JSON text and are parsed here). The safety centre's grouped reads each run on one index
 * that covers them (see the migration), so their cost is the rows they count, not the tables' size.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { WriteTx } from "./sqlite-chain-writers.ts";
import { int, optInt, str, type Row } from "./rows.ts";
import { LOT_COLUMNS, toHolding, toLot, toPesticide, toTest } from "./market-rows.ts";
import { toProfile } from "./index-rows.ts";
import type { ActorProfile } from "./index-store.ts";
import type {
  HoldingFilter,
  LotHolding,
  MarketAckRow,
  MarketDelta,
  MarketFigures,
  MarketLotRow,
  MarketStore,
} from "./market-store.ts";

const CURSOR = "SELECT next_idx FROM market_cursor WHERE id = 1";
const lower = (hex: string): string => hex.toLowerCase();
const marks = (n: number): string => Array.from({ length: n }, () => "?").join(", ");


export class SqliteMarket implements MarketStore {
  private readonly writer: DatabaseSync;
  private readonly reader: DatabaseSync;
  private readonly write: WriteTx;
  private readonly prepared = new Map<string, StatementSync>();

  constructor(writer: DatabaseSync, reader: DatabaseSync, write: WriteTx) {
    this.writer = writer;
    this.reader = reader;
    this.write = write;
  }

  /** Statements by connection and SQL, prepared on first use; IN lists make many shapes, so the cache is bounded. */
  private stmt(on: "reader" | "writer", sql: string): StatementSync {
    const key = `${on}:${sql}`;
    let stmt = this.prepared.get(key);
    if (stmt === undefined) {
      stmt = (on === "reader" ? this.reader : this.writer).prepare(sql);
      if (this.prepared.size < 256) this.prepared.set(key, stmt);
    }
    return stmt;
  }

  async marketCursor(): Promise<number> {
    return int(this.stmt("reader", CURSOR).get() as Row, "next_idx");
  }

  indexMarket(from: number, to: number, delta: MarketDelta): Promise<boolean> {
    return this.write(() => {
      if (int(this.stmt("writer", CURSOR).get() as Row, "next_idx") !== from) return false;
      const lot = this.stmt(
        "writer",
        `INSERT INTO market_lots (${LOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (batch_id) DO UPDATE SET product = excluded.product, country = excluded.country,
           region = excluded.region, farm = excluded.farm, harvest_date = excluded.harvest_date,
           imported = excluded.imported, holder = excluded.holder, held_since = excluded.held_since,
           held_event = excluded.held_event`,
      );
      for (const l of delta.lots) {
        lot.run(lower(l.batchId), l.product, l.country, l.region, l.farm, l.harvestDate, l.imported ? 1 : 0, lower(l.holder), l.heldSince, lower(l.heldEvent));
      }
      const arrival = this.stmt(
        "writer",
        "INSERT INTO market_arrivals (idx, batch_id, receiver, day, country, region) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const a of delta.arrivals) arrival.run(a.index, lower(a.batchId), lower(a.receiver), a.day, a.country, a.region);
      const test = this.stmt("writer", "INSERT INTO market_tests (idx, batch_id, day, passed, lab, failed) VALUES (?, ?, ?, ?, ?, ?)");
      for (const t of delta.tests) test.run(t.index, lower(t.batchId), t.day, t.passed ? 1 : 0, t.lab, JSON.stringify(t.failed));
      const pesticide = this.stmt(
        "writer",
        `INSERT INTO market_pesticides (idx, batch_id, day, substance, phi_days, harvest_date, days_before_harvest, violation)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const p of delta.pesticides) {
        pesticide.run(p.index, lower(p.batchId), p.day, p.substance, p.preHarvestIntervalDays, p.harvestDate ?? null, p.daysBeforeHarvest ?? null, p.violation ? 1 : 0);
      }
      const ack = this.stmt(
        "writer",
        "INSERT INTO market_acks (idx, batch_id, recall_event, signer, event_hash, at) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const a of delta.acks) ack.run(a.index, lower(a.batchId), lower(a.recallEventHash), lower(a.signer), lower(a.eventHash), a.at);
      this.stmt("writer", "UPDATE market_cursor SET next_idx = ? WHERE id = 1").run(to);
      return true;
    });
  }

  async marketLots(batchIds: readonly string[]): Promise<MarketLotRow[]> {
    if (batchIds.length === 0) return [];
    const sql = `SELECT ${LOT_COLUMNS} FROM market_lots WHERE batch_id IN (${marks(batchIds.length)})`;
    return this.reader.prepare(sql).all(...batchIds.map(lower)).map(toLot);
  }

  async retailProfiles(): Promise<ActorProfile[]> {
    return this.stmt("reader", "SELECT account, name, gln, country, retail, block_number FROM profiles WHERE retail = 1 ORDER BY account")
      .all()
      .map(toProfile);
  }

  async lotHoldings(filter: HoldingFilter, limit: number): Promise<LotHolding[]> {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (filter.activeOnly ?? true) where.push("b.status = 'active'");
    if (filter.custodians !== undefined) {
      if (filter.custodians.length === 0) return [];
      where.push(`b.custodian IN (${marks(filter.custodians.length)})`);
      params.push(...filter.custodians.map(lower));
    }
    if (filter.batchIds !== undefined) {
      if (filter.batchIds.length === 0) return [];
      where.push(`b.batch_id IN (${marks(filter.batchIds.length)})`);
      params.push(...filter.batchIds.map(lower));
    }
    if (filter.country !== undefined) {
      where.push("m.country = ?");
      params.push(filter.country);
    }
    if (filter.region !== undefined) {
      where.push("m.region = ?");
      params.push(filter.region);
    }
    if (filter.customs !== undefined) where.push(`b.imported = 1 AND b.customs_cleared = ${filter.customs === "cleared" ? 1 : 0}`);
    const sql = `
      SELECT b.batch_id, b.gtin, b.lot, b.custodian, b.quantity, b.unit, b.status, b.imported, b.customs_cleared,
        b.recalled, m.product, m.country, m.region, m.farm, m.harvest_date, m.holder, m.held_since, m.held_event,
        e.block_number AS held_block, p.name AS custodian_name, p.retail AS custodian_retail
      FROM batches b
      LEFT JOIN profiles p ON p.account = b.custodian
      LEFT JOIN market_lots m ON m.batch_id = b.batch_id
      LEFT JOIN lifecycle_events e ON e.event_hash = m.held_event
      ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
      ORDER BY b.custodian, b.batch_id LIMIT ?`;
    return this.reader.prepare(sql).all(...params, limit).map(toHolding);
  }

  async marketFigures(accounts: readonly string[], limit: number, supplyDays: number): Promise<MarketFigures> {
    const ids = accounts.map(lower);
    const inList = ids.length === 0 ? "NULL" : marks(ids.length);
    const holdings = this.reader
      .prepare(
        `SELECT custodian, count(*) AS lots, sum(imported) AS imported FROM batches
         WHERE custodian IN (${inList}) AND status = 'active' GROUP BY custodian ORDER BY custodian`,
      )
      .all(...ids)
      .map((r) => ({ account: str(r, "custodian"), lots: int(r, "lots"), imported: int(r, "imported") }));
    // The window ends on the latest arrival's day, not today, so a market whose records stopped still shows them.
    const latest = optInt(this.reader.prepare(`SELECT max(day) AS d FROM market_arrivals WHERE receiver IN (${inList})`).get(...ids), "d");
    const supply = this.reader
      .prepare(
        `SELECT day, country, region, count(*) AS lots FROM market_arrivals WHERE receiver IN (${inList}) AND day > ?
         GROUP BY day, country, region ORDER BY day, country, region`,
      )
      .all(...ids, (latest ?? 0) - supplyDays)
      .map((r) => ({ day: int(r, "day"), country: str(r, "country"), region: str(r, "region"), lots: int(r, "lots") }));
    const tests = this.stmt("reader", "SELECT day, count(*) AS tests, sum(passed) AS passed FROM market_tests GROUP BY day ORDER BY day")
      .all()
      .map((r) => ({ day: int(r, "day"), tests: int(r, "tests"), passed: int(r, "passed") }));
    const failedTests = this.stmt(
      "reader",
      "SELECT idx, batch_id, day, passed, lab, failed FROM market_tests WHERE passed = 0 ORDER BY idx DESC LIMIT ?",
    )
      .all(limit)
      .map(toTest);
    const violationsByDay = this.stmt(
      "reader",
      "SELECT day, count(*) AS violations FROM market_pesticides WHERE violation = 1 GROUP BY day ORDER BY day",
    )
      .all()
      .map((r) => ({ day: int(r, "day"), violations: int(r, "violations") }));
    const violations = this.stmt(
      "reader",
      `SELECT idx, batch_id, day, substance, phi_days, harvest_date, days_before_harvest, violation FROM market_pesticides
       WHERE violation = 1 ORDER BY day DESC, idx DESC LIMIT ?`,
    )
      .all(limit)
      .map(toPesticide);
    const count = (sql: string, ...params: SQLInputValue[]): number => int(this.reader.prepare(sql).get(...params) as Row, "n");
    const imports = {
      cleared: count("SELECT count(*) AS n FROM batches WHERE imported = 1 AND status = 'active' AND customs_cleared = 1"),
      pending: count("SELECT count(*) AS n FROM batches WHERE imported = 1 AND status = 'active' AND customs_cleared = 0"),
      clearedInMarket: count(
        `SELECT count(*) AS n FROM batches WHERE custodian IN (${inList}) AND status = 'active' AND imported = 1 AND customs_cleared = 1`,
        ...ids,
      ),
      pendingInMarket: count(
        `SELECT count(*) AS n FROM batches WHERE custodian IN (${inList}) AND status = 'active' AND imported = 1 AND customs_cleared = 0`,
        ...ids,
      ),
    };
    const recalled = this.stmt("reader", "SELECT batch_id FROM batches WHERE recalled = 1 ORDER BY batch_id")
      .all()
      .map((r) => str(r, "batch_id"));
    return { holdings, supply, tests, failedTests, violationsByDay, violations, imports, recalled };
  }

  async recallAcks(batchIds: readonly string[]): Promise<MarketAckRow[]> {
    if (batchIds.length === 0) return [];
    const sql = `SELECT idx, batch_id, recall_event, signer, event_hash, at FROM market_acks
      WHERE batch_id IN (${marks(batchIds.length)}) ORDER BY idx`;
    return this.reader
      .prepare(sql)
      .all(...batchIds.map(lower))
      .map((r) => ({
        index: int(r, "idx"),
        batchId: str(r, "batch_id"),
        recallEventHash: str(r, "recall_event"),
        signer: str(r, "signer"),
        eventHash: str(r, "event_hash"),
        at: int(r, "at"),
      }));
  }
}
