/**
 * The PostgreSQL side of the chain writers' tables (anchor intents, the relay cursor and relay rows), mirroring
 * sqlite-chain-writers.ts. PostgresStore hands it a `write` function that runs a body as one write transaction and,
 * once a leader lease governs the store, only while this instance holds it (the fencing check, postgres.ts); reads go
 * to the pool and see committed state. Every transition is a compare-and-set on the status column, checked by the
 * number of rows changed.
 */
import { first, type Sql } from "./postgres-rows.ts";
import { int, optInt, str } from "./rows.ts";
import { GROUP_COLUMNS, INTENT_COLUMNS, RELAY_COLUMNS, toGroup, toIntent, toRelay } from "./chain-writer-rows.ts";
import { insertRows } from "./postgres-index.ts";
import { AnchorIntentOpenError, ChainWriterStateError } from "./chain-writers.ts";
import type {
  AnchorIntent,
  AnchorOutcome,
  AnchorStore,
  NewAnchorIntent,
  NewRelayRow,
  RelayGroup,
  RelayRecord,
  RelayRefusal,
  RelayRewrite,
  RelaySent,
  RelaySettlement,
  RelayStatus,
  RelayStore,
} from "./chain-writers.ts";
import { StoreCorruptError } from "./store.ts";

/** Runs `fn` as one fenced write transaction, after every earlier write transaction of this store object. */
export type PgWriteTx = <T>(fn: (tx: Sql) => Promise<T>) => Promise<T>;

const lower = (hex: string): string => hex.toLowerCase();

/** sent -> confirmed ($1 block, $2 the hash that recorded it or null to keep the row's, $3 at, $4 idx). */
const CONFIRM_SENT = `UPDATE relay_entries SET status = 'confirmed', block_number = $1, tx_hash = coalesce($2, tx_hash),
  updated_at = $3 WHERE idx = $4 AND status = 'sent'`;

/** sent -> pending, leaving its transaction and group ($1 reason, $2 at, $3 idx); the nonce stays (maxRelayNonce). */
const RESET_SENT = `UPDATE relay_entries SET status = 'pending', tx_hash = NULL, raw_tx = NULL, group_id = NULL,
  block_number = NULL, error_name = NULL, error = $1, updated_at = $2 WHERE idx = $3 AND status = 'sent'`;

export class PgChainWriters implements AnchorStore, RelayStore {
  private readonly write: PgWriteTx;
  private readonly read: Sql;

  constructor(read: Sql, write: PgWriteTx) {
    this.read = read;
    this.write = write;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // AnchorStore

  recordAnchorIntent(intent: NewAnchorIntent): Promise<AnchorIntent> {
    return this.write(async (tx) => {
      const open = first(await tx.query("SELECT id FROM anchor_intents WHERE status = 'sent'"));
      if (open !== undefined) throw new AnchorIntentOpenError(int(open, "id"));
      const row = first(
        await tx.query(
          `INSERT INTO anchor_intents (size, root, previous_size, previous_root, nonce, raw_tx, tx_hash, status,
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'sent', $8, $8) RETURNING ${INTENT_COLUMNS}`,
          [
            intent.size,
            lower(intent.root),
            intent.previousSize,
            lower(intent.previousRoot),
            intent.nonce,
            lower(intent.rawTx),
            lower(intent.txHash),
            intent.createdAt,
          ],
        ),
      );
      if (row === undefined) throw new StoreCorruptError("anchor intent insert returned no row");
      return toIntent(row);
    });
  }

  async openAnchorIntent(): Promise<AnchorIntent | undefined> {
    const row = first(await this.read.query(`SELECT ${INTENT_COLUMNS} FROM anchor_intents WHERE status = 'sent'`));
    return row === undefined ? undefined : toIntent(row);
  }

  settleAnchorIntent(id: number, outcome: AnchorOutcome, at: number): Promise<AnchorIntent> {
    return this.write(async (tx) => {
      const params =
        outcome.status === "confirmed"
          ? ["confirmed", outcome.blockNumber, null, at, id]
          : ["failed", null, outcome.failure, at, id];
      const row = first(
        await tx.query(
          `UPDATE anchor_intents SET status = $1, block_number = $2, failure = $3, updated_at = $4
           WHERE id = $5 AND status = 'sent' RETURNING ${INTENT_COLUMNS}`,
          params,
        ),
      );
      if (row === undefined) throw new ChainWriterStateError(`anchor intent ${id} cannot become ${outcome.status}: it is ${await this.intentStatus(tx, id)}`);
      return toIntent(row);
    });
  }

  replaceAnchorTx(id: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<AnchorIntent> {
    return this.write(async (sql) => {
      const row = first(
        await sql.query(
          `UPDATE anchor_intents SET raw_tx = $1, tx_hash = $2, fee_bumps = fee_bumps + 1, updated_at = $3
           WHERE id = $4 AND status = 'sent' RETURNING ${INTENT_COLUMNS}`,
          [lower(tx.rawTx), lower(tx.txHash), at, id],
        ),
      );
      if (row === undefined) throw new ChainWriterStateError(`anchor intent ${id} cannot take a new transaction: it is ${await this.intentStatus(sql, id)}`);
      return toIntent(row);
    });
  }

  private async intentStatus(sql: Sql, id: number): Promise<string> {
    const row = first(await sql.query("SELECT status FROM anchor_intents WHERE id = $1", [id]));
    return row === undefined ? "unknown" : str(row, "status");
  }

  failAnchorIntents(ids: readonly number[], failure: string, at: number): Promise<void> {
    return this.write(async (tx) => {
      for (const id of ids) {
        const failed = await tx.query(
          `UPDATE anchor_intents SET status = 'failed', failure = $1, updated_at = $2
           WHERE id = $3 AND status IN ('sent', 'confirmed')`,
          [failure, at, id],
        );
        // Thrown inside the write transaction, so the intents failed before this one are rolled back too.
        if (failed.rowCount !== 1) throw new ChainWriterStateError(`anchor intent ${id} cannot be failed: it is ${await this.intentStatus(tx, id)}`);
      }
    });
  }

  async lastConfirmedAnchorIntent(): Promise<AnchorIntent | undefined> {
    const row = first(
      await this.read.query(
        `SELECT ${INTENT_COLUMNS} FROM anchor_intents WHERE status = 'confirmed' ORDER BY size DESC LIMIT 1`,
      ),
    );
    return row === undefined ? undefined : toIntent(row);
  }

  async anchorIntents(): Promise<AnchorIntent[]> {
    return (await this.read.query(`SELECT ${INTENT_COLUMNS} FROM anchor_intents ORDER BY id`)).rows.map(toIntent);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // RelayStore

  async relayCursor(): Promise<number> {
    const row = first(await this.read.query("SELECT next_idx FROM relay_cursor WHERE id = 1"));
    if (row === undefined) throw new StoreCorruptError("relay_cursor has no row");
    return int(row, "next_idx");
  }

  advanceRelayCursor(from: number, to: number, rows: readonly NewRelayRow[], at: number): Promise<void> {
    return this.write(async (tx) => {
      if (to < from) throw new RangeError(`relay cursor cannot move back from ${from} to ${to}`);
      const moved = await tx.query("UPDATE relay_cursor SET next_idx = $1 WHERE id = 1 AND next_idx = $2", [to, from]);
      if (moved.rowCount !== 1) {
        const row = first(await tx.query("SELECT next_idx FROM relay_cursor WHERE id = 1"));
        throw new ChainWriterStateError(`relay cursor is at ${row?.next_idx}, not ${from}`);
      }
      for (const r of rows) {
        if (r.index < from || r.index >= to) throw new RangeError(`relay row ${r.index} outside [${from}, ${to})`);
      }
      await insertRows(
        tx,
        "relay_entries",
        [["idx", "bigint"], ["kind", "integer"], ["actor", "text"], ["status", "text"], ["updated_at", "bigint"]],
        rows.map((r) => [r.index, r.kind, lower(r.actor), "pending", at]),
      );
    });
  }

  async relayRows(status: RelayStatus, limit?: number): Promise<RelayRecord[]> {
    // LIMIT NULL is no limit.
    const result = await this.read.query(
      `SELECT ${RELAY_COLUMNS} FROM relay_entries WHERE status = $1 ORDER BY idx LIMIT $2`,
      [status, limit ?? null],
    );
    return result.rows.map(toRelay);
  }

  async relayRecord(index: number): Promise<RelayRecord | undefined> {
    const row = first(await this.read.query(`SELECT ${RELAY_COLUMNS} FROM relay_entries WHERE idx = $1`, [index]));
    return row === undefined ? undefined : toRelay(row);
  }

  async relayStatuses(indices: readonly number[]): Promise<Map<number, RelayStatus>> {
    const { rows } = await this.read.query("SELECT idx, status FROM relay_entries WHERE idx = ANY($1::bigint[])", [indices]);
    return new Map(rows.map((row) => [int(row, "idx"), str(row, "status") as RelayStatus]));
  }

  async maxRelayNonce(): Promise<number | undefined> {
    // Rows reset to pending keep their old nonce, so this also covers nonces whose transactions never landed.
    return optInt(first(await this.read.query("SELECT max(nonce) AS n FROM relay_entries")), "n");
  }

  markRelaySent(index: number, sent: RelaySent, at: number): Promise<void> {
    return this.transition(index, "sent", (tx) =>
      tx.query(
        `UPDATE relay_entries SET status = 'sent', nonce = $1, tx_hash = $2, raw_tx = $3, error_name = NULL,
           error = NULL, fee_bumps = 0, updated_at = $4 WHERE idx = $5 AND status = 'pending'`,
        [sent.nonce, lower(sent.txHash), lower(sent.rawTx), at, index],
      ),
    );
  }

  markRelayGroupSent(indices: readonly number[], sent: RelaySent, at: number): Promise<number> {
    return this.write(async (tx) => {
      if (indices.length < 2) throw new RangeError(`a relay group carries at least two rows, not ${indices.length}`);
      const row = first(
        await tx.query(
          `INSERT INTO relay_groups (nonce, tx_hash, raw_tx, calls, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
           RETURNING id`,
          [sent.nonce, lower(sent.txHash), lower(sent.rawTx), indices.length, at],
        ),
      );
      if (row === undefined) throw new StoreCorruptError("relay group insert returned no row");
      const group = int(row, "id");
      // One statement for the group's rows; fewer rows changed than named (one not pending, or named twice) throws
      // inside the write transaction, so neither the group nor any row is stored.
      const { rows: marked } = await tx.query(
        `UPDATE relay_entries SET status = 'sent', nonce = $1, tx_hash = $2, raw_tx = NULL, group_id = $3,
           error_name = NULL, error = NULL, fee_bumps = 0, updated_at = $4
         WHERE idx = ANY($5::bigint[]) AND status = 'pending' RETURNING idx`,
        [sent.nonce, lower(sent.txHash), group, at, indices],
      );
      if (marked.length !== indices.length) {
        const done = new Set(marked.map((r) => int(r, "idx")));
        const culprit = indices.find((i) => !done.has(i)) ?? indices.find((i, k) => indices.indexOf(i) !== k) ?? indices[0]!;
        throw new ChainWriterStateError(`relay row ${culprit} cannot become sent: it is ${await this.relayStatus(tx, culprit)}`);
      }
      return group;
    });
  }

  async relayGroup(id: number): Promise<RelayGroup | undefined> {
    const row = first(await this.read.query(`SELECT ${GROUP_COLUMNS} FROM relay_groups WHERE id = $1`, [id]));
    return row === undefined ? undefined : toGroup(row);
  }

  replaceRelayTx(index: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<void> {
    return this.write(async (sql) => {
      const grouped = first(
        await sql.query("SELECT group_id FROM relay_entries WHERE idx = $1 AND status = 'sent' FOR UPDATE", [index]),
      );
      const group = grouped === undefined ? undefined : optInt(grouped, "group_id");
      if (group === undefined) {
        const changed = await sql.query(
          `UPDATE relay_entries SET tx_hash = $1, raw_tx = $2, fee_bumps = fee_bumps + 1, updated_at = $3
           WHERE idx = $4 AND status = 'sent' AND group_id IS NULL`,
          [lower(tx.txHash), lower(tx.rawTx), at, index],
        );
        if (changed.rowCount !== 1) {
          throw new ChainWriterStateError(`relay row ${index} cannot become sent: it is ${await this.relayStatus(sql, index)}`);
        }
        return;
      }
      const replaced = await sql.query(
        "UPDATE relay_groups SET raw_tx = $1, tx_hash = $2, fee_bumps = fee_bumps + 1, updated_at = $3 WHERE id = $4",
        [lower(tx.rawTx), lower(tx.txHash), at, group],
      );
      if (replaced.rowCount !== 1) throw new StoreCorruptError(`relay row ${index} points at relay group ${group}, which is missing`);
      await sql.query("UPDATE relay_entries SET tx_hash = $1, updated_at = $2 WHERE group_id = $3 AND status = 'sent'", [
        lower(tx.txHash),
        at,
        group,
      ]);
    });
  }

  settleRelayRows(settlements: readonly RelaySettlement[], at: number): Promise<void> {
    return this.write(async (tx) => {
      for (const s of settlements) {
        const changed =
          s.status === "confirmed"
            ? await tx.query(CONFIRM_SENT, [s.blockNumber, s.txHash === undefined ? null : lower(s.txHash), at, s.index])
            : s.status === "refused"
              ? await tx.query(
                  `UPDATE relay_entries SET status = 'refused', error_name = $1, error = $2, block_number = $3,
                     updated_at = $4 WHERE idx = $5 AND status = 'sent'`,
                  [s.refusal.errorName, s.refusal.error, s.refusal.blockNumber ?? null, at, s.index],
                )
              : await tx.query(RESET_SENT, [s.reason, at, s.index]);
        // Thrown inside the write transaction: the rows settled before this one are rolled back too.
        if (changed.rowCount !== 1) {
          throw new ChainWriterStateError(`relay row ${s.index} cannot become ${s.status}: it is ${await this.relayStatus(tx, s.index)}`);
        }
      }
    });
  }

  markRelayConfirmed(index: number, blockNumber: number, at: number, txHash?: string): Promise<void> {
    return this.transition(index, "confirmed", (tx) =>
      tx.query(CONFIRM_SENT, [blockNumber, txHash === undefined ? null : lower(txHash), at, index]),
    );
  }

  markRelayRefused(index: number, refusal: RelayRefusal, at: number): Promise<void> {
    return this.transition(index, "refused", (tx) =>
      tx.query(
        `UPDATE relay_entries SET status = 'refused', error_name = $1, error = $2, block_number = $3, updated_at = $4
         WHERE idx = $5 AND status IN ('pending', 'sent')`,
        [refusal.errorName, refusal.error, refusal.blockNumber ?? null, at, index],
      ),
    );
  }

  resetRelay(index: number, reason: string, at: number): Promise<void> {
    return this.transition(index, "pending", (tx) => tx.query(RESET_SENT, [reason, at, index]));
  }

  async relayCounts(): Promise<Readonly<Record<RelayStatus, number>>> {
    const counts: Record<RelayStatus, number> = { pending: 0, sent: 0, confirmed: 0, refused: 0 };
    const { rows } = await this.read.query("SELECT status, count(*) AS n FROM relay_entries GROUP BY status");
    for (const row of rows) counts[str(row, "status") as RelayStatus] = int(row, "n");
    return counts;
  }

  rewriteRelayRows(rewrites: readonly RelayRewrite[], at: number): Promise<void> {
    return this.write(async (tx) => {
      for (const r of rewrites) {
        const changed =
          r.status === "pending"
            ? await tx.query(
                `UPDATE relay_entries SET status = 'pending', nonce = NULL, tx_hash = NULL, raw_tx = NULL, group_id = NULL,
                   block_number = NULL, error_name = NULL, error = $1, updated_at = $2 WHERE idx = $3`,
                [r.reason, at, r.index],
              )
            : await tx.query(
                `UPDATE relay_entries SET status = 'confirmed', block_number = $1, tx_hash = $2, error_name = NULL,
                   error = NULL, updated_at = $3
                 WHERE idx = $4 AND (raw_tx IS NOT NULL OR group_id IS NOT NULL) AND nonce IS NOT NULL`,
                [r.blockNumber, lower(r.txHash), at, r.index],
              );
        if (changed.rowCount !== 1) {
          const row = first(await tx.query("SELECT status FROM relay_entries WHERE idx = $1", [r.index]));
          throw new ChainWriterStateError(
            row === undefined
              ? `relay row ${r.index} is missing`
              : `relay row ${r.index} (${str(row, "status")}) cannot be rewritten ${r.status}: it never held a transaction`,
          );
        }
      }
    });
  }

  private async relayStatus(sql: Sql, index: number): Promise<string> {
    const row = first(await sql.query("SELECT status FROM relay_entries WHERE idx = $1", [index]));
    return row === undefined ? "missing" : str(row, "status");
  }

  private transition(index: number, to: RelayStatus, run: (tx: Sql) => Promise<{ rowCount: number | null }>): Promise<void> {
    return this.write(async (tx) => {
      if ((await run(tx)).rowCount !== 1) {
        const row = first(await tx.query("SELECT status FROM relay_entries WHERE idx = $1", [index]));
        throw new ChainWriterStateError(
          `relay row ${index} cannot become ${to}: it is ${row === undefined ? "missing" : str(row, "status")}`,
        );
      }
    });
  }
}
