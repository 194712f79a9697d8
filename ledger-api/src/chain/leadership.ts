/**
 * Leadership of the chain writers: of the API instances sharing a store, exactly one runs the indexer, the relay
 * and the anchorer, the holder of the store's leader lease (Store.leaderLease). Every instance runs this loop: each
 * `renewMs` it renews the lease if it holds it, or tries to take it. On winning it starts the workers (which settle
 * what a previous leader left in flight, as after a restart: the relay its 'sent' rows, the anchorer its intent);
 * on losing it (a renewal refused or failed) it stops them at once. Until they have stopped, the store's fencing
 * refuses their writes, so a deposed leader never writes beside the new one.
 *
 * With SQLite the lease is always granted: the one process leads from its first pass, as before.
 */
import type { LeaderLease } from "../store/store.ts";
import type { ChainLogger } from "./transactions.ts";

export interface LeadershipOptions {
  readonly lease: LeaderLease;
  /** How often the lease is renewed or tried for: a third of the lease's time to live. */
  readonly renewMs: number;
  /** Starts the chain workers; a rejection gives the lease back, to be tried for again at the next pass. */
  readonly elected: (epoch: number) => Promise<void>;
  /** Stops the chain workers. */
  readonly deposed: () => Promise<void>;
  readonly logger: ChainLogger;
}

export class Leadership {
  private readonly opts: LeadershipOptions;
  private epoch: number | undefined;
  private active = false;
  private timer: NodeJS.Timeout | undefined;
  private tail: Promise<void> = Promise.resolve();
  private since = 0;

  constructor(options: LeadershipOptions) {
    if (!Number.isSafeInteger(options.renewMs) || options.renewMs < 1) throw new RangeError(`renewMs: ${options.renewMs}`);
    this.opts = options;
  }

  /** Whether this instance leads (its workers run). */
  get leading(): boolean {
    return this.epoch !== undefined;
  }

  status(): { readonly leading: boolean; readonly epoch: number | undefined; readonly sinceMs: number | undefined } {
    return { leading: this.leading, epoch: this.epoch, sinceMs: this.epoch === undefined ? undefined : Date.now() - this.since };
  }

  /** Runs the first pass (so a sole instance leads when this resolves), then keeps passing every `renewMs`. */
  async start(): Promise<void> {
    if (this.active) return;
    this.active = true;
    await this.serialize(() => this.pass());
    this.schedule();
  }

  /** Stops passing; if leading, stops the workers and gives the lease back so another instance takes over at once. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.serialize(async () => {
      if (this.epoch !== undefined) {
        this.epoch = undefined;
        await this.opts.deposed();
      }
      await this.opts.lease.release();
    });
  }

  private schedule(): void {
    if (!this.active) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.serialize(() => this.pass()).finally(() => this.schedule());
    }, this.opts.renewMs);
    this.timer.unref();
  }

  private serialize(fn: () => Promise<void>): Promise<void> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async pass(): Promise<void> {
    if (!this.active) return;
    const { lease, logger } = this.opts;
    let epoch: number | undefined;
    try {
      epoch = await lease.acquire();
    } catch (err) {
      // The database is unreachable: a leader can no longer prove it leads, so it stops (its writes would fail).
      logger.warn({ err: (err as Error).message }, "leader lease: cannot reach the store");
      epoch = undefined;
    }
    if (epoch === this.epoch) return;
    if (this.epoch !== undefined) {
      logger.warn({ epoch: this.epoch }, "leader lease lost: stopping the indexer, relay and anchorer");
      this.epoch = undefined;
      await this.opts.deposed();
    }
    if (epoch === undefined) return;
    logger.info({ epoch }, "leader lease taken: starting the indexer, relay and anchorer");
    this.epoch = epoch;
    this.since = Date.now();
    try {
      await this.opts.elected(epoch);
    } catch (err) {
      logger.error({ err: (err as Error).message, epoch }, "chain workers failed to start; giving the lease back");
      this.epoch = undefined;
      await this.opts.deposed().catch(() => undefined);
      await lease.release().catch(() => undefined);
    }
  }
}
