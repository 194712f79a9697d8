/**
 * A lot that is logged but not yet on chain (the Split that cuts it from its parent is on its way) answers with what
 * the log knows, marked pending, on every route a label or a scan reaches: provenance JSON, trace, the shopper page in
 * each language, the label sheet and the QR codes. The independent verifier calls such an answer pending, never
 * verified and never failed for that alone. A lot whose creating event the contract refuses goes back to 404.
 */
import { expect } from "chai";
import { Contract } from "ethers";
import { abiOf } from "../../../ledger-api/src/chain/contracts.ts";
import type { EventDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { deriveEvent } from "../../../ledger-api/src/protocol/typed-values.ts";
import type { Provenance } from "../../../ledger-api/src/protocol/answer.ts";
import type { Trace } from "../../../ledger-api/src/query/trace.ts";
import { MESSAGES } from "../../../ledger-api/src/web/i18n.ts";
import { providerReader, verifyProvenance, type Verification } from "../../../ledger-api/src/verify/verify.ts";
import { ethers, startLedger, type Ledger } from "../harness.ts";

type Keys = { readonly gtin: string; readonly lot: string };
const GTIN = "08801234000017";
const parent: Keys = { gtin: GTIN, lot: "PD-1" };
const [child, sibling]: Keys[] = [
  { gtin: GTIN, lot: "PD-1A" },
  { gtin: GTIN, lot: "PD-1B" },
];
const doomedParent: Keys = { gtin: GTIN, lot: "PD-2" };
const doomedChild: Keys = { gtin: GTIN, lot: "PD-2A" };

const at = (day: number) => `2026-11-${String(day).padStart(2, "0")}T08:00:00Z`;
const pathOf = (k: Keys) => `/01/${k.gtin}/10/${k.lot}`;
const idOf = (k: Keys) => encodeURIComponent(pathOf(k));

function registered(keys: Keys): EventDoc {
  return {
    kind: "Registered",
    batch: keys,
    occurredAt: at(1),
    product: "Jeju Hallabong tangerines",
    origin: { country: "KR", region: "Jeju-do", farm: { name: "Pending Orchard" } },
    harvestDate: "2026-10-30",
    quantity: { value: 100, unit: "kg" },
    imported: false,
  };
}

function split(from: Keys, into: readonly Keys[]): EventDoc {
  return {
    kind: "Split",
    batch: from,
    occurredAt: at(5),
    children: into.map((k, i) => ({ ...k, quantity: { value: i === 0 ? 60 : 40, unit: "kg" } })),
  };
}

describe("a lot logged but not yet on chain", function () {
  let ledger: Ledger;
  const reader = providerReader(ethers.provider);
  const verify = (answer: Provenance): Promise<Verification> =>
    verifyProvenance(answer, reader, {
      trust: { chainId: ledger.chain.deployments.chainId, ledger: ledger.chain.deployments.ledger, anchor: ledger.chain.deployments.anchor },
    });
  const address = (name: "stall" | "cooperative") => ledger.chain.actors[name].address;

  async function post(actor: Parameters<Ledger["sign"]>[0], doc: EventDoc): Promise<void> {
    const res = await ledger.post(await ledger.sign(actor, doc));
    expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
  }

  before(async function () {
    ledger = await startLedger();
    await post("cooperative", registered(parent));
    await post("cooperative", {
      kind: "PesticideApplied",
      batch: parent,
      occurredAt: at(2),
      substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
      dose: { value: 0.25, unit: "L/10a" },
      preHarvestIntervalDays: 14,
    });
    await ledger.sync();
    // From here on the chain workers are not stepped: the split and the child's hand-off stay on their way.
    await post("cooperative", split(parent, [child as Keys, sibling as Keys]));
    await post("cooperative", { kind: "HandOffOffered", batch: child as Keys, occurredAt: at(6), to: address("stall") });
    await post("stall", { kind: "HandOffAccepted", batch: child as Keys, occurredAt: at(7), from: address("cooperative") });
  });
  after(async function () {
    await ledger?.close();
  });

  describe("before the chain records its Split", function () {
    let answer: Provenance;
    before(async function () {
      const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${idOf(child as Keys)}/provenance` });
      expect(res.statusCode, res.body).to.equal(200);
      expect(res.headers["ledger-batch-state"]).to.equal("pending");
      answer = res.json() as Provenance;
    });

    it("answers its provenance from the log, marked onChain: false, with the state its documents assert", async function () {
      expect(answer.batch).to.include({ lot: child?.lot, onChain: false, status: "active", recalled: false, createdBlock: null });
      expect(answer.batch.quantity).to.deep.equal({ value: "60", unit: "kg" });
      expect(answer.batch.registrant.address.toLowerCase()).to.equal(address("cooperative").toLowerCase());
      // The hand-off to the stall, logged after the split, is laid over the split's state.
      expect(answer.batch.custodian.address.toLowerCase()).to.equal(address("stall").toLowerCase());
      expect(answer.batch.origins.map((o) => o.lot)).to.deep.equal([parent.lot]);
    });

    it("shows the Split that creates it, its own later events and what it inherits, none of them on chain", async function () {
      expect(answer.timeline.map((t) => [t.kind, t.relation])).to.deep.equal([
        ["PesticideApplied", "inherited"],
        ["Split", "created"],
        ["HandOffOffered", "own"],
        ["HandOffAccepted", "own"],
      ]);
      expect(answer.timeline.filter((t) => t.relation !== "inherited").map((t) => t.chain?.status)).to.deep.equal(["queued", "queued", "queued"]);
      expect(answer.lineage.parents).to.have.length(1);
      expect(answer.lineage.parents[0]).to.include({ lot: parent.lot, kind: "Split", blockNumber: null });
      expect(answer.lineage.parents[0]?.quantity).to.deep.equal({ value: "60", unit: "kg" });
    });

    it("answers a lot of the same Split with no events of its own too", async function () {
      const res = await ledger.get(`/v1/batches/provenance?gtin=${GTIN}&lot=${sibling?.lot}`);
      expect(res.statusCode).to.equal(200);
      expect((res.json.batch as { onChain: boolean }).onChain).to.equal(false);
      expect((res.json.timeline as { relation: string }[]).map((t) => t.relation)).to.deep.equal(["inherited", "created"]);
    });

    it("is verified as pending, never verified and nothing failed", async function () {
      const v = await verify(answer);
      expect(v.status).to.equal("pending");
      const failed = [...v.entries.flatMap((e) => e.checks), ...v.batch].filter((c) => c.status === "failed");
      expect(failed, JSON.stringify(failed)).to.deep.equal([]);
      expect(v.entries.find((e) => e.relation === "inherited")?.checks.find((c) => c.name === "document")?.status).to.equal("pending");
      expect(v.batch.find((c) => c.name === "history")?.status).to.equal("verified");
      expect(v.batch.find((c) => c.name === "custodian")?.status).to.equal("pending");
    });

    it("still fails an answer whose recall state is not the chain's for the lot it is cut from", async function () {
      const lying = structuredClone(answer);
      const v0 = await verify(lying);
      expect(v0.batch.find((c) => c.name === "recall")?.status).to.equal("verified");
      // The server claims a recall that the chain does not record: the recall check compares with the parent's.
      lying.batch.recalled = true;
      const v = await verify(lying);
      expect(v.status).to.equal("failed");
      expect(v.batch.find((c) => c.name === "recall")?.status).to.equal("failed");
    });

    it("answers its trace, the root marked not on chain", async function () {
      const res = await ledger.get(`/v1/batches/${idOf(child as Keys)}/trace`);
      expect(res.statusCode).to.equal(200);
      const trace = res.json as unknown as Trace;
      expect(trace.lots.find((l) => l.root)).to.include({ lot: child?.lot, onChain: false });
    });

    for (const lang of ["ko", "zh", "en"] as const) {
      it(`serves its shopper page in ${lang}, saying it is recorded and confirming on chain`, async function () {
        const res = await ledger.app.inject({ method: "GET", url: `${pathOf(child as Keys)}?lang=${lang}`, headers: { accept: "text/html" } });
        expect(res.statusCode).to.equal(200);
        expect(res.headers["ledger-batch-state"]).to.equal("pending");
        expect(res.body).to.include('data-testid="pending-lot"');
        expect(res.body).to.include(MESSAGES[lang].pendingLotTitle);
        expect(res.body).to.include("Pending Orchard");
      });
    }

    it("prints its label sheet with a note on screen that the lot is not confirmed yet", async function () {
      const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${idOf(child as Keys)}/label?lang=en` });
      expect(res.statusCode).to.equal(200);
      expect(res.headers["ledger-batch-state"]).to.equal("pending");
      expect(res.body).to.include('data-testid="label-notice"');
      expect(res.body).to.include(MESSAGES.en.labelPending.split(":")[0]);
      expect(res.body).to.match(/@media print \{ \.notice \{ display: none; \} \}/);
      expect(res.body).to.include(`(10)${child?.lot}`);
    });

    it("serves its QR codes, marked pending and not cached for a day", async function () {
      for (const kind of ["qr.svg", "qr.png"]) {
        const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${idOf(child as Keys)}/${kind}` });
        expect(res.statusCode, kind).to.equal(200);
        expect(res.headers["ledger-batch-state"], kind).to.equal("pending");
        expect(res.headers["cache-control"], kind).to.equal("no-cache");
      }
    });
  });

  describe("once the chain has recorded it", function () {
    before(async function () {
      await ledger.sync();
      await ledger.sync();
    });

    it("answers from the index, no longer marked pending, and nothing of it fails verification", async function () {
      const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${idOf(child as Keys)}/provenance` });
      expect(res.statusCode).to.equal(200);
      expect(res.headers["ledger-batch-state"]).to.equal(undefined);
      const answer = res.json() as Provenance;
      expect(answer.batch.onChain).to.equal(true);
      expect(answer.lineage.parents[0]?.blockNumber).to.be.a("number");
      const v = await verify(answer);
      expect(v.status).to.not.equal("failed");
      expect(v.batch.find((c) => c.name === "custodian")?.status).to.equal("verified");
      const qr = await ledger.app.inject({ method: "GET", url: `/v1/batches/${idOf(child as Keys)}/qr.svg` });
      expect(qr.headers["cache-control"]).to.equal("public, max-age=86400");
    });
  });

  describe("a lot whose Split the contract refuses", function () {
    before(async function () {
      await post("cooperative", registered(doomedParent));
      await ledger.sync();
      await post("cooperative", split(doomedParent, [doomedChild, { gtin: GTIN, lot: "PD-2B" }]));
      // The regulator recalls the parent on chain directly, before the relay sends the split: the contract will refuse it.
      const regulator = ledger.chain.actors.regulator.connect(ethers.provider);
      const { values } = deriveEvent(
        { kind: "Recalled", batch: doomedParent, occurredAt: at(8), reason: "Residue over the limit" },
        { nonce: "9001", deadline: Math.floor(Date.now() / 1000) + 3600 },
      );
      const contract = new Contract(ledger.chain.deployments.ledger, abiOf("ProvenanceLedger"), regulator);
      await (await contract.getFunction("recall")(values, regulator.address, "0x")).wait();
      await ledger.services.indexer.syncOnce();
    });

    it("answers while the split is on its way, inheriting the recall of the lot it is cut from", async function () {
      const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${idOf(doomedChild)}/provenance` });
      expect(res.statusCode).to.equal(200);
      const answer = res.json() as Provenance;
      expect(answer.batch).to.include({ onChain: false, recalled: true });
      expect(answer.batch.recall).to.include({ inherited: true, lot: doomedParent.lot });
      const v = await verify(answer);
      expect(v.batch.find((c) => c.name === "recall")?.status).to.equal("verified");
      expect(v.status).to.equal("pending");
    });

    it("goes back to 404 once the relay has the contract's refusal, saying it was refused", async function () {
      await ledger.sync();
      const res = await ledger.get(`/v1/batches/${idOf(doomedChild)}/provenance`);
      expect(res.statusCode).to.equal(404);
      expect(res.json.code).to.equal("UNKNOWN_BATCH");
      expect(res.json.message).to.match(/refused the event that creates it \(BatchRecalled/);
      for (const url of [`/v1/batches/${idOf(doomedChild)}/label`, `/v1/batches/${idOf(doomedChild)}/qr.svg`]) {
        expect((await ledger.get(url)).statusCode, url).to.equal(404);
      }
      const page = await ledger.app.inject({ method: "GET", url: pathOf(doomedChild), headers: { accept: "text/html" } });
      expect(page.statusCode).to.equal(404);
    });
  });
});
