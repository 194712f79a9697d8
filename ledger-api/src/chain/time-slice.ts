/**
 * Cooperative yielding for the chain workers' long passes. The SQLite store answers its async methods synchronously,
 * so a loop of `await store.x()` never lets the event loop read a request: after a burst of 3,000 registrations, the
 * relay's passes (entries decoded and encoded, groups of 50 built, signed and settled with ethers) and the indexer's
 * ranges (a group's calldata decoded call by call) each ran as one task of up to a second or more, and
 * `@fastify/under-pressure` refused every request while the mean event-loop delay stayed past its limit (one
 * `npm run bench` run: 10,238 provenance reads refused in 10 s; `node scripts/bench-reads-during-relay.ts`: in-memory
 * answers delayed up to 830 and 1,049 ms before these pauses, up to 205 and 207 ms since).
 *
 * A pass calls `await slice.pause()` between its items: once `budgetMs` of work has run since the last turn, it gives
 * the event loop a turn (setImmediate: after the I/O already waiting), then goes on. Same semantics as any await on
 * real I/O, which a pass already makes; the store's writes keep their own transactions.
 */
export class TimeSlice {
  readonly #budgetMs: number;
  #since = performance.now();

  constructor(budgetMs = 10) {
    this.#budgetMs = budgetMs;
  }

  /** Resolves at once while the budget lasts; otherwise after one turn of the event loop. */
  async pause(): Promise<void> {
    if (performance.now() - this.#since < this.#budgetMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#since = performance.now();
  }
}
