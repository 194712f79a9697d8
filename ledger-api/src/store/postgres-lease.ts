/**
 * The leader lease (Store.leaderLease, PostgreSQL): one row, `leader_lease`, names the instance that runs the
 * indexer, the relay and the anchorer, with an epoch that grows by one at every change of leader.
 *
 * Taking over. An instance takes the lease when it is free (released), expired (its holder did not renew for
 * `ttlMs`: frozen, cut off), or held by a database session that no longer exists (the holder's process died: its
 * connection closed, and `holder_pid` is no longer in pg_stat_activity), so a crashed leader is replaced at the
 * followers' next attempt, a frozen one within `ttlMs` plus that. The row lock makes a renewal and a takeover take
 * turns: never two holders of one epoch.
 *
 * Fencing. A new epoch is committed before the new leader starts its workers, and every chain-writer transaction of
 * the store reads the row FOR SHARE and goes on only if the epoch is its own (postgres.ts). So a deposed leader that
 * wakes up mid-pass cannot write, and since the writers store a transaction before broadcasting it, cannot send one;
 * a write it committed before the takeover is seen by the new leader, whose takeover waited for that transaction.
 *
 * The pid check needs every instance to connect as the same role (or one with pg_read_all_stats) and directly or
 * through session pooling: with transaction pooling a session's backend is not the holder's.
 */
import type { LeaderLease, LeaderLeaseOptions } from "./store.ts";
import { first } from "./postgres-rows.ts";
import { int } from "./rows.ts";
import type { PgSession } from "./postgres-session.ts";

export class PgLeaderLease implements LeaderLease {
  private readonly session: PgSession;
  private readonly holder: string;
  private readonly ttlMs: number;
  private readonly onEpoch: (epoch: number) => void;
  private epoch: number | undefined;

  constructor(session: PgSession, options: LeaderLeaseOptions, onEpoch: (epoch: number) => void) {
    if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1) throw new RangeError(`lease ttlMs: ${options.ttlMs}`);
    this.session = session;
    this.holder = options.holder;
    this.ttlMs = options.ttlMs;
    this.onEpoch = onEpoch;
  }

  async acquire(): Promise<number | undefined> {
    if (this.epoch !== undefined) {
      // Renewing also records this session's backend, in case the connection was replaced since.
      const renewed = await this.session.query(
        `UPDATE leader_lease SET expires_at = clock_timestamp() + $2 * interval '1 millisecond',
           holder_pid = pg_backend_pid()
         WHERE id = 1 AND epoch = $1 RETURNING epoch`,
        [this.epoch, this.ttlMs],
      );
      if (renewed.rowCount === 1) return this.epoch;
      this.epoch = undefined;
    }
    const taken = first(
      await this.session.query(
        `UPDATE leader_lease SET epoch = epoch + 1, holder = $1, holder_pid = pg_backend_pid(),
           acquired_at = clock_timestamp(), expires_at = clock_timestamp() + $2 * interval '1 millisecond'
         WHERE id = 1 AND (holder_pid IS NULL OR expires_at < clock_timestamp()
           OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = leader_lease.holder_pid))
         RETURNING epoch`,
        [this.holder, this.ttlMs],
      ),
    );
    if (taken === undefined) return undefined;
    this.epoch = int(taken, "epoch");
    this.onEpoch(this.epoch);
    return this.epoch;
  }

  async release(): Promise<void> {
    const epoch = this.epoch;
    this.epoch = undefined;
    if (epoch !== undefined) {
      await this.session
        .query(
          "UPDATE leader_lease SET holder = NULL, holder_pid = NULL, expires_at = '-infinity' WHERE id = 1 AND epoch = $1",
          [epoch],
        )
        .catch(() => undefined); // unreachable: the lease expires (or its session is gone) anyway
    }
    await this.session.close();
  }
}
