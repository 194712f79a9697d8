/**
 * Two API instances on one PostgreSQL store (two services and apps in this process, one database, one chain): ingest
 * judges each event against everything logged before it whichever instance logged it, so the instances admit as
 * one process would: never both the registration of one lot, and at once the next event of a batch the other
 * instance logged a moment ago. Either instance answers every read. When the admission lock was lost under a request
 * (its session cut) and the other instance appended meanwhile, the request is refused as OVERLOADED with nothing
 * logged, and its resubmission is logged. (The kill test with separate processes is test/api/scale-out.test.ts.)
 */
import { expect } from "chai";
import type { EventDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { startLedger, type Ledger } from "../harness.ts";
import { driver, type StoreLocation } from "../store/drivers.ts";

const GTIN = "08801234000017";

function hoursAgo(h: number): string {
  return new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const registered = (lot: string, kg: number): EventDoc => ({
  kind: "Registered",
  batch: { gtin: GTIN, lot },
  occurredAt: hoursAgo(10),
  product: "Jeju Hallabong tangerines",
  origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3", gln: "8801234000055" } },
  harvestDate: hoursAgo(30).slice(0, 10),
  quantity: { value: kg, unit: "kg" },
  imported: false,
});

const pesticide = (lot: string): EventDoc => ({
  kind: "PesticideApplied",
  batch: { gtin: GTIN, lot },
  occurredAt: hoursAgo(9),
  substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
  dose: { value: 0.25, unit: "L/10a" },
  preHarvestIntervalDays: 21,
});

describe("two API instances on one PostgreSQL store", function () {
  this.timeout(120_000);
  let location: StoreLocation;
  let a: Ledger;
  let b: Ledger;

  before(async function () {
    location = await driver("postgres").create();
    a = await startLedger({ location });
    b = await startLedger({ chain: a.chain, location });
  });
  after(async function () {
    await b?.close();
    await a?.close();
    await location?.remove();
  });

  it("leads with one instance only: the first holds the lease; the second ingests but may not relay", async function () {
    // Neither runs its workers' loops in these tests (they are stepped by hand), but the lease was taken at start.
    const rows = await location.rows("SELECT epoch, holder FROM leader_lease");
    expect(rows).to.have.length(1);
    expect(Number(rows[0]?.epoch)).to.equal(1);
    const logged = await b.post(await b.sign("cooperative", registered("IX-FOLLOWER", 500)));
    expect(logged.statusCode, JSON.stringify(logged.json)).to.equal(202);
    const refused = await b.services.relay.syncOnce().then(
      () => "relayed",
      (e: Error) => e.name,
    );
    expect(refused, "the follower's relay may not write").to.equal("NotLeaderError");
    await a.sync();
    const index = (logged.json.receipts as { index: number }[])[0]!.index;
    expect(((await b.get(`/v1/events/${index}`)).json.relay as { status: string }).status).to.equal("confirmed");
  });

  it("never admits the registration of one lot twice, whichever instances the two requests reach", async function () {
    for (let round = 0; round < 6; round++) {
      const lot = `IX-${round}`;
      // Two different documents for one lot: different events, the second of which the contract would refuse.
      const [x, y] = await Promise.all([
        a.sign("cooperative", registered(lot, 1200)),
        b.sign("cooperative", registered(lot, 1300)),
      ]);
      const [ra, rb] = await Promise.all([a.post(x), b.post(y)]);
      expect([ra.statusCode, rb.statusCode].sort(), JSON.stringify([ra.json, rb.json])).to.deep.equal([202, 409]);
      expect([ra.json.code, rb.json.code]).to.include("RULE_VIOLATION");
    }
    const logged = await a.services.store.entries(0, await a.services.store.size());
    expect(new Set(logged.map((e) => e.batchId)).size).to.equal(logged.length);
  });

  it("admits at once the next event of a batch the other instance logged a moment ago, before the chain has it", async function () {
    const lot = "IX-NEXT";
    const first = await a.post(await a.sign("cooperative", registered(lot, 900)));
    expect(first.statusCode, JSON.stringify(first.json)).to.equal(202);
    const next = await b.post(await b.sign("cooperative", pesticide(lot)));
    expect(next.statusCode, JSON.stringify(next.json)).to.equal(202);
    const receipts = [first, next].map((r) => (r.json.receipts as { index: number; prevIndex: number }[])[0]!);
    expect(receipts[1]!.prevIndex).to.equal(receipts[0]!.index);
    // The leader relays both in log order and indexes them; the follower's reads show it.
    await a.sync();
    await a.sync();
    const seen = await b.get(`/v1/events/${receipts[1]!.index}`);
    expect((seen.json.relay as { status: string }).status).to.equal("confirmed");
  });

  it("answers reads alike from either instance", async function () {
    const [ca, cb] = await Promise.all([a.get("/v1/log/checkpoint"), b.get("/v1/log/checkpoint")]);
    expect(cb.json).to.deep.equal(ca.json);
    const size = ca.json.size as number;
    const [ea, eb] = await Promise.all([a.get(`/v1/log/entries/${size - 1}`), b.get(`/v1/log/entries/${size - 1}`)]);
    expect(eb.json).to.deep.equal(ea.json);
  });

  it("refuses with 503 OVERLOADED, logging nothing, when the other instance appended after its admission lock was cut", async function () {
    const store = a.services.store;
    const holdForAdmission = store.holdForAdmission.bind(store);
    // Fault injection at one moment: once instance a holds the lock, its session is cut (as a network fault or an
    // idle timeout would), and instance b, now free to take the lock, logs an event before a appends.
    store.holdForAdmission = async () => {
      store.holdForAdmission = holdForAdmission;
      const hold = await holdForAdmission();
      const cut = await location.rows(
        "SELECT pg_terminate_backend(pid) AS cut FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()",
      );
      expect(cut.map((r) => r.cut)).to.deep.equal([true]);
      const meanwhile = await b.post(await b.sign("cooperative", registered("IX-MEANWHILE", 700)));
      expect(meanwhile.statusCode, JSON.stringify(meanwhile.json)).to.equal(202);
      return hold;
    };
    const event = await a.sign("cooperative", registered("IX-CUT", 800));
    const before = await store.size();
    const refused = await a.post(event);
    expect(refused.statusCode, JSON.stringify(refused.json)).to.equal(503);
    expect(refused.json.code).to.equal("OVERLOADED");
    expect(refused.headers["retry-after"]).to.equal("1");
    const size = await store.size();
    expect(size, "b's event only").to.equal(before + 1);
    expect((await a.get("/v1/log/checkpoint")).json.size).to.equal(size);
    // Nothing of a's request was logged or left pending: its resubmission is logged as new, after b's event.
    const again = await a.post(event);
    expect(again.statusCode, JSON.stringify(again.json)).to.equal(202);
    const receipt = (again.json.receipts as { index: number; duplicate?: boolean }[])[0]!;
    expect(receipt.index).to.equal(size);
    expect(receipt.duplicate ?? false).to.equal(false);
  });
});
