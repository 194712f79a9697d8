/**
 * What the instances sharing one store coordinate through it: the leader lease and its fencing of the chain writers,
 * the admission hold, and the /rpc budgets. With SQLite one process owns the store, so each is trivially its own;
 * with PostgreSQL several store objects on one database stand for several API instances.
 */
import { expect } from "chai";
import { LogMovedError, NotLeaderError } from "../../../ledger-api/src/store/store.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import { appendItem } from "../log/fixtures.ts";
import { forEachDriver, locations, type StoreLocation } from "./drivers.ts";

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

const LONG = { ttlMs: 60_000 };

forEachDriver("Instances sharing a store", function (driver) {
  const made = locations(driver);
  let loc: StoreLocation;
  let a: Store;
  beforeEach(async function () {
    loc = await made.create();
    a = await loc.open();
  });
  afterEach(async function () {
    await made.removeAll();
  });

  describe("the leader lease", function () {
    if (driver.name === "sqlite") {
      it("is always granted: one process owns the store, and its chain writers write", async function () {
        const lease = a.leaderLease({ holder: "a", ...LONG });
        expect(await lease.acquire()).to.equal(1);
        expect(await lease.acquire()).to.equal(1);
        await a.appendBatch([appendItem(0)]);
        await a.advanceRelayCursor(0, 1, [], 1);
        expect(await a.relayCursor()).to.equal(1);
      });
      return;
    }

    it("is held by one instance at a time, and taken over at once when released", async function () {
      const b = await loc.open();
      const leaseA = a.leaderLease({ holder: "a", ...LONG });
      const leaseB = b.leaderLease({ holder: "b", ...LONG });
      expect(await leaseA.acquire()).to.equal(1);
      expect(await leaseB.acquire()).to.equal(undefined);
      expect(await leaseA.acquire(), "renewed").to.equal(1);
      await leaseA.release();
      expect(await leaseB.acquire()).to.equal(2);
      expect(await leaseA.acquire()).to.equal(undefined);
      expect((await loc.rows("SELECT holder FROM leader_lease"))[0]?.holder).to.equal("b");
    });

    it("is taken over at once from a holder whose database session is gone (its process died), before it expires", async function () {
      const b = await loc.open();
      const leaseA = a.leaderLease({ holder: "a", ...LONG });
      const leaseB = b.leaderLease({ holder: "b", ...LONG });
      expect(await leaseA.acquire()).to.equal(1);
      expect(await leaseB.acquire()).to.equal(undefined);
      // What a kill -9 does to the holder's connection (the backend exits just after being told to).
      const [{ pid }] = (await loc.rows("SELECT holder_pid AS pid FROM leader_lease")) as [{ pid: number }];
      await loc.exec(`SELECT pg_terminate_backend(${pid})`);
      while ((await loc.rows(`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`)).length > 0) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await leaseB.acquire()).to.equal(2);
    });

    it("is taken over from a live holder only once it has not renewed for its time to live", async function () {
      const b = await loc.open();
      const leaseA = a.leaderLease({ holder: "a", ...LONG });
      const leaseB = b.leaderLease({ holder: "b", ...LONG });
      expect(await leaseA.acquire()).to.equal(1);
      expect(await leaseB.acquire()).to.equal(undefined);
      // The holder froze: its last renewal is older than the lease's time to live.
      await loc.exec("UPDATE leader_lease SET expires_at = clock_timestamp() - interval '1 second'");
      expect(await leaseB.acquire()).to.equal(2);
      expect(await leaseA.acquire(), "the frozen holder wakes up deposed").to.equal(undefined);
    });

    it("fences the chain writers: a deposed leader's writes are refused, the new leader's go through, appends stay open to all", async function () {
      const b = await loc.open();
      await a.appendBatch([0, 1, 2].map((n) => appendItem(n)));
      const leaseA = a.leaderLease({ holder: "a", ...LONG });
      const leaseB = b.leaderLease({ holder: "b", ...LONG });
      expect(await b.advanceRelayCursor(0, 1, [], 1).then(() => "written", (e: unknown) => e)).to.be.instanceOf(
        NotLeaderError,
        "an instance that never held the lease",
      );
      expect(await leaseA.acquire()).to.equal(1);
      await a.advanceRelayCursor(0, 1, [], 1);
      await loc.exec("UPDATE leader_lease SET expires_at = clock_timestamp() - interval '1 second'");
      expect(await leaseB.acquire()).to.equal(2);
      // A woke up mid-pass: before it learns it was deposed, every write it tries is refused.
      const refused = await rejection(a.advanceRelayCursor(1, 2, [], 2));
      expect(refused).to.be.instanceOf(NotLeaderError);
      expect(refused).to.include({ epoch: 1, current: 2 });
      expect(await rejection(a.recordAnchorIntent({
        size: 3, root: "0x" + "aa".repeat(32), previousSize: 0, previousRoot: "0x" + "bb".repeat(32), nonce: 0,
        rawTx: "0x02", txHash: "0x" + "01".repeat(32), createdAt: 1,
      }))).to.be.instanceOf(NotLeaderError);
      expect(await rejection(a.resetIndex())).to.be.instanceOf(NotLeaderError);
      await b.advanceRelayCursor(1, 2, [], 3);
      expect(await a.relayCursor()).to.equal(2);
      await a.appendBatch([appendItem(3)]);
      expect(await b.size()).to.equal(4);
    });
  });

  describe("the admission hold", function () {
    it("is shared by one instance's concurrent requests, at the log's size", async function () {
      await a.appendBatch([appendItem(0), appendItem(1)]);
      const first = await a.holdForAdmission();
      const second = await a.holdForAdmission();
      expect([first.size, second.size]).to.deep.equal([2, 2]);
      first.release();
      second.release();
    });

    if (driver.name === "sqlite") return;

    it("keeps other instances waiting until it is released, and they then see what was appended under it", async function () {
      const b = await loc.open();
      const held = await a.holdForAdmission();
      let released = false;
      const waiting = b.holdForAdmission().then((hold) => ({ hold, afterRelease: released }));
      await a.appendBatch([appendItem(0), appendItem(1), appendItem(2)]);
      released = true;
      held.release();
      const { hold, afterRelease } = await waiting;
      expect(afterRelease).to.equal(true);
      expect(hold.size).to.equal(3);
      hold.release();
    });

    it("refuses an append under the hold, storing nothing, when another appender moved the log under it", async function () {
      const b = await loc.open();
      await a.appendBatch([appendItem(0)]);
      const held = await a.holdForAdmission();
      // Another instance appending without the hold: what happens when the hold's session was cut behind our back.
      await b.appendBatch([appendItem(1)]);
      const moved = await rejection(a.appendBatch([appendItem(2)]));
      expect(moved).to.be.instanceOf(LogMovedError);
      expect(moved).to.include({ expected: 1, actual: 2 });
      expect(await a.size()).to.equal(2);
      expect(await a.entryByKey(appendItem(2).key)).to.equal(undefined);
      held.release();
      // Outside a hold the instance appends at the new size.
      expect((await a.appendBatch([appendItem(2)]))[0]?.index).to.equal(2);
    });
  });

  describe("/rpc budgets", function () {
    it("count a client's calls once, whichever instance they reach, per window", async function () {
      const b = driver.name === "postgres" ? await loc.open() : a;
      expect(await a.spendRpcCalls("198.51.100.7", 100, 3, 5)).to.equal(true);
      expect(await b.spendRpcCalls("198.51.100.7", 100, 2, 5)).to.equal(true);
      expect(await a.spendRpcCalls("198.51.100.7", 100, 1, 5), "over the budget").to.equal(false);
      expect(await b.spendRpcCalls("203.0.113.9", 100, 5, 5), "another client").to.equal(true);
      expect(await b.spendRpcCalls("203.0.113.9", 100, 6, 5), "more than a whole budget at once").to.equal(false);
      expect(await b.spendRpcCalls("198.51.100.7", 101, 5, 5), "the next window").to.equal(true);
    });
  });
});
