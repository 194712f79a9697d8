/**
 * The chain writers' tables as the domain reads them (anchor intents, relay rows, relay groups): column lists and row
 * → domain mapping, shared by sqlite-chain-writers.ts and postgres-chain-writers.ts, which differ only in their SQL.
 */
import { int, optInt, optStr, str, type Row } from "./rows.ts";
import type { AnchorIntent, AnchorIntentStatus, RelayGroup, RelayRecord, RelayStatus } from "./chain-writers.ts";

export const INTENT_COLUMNS =
  "id, size, root, previous_size, previous_root, nonce, raw_tx, tx_hash, status, block_number, failure, fee_bumps, " +
  "created_at, updated_at";

export function toIntent(row: Row): AnchorIntent {
  return {
    id: int(row, "id"),
    size: int(row, "size"),
    root: str(row, "root"),
    previousSize: int(row, "previous_size"),
    previousRoot: str(row, "previous_root"),
    nonce: int(row, "nonce"),
    rawTx: str(row, "raw_tx"),
    txHash: str(row, "tx_hash"),
    status: str(row, "status") as AnchorIntentStatus,
    blockNumber: optInt(row, "block_number"),
    failure: optStr(row, "failure"),
    feeBumps: int(row, "fee_bumps"),
    createdAt: int(row, "created_at"),
    updatedAt: int(row, "updated_at"),
  };
}

export const RELAY_COLUMNS =
  "idx, kind, actor, status, nonce, tx_hash, raw_tx, group_id, block_number, error_name, error, fee_bumps, updated_at";

export function toRelay(row: Row): RelayRecord {
  return {
    index: int(row, "idx"),
    kind: int(row, "kind"),
    actor: str(row, "actor"),
    status: str(row, "status") as RelayStatus,
    nonce: optInt(row, "nonce"),
    txHash: optStr(row, "tx_hash"),
    rawTx: optStr(row, "raw_tx"),
    blockNumber: optInt(row, "block_number"),
    errorName: optStr(row, "error_name"),
    error: optStr(row, "error"),
    group: optInt(row, "group_id"),
    feeBumps: int(row, "fee_bumps"),
    updatedAt: int(row, "updated_at"),
  };
}

export const GROUP_COLUMNS = "id, nonce, tx_hash, raw_tx, calls, fee_bumps, created_at, updated_at";

export function toGroup(row: Row): RelayGroup {
  return {
    id: int(row, "id"),
    nonce: int(row, "nonce"),
    txHash: str(row, "tx_hash"),
    rawTx: str(row, "raw_tx"),
    calls: int(row, "calls"),
    feeBumps: int(row, "fee_bumps"),
    createdAt: int(row, "created_at"),
    updatedAt: int(row, "updated_at"),
  };
}
