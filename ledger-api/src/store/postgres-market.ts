/**
 * The PostgreSQL side of store/market-store.ts (migration "market"), mirroring sqlite-market.ts statement for
 * statement: the same projection behind its own cursor (any instance may extend it; the cursor row is locked and
 * compared in the writing transaction) and the same grouped reads, with PostgreSQL's booleans counted by FILTER where
 * SQLite sums 0/1 and IN lists passed as one array parameter.
 */
import { first, type Sql } from "./postgres-rows.ts";
import { int, optInt, str } from "./rows.ts";
import { LOT_COLUMNS, toHolding, toLot, toPesticide, toTest } from "./market-rows.ts";
import { toProfile } from "./index-rows.ts";
import { insertRows } from "./postgres-index.ts";
import type { PgWrite } from "./postgres-epcis.ts";
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

const lower = (hex: string): string => hex.toLowerCase();


export class PgMarket implements MarketStore {
  private readonly read: Sql;
  private readonly write: PgWrite;

  constructor(read: Sql, write: PgWrite) {
    this.read = read;
    this.write = write;
  }

  async marketCursor(): Promise<number> {
    return int(first(await this.read.query("SELECT next_idx FROM market_cursor WHERE id = 1")) ?? {}, "next_idx");
  }

  indexMarket(from: number, to: number, delta: MarketDelta): Promise<boolean> {
    return this.write(async (tx) => {
      const cursor = first(await tx.query("SELECT next_idx FROM market_cursor WHERE id = 1 FOR UPDATE"));
      if (int(cursor ?? {}, "next_idx") !== from) return false;
      // Lots are upserts, the final state after the range: the last row given for a lot wins, as a row-by-row upsert.
      const lots = new Map(delta.lots.map((l) => [lower(l.batchId), l]));
      await insertRows(
        tx,
        "market_lots",
        [
          ["batch_id", "text"], ["product", "text"], ["country", "text"], ["region", "text"], ["farm", "text"],
          ["harvest_date", "text"], ["imported", "boolean"], ["holder", "text"], ["held_since", "bigint"],
          ["held_event", "text"],
        ],
        [...lots.values()].map((l) => [
          lower(l.batchId), l.product, l.country, l.region, l.farm, l.harvestDate, l.imported, lower(l.holder),
          l.heldSince, lower(l.heldEvent),
        ]),
        `ON CONFLICT (batch_id) DO UPDATE SET product = excluded.product, country = excluded.country,
           region = excluded.region, farm = excluded.farm, harvest_date = excluded.harvest_date,
           imported = excluded.imported, holder = excluded.holder, held_since = excluded.held_since,
           held_event = excluded.held_event`,
      );
      await insertRows(
        tx,
        "market_arrivals",
        [["idx", "bigint"], ["batch_id", "text"], ["receiver", "text"], ["day", "integer"], ["country", "text"], ["region", "text"]],
        delta.arrivals.map((a) => [a.index, lower(a.batchId), lower(a.receiver), a.day, a.country, a.region]),
      );
      await insertRows(
        tx,
        "market_tests",
        [["idx", "bigint"], ["batch_id", "text"], ["day", "integer"], ["passed", "boolean"], ["lab", "text"], ["failed", "text"]],
        delta.tests.map((t) => [t.index, lower(t.batchId), t.day, t.passed, t.lab, JSON.stringify(t.failed)]),
      );
      await insertRows(
        tx,
        "market_pesticides",
        [
          ["idx", "bigint"], ["batch_id", "text"], ["day", "integer"], ["substance", "text"], ["phi_days", "integer"],
          ["harvest_date", "text"], ["days_before_harvest", "integer"], ["violation", "boolean"],
        ],
        delta.pesticides.map((p) => [
          p.index, lower(p.batchId), p.day, p.substance, p.preHarvestIntervalDays, p.harvestDate ?? null,
          p.daysBeforeHarvest ?? null, p.violation,
        ]),
      );
      await insertRows(
        tx,
        "market_acks",
        [["idx", "bigint"], ["batch_id", "text"], ["recall_event", "text"], ["signer", "text"], ["event_hash", "text"], ["at", "bigint"]],
        delta.acks.map((a) => [a.index, lower(a.batchId), lower(a.recallEventHash), lower(a.signer), lower(a.eventHash), a.at]),
      );
      await tx.query("UPDATE market_cursor SET next_idx = $1 WHERE id = 1", [to]);
      return true;
    });
  }

  async marketLots(batchIds: readonly string[]): Promise<MarketLotRow[]> {
    if (batchIds.length === 0) return [];
    const { rows } = await this.read.query(`SELECT ${LOT_COLUMNS} FROM market_lots WHERE batch_id = ANY($1::text[])`, [
      batchIds.map(lower),
    ]);
    return rows.map(toLot);
  }

  async retailProfiles(): Promise<ActorProfile[]> {
    const { rows } = await this.read.query(
      "SELECT account, name, gln, country, retail, block_number FROM profiles WHERE retail ORDER BY account",
    );
    return rows.map(toProfile);
  }

  async lotHoldings(filter: HoldingFilter, limit: number): Promise<LotHolding[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.activeOnly ?? true) where.push("b.status = 'active'");
    if (filter.custodians !== undefined) {
      if (filter.custodians.length === 0) return [];
      where.push(`b.custodian = ANY(${param(filter.custodians.map(lower))}::text[])`);
    }
    if (filter.batchIds !== undefined) {
      if (filter.batchIds.length === 0) return [];
      where.push(`b.batch_id = ANY(${param(filter.batchIds.map(lower))}::text[])`);
    }
    if (filter.country !== undefined) where.push(`m.country = ${param(filter.country)}`);
    if (filter.region !== undefined) where.push(`m.region = ${param(filter.region)}`);
    if (filter.customs !== undefined) where.push(`b.imported AND b.customs_cleared = ${filter.customs === "cleared"}`);
    const { rows } = await this.read.query(
      `SELECT b.batch_id, b.gtin, b.lot, b.custodian, b.quantity, b.unit, b.status, b.imported, b.customs_cleared,
         b.recalled, m.product, m.country, m.region, m.farm, m.harvest_date, m.holder, m.held_since, m.held_event,
         e.block_number AS held_block, p.name AS custodian_name, p.retail AS custodian_retail
       FROM batches b
       LEFT JOIN profiles p ON p.account = b.custodian
       LEFT JOIN market_lots m ON m.batch_id = b.batch_id
       LEFT JOIN lifecycle_events e ON e.event_hash = m.held_event
       ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
       ORDER BY b.custodian, b.batch_id LIMIT ${param(limit)}`,
      params,
    );
    return rows.map(toHolding);
  }

  async marketFigures(accounts: readonly string[], limit: number, supplyDays: number): Promise<MarketFigures> {
    const ids = accounts.map(lower);
    const q = async (text: string, values: unknown[] = []) => (await this.read.query(text, values)).rows;
    const holdings = (
      await q(
        `SELECT custodian, count(*) AS lots, count(*) FILTER (WHERE imported) AS imported FROM batches
         WHERE custodian = ANY($1::text[]) AND status = 'active' GROUP BY custodian ORDER BY custodian`,
        [ids],
      )
    ).map((r) => ({ account: str(r, "custodian"), lots: int(r, "lots"), imported: int(r, "imported") }));
    // The window ends on the latest arrival's day, not today, so a market whose records stopped still shows them.
    const latest = optInt(first({ rows: await q("SELECT max(day) AS d FROM market_arrivals WHERE receiver = ANY($1::text[])", [ids]) }), "d");
    const supply = (
      await q(
        `SELECT day, country, region, count(*) AS lots FROM market_arrivals WHERE receiver = ANY($1::text[]) AND day > $2
         GROUP BY day, country, region ORDER BY day, country, region`,
        [ids, (latest ?? 0) - supplyDays],
      )
    ).map((r) => ({ day: int(r, "day"), country: str(r, "country"), region: str(r, "region"), lots: int(r, "lots") }));
    const tests = (
      await q("SELECT day, count(*) AS tests, count(*) FILTER (WHERE passed) AS passed FROM market_tests GROUP BY day ORDER BY day")
    ).map((r) => ({ day: int(r, "day"), tests: int(r, "tests"), passed: int(r, "passed") }));
    const failedTests = (
      await q("SELECT idx, batch_id, day, passed, lab, failed FROM market_tests WHERE NOT passed ORDER BY idx DESC LIMIT $1", [limit])
    ).map(toTest);
    const violationsByDay = (
      await q("SELECT day, count(*) AS violations FROM market_pesticides WHERE violation GROUP BY day ORDER BY day")
    ).map((r) => ({ day: int(r, "day"), violations: int(r, "violations") }));
    const violations = (
      await q(
        `SELECT idx, batch_id, day, substance, phi_days, harvest_date, days_before_harvest, violation FROM market_pesticides
         WHERE violation ORDER BY day DESC, idx DESC LIMIT $1`,
        [limit],
      )
    ).map(toPesticide);
    const counts = first({
      rows: await q(
        `SELECT
           count(*) FILTER (WHERE customs_cleared) AS cleared,
           count(*) FILTER (WHERE NOT customs_cleared) AS pending,
           count(*) FILTER (WHERE customs_cleared AND custodian = ANY($1::text[])) AS cleared_in_market,
           count(*) FILTER (WHERE NOT customs_cleared AND custodian = ANY($1::text[])) AS pending_in_market
         FROM batches WHERE imported AND status = 'active'`,
        [ids],
      ),
    }) ?? {};
    const imports = {
      cleared: int(counts, "cleared"),
      pending: int(counts, "pending"),
      clearedInMarket: int(counts, "cleared_in_market"),
      pendingInMarket: int(counts, "pending_in_market"),
    };
    const recalled = (await q("SELECT batch_id FROM batches WHERE recalled ORDER BY batch_id")).map((r) => str(r, "batch_id"));
    return { holdings, supply, tests, failedTests, violationsByDay, violations, imports, recalled };
  }

  async recallAcks(batchIds: readonly string[]): Promise<MarketAckRow[]> {
    if (batchIds.length === 0) return [];
    const { rows } = await this.read.query(
      `SELECT idx, batch_id, recall_event, signer, event_hash, at FROM market_acks
       WHERE batch_id = ANY($1::text[]) ORDER BY idx`,
      [batchIds.map(lower)],
    );
    return rows.map((r) => ({
      index: int(r, "idx"),
      batchId: str(r, "batch_id"),
      recallEventHash: str(r, "recall_event"),
      signer: str(r, "signer"),
      eventHash: str(r, "event_hash"),
      at: int(r, "at"),
    }));
  }
}
