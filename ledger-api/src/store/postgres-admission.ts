/**
 * The admission lock (LogStore.holdForAdmission, PostgreSQL): a session advisory lock that one instance at a time
 * holds while it judges events against the log and appends them, so two instances never both admit, say, the
 * hand-off of the same custody. The instance's concurrent requests share one hold (and so one group commit); a hold
 * older than `maxHoldMs` takes no more joiners and is given back once its holders are done, then queued for again
 * behind the other instances (PostgreSQL grants a lock to its waiters in order), so a busy instance cannot starve
 * the rest.
 *
 * The lock is not trusted alone: the session that holds it can be cut (a network fault, `idle_session_timeout` on an
 * instance frozen mid-hold), and then another instance may append. The store's appendBatch therefore checks, under
 * its own row lock on the log head, that the log is exactly where this hold left it (LogMovedError otherwise), so
 * nothing judged against a stale log is committed.
 */
import type { AdmissionHold } from "./store.ts";
import { first, LOCK_ADMISSION, LOCK_NAMESPACE } from "./postgres-rows.ts";
import { int } from "./rows.ts";
import type { PgSession } from "./postgres-session.ts";

export interface AdmissionLockOptions {
  /** The dedicated session that holds the lock (idle while held: the appends go through the pool). */
  readonly session: PgSession;
  /** A hold older than this takes no more joiners. */
  readonly maxHoldMs: number;
  /** Called with the log's size when a hold is granted, before any holder sees it. */
  readonly granted: (size: number) => void;
  /** Called when the last holder released, before the lock is given back. */
  readonly released: () => void;
}

export class AdmissionLock {
  private readonly opts: AdmissionLockOptions;
  private holders = 0;
  private grantedAt = 0;
  private size = 0;
  /** The current hold takes no more joiners. */
  private draining = false;
  /** Settles once the current hold has been given back. */
  private givenBack: Promise<void> = Promise.resolve();
  private markGivenBack: () => void = () => undefined;
  /** Requests for a hold are served one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: AdmissionLockOptions) {
    this.opts = options;
  }

  hold(): Promise<AdmissionHold> {
    const run = this.queue.then(() => this.take());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async take(): Promise<AdmissionHold> {
    if (this.holders > 0 && !this.draining && Date.now() - this.grantedAt < this.opts.maxHoldMs) {
      this.holders++;
      return this.share();
    }
    if (this.holders > 0) this.draining = true;
    await this.givenBack;
    const { session } = this.opts;
    await session.query("SELECT pg_advisory_lock($1, $2)", [LOCK_NAMESPACE, LOCK_ADMISSION]);
    let size: number;
    try {
      // Read after the lock is granted: every earlier holder committed its appends before giving it back.
      size = int(first(await session.query("SELECT size FROM log_head WHERE id = 1")) ?? {}, "size");
    } catch (e) {
      await this.unlock();
      throw e;
    }
    this.holders = 1;
    this.draining = false;
    this.grantedAt = Date.now();
    this.size = size;
    this.givenBack = new Promise((resolve) => (this.markGivenBack = resolve));
    this.opts.granted(size);
    return this.share();
  }

  private share(): AdmissionHold {
    let released = false;
    return {
      size: this.size,
      release: () => {
        if (released) return;
        released = true;
        this.holders--;
        if (this.holders === 0) void this.giveBack();
      },
    };
  }

  private async giveBack(): Promise<void> {
    this.opts.released();
    await this.unlock();
    this.markGivenBack();
  }

  private async unlock(): Promise<void> {
    try {
      await this.opts.session.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_NAMESPACE, LOCK_ADMISSION]);
    } catch {
      // A session that cannot unlock is closed instead: its locks go with it.
      await this.opts.session.close();
    }
  }

  /** Gives the lock back whatever the holders (the store is closing). */
  async close(): Promise<void> {
    await this.opts.session.close();
  }
}
