/**
 * The chain index's tables as the domain reads them: column lists and row → domain mapping, shared by
 * sqlite-index.ts and postgres-index.ts (and by the answers' and market's reads of the same tables), which differ
 * only in their SQL.
 */
import { big, bool, int, optStr, str, type Row } from "./rows.ts";
import type {
  ActorProfile,
  AnchorRow,
  BatchStatus,
  ChainCursor,
  IndexedBatch,
  LifecycleEventRow,
  LifecycleKind,
  LineageEdge,
} from "./store.ts";

/** Trace defaults: lineage is at most MAX_ANCESTRY (32) deep on chain, so 64 only stops a corrupt cycle. */
export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_TRACE_LIMIT = 1000;

export const BATCH_COLUMNS =
  "batch_id, gtin, lot, registrant, custodian, quantity, unit, status, recalled, imported, customs_cleared, " +
  "offer_to, head, ancestry, created_block, created_tx, updated_block";
export const EVENT_COLUMNS =
  "event_hash, kind, batch_id, actor, doc_hash, head, details, nonce, tx_hash, block_number, block_hash, log_index";
export const LINEAGE_COLUMNS = "child, parent, event_hash, quantity, block_number";
export const ANCHOR_COLUMNS =
  "anchor_index, size, root, previous_size, anchorer, tx_hash, block_number, block_hash, block_time";

export function toCursor(row: Row): ChainCursor {
  return { contracts: str(row, "contracts"), blockNumber: int(row, "block_number"), blockHash: str(row, "block_hash") };
}

export function toBatch(row: Row): IndexedBatch {
  return {
    batchId: str(row, "batch_id"),
    gtin: optStr(row, "gtin"),
    lot: optStr(row, "lot"),
    registrant: str(row, "registrant"),
    custodian: str(row, "custodian"),
    quantity: big(row, "quantity"),
    unit: str(row, "unit"),
    status: str(row, "status") as BatchStatus,
    recalled: bool(row, "recalled"),
    imported: bool(row, "imported"),
    customsCleared: bool(row, "customs_cleared"),
    offerTo: optStr(row, "offer_to"),
    head: str(row, "head"),
    ancestry: int(row, "ancestry"),
    createdBlock: int(row, "created_block"),
    createdTx: str(row, "created_tx"),
    updatedBlock: int(row, "updated_block"),
  };
}

export function toEdge(row: Row): LineageEdge {
  return {
    child: str(row, "child"),
    parent: str(row, "parent"),
    eventHash: str(row, "event_hash"),
    quantity: big(row, "quantity"),
    blockNumber: int(row, "block_number"),
  };
}

export function toEvent(row: Row): LifecycleEventRow {
  const nonce = optStr(row, "nonce");
  return {
    eventHash: str(row, "event_hash"),
    kind: str(row, "kind") as LifecycleKind,
    batchId: str(row, "batch_id"),
    actor: str(row, "actor"),
    docHash: str(row, "doc_hash"),
    head: str(row, "head"),
    details: JSON.parse(str(row, "details")) as Record<string, unknown>,
    nonce: nonce === undefined ? undefined : BigInt(nonce),
    txHash: str(row, "tx_hash"),
    blockNumber: int(row, "block_number"),
    blockHash: str(row, "block_hash"),
    logIndex: int(row, "log_index"),
  };
}

export function toAnchor(row: Row): AnchorRow {
  return {
    anchorIndex: int(row, "anchor_index"),
    size: int(row, "size"),
    root: str(row, "root"),
    previousSize: int(row, "previous_size"),
    anchorer: str(row, "anchorer"),
    txHash: str(row, "tx_hash"),
    blockNumber: int(row, "block_number"),
    blockHash: str(row, "block_hash"),
    blockTime: int(row, "block_time"),
  };
}

export function toProfile(row: Row): ActorProfile {
  return {
    account: str(row, "account"),
    name: str(row, "name"),
    gln: big(row, "gln"),
    country: str(row, "country"),
    retail: bool(row, "retail"),
    blockNumber: int(row, "block_number"),
  };
}
