/**
 * The background loop of a chain writer (relay, anchorer): passes run one at a time (a pass started by hand waits
 * for the loop's, and the other way round), the next pass is scheduled `pollMs` after the previous one ends, a
 * failed pass is logged and retried, and the loop never keeps the process alive on its own (stop() is the orderly
 * exit; a crash needs no cleanup, which is what the writers' stored state is for).
 */
import type { ChainLogger } from "./transactions.ts";

export class PollLoop {
  private tail: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  private readonly pass: () => Promise<unknown>;
  private readonly pollMs: number;
  private readonly logger: ChainLogger;
  private readonly name: string;

  constructor(name: string, pass: () => Promise<unknown>, pollMs: number, logger: ChainLogger) {
    this.name = name;
    this.pass = pass;
    this.pollMs = pollMs;
    this.logger = logger;
  }

  get running(): boolean {
    return this.active;
  }

  /** Runs `fn` after every earlier pass or serialized call has settled. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.schedule();
  }

  /** Stops scheduling and waits for the pass under way. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.tail.catch(() => undefined);
  }

  private schedule(): void {
    if (!this.active) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // `pass` serializes itself (the writers' public passes go through serialize()), so it is not wrapped again.
      this.pass()
        .catch((e: unknown) => this.logger.error({ err: e }, `${this.name} pass failed; retrying`))
        .finally(() => this.schedule());
    }, this.pollMs);
    this.timer.unref();
  }
}
