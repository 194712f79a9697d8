/**
 * The market's answers over the real services on Hardhat's in-process chain (test/api/harness.ts): a recall's reach
 * through a split and a merge, the recall acknowledgement (who may sign one, for which lots), the safety centre's
 * figures, the stall display's view and the version its live updates follow.
 *
 * The story, run once: the cooperative registers farm lots R (to be recalled) and K; splits R into R1 and R2; merges
 * R2 with K into M; R1 goes to the stall through the wholesaler. The regulator then recalls R: R1 (at the stall) and
 * M (merged from one recalled parent) are affected, K is not.
 */
import { expect } from "chai";
import { demoBatches, type DemoActorName } from "../../../ledger-api/src/demo/story.ts";
import type { EventDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { recallAckDoc } from "../../../ledger-api/src/protocol/recall-ack.ts";
import { batchIdOf } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { RecallReach } from "../../../ledger-api/src/market/reach.ts";
import type { MarketOverview } from "../../../ledger-api/src/market/overview.ts";
import type { StallDisplay } from "../../../ledger-api/src/market/stall.ts";
import { stallVersion } from "../../../ledger-api/src/market/stall.ts";
import { MarketProjection } from "../../../ledger-api/src/market/projection.ts";
import { StallWatch } from "../../../ledger-api/src/market/watch.ts";
import { startLedger, type Ledger } from "../harness.ts";
import { forEachDriver } from "../store/drivers.ts";

type Keys = { readonly gtin: string; readonly lot: string };
const GTIN = demoBatches.tangerines.gtin;
const R: Keys = { gtin: GTIN, lot: "RC-1" };
const K: Keys = { gtin: GTIN, lot: "RC-K" };
const R1: Keys = { gtin: GTIN, lot: "RC-1A" };
const R2: Keys = { gtin: GTIN, lot: "RC-1B" };
const M: Keys = { gtin: GTIN, lot: "RC-M" };
const id = (k: Keys): string => batchIdOf(k.gtin, k.lot);
const STALL_GLN = "8801234000086";

function at(day: number, hour = 9): string {
  return `2026-11-${String(day).padStart(2, "0")}T${String(hour).padStart(2, "0")}:00:00Z`;
}

function story(address: (name: DemoActorName) => string): { actor: DemoActorName; doc: EventDoc }[] {
  const registered = (keys: Keys, kg: number, phiGap: boolean): EventDoc => ({
    kind: "Registered",
    batch: keys,
    occurredAt: at(2),
    product: "Jeju Hallabong tangerines",
    origin: { country: "KR", region: phiGap ? "Jeju-do, Seogwipo-si" : "Jeju-do, Jeju-si", farm: { name: `Orchard ${keys.lot}` } },
    harvestDate: "2026-11-01",
    quantity: { value: kg, unit: "kg" },
    imported: false,
  });
  return [
    { actor: "cooperative", doc: registered(R, 100, true) },
    { actor: "cooperative", doc: registered(K, 40, false) },
    // Sprayed 5 days before the harvest with a 14-day interval: a violation.
    {
      actor: "cooperative",
      doc: {
        kind: "PesticideApplied",
        batch: R,
        occurredAt: "2026-10-27T07:00:00Z",
        substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
        dose: { value: 0.25, unit: "L/10a" },
        preHarvestIntervalDays: 14,
      },
    },
    {
      actor: "lab",
      doc: {
        kind: "Inspected",
        batch: R,
        occurredAt: at(3, 15),
        lab: { name: "Seogwipo Agricultural Testing Lab" },
        method: "LC-MS/MS",
        analytes: [{ name: "Imidacloprid", value: 2.4, limit: 1.0, unit: "mg/kg" }],
        passed: false,
      },
    },
    {
      actor: "cooperative",
      doc: { kind: "Split", batch: R, occurredAt: at(4), children: [{ ...R1, quantity: { value: 30, unit: "kg" } }, { ...R2, quantity: { value: 70, unit: "kg" } }] },
    },
    { actor: "cooperative", doc: { kind: "Merged", batch: M, occurredAt: at(4, 11), parents: [K, R2] } },
    { actor: "cooperative", doc: { kind: "HandOffOffered", batch: R1, occurredAt: at(5, 5), to: address("wholesaler") } },
    { actor: "wholesaler", doc: { kind: "HandOffAccepted", batch: R1, occurredAt: at(5, 6), from: address("cooperative") } },
    { actor: "wholesaler", doc: { kind: "HandOffOffered", batch: R1, occurredAt: at(6, 5), to: address("stall") } },
    { actor: "stall", doc: { kind: "HandOffAccepted", batch: R1, occurredAt: at(6, 6), from: address("wholesaler") } },
  ];
}

forEachDriver("the market: recall reach, acknowledgements, the safety centre and the stall displays", function (driver) {
  this.timeout(180_000);
  let ledger: Ledger;
  const address = (name: DemoActorName): string => ledger.chain.actors[name].address;

  async function submit(actor: DemoActorName, doc: EventDoc): Promise<{ statusCode: number; json: Record<string, unknown> }> {
    return ledger.post(await ledger.sign(actor, doc));
  }

  before(async function () {
    ledger = await startLedger({ driver: driver.name });
    await ledger.playDemoStory();
    for (const step of story(address)) {
      const res = await submit(step.actor, step.doc);
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      await ledger.sync();
    }
  });
  after(async function () {
    await ledger?.close();
  });

  describe("before the recall", function () {
    it("answers 404 NOT_RECALLED for the reach of a lot under no recall", async function () {
      const res = await ledger.get(`/v1/recalls/${id(R1)}/reach`);
      expect(res.statusCode).to.equal(404);
      expect(res.json.code).to.equal("NOT_RECALLED");
    });

    it("shows the stall's lots with their origin and since when it holds them", async function () {
      const res = await ledger.get(`/v1/market/stalls/${STALL_GLN}`);
      expect(res.statusCode).to.equal(200);
      const lots = res.json.lots as { batchId: string; origin: { country: string; region: string } | null; since: string | null }[];
      const r1 = lots.find((l) => l.batchId === id(R1));
      expect(r1?.origin).to.deep.include({ country: "KR", region: "Jeju-do, Seogwipo-si" });
      expect(r1?.since).to.equal(at(6, 6).replace("Z", ".000Z"));
    });
  });

  describe("after the regulator recalls the farm lot", function () {
    let reach: RecallReach;
    let versionBefore: string;

    before(async function () {
      const projection = new MarketProjection(ledger.services.store);
      versionBefore = await stallVersion(ledger.services.store, projection, address("stall"));
      const res = await submit("regulator", { kind: "Recalled", batch: R, occurredAt: at(7), reason: "Imidacloprid over its limit", reference: "RECALL-26-0400" });
      expect(res.statusCode).to.equal(202);
      await ledger.sync();
      const answer = await ledger.get(`/v1/recalls/${id(R)}/reach`);
      expect(answer.statusCode).to.equal(200);
      reach = answer.json as unknown as RecallReach;
    });

    it("reaches the recalled lot, its split children and the lot merged from one of them, but not the other merge parent", function () {
      const ids = reach.lots.map((l) => l.batchId);
      expect(ids).to.include.members([id(R), id(R1), id(R2), id(M)]);
      expect(ids).to.not.include(id(K));
      expect(reach.lots[0]).to.deep.include({ batchId: id(R), relation: "recalled", depth: 0 });
      expect(reach.lots.find((l) => l.batchId === id(M))).to.deep.include({ relation: "descendant", depth: 2, status: "active" });
    });

    it("names each affected lot's custodian, retail flag and since when it holds it", function () {
      const r1 = reach.lots.find((l) => l.batchId === id(R1));
      expect(r1?.custodian.address.toLowerCase()).to.equal(address("stall").toLowerCase());
      expect(r1?.retail).to.equal(true);
      expect(r1?.since?.at).to.equal(at(6, 6).replace("Z", ".000Z"));
      expect(r1?.since?.blockNumber).to.be.a("number");
      const m = reach.lots.find((l) => l.batchId === id(M));
      expect(m?.custodian.address.toLowerCase()).to.equal(address("cooperative").toLowerCase());
      expect(m?.retail).to.equal(false);
      // Split and merged-away lots are listed but held by nobody: nothing to set aside.
      expect(reach.lots.find((l) => l.batchId === id(R2))?.mustAcknowledge).to.equal(false);
      expect(reach.summary).to.deep.include({ active: 2, atRetail: 1, acknowledged: 0, awaiting: 2 });
    });

    it("answers the same reach when asked about an affected descendant, by GTIN and lot", async function () {
      const res = await ledger.get(`/v1/recalls/reach?gtin=${M.gtin}&lot=${M.lot}`);
      expect(res.statusCode).to.equal(200);
      expect((res.json as unknown as RecallReach).recall.batchId).to.equal(id(R));
      expect(res.json.asked).to.equal(id(M));
    });

    it("changes the stall display's version, so its screen fetches the view again", async function () {
      const projection = new MarketProjection(ledger.services.store);
      expect(await stallVersion(ledger.services.store, projection, address("stall"))).to.not.equal(versionBefore);
    });

    it("puts the recalled lot on the stall's display view with its recall, not yet acknowledged", async function () {
      const res = await ledger.get(`/v1/stalls/${STALL_GLN}/display`);
      expect(res.statusCode).to.equal(200);
      const display = res.json as unknown as StallDisplay;
      expect(display.stall.name).to.equal("Mangwon Market Stall 12");
      expect(display.lots.map((l) => l.batchId)).to.include(id(R1));
      expect(display.recalls.map((r) => r.batchId)).to.deep.equal([id(R1)]);
      expect(display.recalls[0]?.acknowledged).to.equal(false);
    });

    it("counts the recall, its lot at the stall, the failed test and the interval violation on the safety centre", async function () {
      const res = await ledger.get("/v1/market");
      expect(res.statusCode).to.equal(200);
      const overview = res.json as unknown as MarketOverview;
      const stall = overview.stalls.find((s) => s.gln === STALL_GLN);
      expect(stall).to.deep.include({ recalledLots: 1, awaitingAcknowledgement: 1 });
      expect(overview.recalls.map((r) => r.recall.batchId)).to.include(id(R));
      expect(overview.tests.failedAnalytes.map((a) => a.name)).to.include("Imidacloprid");
      expect(overview.tests.latestViolations.map((v) => v.batchId)).to.include(id(R));
      const violation = overview.tests.latestViolations.find((v) => v.batchId === id(R));
      expect(violation).to.deep.include({ daysBeforeHarvest: 5, preHarvestIntervalDays: 14 });
      // Supply: the stall's arrivals by origin; KR has the stall's tangerine lots, AU its beef.
      expect(overview.supply.countries.map((c) => c.country)).to.include.members(["KR", "AU"]);
      const kr = overview.supply.countries.find((c) => c.country === "KR");
      expect(kr?.lots.reduce((a, b) => a + b, 0)).to.equal(kr?.total);
      expect(overview.supply.days).to.have.length(kr?.lots.length ?? -1);
    });

    it("lists the lots behind a supply figure at its link", async function () {
      const overview = (await ledger.get("/v1/market")).json as unknown as MarketOverview;
      const au = overview.supply.countries.find((c) => c.country === "AU");
      const res = await ledger.get(au?.link ?? "");
      expect(res.statusCode).to.equal(200);
      const lots = res.json.lots as { lot: string; origin: { country: string } }[];
      expect(lots.map((l) => l.lot)).to.include(demoBatches.beef.lot);
      expect(lots.every((l) => l.origin.country === "AU")).to.equal(true);
    });

    it("acknowledges: the stall's signed acknowledgement marks its lot acknowledged in the reach and on its display", async function () {
      const res = await submit("stall", recallAckDoc(R1, reach.recall.eventHash ?? "", at(7, 12)));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      const after = (await ledger.get(`/v1/recalls/${id(R)}/reach`)).json as unknown as RecallReach;
      const r1 = after.lots.find((l) => l.batchId === id(R1));
      expect(r1?.acknowledged).to.equal(true);
      expect(r1?.acknowledgements[0]?.signer).to.equal(address("stall").toLowerCase());
      expect(after.summary).to.deep.include({ acknowledged: 1, awaiting: 1 });
      const display = (await ledger.get(`/v1/stalls/${STALL_GLN}/display`)).json as unknown as StallDisplay;
      expect(display.recalls[0]?.acknowledged).to.equal(true);
    });
  });

  describe("who may acknowledge a recall", function () {
    let recallHash: string;
    before(async function () {
      recallHash = ((await ledger.get(`/v1/recalls/${id(R)}/reach`)).json as unknown as RecallReach).recall.eventHash ?? "";
    });

    async function refused(actor: DemoActorName, keys: Keys, hash: string): Promise<{ statusCode: number; code: unknown }> {
      const size = await ledger.services.store.size();
      const res = await submit(actor, recallAckDoc(keys, hash, at(7, 13)));
      expect(await ledger.services.store.size(), "nothing is logged on a refusal").to.equal(size);
      return { statusCode: res.statusCode, code: res.json.code };
    }

    it("refuses a party that does not hold the recalled lot (403 RECALL_ACK_NOT_CUSTODIAN)", async function () {
      expect(await refused("wholesaler", R1, recallHash)).to.deep.equal({ statusCode: 403, code: "RECALL_ACK_NOT_CUSTODIAN" });
    });

    it("refuses an acknowledgement of a lot that was never recalled (409 RECALL_ACK_NOT_RECALLED)", async function () {
      expect(await refused("stall", demoBatches.beef, recallHash)).to.deep.equal({ statusCode: 409, code: "RECALL_ACK_NOT_RECALLED" });
    });

    it("refuses an acknowledgement naming an event that is not this lot's recall (409 RECALL_ACK_NOT_RECALLED)", async function () {
      const spinachRecall = ((await ledger.get(`/v1/recalls/${batchIdOf(demoBatches.spinach.gtin, demoBatches.spinach.lot)}/reach`)).json as unknown as RecallReach).recall.eventHash ?? "";
      expect(await refused("cooperative", M, spinachRecall)).to.deep.equal({ statusCode: 409, code: "RECALL_ACK_NOT_RECALLED" });
    });

    it("refuses an acknowledgement that names no recall in its note (422 DOC_INCONSISTENT)", async function () {
      expect(await refused("cooperative", M, "RECALL-26-0400")).to.deep.equal({ statusCode: 422, code: "DOC_INCONSISTENT" });
    });

    it("admits the custodian of a lot merged from a recalled parent", async function () {
      const res = await submit("cooperative", recallAckDoc(M, recallHash, at(7, 14)));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      const after = (await ledger.get(`/v1/recalls/${id(R)}/reach`)).json as unknown as RecallReach;
      expect(after.summary).to.deep.include({ acknowledged: 2, awaiting: 0 });
    });
  });

  describe("live updates of a stall's display", function () {
    it("are derived from the store: a watch of another instance announces a hand-off ingested through this one", async function () {
      // A second API instance on the same database has its own projection and watch and shares nothing else.
      const projection = new MarketProjection(ledger.services.store);
      const watch = new StallWatch({ store: ledger.services.store, projection, maxConnections: 4, maxPerStall: 1 });
      const versions: string[] = [];
      const display = { send: (_event: string, data: string) => void versions.push(data), ping() {}, end() {} };
      try {
        const disconnect = await watch.connect(address("stall"), display);
        expect(disconnect).to.be.a("function");
        expect(versions).to.have.length(1);
        await watch.tick();
        await watch.tick();
        expect(versions, "nothing moved, nothing is sent").to.have.length(1);
        const lot: Keys = { gtin: GTIN, lot: "RC-LIVE" };
        for (const step of [
          { actor: "cooperative", doc: { kind: "Registered", batch: lot, occurredAt: at(8), product: "Jeju Hallabong tangerines", origin: { country: "KR", region: "Jeju-do, Jeju-si", farm: { name: "Orchard 9" } }, harvestDate: "2026-11-07", quantity: { value: 20, unit: "kg" }, imported: false } },
          { actor: "cooperative", doc: { kind: "HandOffOffered", batch: lot, occurredAt: at(8, 10), to: address("stall") } },
          { actor: "stall", doc: { kind: "HandOffAccepted", batch: lot, occurredAt: at(8, 11), from: address("cooperative") } },
        ] as const) {
          expect((await submit(step.actor, step.doc as EventDoc)).statusCode).to.equal(202);
          await ledger.sync();
        }
        await watch.tick();
        expect(versions).to.have.length(2);
        expect(versions[1]).to.equal(await stallVersion(ledger.services.store, projection, address("stall")));
        // Bounded: the stall's one place is taken.
        expect(watch.hasRoom(address("stall"))).to.equal(false);
        expect(await watch.connect(address("stall"), display)).to.equal(undefined);
        disconnect?.();
        expect(watch.hasRoom(address("stall"))).to.equal(true);
      } finally {
        watch.close();
      }
    });
  });

  describe("stalls a market does not have", function () {
    it("answers 404 UNKNOWN_STALL for a GLN no retail actor has, on the JSON and the page", async function () {
      for (const url of ["/v1/stalls/8800000000000/display", "/stalls/8800000000000/display", "/v1/market/stalls/8800000000000"]) {
        const res = await ledger.app.inject({ method: "GET", url });
        expect(res.statusCode, url).to.equal(404);
        expect(res.json().code, url).to.equal("UNKNOWN_STALL");
      }
    });
  });
});
