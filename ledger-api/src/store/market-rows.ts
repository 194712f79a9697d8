/**
 * The market projection's tables as the domain reads them: column lists and row → domain mapping, shared by
 * sqlite-market.ts and postgres-market.ts, which differ only in their SQL. (Profiles are the index's: index-rows.ts.)
 */
import { big, bool, int, optBool, optInt, optStr, str, type Row } from "./rows.ts";
import type { FailedAnalyte, LotHolding, MarketLotRow, MarketPesticideRow, MarketTestRow } from "./market-store.ts";

export const LOT_COLUMNS = "batch_id, product, country, region, farm, harvest_date, imported, holder, held_since, held_event";

export function toLot(row: Row): MarketLotRow {
  return {
    batchId: str(row, "batch_id"),
    product: str(row, "product"),
    country: str(row, "country"),
    region: str(row, "region"),
    farm: str(row, "farm"),
    harvestDate: str(row, "harvest_date"),
    imported: bool(row, "imported"),
    holder: str(row, "holder"),
    heldSince: int(row, "held_since"),
    heldEvent: str(row, "held_event"),
  };
}

export function toTest(row: Row): MarketTestRow {
  return {
    index: int(row, "idx"),
    batchId: str(row, "batch_id"),
    day: int(row, "day"),
    passed: bool(row, "passed"),
    lab: str(row, "lab"),
    failed: JSON.parse(str(row, "failed")) as FailedAnalyte[],
  };
}

export function toPesticide(row: Row): MarketPesticideRow {
  return {
    index: int(row, "idx"),
    batchId: str(row, "batch_id"),
    day: int(row, "day"),
    substance: str(row, "substance"),
    preHarvestIntervalDays: int(row, "phi_days"),
    harvestDate: optStr(row, "harvest_date"),
    daysBeforeHarvest: optInt(row, "days_before_harvest"),
    violation: bool(row, "violation"),
  };
}

export function toHolding(row: Row): LotHolding {
  const custodian = str(row, "custodian");
  const holder = optStr(row, "holder");
  const heldSince = optInt(row, "held_since");
  const heldEvent = optStr(row, "held_event");
  return {
    batchId: str(row, "batch_id"),
    gtin: optStr(row, "gtin"),
    lot: optStr(row, "lot"),
    custodian,
    custodianName: optStr(row, "custodian_name"),
    custodianRetail: optBool(row, "custodian_retail"),
    quantity: big(row, "quantity"),
    unit: str(row, "unit"),
    status: str(row, "status") as LotHolding["status"],
    imported: bool(row, "imported"),
    customsCleared: bool(row, "customs_cleared"),
    recalled: bool(row, "recalled"),
    product: optStr(row, "product"),
    country: optStr(row, "country"),
    region: optStr(row, "region"),
    farm: optStr(row, "farm"),
    harvestDate: optStr(row, "harvest_date"),
    since:
      holder === custodian && heldSince !== undefined && heldEvent !== undefined
        ? { at: heldSince, eventHash: heldEvent, blockNumber: optInt(row, "held_block") }
        : undefined,
  };
}
