/**
 * Who may record an Observed event about a lot, how many, and nonces of every kind spent once.
 *
 * - A lot's observers are its custodian, the receiver of its open hand-off offer, inspectors and the regulator (as
 *   the index, with accepted but unmined events laid over it, says); the registrant or producer of a lot it no longer
 *   holds, and any other role holder, is refused 403 OBSERVER_NOT_PARTY.
 * - Each signer may record OBSERVATIONS_PER_LOT_PER_DAY observations of one lot in any 24 hours, counted from the log
 *   (so a restart forgets nothing); the rest is 429 OBSERVATION_BUDGET_EXCEEDED with Retry-After.
 * - A signer's nonce is spent once across the whole log, whatever the kinds: 409 NONCE_REUSED.
 * Every refusal stores nothing.
 */
import { expect } from "chai";
import type { DemoActorName } from "../../../ledger-api/src/demo/story.ts";
import type { EventDoc, SignedEvent } from "../../../ledger-api/src/protocol/documents.ts";
import { startLedger, type Ledger } from "../harness.ts";

const GTIN = "08801234000017";
let lots = 0;
function freshBatch(): { gtin: string; lot: string } {
  return { gtin: GTIN, lot: `OB-${++lots}` };
}

function hoursAgo(h: number): string {
  return new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - h * 3_600_000).toISOString().replace(".000Z", "Z");
}

type Batch = { gtin: string; lot: string };

const registered = (batch: Batch): EventDoc => ({
  kind: "Registered",
  batch,
  occurredAt: hoursAgo(30),
  product: "Jeju Hallabong tangerines",
  origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
  harvestDate: hoursAgo(40).slice(0, 10),
  quantity: { value: 1200, unit: "kg" },
  imported: false,
});

let readings = 0;
/** An observation; each one a different document. */
const observed = (batch: Batch): EventDoc => ({
  kind: "Observed",
  batch,
  occurredAt: hoursAgo(1),
  readings: [{ type: "Temperature", value: 4 + ++readings / 1000, unit: "Cel" }],
});

async function logState(ledger: Ledger) {
  const { store } = ledger.services;
  const cp = await store.checkpoint();
  return { size: cp.size, root: Buffer.from(cp.root).toString("hex"), pending: (await store.relayRows("pending")).length };
}

async function accepted(ledger: Ledger, events: SignedEvent | readonly SignedEvent[]): Promise<Record<string, unknown>[]> {
  const res = await ledger.post(events);
  expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
  return res.json.receipts as Record<string, unknown>[];
}

async function refused(ledger: Ledger, events: SignedEvent | readonly SignedEvent[], status: number, code: string, index = 0) {
  const before = await logState(ledger);
  const res = await ledger.app.inject({ method: "POST", url: "/v1/events", payload: events as object });
  const json = res.json() as Record<string, unknown>;
  expect(res.statusCode, res.body).to.equal(status);
  expect(json, res.body).to.include({ code, index });
  expect(await logState(ledger), `stored something after ${res.body}`).to.deep.equal(before);
  return res;
}

describe("observations", function () {
  this.timeout(120_000);
  let ledger: Ledger;
  const addr = (name: DemoActorName) => ledger.chain.actors[name].address;
  const sign = (name: DemoActorName, doc: EventDoc, nonce?: bigint) => ledger.sign(name, doc, nonce === undefined ? {} : { nonce });

  before(async function () {
    ledger = await startLedger();
  });
  after(async function () {
    await ledger?.close();
  });

  describe("who may observe a lot", function () {
    it("lets the custodian, inspectors and the regulator observe it", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", registered(batch)));
      await accepted(ledger, await sign("cooperative", observed(batch)));
      await accepted(ledger, await sign("lab", observed(batch)));
      await accepted(ledger, await sign("regulator", observed(batch)));
    });

    it("lets the receiver of its open hand-off offer observe it (a receiving inspection), before it accepts", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", registered(batch)));
      await refused(ledger, await sign("wholesaler", observed(batch)), 403, "OBSERVER_NOT_PARTY");
      await accepted(ledger, await sign("cooperative", { kind: "HandOffOffered", batch, occurredAt: hoursAgo(2), to: addr("wholesaler") }));
      await accepted(ledger, await sign("wholesaler", observed(batch)));
    });

    it("refuses another role holder (a market stall on a lot it neither holds nor is offered) with 403 OBSERVER_NOT_PARTY", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", registered(batch)));
      const res = await refused(ledger, await sign("stall", observed(batch)), 403, "OBSERVER_NOT_PARTY");
      expect(res.json().message).to.include(addr("stall"));
    });

    it("refuses the producer once the lot is handed on, even before the hand-off is mined", async function () {
      const batch = freshBatch();
      await accepted(ledger, [
        await sign("cooperative", registered(batch)),
        await sign("cooperative", { kind: "HandOffOffered", batch, occurredAt: hoursAgo(3), to: addr("wholesaler") }),
      ]);
      await accepted(ledger, await sign("wholesaler", { kind: "HandOffAccepted", batch, occurredAt: hoursAgo(2), from: addr("cooperative") }));
      // Pending: the new custodian may observe, the producer may not.
      await accepted(ledger, await sign("wholesaler", observed(batch)));
      await refused(ledger, await sign("cooperative", observed(batch)), 403, "OBSERVER_NOT_PARTY");
      for (let i = 0; i < 3; i++) await ledger.sync();
      await refused(ledger, await sign("cooperative", observed(batch)), 403, "OBSERVER_NOT_PARTY");
      await accepted(ledger, await sign("wholesaler", observed(batch)));
    });
  });

  describe("a signer's nonce is spent once, whatever the kinds", function () {
    it("refuses an observation reusing another observation's nonce with 409 NONCE_REUSED", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", registered(batch)));
      await accepted(ledger, await sign("cooperative", observed(batch), 424_242n));
      const res = await refused(ledger, await sign("cooperative", observed(batch), 424_242n), 409, "NONCE_REUSED");
      expect(res.json().message).to.include("424242");
      // Another signer's nonce of the same value is its own.
      await accepted(ledger, await sign("lab", observed(batch), 424_242n));
    });

    it("refuses a lifecycle event reusing an observation's nonce, and an observation reusing a lifecycle event's", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", registered(batch), 515_001n));
      await accepted(ledger, await sign("cooperative", observed(batch), 515_002n));
      const pesticide: EventDoc = {
        kind: "PesticideApplied",
        batch,
        occurredAt: hoursAgo(2),
        substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
        dose: { value: 0.25, unit: "L/10a" },
        preHarvestIntervalDays: 21,
      };
      await refused(ledger, await sign("cooperative", pesticide, 515_002n), 409, "NONCE_REUSED");
      await refused(ledger, await sign("cooperative", observed(batch), 515_001n), 409, "NONCE_REUSED");
      // Also once the registration is on chain and its nonce is the index's.
      await ledger.sync();
      await refused(ledger, await sign("cooperative", observed(batch), 515_001n), 409, "NONCE_REUSED");
    });

    it("refuses two events of one request with one nonce, naming the second", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", registered(batch)));
      await refused(ledger, [await sign("cooperative", observed(batch), 616_001n), await sign("cooperative", observed(batch), 616_001n)], 409, "NONCE_REUSED", 1);
    });

    it("answers the same observation resubmitted with its receipt, not NONCE_REUSED", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", registered(batch)));
      const event = await sign("cooperative", observed(batch), 717_001n);
      const [first] = await accepted(ledger, event);
      const [again, copy] = await accepted(ledger, [event, event]);
      expect(again).to.include({ index: first!.index, duplicate: true });
      expect(copy).to.include({ index: first!.index, duplicate: true });
    });

    it("spends a nonce once among concurrent requests: one is logged, the others refused", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", registered(batch)));
      const events = await Promise.all([1, 2, 3, 4].map(() => sign("cooperative", observed(batch), 818_001n)));
      const statuses = await Promise.all(events.map(async (e) => (await ledger.post(e)).statusCode));
      expect(statuses.filter((s) => s === 202)).to.have.length(1);
      expect(statuses.filter((s) => s === 409)).to.have.length(3);
    });
  });

  describe("the observation budget (OBSERVATIONS_PER_LOT_PER_DAY=3)", function () {
    let small: Ledger;
    before(async function () {
      small = await startLedger({ chain: ledger.chain, env: { OBSERVATIONS_PER_LOT_PER_DAY: "3" } });
    });
    after(async function () {
      await small?.close();
    });
    const signSmall = (name: DemoActorName, doc: EventDoc) => small.sign(name, doc);

    it("refuses a signer's fourth observation of a lot in a day with 429 OBSERVATION_BUDGET_EXCEEDED and Retry-After", async function () {
      const batch = freshBatch();
      await accepted(small, await signSmall("cooperative", registered(batch)));
      for (let i = 0; i < 3; i++) await accepted(small, await signSmall("cooperative", observed(batch)));
      const res = await refused(small, await signSmall("cooperative", observed(batch)), 429, "OBSERVATION_BUDGET_EXCEEDED");
      const retryAfter = Number(res.headers["retry-after"]);
      expect(retryAfter).to.be.within(1, 86_400);
      // Another party's budget, and the same party's budget for another lot, are their own.
      await accepted(small, await signSmall("lab", observed(batch)));
      const other = freshBatch();
      await accepted(small, await signSmall("cooperative", registered(other)));
      await accepted(small, await signSmall("cooperative", observed(other)));
    });

    it("counts a request's own observations, refusing the request whole", async function () {
      const batch = freshBatch();
      await accepted(small, await signSmall("cooperative", registered(batch)));
      await accepted(small, await signSmall("cooperative", observed(batch)));
      const three = await Promise.all([1, 2, 3].map(() => signSmall("cooperative", observed(batch))));
      await refused(small, three, 429, "OBSERVATION_BUDGET_EXCEEDED", 2);
      await accepted(small, three.slice(0, 2));
    });

    it("counts concurrent requests exactly: of six single observations, three are logged", async function () {
      const batch = freshBatch();
      await accepted(small, await signSmall("cooperative", registered(batch)));
      const six = await Promise.all([1, 2, 3, 4, 5, 6].map(() => signSmall("cooperative", observed(batch))));
      const statuses = await Promise.all(six.map(async (e) => (await small.post(e)).statusCode));
      expect(statuses.filter((s) => s === 202)).to.have.length(3);
      expect(statuses.filter((s) => s === 429)).to.have.length(3);
    });

    it("answers a logged observation resubmitted at the budget with its receipt", async function () {
      const batch = freshBatch();
      await accepted(small, await signSmall("cooperative", registered(batch)));
      const events = await Promise.all([1, 2, 3].map(() => signSmall("cooperative", observed(batch))));
      await accepted(small, events);
      const [again] = await accepted(small, events[2]!);
      expect(again).to.include({ duplicate: true });
    });

    it("still counts after a restart: the budget is read from the log", async function () {
      const batch = freshBatch();
      await accepted(small, await signSmall("cooperative", registered(batch)));
      for (let i = 0; i < 3; i++) await accepted(small, await signSmall("cooperative", observed(batch)));
      const dataDir = small.dataDir;
      await small.app.close();
      await small.services.close();
      const restarted = await startLedger({ chain: ledger.chain, dataDir, env: { OBSERVATIONS_PER_LOT_PER_DAY: "3" } });
      try {
        await refused(restarted, await restarted.sign("cooperative", observed(batch)), 429, "OBSERVATION_BUDGET_EXCEEDED");
      } finally {
        await restarted.app.close();
        await restarted.services.close();
      }
      // With the budget raised, the same party may observe it again.
      small = await startLedger({ chain: ledger.chain, dataDir, env: { OBSERVATIONS_PER_LOT_PER_DAY: "4" } });
      await accepted(small, await signSmall("cooperative", observed(batch)));
    });
  });
});
