import { expect } from "chai";
import {
  Appender,
  AppenderClosedError,
  AppenderOverloadedError,
  AppendFailedError,
  BodyTooLargeError,
  withBodySizeLimit,
  withStats,
} from "../../../ledger-api/src/log/appender.ts";
import type { AddStats, Receipt } from "../../../ledger-api/src/log/appender.ts";
import { InvalidEntryError } from "../../../ledger-api/src/log/entry.ts";
import { hexToBytes } from "../../../ledger-api/src/log/hash.ts";
import type { Hash } from "../../../ledger-api/src/log/hash.ts";
import { StoreClosedError } from "../../../ledger-api/src/store/store.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import { forEachDriver, LOG_DRIVERS, locations, type StoreLocation } from "../store/drivers.ts";
import { event, hex, mth } from "./fixtures.ts";

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

forEachDriver("Appender", (driver) => {
  const made = locations(driver);
  let loc: StoreLocation;
  let store: Store;

  beforeEach(async function () {
    loc = await made.create();
    store = await loc.open();
  });
  afterEach(async function () {
    await made.removeAll();
  });

  describe("deduplication", function () {
    it("answers a resubmitted event with the first receipt, flagged duplicate, across groups", async function () {
      const appender = new Appender(store);
      const first = await appender.add(event(1));
      const again = await appender.add(event(1));
      expect(first.duplicate).to.equal(false);
      expect(again).to.deep.equal({ ...first, duplicate: true });
      expect(await store.size()).to.equal(1);
    });

    it("answers a repeat within one group with the earlier item's receipt", async function () {
      const appender = new Appender(store);
      const [a, b, c] = await Promise.all([appender.add(event(1)), appender.add(event(2)), appender.add(event(1))]);
      expect(appender.stats().groups).to.equal(1);
      expect([a?.index, b?.index, c?.index]).to.deep.equal([0, 1, 0]);
      expect(c).to.deep.equal({ ...a, duplicate: true });
      expect(await store.size()).to.equal(2);
    });
  });

  describe("batch links", function () {
    it("links each entry to the previous entry of its batch, within a group and across groups", async function () {
      const appender = new Appender(store);
      const g1 = await Promise.all([
        appender.add(event(0, "A")),
        appender.add(event(1, "B")),
        appender.add(event(2, "A")),
      ]);
      const g2 = await Promise.all([appender.add(event(3, "B")), appender.add(event(4, "A")), appender.add(event(5, "C"))]);
      expect([...g1, ...g2].map((r) => r.prevIndex)).to.deep.equal([-1, -1, 0, 1, 2, -1]);
      expect(appender.stats().groups).to.equal(2);
      expect((await store.entry(4))?.prevIndex).to.equal(2);
    });
  });

  describe("group commit", function () {
    it("gives 5,000 concurrent adds contiguous indices in arrival order, one transaction per group, durable after reopen", async function () {
      this.timeout(60_000);
      const appender = new Appender(store, { maxGroupSize: 1000 });
      const before = store.stats().commits;
      const items = Array.from({ length: 5000 }, (_, i) => event(i));
      const receipts = await Promise.all(items.map((item) => appender.add(item)));
      expect(receipts.map((r) => r.index)).to.deep.equal(items.map((_, i) => i));
      expect(appender.stats()).to.deep.include({ groups: 5, failedGroups: 0, items: 5000, largestGroup: 1000 });
      expect(store.stats().commits - before).to.equal(5);
      const root = hex(mth(receipts.map((r) => hexToBytes(r.leafHash) as Hash)));
      expect(hex(await store.latestRoot())).to.equal(root);

      await appender.close();
      await store.close();
      store = await loc.open();
      expect(await store.size()).to.equal(5000);
      expect(hex(await store.latestRoot())).to.equal(root);
      for (const i of [0, 1, 999, 1000, 2500, 4999]) {
        const e = await store.entryByKey(items[i]?.key as string);
        expect(e?.index).to.equal(i);
        expect(hex(e?.leafHash as Hash)).to.equal((receipts[i] as Receipt).leafHash.slice(2));
        expect(e?.body).to.equal(items[i]?.body);
      }
    });

    it("folds adds that arrive while a commit is running into the next group", async function () {
      const appender = new Appender(store);
      const first = appender.add(event(0));
      // Queued after the first group has been taken, before it commits.
      await new Promise((r) => setImmediate(r));
      const rest = Array.from({ length: 10 }, (_, i) => appender.add(event(i + 1)));
      await Promise.all([first, ...rest]);
      expect(appender.stats().groups).to.equal(2);
      expect(appender.stats().largestGroup).to.equal(10);
    });
  });

  describe("failures", function () {
    it("rejects the whole group when its transaction fails mid-way, stores nothing of it, and keeps working", async function () {
      const appender = new Appender(store);
      await Promise.all([appender.add(event(0, "A")), appender.add(event(1, "A"))]);
      const before = await store.checkpoint();

      // A constraint the store does not know about, failing the third insert of the next group.
      const poison = event(102, "A");
      await loc.exec(driver.failInsertOf(poison.key));
      const group = [event(100, "A"), event(101, "B"), poison, event(103, "A")].map((item) => rejection(appender.add(item)));
      const errors = await Promise.all(group);
      for (const e of errors) {
        expect(e).to.be.instanceOf(AppendFailedError);
        expect(String(((e as AppendFailedError).cause as Error).message)).to.contain("injected failure");
      }
      expect(errors.every((e) => e === errors[0])).to.equal(true);
      expect(await store.checkpoint()).to.deep.equal(before);
      expect(await store.entryByKey(event(100, "A").key)).to.equal(undefined);
      expect(await store.lastIndexOfBatch(event(0, "A").batchId)).to.equal(1);
      expect(appender.stats().failedGroups).to.equal(1);

      await loc.exec(driver.allowInserts);
      const retried = await Promise.all([event(100, "A"), event(101, "B"), poison].map((item) => appender.add(item)));
      expect(retried.map((r) => [r.index, r.prevIndex])).to.deep.equal([
        [2, 1],
        [3, -1],
        [4, 2],
      ]);
      // The frontier was left as before the failure: the tree after the retry is the reference tree.
      const leaves = await store.nodes([0, 1, 2, 3, 4].map((index) => ({ level: 0, index })));
      expect(hex(await store.latestRoot())).to.equal(hex(mth(leaves)));
    });

    it("rejects the group with the store's error when the store has been closed", async function () {
      const appender = new Appender(store);
      await store.close();
      const e = await rejection(appender.add(event(0)));
      expect(e).to.be.instanceOf(AppendFailedError);
      expect((e as AppendFailedError).cause).to.be.instanceOf(StoreClosedError);
    });

    it("rejects a malformed event alone, before it can fail a group", async function () {
      const appender = new Appender(store);
      const good = appender.add(event(0));
      const bad = rejection(appender.add({ ...event(1), batchId: "0x" + "00".repeat(32) }));
      expect(await bad).to.be.instanceOf(InvalidEntryError);
      expect((await good).index).to.equal(0);
    });

    it("pushes back with a typed error when more than maxQueued items wait", async function () {
      const appender = new Appender(store, { maxQueued: 10 });
      const accepted = Array.from({ length: 10 }, (_, i) => appender.add(event(i)));
      const refused = await rejection(appender.add(event(10)));
      expect(refused).to.be.instanceOf(AppenderOverloadedError);
      expect((refused as AppenderOverloadedError).queued).to.equal(10);
      expect((await Promise.all(accepted)).map((r) => r.index)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it("drains what it accepted on close and refuses new items afterwards", async function () {
      const appender = new Appender(store);
      const pending = Array.from({ length: 20 }, (_, i) => appender.add(event(i)));
      await appender.close();
      expect(await store.size()).to.equal(20);
      expect((await Promise.all(pending)).length).to.equal(20);
      expect(await rejection(appender.add(event(99)))).to.be.instanceOf(AppenderClosedError);
    });

    it("refuses invalid options at construction", function () {
      expect(() => new Appender(store, { maxGroupSize: 0 })).to.throw(RangeError);
      expect(() => new Appender(store, { maxQueued: 1.5 })).to.throw(RangeError);
    });
  });

  describe("decorators", function () {
    it("limits body size and counts outcomes around any add function", async function () {
      const appender = new Appender(store, { now: () => 42 });
      const stats: AddStats = { ok: 0, duplicates: 0, failed: 0, latenciesMs: [] };
      const add = withStats(withBodySizeLimit(appender.addFn, 64), stats);
      await add(event(0));
      await add(event(0));
      expect(await rejection(add({ ...event(1), body: "x".repeat(65) }))).to.be.instanceOf(BodyTooLargeError);
      expect(stats).to.deep.include({ ok: 1, duplicates: 1, failed: 1 });
      expect(stats.latenciesMs).to.have.length(3);
      expect((await store.entry(0))?.receivedAt).to.equal(42);
    });
  });
}, LOG_DRIVERS);
