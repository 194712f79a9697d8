/**
 * The leadership loop (chain/leadership.ts) over the store's leader lease: on SQLite the one process leads at once;
 * on PostgreSQL, of two instances (two store objects on one database) exactly one runs its workers, the other takes
 * over when the leader stops or when its lease is taken from it, and a deposed leader stops its workers.
 */
import { expect } from "chai";
import { Leadership } from "../../../ledger-api/src/chain/leadership.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import { forEachDriver, locations } from "../store/drivers.ts";
import { memoryLogger } from "./fixtures.ts";

/** A leadership loop whose "workers" are a flag, with every start and stop recorded. */
function instance(store: Store, name: string) {
  const events: string[] = [];
  let running = false;
  const leadership = new Leadership({
    lease: store.leaderLease({ holder: name, ttlMs: 60_000 }),
    renewMs: 20,
    logger: memoryLogger(),
    async elected(epoch) {
      running = true;
      events.push(`elected ${epoch}`);
    },
    async deposed() {
      running = false;
      events.push("deposed");
    },
  });
  return { leadership, events, running: () => running };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

forEachDriver("Leadership of the chain workers", function (driver) {
  const made = locations(driver);
  afterEach(async function () {
    await made.removeAll();
  });

  it("starts the workers on its first pass when the lease is free, and gives the lease back on stop", async function () {
    const a = instance(await (await made.create()).open(), "a");
    await a.leadership.start();
    expect(a.running()).to.equal(true);
    expect(a.leadership.status()).to.include({ leading: true, epoch: 1 });
    await a.leadership.stop();
    expect(a.events).to.deep.equal(["elected 1", "deposed"]);
  });

  if (driver.name === "sqlite") return;

  it("runs the workers on one instance only; the other takes over when the leader stops", async function () {
    const loc = await made.create();
    const a = instance(await loc.open(), "a");
    const b = instance(await loc.open(), "b");
    await a.leadership.start();
    await b.leadership.start();
    // Several passes of both loops: the follower never starts its workers while the leader renews.
    await new Promise((r) => setTimeout(r, 200));
    expect([a.running(), b.running()]).to.deep.equal([true, false]);
    await a.leadership.stop();
    await until(() => b.running(), "the follower leads");
    expect(b.events).to.deep.equal(["elected 2"]);
    await b.leadership.stop();
  });

  it("stops a leader's workers at its next pass once its lease was taken from it", async function () {
    const loc = await made.create();
    const a = instance(await loc.open(), "a");
    await a.leadership.start();
    // Another instance took the lease meanwhile (this one froze past its time to live, say): a new epoch.
    // (The test's own session stands in for the other instance's lease session: alive, so the lease is not free.)
    await loc.exec(
      `UPDATE leader_lease SET epoch = epoch + 1, holder = 'other', holder_pid = pg_backend_pid(),
         expires_at = clock_timestamp() + interval '1 minute'`,
    );
    await until(() => !a.running(), "the deposed leader stops its workers");
    expect(a.events).to.deep.equal(["elected 1", "deposed"]);
    await a.leadership.stop();
  });
});
