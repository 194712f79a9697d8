/**
 * The SQLite side of the chain writers' tables (migrations "chain_writers" and "relay_groups"): anchor intents, the
 * relay cursor, relay rows and relay groups. Kept apart from sqlite.ts, which owns the connections and the write queue: SqliteStore builds one
 * `SqliteChainWriters` over its writer and reader connections and hands it a `write` function that runs a
 * synchronous body as one serialized write transaction (BEGIN IMMEDIATE ... COMMIT, fsynced on commit).
 *
 * Reads go to the read-only connection and see the last committed state; every transition is a compare-and-set on
 * the status column, checked by the number of rows changed.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { int, optInt, str } from "./rows.ts";
import { GROUP_COLUMNS, INTENT_COLUMNS, RELAY_COLUMNS, toGroup, toIntent, toRelay } from "./chain-writer-rows.ts";
import { AnchorIntentOpenError, ChainWriterStateError } from "./chain-writers.ts";
import type {
  AnchorIntent,
  AnchorOutcome,
  AnchorStore,
  NewAnchorIntent,
  NewRelayRow,
  RelayGroup,
  RelayRecord,
  RelayRewrite,
  RelaySettlement,
  RelayRefusal,
  RelaySent,
  RelayStatus,
  RelayStore,
} from "./chain-writers.ts";
import { StoreCorruptError } from "./store.ts";

/** Runs `fn` as one write transaction on the writer connection, after every earlier write transaction. */
export type WriteTx = <T>(fn: () => T) => Promise<T>;

function lower(hex: string): string {
  return hex.toLowerCase();
}

interface WriterStatements {
  insertIntent: StatementSync;
  openIntent: StatementSync;
  settleIntent: StatementSync;
  replaceIntentTx: StatementSync;
  relayReplaceTx: StatementSync;
  intentById: StatementSync;
  cursor: StatementSync;
  moveCursor: StatementSync;
  insertRelay: StatementSync;
  relaySent: StatementSync;
  relayConfirmed: StatementSync;
  relayRefused: StatementSync;
  relayReset: StatementSync;
  failIntent: StatementSync;
  relayRewritePending: StatementSync;
  relayRewriteConfirmed: StatementSync;
  relaySentRefused: StatementSync;
  insertGroup: StatementSync;
  relayGroupSent: StatementSync;
  relayGroupOf: StatementSync;
  groupReplaceTx: StatementSync;
  groupRowsReplaceTx: StatementSync;
}

interface ReaderStatements {
  openIntent: StatementSync;
  lastConfirmed: StatementSync;
  allIntents: StatementSync;
  cursor: StatementSync;
  relayByStatus: StatementSync;
  relayByIndex: StatementSync;
  maxNonce: StatementSync;
  relayCounts: StatementSync;
  groupById: StatementSync;
}

function prepareWrites(writer: DatabaseSync): WriterStatements {
  return {
    insertIntent: writer.prepare(
      `INSERT INTO anchor_intents (size, root, previous_size, previous_root, nonce, raw_tx, tx_hash, status,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?) RETURNING ${INTENT_COLUMNS}`,
    ),
    openIntent: writer.prepare("SELECT id FROM anchor_intents WHERE status = 'sent'"),
    settleIntent: writer.prepare(
      `UPDATE anchor_intents SET status = ?, block_number = ?, failure = ?, updated_at = ?
       WHERE id = ? AND status = 'sent' RETURNING ${INTENT_COLUMNS}`,
    ),
    replaceIntentTx: writer.prepare(
      `UPDATE anchor_intents SET raw_tx = ?, tx_hash = ?, fee_bumps = fee_bumps + 1, updated_at = ?
       WHERE id = ? AND status = 'sent' RETURNING ${INTENT_COLUMNS}`,
    ),
    intentById: writer.prepare(`SELECT ${INTENT_COLUMNS} FROM anchor_intents WHERE id = ?`),
    cursor: writer.prepare("SELECT next_idx FROM relay_cursor WHERE id = 1"),
    moveCursor: writer.prepare("UPDATE relay_cursor SET next_idx = ? WHERE id = 1 AND next_idx = ?"),
    insertRelay: writer.prepare(
      "INSERT INTO relay_entries (idx, kind, actor, status, updated_at) VALUES (?, ?, ?, 'pending', ?)",
    ),
    relaySent: writer.prepare(
      `UPDATE relay_entries SET status = 'sent', nonce = ?, tx_hash = ?, raw_tx = ?, error_name = NULL, error = NULL,
         fee_bumps = 0, updated_at = ? WHERE idx = ? AND status = 'pending'`,
    ),
    relayReplaceTx: writer.prepare(
      `UPDATE relay_entries SET tx_hash = ?, raw_tx = ?, fee_bumps = fee_bumps + 1, updated_at = ?
       WHERE idx = ? AND status = 'sent' AND group_id IS NULL`,
    ),
    relayConfirmed: writer.prepare(
      `UPDATE relay_entries SET status = 'confirmed', block_number = ?, tx_hash = coalesce(?, tx_hash),
         updated_at = ? WHERE idx = ? AND status = 'sent'`,
    ),
    relayRefused: writer.prepare(
      `UPDATE relay_entries SET status = 'refused', error_name = ?, error = ?, block_number = ?, updated_at = ?
       WHERE idx = ? AND status IN ('pending', 'sent')`,
    ),
    relayReset: writer.prepare(
      `UPDATE relay_entries SET status = 'pending', tx_hash = NULL, raw_tx = NULL, group_id = NULL, block_number = NULL,
         error_name = NULL, error = ?, updated_at = ? WHERE idx = ? AND status = 'sent'`,
    ),
    failIntent: writer.prepare(
      `UPDATE anchor_intents SET status = 'failed', failure = ?, updated_at = ?
       WHERE id = ? AND status IN ('sent', 'confirmed')`,
    ),
    relayRewritePending: writer.prepare(
      `UPDATE relay_entries SET status = 'pending', nonce = NULL, tx_hash = NULL, raw_tx = NULL, group_id = NULL,
         block_number = NULL, error_name = NULL, error = ?, updated_at = ? WHERE idx = ?`,
    ),
    relayRewriteConfirmed: writer.prepare(
      `UPDATE relay_entries SET status = 'confirmed', block_number = ?, tx_hash = ?, error_name = NULL, error = NULL,
         updated_at = ? WHERE idx = ? AND (raw_tx IS NOT NULL OR group_id IS NOT NULL) AND nonce IS NOT NULL`,
    ),
    relaySentRefused: writer.prepare(
      `UPDATE relay_entries SET status = 'refused', error_name = ?, error = ?, block_number = ?, updated_at = ?
       WHERE idx = ? AND status = 'sent'`,
    ),
    insertGroup: writer.prepare(
      `INSERT INTO relay_groups (nonce, tx_hash, raw_tx, calls, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       RETURNING id`,
    ),
    relayGroupSent: writer.prepare(
      `UPDATE relay_entries SET status = 'sent', nonce = ?, tx_hash = ?, raw_tx = NULL, group_id = ?, error_name = NULL,
         error = NULL, fee_bumps = 0, updated_at = ? WHERE idx = ? AND status = 'pending'`,
    ),
    relayGroupOf: writer.prepare("SELECT group_id FROM relay_entries WHERE idx = ? AND status = 'sent'"),
    groupReplaceTx: writer.prepare(
      "UPDATE relay_groups SET raw_tx = ?, tx_hash = ?, fee_bumps = fee_bumps + 1, updated_at = ? WHERE id = ?",
    ),
    groupRowsReplaceTx: writer.prepare(
      "UPDATE relay_entries SET tx_hash = ?, updated_at = ? WHERE group_id = ? AND status = 'sent'",
    ),
  };
}

function prepareReads(reader: DatabaseSync): ReaderStatements {
  return {
    openIntent: reader.prepare(`SELECT ${INTENT_COLUMNS} FROM anchor_intents WHERE status = 'sent'`),
    lastConfirmed: reader.prepare(
      `SELECT ${INTENT_COLUMNS} FROM anchor_intents WHERE status = 'confirmed' ORDER BY size DESC LIMIT 1`,
    ),
    allIntents: reader.prepare(`SELECT ${INTENT_COLUMNS} FROM anchor_intents ORDER BY id`),
    cursor: reader.prepare("SELECT next_idx FROM relay_cursor WHERE id = 1"),
    relayByStatus: reader.prepare(`SELECT ${RELAY_COLUMNS} FROM relay_entries WHERE status = ? ORDER BY idx LIMIT ?`),
    relayByIndex: reader.prepare(`SELECT ${RELAY_COLUMNS} FROM relay_entries WHERE idx = ?`),
    // Rows reset to pending keep their old nonce, so this also covers nonces whose transactions never landed.
    maxNonce: reader.prepare("SELECT max(nonce) AS n FROM relay_entries"),
    relayCounts: reader.prepare("SELECT status, count(*) AS n FROM relay_entries GROUP BY status"),
    groupById: reader.prepare(`SELECT ${GROUP_COLUMNS} FROM relay_groups WHERE id = ?`),
  };
}

export class SqliteChainWriters implements AnchorStore, RelayStore {
  private readonly write: WriteTx;
  private readonly writer: DatabaseSync;
  private readonly reader: DatabaseSync;
  private writes: WriterStatements | undefined;
  private reads: ReaderStatements | undefined;

  constructor(writer: DatabaseSync, reader: DatabaseSync, write: WriteTx) {
    this.writer = writer;
    this.reader = reader;
    this.write = write;
  }

  // Prepared on first use, not at open: a store opened with an older migration prefix (tests do) has no such tables.
  private get w(): WriterStatements {
    this.writes ??= prepareWrites(this.writer);
    return this.writes;
  }

  private get r(): ReaderStatements {
    this.reads ??= prepareReads(this.reader);
    return this.reads;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // AnchorStore

  recordAnchorIntent(intent: NewAnchorIntent): Promise<AnchorIntent> {
    return this.write(() => {
      const open = this.w.openIntent.get();
      if (open !== undefined) throw new AnchorIntentOpenError(int(open, "id"));
      const row = this.w.insertIntent.get(
        intent.size,
        lower(intent.root),
        intent.previousSize,
        lower(intent.previousRoot),
        intent.nonce,
        lower(intent.rawTx),
        lower(intent.txHash),
        intent.createdAt,
        intent.createdAt,
      );
      if (row === undefined) throw new StoreCorruptError("anchor intent insert returned no row");
      return toIntent(row);
    });
  }

  async openAnchorIntent(): Promise<AnchorIntent | undefined> {
    const row = this.r.openIntent.get();
    return row === undefined ? undefined : toIntent(row);
  }

  settleAnchorIntent(id: number, outcome: AnchorOutcome, at: number): Promise<AnchorIntent> {
    return this.write(() => {
      const row =
        outcome.status === "confirmed"
          ? this.w.settleIntent.get("confirmed", outcome.blockNumber, null, at, id)
          : this.w.settleIntent.get("failed", null, outcome.failure, at, id);
      if (row === undefined) {
        const current = this.w.intentById.get(id);
        throw new ChainWriterStateError(
          `anchor intent ${id} cannot become ${outcome.status}: it is ${current === undefined ? "unknown" : str(current, "status")}`,
        );
      }
      return toIntent(row);
    });
  }

  replaceAnchorTx(id: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<AnchorIntent> {
    return this.write(() => {
      const row = this.w.replaceIntentTx.get(lower(tx.rawTx), lower(tx.txHash), at, id);
      if (row === undefined) {
        const current = this.w.intentById.get(id);
        throw new ChainWriterStateError(
          `anchor intent ${id} cannot take a new transaction: it is ${current === undefined ? "unknown" : str(current, "status")}`,
        );
      }
      return toIntent(row);
    });
  }

  failAnchorIntents(ids: readonly number[], failure: string, at: number): Promise<void> {
    return this.write(() => {
      for (const id of ids) {
        if (Number(this.w.failIntent.run(failure, at, id).changes) !== 1) {
          const current = this.w.intentById.get(id);
          // Thrown inside the write transaction, so the intents failed before this one are rolled back too.
          throw new ChainWriterStateError(
            `anchor intent ${id} cannot be failed: it is ${current === undefined ? "unknown" : str(current, "status")}`,
          );
        }
      }
    });
  }

  async lastConfirmedAnchorIntent(): Promise<AnchorIntent | undefined> {
    const row = this.r.lastConfirmed.get();
    return row === undefined ? undefined : toIntent(row);
  }

  async anchorIntents(): Promise<AnchorIntent[]> {
    return this.r.allIntents.all().map(toIntent);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // RelayStore

  async relayCursor(): Promise<number> {
    const row = this.r.cursor.get();
    if (row === undefined) throw new StoreCorruptError("relay_cursor has no row");
    return int(row, "next_idx");
  }

  advanceRelayCursor(from: number, to: number, rows: readonly NewRelayRow[], at: number): Promise<void> {
    return this.write(() => {
      if (to < from) throw new RangeError(`relay cursor cannot move back from ${from} to ${to}`);
      const moved = this.w.moveCursor.run(to, from);
      if (moved.changes !== 1) {
        const row = this.w.cursor.get();
        throw new ChainWriterStateError(`relay cursor is at ${row?.next_idx}, not ${from}`);
      }
      for (const r of rows) {
        if (r.index < from || r.index >= to) throw new RangeError(`relay row ${r.index} outside [${from}, ${to})`);
        this.w.insertRelay.run(r.index, r.kind, lower(r.actor), at);
      }
    });
  }

  async relayRows(status: RelayStatus, limit?: number): Promise<RelayRecord[]> {
    // SQLite reads a negative LIMIT as none.
    return this.r.relayByStatus.all(status, limit ?? -1).map(toRelay);
  }

  async relayRecord(index: number): Promise<RelayRecord | undefined> {
    const row = this.r.relayByIndex.get(index);
    return row === undefined ? undefined : toRelay(row);
  }

  async relayStatuses(indices: readonly number[]): Promise<Map<number, RelayStatus>> {
    const statuses = new Map<number, RelayStatus>();
    for (const index of indices) {
      const row = this.r.relayByIndex.get(index);
      if (row !== undefined) statuses.set(index, str(row, "status") as RelayStatus);
    }
    return statuses;
  }

  async maxRelayNonce(): Promise<number | undefined> {
    const row = this.r.maxNonce.get();
    return row === undefined ? undefined : optInt(row, "n");
  }

  markRelaySent(index: number, sent: RelaySent, at: number): Promise<void> {
    return this.transition(index, "sent", () =>
      this.w.relaySent.run(sent.nonce, lower(sent.txHash), lower(sent.rawTx), at, index),
    );
  }

  markRelayGroupSent(indices: readonly number[], sent: RelaySent, at: number): Promise<number> {
    return this.write(() => {
      if (indices.length < 2) throw new RangeError(`a relay group carries at least two rows, not ${indices.length}`);
      const row = this.w.insertGroup.get(sent.nonce, lower(sent.txHash), lower(sent.rawTx), indices.length, at, at);
      if (row === undefined) throw new StoreCorruptError("relay group insert returned no row");
      const group = int(row, "id");
      // Thrown inside the write transaction: the group and the rows marked before the failing one are rolled back.
      for (const index of indices) {
        this.expectChanged(index, "sent", this.w.relayGroupSent.run(sent.nonce, lower(sent.txHash), group, at, index));
      }
      return group;
    });
  }

  async relayGroup(id: number): Promise<RelayGroup | undefined> {
    const row = this.r.groupById.get(id);
    return row === undefined ? undefined : toGroup(row);
  }

  replaceRelayTx(index: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<void> {
    return this.write(() => {
      const grouped = this.w.relayGroupOf.get(index);
      const group = grouped === undefined ? undefined : optInt(grouped, "group_id");
      if (group === undefined) {
        this.expectChanged(index, "sent", this.w.relayReplaceTx.run(lower(tx.txHash), lower(tx.rawTx), at, index));
        return;
      }
      if (Number(this.w.groupReplaceTx.run(lower(tx.rawTx), lower(tx.txHash), at, group).changes) !== 1) {
        throw new StoreCorruptError(`relay row ${index} points at relay group ${group}, which is missing`);
      }
      this.w.groupRowsReplaceTx.run(lower(tx.txHash), at, group);
    });
  }

  settleRelayRows(settlements: readonly RelaySettlement[], at: number): Promise<void> {
    return this.write(() => {
      for (const s of settlements) {
        const changed =
          s.status === "confirmed"
            ? this.w.relayConfirmed.run(s.blockNumber, s.txHash === undefined ? null : lower(s.txHash), at, s.index)
            : s.status === "refused"
              ? this.w.relaySentRefused.run(s.refusal.errorName, s.refusal.error, s.refusal.blockNumber ?? null, at, s.index)
              : this.w.relayReset.run(s.reason, at, s.index);
        this.expectChanged(s.index, s.status, changed);
      }
    });
  }

  markRelayConfirmed(index: number, blockNumber: number, at: number, txHash?: string): Promise<void> {
    return this.transition(index, "confirmed", () =>
      this.w.relayConfirmed.run(blockNumber, txHash === undefined ? null : lower(txHash), at, index),
    );
  }

  markRelayRefused(index: number, refusal: RelayRefusal, at: number): Promise<void> {
    return this.transition(index, "refused", () =>
      this.w.relayRefused.run(refusal.errorName, refusal.error, refusal.blockNumber ?? null, at, index),
    );
  }

  resetRelay(index: number, reason: string, at: number): Promise<void> {
    return this.transition(index, "pending", () => this.w.relayReset.run(reason, at, index));
  }

  async relayCounts(): Promise<Readonly<Record<RelayStatus, number>>> {
    const counts: Record<RelayStatus, number> = { pending: 0, sent: 0, confirmed: 0, refused: 0 };
    for (const row of this.r.relayCounts.all()) counts[str(row, "status") as RelayStatus] = int(row, "n");
    return counts;
  }

  rewriteRelayRows(rewrites: readonly RelayRewrite[], at: number): Promise<void> {
    return this.write(() => {
      for (const r of rewrites) {
        const changed =
          r.status === "pending"
            ? this.w.relayRewritePending.run(r.reason, at, r.index)
            : this.w.relayRewriteConfirmed.run(r.blockNumber, lower(r.txHash), at, r.index);
        if (Number(changed.changes) !== 1) {
          const row = this.r.relayByIndex.get(r.index);
          throw new ChainWriterStateError(
            row === undefined
              ? `relay row ${r.index} is missing`
              : `relay row ${r.index} (${str(row, "status")}) cannot be rewritten ${r.status}: it never held a transaction`,
          );
        }
      }
    });
  }

  private transition(index: number, to: RelayStatus, run: () => { changes: number | bigint }): Promise<void> {
    return this.write(() => this.expectChanged(index, to, run()));
  }

  /** Inside a write transaction: throws (rolling it back) unless the statement changed exactly row `index`. */
  private expectChanged(index: number, to: RelayStatus, result: { changes: number | bigint }): void {
    if (Number(result.changes) !== 1) {
      const row = this.r.relayByIndex.get(index);
      throw new ChainWriterStateError(
        `relay row ${index} cannot become ${to}: it is ${row === undefined ? "missing" : str(row, "status")}`,
      );
    }
  }
}
