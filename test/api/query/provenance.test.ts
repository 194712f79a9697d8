/**
 * The provenance answer and the trace, over the demo story plus a merge-split-recall story, with the real services on
 * Hardhat's in-process chain (test/api/harness.ts). One ledger for the file: the stories run once in `before`; the
 * describes run in order, and the anchor is made between "before the log is anchored" and "after the anchor".
 */
import { expect } from "chai";
import { Contract, TypedDataEncoder, verifyTypedData } from "ethers";
import { abiOf } from "../../../ledger-api/src/chain/contracts.ts";
import { batchIdOf } from "../../../ledger-api/src/protocol/typed-data.ts";
import { demoBatches, demoStory } from "../../../ledger-api/src/demo/story.ts";
import type { EventDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { docHash, type JsonValue } from "../../../ledger-api/src/protocol/canonical.ts";
import { hexToBytes } from "../../../ledger-api/src/log/hash.ts";
import { proofFromHex, verifyInclusion } from "../../../ledger-api/src/log/merkle.ts";
import type { Provenance, TimelineEntry } from "../../../ledger-api/src/protocol/answer.ts";
import type { Trace } from "../../../ledger-api/src/query/trace.ts";
import type { DemoActorName } from "../../../ledger-api/src/demo/story.ts";
import { ethers, startLedger, type Ledger } from "../harness.ts";

type Keys = { readonly gtin: string; readonly lot: string };

const { tangerines, tangerineStallLots, beef, spinach } = demoBatches;
const [stallLot, wholesaleLot] = tangerineStallLots;
// The merge-split-recall story: two registered lots merged, the merge split, one part sold to the stall, then recalled.
const GTIN = tangerines.gtin;
const mergeParents: Keys[] = [
  { gtin: GTIN, lot: "MX-1" },
  { gtin: GTIN, lot: "MX-2" },
];
const merged: Keys = { gtin: GTIN, lot: "MX" };
const mergedParts: Keys[] = [
  { gtin: GTIN, lot: "MX-A" },
  { gtin: GTIN, lot: "MX-B" },
];
const RECALL_REASON = "Imidacloprid residue 2.4 mg/kg over the 1.0 mg/kg limit (sample SG-26-12001).";

function hoursAgo(hours: number): string {
  return new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - hours * 3_600_000).toISOString().replace(".000Z", "Z");
}

function mergeStory(address: (name: DemoActorName) => string): { actor: DemoActorName; doc: EventDoc }[] {
  const registered = (keys: Keys, kg: number): EventDoc => ({
    kind: "Registered",
    batch: keys,
    occurredAt: hoursAgo(30),
    product: "Jeju Hallabong tangerines",
    origin: { country: "KR", region: "Jeju-do, Jeju-si", farm: { name: `Orchard ${keys.lot}` } },
    harvestDate: hoursAgo(40).slice(0, 10),
    quantity: { value: kg, unit: "kg" },
    imported: false,
  });
  return [
    { actor: "cooperative", doc: registered(mergeParents[0] as Keys, 100) },
    { actor: "cooperative", doc: registered(mergeParents[1] as Keys, 50) },
    { actor: "cooperative", doc: { kind: "Merged", batch: merged, occurredAt: hoursAgo(20), parents: mergeParents } },
    {
      actor: "cooperative",
      doc: {
        kind: "Split",
        batch: merged,
        occurredAt: hoursAgo(19),
        children: [
          { ...(mergedParts[0] as Keys), quantity: { value: 120, unit: "kg" } },
          { ...(mergedParts[1] as Keys), quantity: { value: 30, unit: "kg" } },
        ],
      },
    },
    { actor: "cooperative", doc: { kind: "HandOffOffered", batch: mergedParts[0] as Keys, occurredAt: hoursAgo(18), to: address("stall") } },
    { actor: "stall", doc: { kind: "HandOffAccepted", batch: mergedParts[0] as Keys, occurredAt: hoursAgo(17), from: address("cooperative") } },
    {
      actor: "regulator",
      doc: { kind: "Recalled", batch: merged, occurredAt: hoursAgo(5), reason: RECALL_REASON, reference: "RECALL-26-0400" },
    },
  ];
}

function pathOf(keys: Keys): string {
  return `/01/${keys.gtin}/10/${keys.lot}`;
}

function idOf(keys: Keys): string {
  return batchIdOf(keys.gtin, keys.lot);
}

describe("provenance and trace of a batch", function () {
  let ledger: Ledger;
  // The beef answer's ETag before the anchor ("caching"), checked again after it ("after the anchor").
  let pendingEtag = "";

  async function provenance(keys: Keys): Promise<Provenance> {
    const res = await ledger.get(`/v1/batches/${encodeURIComponent(pathOf(keys))}/provenance`);
    expect(res.statusCode, JSON.stringify(res.json)).to.equal(200);
    return res.json as unknown as Provenance;
  }

  async function trace(keys: Keys): Promise<Trace> {
    const res = await ledger.get(`/v1/batches/${idOf(keys)}/trace`);
    expect(res.statusCode, JSON.stringify(res.json)).to.equal(200);
    return res.json as unknown as Trace;
  }

  const kinds = (answer: Provenance): string[] => answer.timeline.map((t) => t.kind);
  const entry = (answer: Provenance, kind: string): TimelineEntry => {
    const found = answer.timeline.find((t) => t.kind === kind);
    if (!found) throw new Error(`no ${kind} in the timeline`);
    return found;
  };

  before(async function () {
    ledger = await startLedger();
    const address = (actor: DemoActorName): string => ledger.chain.actors[actor].address;
    for (const step of [...demoStory(new Date(), address), ...mergeStory(address)]) {
      const res = await ledger.post(await ledger.sign(step.actor, step.doc));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      await ledger.sync();
    }
  });
  after(async function () {
    await ledger?.close();
  });

  describe("before the log is anchored", function () {
    it("gives every entry a pending-anchor proof that verifies against the log's checkpoint", async function () {
      const checkpoint = (await ledger.get("/v1/log/checkpoint")).json as { size: number; root: string };
      for (const keys of [tangerines, stallLot, beef, spinach, merged]) {
        const answer = await provenance(keys);
        expect(answer.chain.latestAnchor).to.equal(null);
        for (const t of answer.timeline) {
          expect(t.anchored).to.equal(false);
          expect(t.proof.anchor).to.equal(null);
          expect(t.proof.treeSize).to.equal(checkpoint.size);
          expect(t.proof.root).to.equal(checkpoint.root);
          expect(verifyProof(t)).to.equal(true);
        }
      }
    });
  });

  describe("the domestic tangerines", function () {
    it("name their origin, pesticide record, inspection and hand-offs, and the wholesaler who split them", async function () {
      const a = await provenance(tangerines);
      const { batch } = a;
      expect(batch.batchId).to.equal(idOf(tangerines));
      expect([batch.gtin, batch.lot]).to.deep.equal([tangerines.gtin, tangerines.lot]);
      expect(batch.path).to.equal(pathOf(tangerines));
      expect(batch.link).to.equal(`${ledger.services.config.publicBaseUrl}${pathOf(tangerines)}`);
      expect(batch.product).to.equal("Jeju Hallabong tangerines");
      expect(batch.origins).to.have.length(1);
      const [origin] = batch.origins;
      expect(origin).to.include({ batchId: idOf(tangerines), country: "KR", region: "Jeju-do, Seogwipo-si", imported: false });
      expect(origin?.farm).to.deep.equal({ name: "Jeju Hallabong Cooperative, orchard 3", gln: "8801234000055" });
      expect(origin?.harvestDate).to.match(/^\d{4}-\d{2}-\d{2}$/);
      expect(batch.quantity).to.deep.equal({ value: "1200", unit: "kg" });
      expect(batch.registrant.name).to.equal("Jeju Hallabong Cooperative");
      expect(batch.custodian).to.include({ name: "Garak Wholesale Market Co.", gln: "8801234000079", country: "KR" });
      expect(batch.custodian.roles).to.include("HANDLER");
      expect(batch).to.include({ status: "split", recalled: false, imported: false, customsCleared: false, onChain: true });
      expect(batch.recall).to.equal(null);

      expect(kinds(a)).to.deep.equal(["Registered", "PesticideApplied", "Inspected", "HandOffOffered", "HandOffAccepted", "Split"]);
      expect(a.timeline.every((t) => t.relation === "own")).to.equal(true);
      const pesticide = entry(a, "PesticideApplied").document as { substance: { name: string; casNumber: string }; preHarvestIntervalDays: number };
      expect(pesticide.substance).to.deep.equal({ name: "Imidacloprid", casNumber: "138261-41-3" });
      expect(pesticide.preHarvestIntervalDays).to.equal(21);
      const inspected = entry(a, "Inspected");
      expect((inspected.document as { passed: boolean }).passed).to.equal(true);
      expect(inspected.signer.name).to.equal("Seogwipo Agricultural Testing Lab");
      expect(entry(a, "HandOffAccepted").signer.name).to.equal("Garak Wholesale Market Co.");
      for (const t of a.timeline) {
        expect(t.chain?.status, t.kind).to.equal("recorded");
        expect(t.chain?.txHash).to.match(/^0x[0-9a-f]{64}$/);
        expect(t.chain?.blockNumber).to.be.a("number");
      }

      expect(a.lineage.parents).to.deep.equal([]);
      expect(a.lineage.children.map((c) => [c.lot, c.quantity.value, c.kind])).to.deep.equal([
        [stallLot?.lot, "200", "Split"],
        [wholesaleLot?.lot, "1000", "Split"],
      ]);
      expect(a.lineage.children[0]?.eventHash).to.equal(entry(a, "Split").eventHash);

      expect(a.completeness).to.include({ complete: true, prevIndexChainUnbroken: true, entries: 6, headMatches: true });
      expect(a.completeness.chainEventHashes).to.deep.equal(a.timeline.map((t) => t.eventHash));
      // The block its state and head stand at: that of its newest event on chain, the Split.
      expect(batch.updatedBlock).to.equal(entry(a, "Split").chain?.blockNumber);
    });

    it("carry what a verifier needs: each event's values hash to its eventHash under the answer's domain, the signer signed them, the document hashes to docHash", async function () {
      const a = await provenance(tangerines);
      expect(a.chain).to.include({ chainId: ledger.chain.deployments.chainId, ledger: ledger.chain.deployments.ledger });
      expect(a.chain.domain.verifyingContract).to.equal(ledger.chain.deployments.ledger);
      expect(a.chain.rpcUrl).to.equal(ledger.services.config.publicRpcUrl);
      for (const t of a.timeline) {
        const types = a.chain.types[t.primaryType] as Record<string, { name: string; type: string }[]>;
        const values = t.values as Record<string, unknown>;
        expect(TypedDataEncoder.hash(a.chain.domain, types, values), t.kind).to.equal(t.eventHash);
        expect(verifyTypedData(a.chain.domain, types, values, t.signature).toLowerCase()).to.equal(t.signer.address);
        expect(docHash(t.document as JsonValue)).to.equal(values.docHash);
      }
    });
  });

  describe("a lot split from the tangerines", function () {
    it("links to its parent, shows the Split that created it, and is held by the stall", async function () {
      const parent = await provenance(tangerines);
      const a = await provenance(stallLot as Keys);
      expect(a.batch.custodian.name).to.equal("Mangwon Market Stall 12");
      expect(a.batch.custodian.retail).to.equal(true);
      expect(a.batch.quantity).to.deep.equal({ value: "200", unit: "kg" });
      expect(a.batch.origins.map((o) => o.batchId)).to.deep.equal([idOf(tangerines)]);
      expect(a.batch.product).to.equal("Jeju Hallabong tangerines");
      expect(a.lineage.parents).to.have.length(1);
      expect(a.lineage.parents[0]).to.include({ batchId: idOf(tangerines), lot: tangerines.lot, kind: "Split" });
      expect(a.lineage.parents[0]?.quantity.value).to.equal("200");

      // The farm lot's spraying record and lab result come first, inherited; then the Split and the lot's own story.
      expect(kinds(a)).to.deep.equal(["PesticideApplied", "Inspected", "Split", "HandOffOffered", "HandOffAccepted", "Observed"]);
      for (const inherited of a.timeline.slice(0, 2)) {
        expect(inherited).to.include({ relation: "inherited", batchId: idOf(tangerines) });
        expect(inherited.eventHash).to.equal(entry(parent, inherited.kind).eventHash);
      }
      const split = a.timeline[2] as TimelineEntry;
      expect(split).to.include({ relation: "created", batchId: idOf(tangerines), eventHash: entry(parent, "Split").eventHash });
      expect(a.timeline.slice(3).every((t) => t.relation === "own")).to.equal(true);
      expect(entry(a, "Observed").chain).to.equal(null);
      expect(split.chain?.batchHead).to.not.equal(split.chain?.head);

      expect(a.completeness).to.include({ complete: true, prevIndexChainUnbroken: true, entries: 3, headMatches: true });
      expect(a.completeness.chainEventHashes[0]).to.equal(split.eventHash);
      expect(a.completeness.head).to.equal(a.timeline.at(-2)?.chain?.batchHead);
      expect(a.batch.updatedBlock).to.equal(a.timeline.at(-2)?.chain?.blockNumber);
    });
  });

  describe("the imported beef", function () {
    it("records its customs clearance and its retail custodian", async function () {
      const a = await provenance(beef);
      expect(a.batch).to.include({ imported: true, customsCleared: true, status: "active", recalled: false });
      expect(a.batch.origins[0]).to.include({ country: "AU", region: "New South Wales, Riverina", imported: true });
      expect(a.batch.registrant.name).to.equal("Busan Global Foods Import");
      expect(a.batch.custodian.name).to.equal("Mangwon Market Stall 12");
      const customs = entry(a, "CustomsCleared").document as Record<string, unknown>;
      expect(customs).to.include({ declarationNumber: "12345-26-0098765X", hsCode: "020130", originCountry: "AU", portOfEntry: "KRPUS" });
      expect(kinds(a).filter((k) => k === "Observed")).to.have.length(2);
      expect(a.completeness.complete).to.equal(true);
    });
  });

  describe("the recalled spinach", function () {
    it("is recalled with the regulator's reason and the failed inspection", async function () {
      const a = await provenance(spinach);
      expect(a.batch.recalled).to.equal(true);
      expect(a.batch.recall).to.include({ batchId: idOf(spinach), inherited: false, reference: "RECALL-26-0311" });
      expect(a.batch.recall?.reason).to.match(/Chlorpyrifos residue 0\.12 mg\/kg/);
      expect(a.batch.recall?.by?.name).to.equal("Food Safety Authority (demo)");
      expect(a.batch.recall?.eventHash).to.equal(entry(a, "Recalled").eventHash);
      expect((entry(a, "Inspected").document as { passed: boolean }).passed).to.equal(false);
    });
  });

  describe("merged lots", function () {
    it("list every parent, every origin, and their own Merged event first", async function () {
      const a = await provenance(merged);
      expect(a.lineage.parents.map((p) => [p.lot, p.quantity.value, p.kind])).to.deep.equal([
        ["MX-1", "100", "Merged"],
        ["MX-2", "50", "Merged"],
      ]);
      expect(a.batch.origins.map((o) => o.lot).sort()).to.deep.equal(["MX-1", "MX-2"]);
      expect(a.batch.quantity.value).to.equal("150");
      expect(kinds(a)).to.deep.equal(["Merged", "Split", "Recalled"]);
      expect(a.timeline[0]).to.include({ relation: "own", prevIndex: -1 });
      expect(a.completeness).to.include({ complete: true, headMatches: true });
    });

    it("show a consumed parent the Merge that consumed it", async function () {
      const a = await provenance(mergeParents[0] as Keys);
      expect(a.batch.status).to.equal("merged");
      expect(kinds(a)).to.deep.equal(["Registered", "Merged"]);
      expect(a.timeline[1]).to.include({ relation: "consumed", batchId: idOf(merged) });
      expect(a.lineage.children.map((c) => c.batchId)).to.deep.equal([idOf(merged)]);
      expect(a.completeness).to.include({ complete: true, headMatches: true, entries: 1 });
      // The Merge filed under the merged lot moved this parent's state and head too.
      expect(a.batch.updatedBlock).to.equal(a.timeline[1]?.chain?.blockNumber);
    });

    it("pass an ancestor's recall on to a descendant, naming the recalled ancestor and its reason", async function () {
      const a = await provenance(mergedParts[0] as Keys);
      expect(a.batch.recalled).to.equal(true);
      expect(a.batch.recall).to.include({ batchId: idOf(merged), lot: "MX", inherited: true, reason: RECALL_REASON });
      expect(a.batch.custodian.name).to.equal("Mangwon Market Stall 12");
    });
  });

  describe("naming a batch", function () {
    it("gives the same answer for its Digital Link URL, path, batchId and GTIN + lot", async function () {
      const path = pathOf(tangerines);
      const urls = [
        `/v1/batches/${encodeURIComponent(`https://id.example.org/resolver${path}`)}/provenance`,
        `/v1/batches/${encodeURIComponent(path)}/provenance`,
        `/v1/batches/${idOf(tangerines)}/provenance`,
        `/v1/batches/${idOf(tangerines).toUpperCase().replace("0X", "0x")}/provenance`,
        `/v1/batches/provenance?gtin=${tangerines.gtin}&lot=${tangerines.lot}`,
        // A GTIN-13 is the same product as its 14-digit form.
        `/v1/batches/provenance?gtin=${tangerines.gtin.slice(1)}&lot=${tangerines.lot}`,
      ];
      const answers = await Promise.all(urls.map((u) => ledger.app.inject({ method: "GET", url: u })));
      for (const [i, res] of answers.entries()) expect(res.statusCode, `${urls[i]}: ${res.body}`).to.equal(200);
      expect(new Set(answers.map((r) => r.body)).size).to.equal(1);
      expect(new Set(answers.map((r) => r.headers.etag)).size).to.equal(1);
    });

    it("keeps a lot's own percent-escapes: a lot with a slash is named by its encoded path", async function () {
      const res = await ledger.get(`/v1/batches/${encodeURIComponent(`/01/${GTIN}/10/NO%2FSUCH`)}/provenance`);
      expect(res.statusCode).to.equal(404);
      expect(String(res.json.message)).to.include(`/10/NO/SUCH (${batchIdOf(GTIN, "NO/SUCH")})`);
    });

    it("answers 404 UNKNOWN_BATCH for a well-formed batch the ledger does not know", async function () {
      for (const url of [
        `/v1/batches/${encodeURIComponent(`/01/${GTIN}/10/NOPE`)}/provenance`,
        `/v1/batches/0x${"00".repeat(32)}/provenance`,
        `/v1/batches/provenance?gtin=${GTIN}&lot=NOPE`,
        `/v1/batches/0x${"ab".repeat(32)}/trace`,
        `/v1/batches/trace?gtin=${GTIN}&lot=NOPE`,
      ]) {
        const res = await ledger.get(url);
        expect(res.statusCode, url).to.equal(404);
        expect(res.json.code, url).to.equal("UNKNOWN_BATCH");
      }
    });

    it("answers 400 INVALID_IDENTIFIER for a malformed reference", async function () {
      for (const url of [
        `/v1/batches/${encodeURIComponent("/01/08801234000018/10/JJ-2611-A")}/provenance`, // check digit
        `/v1/batches/${encodeURIComponent(`/01/${GTIN}`)}/provenance`, // no lot
        `/v1/batches/not-a-batch/provenance`,
        `/v1/batches/0x1234/provenance`,
        `/v1/batches/provenance?gtin=${GTIN}`,
        `/v1/batches/provenance?gtin=123&lot=A`,
        `/v1/batches/provenance?gtin=${GTIN}&lot=${encodeURIComponent("bad lot")}`,
        `/v1/batches/not-a-batch/trace`,
        `/v1/batches/trace?lot=A`,
      ]) {
        const res = await ledger.get(url);
        expect(res.statusCode, url).to.equal(400);
        expect(res.json.code, `${url}: ${JSON.stringify(res.json)}`).to.equal("INVALID_IDENTIFIER");
      }
    });
  });

  describe("caching", function () {
    it("sends an ETag and a short Cache-Control, and 304 for a current If-None-Match", async function () {
      const url = `/v1/batches/${idOf(beef)}/provenance`;
      const first = await ledger.app.inject({ method: "GET", url });
      const etag = String(first.headers.etag);
      expect(etag).to.match(/^"[A-Za-z0-9_-]+"$/);
      expect(String(first.headers["cache-control"])).to.match(/max-age=\d+/);
      const again = await ledger.app.inject({ method: "GET", url, headers: { "if-none-match": etag } });
      expect(again.statusCode).to.equal(304);
      expect(again.body).to.equal("");
      expect(again.headers.etag).to.equal(etag);
      const weak = await ledger.app.inject({ method: "GET", url, headers: { "if-none-match": `"other", W/${etag}` } });
      expect(weak.statusCode).to.equal(304);
      const other = await ledger.app.inject({ method: "GET", url, headers: { "if-none-match": `"other"` } });
      expect(other.statusCode).to.equal(200);
      const traced = await ledger.app.inject({ method: "GET", url: `/v1/batches/${idOf(beef)}/trace` });
      const traced304 = await ledger.app.inject({
        method: "GET",
        url: `/v1/batches/${idOf(beef)}/trace`,
        headers: { "if-none-match": String(traced.headers.etag) },
      });
      expect(traced304.statusCode).to.equal(304);
      pendingEtag = etag;
    });
  });

  describe("traces", function () {
    it("list both stall lots of the tangerines and who holds them, the tangerines marked as the root", async function () {
      const t = await trace(tangerines);
      expect(t.root).to.equal(idOf(tangerines));
      expect(t.lots.map((l) => [l.lot, l.relation, l.root, l.depth, l.custodian.name])).to.deep.equal([
        [tangerines.lot, "root", true, 0, "Garak Wholesale Market Co."],
        [stallLot?.lot, "descendant", false, 1, "Mangwon Market Stall 12"],
        [wholesaleLot?.lot, "descendant", false, 1, "Garak Wholesale Market Co."],
      ]);
      expect(t.lots.map((l) => l.quantity.value)).to.deep.equal(["1200", "200", "1000"]);
      expect(t.edges.map((e) => [e.parent, e.child, e.quantity, e.direction])).to.deep.equal([
        [idOf(tangerines), idOf(stallLot as Keys), "200", "descendant"],
        [idOf(tangerines), idOf(wholesaleLot as Keys), "1000", "descendant"],
      ]);
      expect(t.recalled).to.deep.equal([]);
      expect(t.truncated).to.equal(false);
    });

    it("of a split lot lead back to its parent", async function () {
      const t = await trace(stallLot as Keys);
      expect(t.lots.map((l) => [l.lot, l.relation])).to.deep.equal([
        [stallLot?.lot, "root"],
        [tangerines.lot, "ancestor"],
      ]);
    });

    it("of a recalled batch mark exactly the lots that inherit the recall, with their custodians", async function () {
      const t = await trace(merged);
      const byLot = new Map(t.lots.map((l) => [l.lot, l]));
      expect([...byLot.keys()].sort()).to.deep.equal(["MX", "MX-1", "MX-2", "MX-A", "MX-B"]);
      expect(t.recalled.sort()).to.deep.equal([idOf(merged), ...mergedParts.map(idOf)].sort());
      expect(byLot.get("MX")).to.include({ root: true, recalled: true });
      expect(byLot.get("MX")?.recall?.inherited).to.equal(false);
      for (const lot of ["MX-1", "MX-2"]) expect(byLot.get(lot)).to.include({ relation: "ancestor", recalled: false, status: "merged" });
      for (const lot of ["MX-A", "MX-B"]) {
        expect(byLot.get(lot)).to.include({ relation: "descendant", recalled: true });
        expect(byLot.get(lot)?.recall).to.include({ batchId: idOf(merged), inherited: true, reason: RECALL_REASON });
      }
      expect(byLot.get("MX-A")?.custodian.name).to.equal("Mangwon Market Stall 12");
      expect(byLot.get("MX-B")?.custodian.name).to.equal("Jeju Hallabong Cooperative");

      // From a root ancestor, the whole recalled family is downstream.
      const up = await trace(mergeParents[0] as Keys);
      expect(up.lots.filter((l) => l.recalled).map((l) => l.lot).sort()).to.deep.equal(["MX", "MX-A", "MX-B"]);
      expect(up.lots.find((l) => l.root)).to.include({ lot: "MX-1", recalled: false });
    });
  });

  describe("after the anchor", function () {
    before(async function () {
      await ledger.services.anchorer.anchorNow();
      await ledger.services.indexer.syncOnce();
    });

    it("proves every entry of every answer against the anchored root, with the log math and with the LogAnchor contract", async function () {
      const logAnchor = new Contract(ledger.chain.deployments.anchor, abiOf("LogAnchor"), ethers.provider);
      const verifyOnChain = logAnchor.getFunction("verifyInclusion");
      for (const keys of [tangerines, stallLot as Keys, beef, spinach, merged, mergeParents[0] as Keys, mergedParts[0] as Keys]) {
        const a = await provenance(keys);
        const anchor = a.chain.latestAnchor;
        expect(anchor).to.not.equal(null);
        for (const t of a.timeline) {
          expect(t.anchored).to.equal(true);
          expect(t.proof.anchor).to.deep.equal(anchor);
          expect(t.proof.root).to.equal(anchor?.root);
          expect(verifyProof(t)).to.equal(true);
          expect(await verifyOnChain(anchor?.anchorIndex, t.proof.leafIndex, t.proof.leafHash, t.proof.path)).to.equal(true);
        }
      }
    });

    it("changes the ETag once the proofs move to the anchored root", async function () {
      const res = await ledger.app.inject({
        method: "GET",
        url: `/v1/batches/${idOf(beef)}/provenance`,
        headers: { "if-none-match": pendingEtag },
      });
      expect(res.statusCode).to.equal(200);
      expect(res.headers.etag).to.not.equal(pendingEtag);
    });

    it("shows a lifecycle event on its way to the chain as queued, then as recorded", async function () {
      const doc: EventDoc = {
        kind: "Inspected",
        batch: beef,
        occurredAt: hoursAgo(1),
        lab: { name: "Seogwipo Agricultural Testing Lab" },
        method: "Microbiology (E. coli)",
        analytes: [{ name: "E. coli", value: 10, limit: 100, unit: "CFU/g" }],
        passed: true,
      };
      const posted = await ledger.post(await ledger.sign("lab", doc));
      expect(posted.statusCode).to.equal(202);
      const [receipt] = posted.json.receipts as { index: number }[];
      const before = await provenance(beef);
      const queued = before.timeline.at(-1) as TimelineEntry;
      expect(queued).to.include({ index: receipt?.index, kind: "Inspected", anchored: false });
      expect(queued.chain?.status).to.equal("queued");
      expect(before.completeness.notOnChain).to.deep.equal([receipt?.index]);
      expect(verifyProof(queued)).to.equal(true);

      await ledger.sync();
      const after = await provenance(beef);
      expect(after.batch.onChain).to.equal(true);
      expect(after.timeline.at(-1)?.chain?.status).to.equal("recorded");
      expect(after.completeness).to.include({ complete: true, headMatches: true });
      expect(after.completeness.notOnChain).to.deep.equal([]);
    });

    it("answers for a batch logged but not yet on chain from its Registered document, marked onChain: false", async function () {
      const keys: Keys = { gtin: GTIN, lot: "LATE-1" };
      const [step] = mergeStory((n) => ledger.chain.actors[n].address);
      const doc = { ...(step?.doc as EventDoc), batch: keys } as EventDoc;
      expect((await ledger.post(await ledger.sign("cooperative", doc))).statusCode).to.equal(202);

      const a = await provenance(keys);
      expect(a.batch).to.include({ onChain: false, status: "active", recalled: false, createdBlock: null, updatedBlock: null });
      expect(a.batch.custodian.name).to.equal("Jeju Hallabong Cooperative");
      expect(a.batch.quantity).to.deep.equal({ value: "100", unit: "kg" });
      expect(a.timeline.map((t) => t.chain?.status)).to.deep.equal(["queued"]);
      expect(a.completeness).to.include({ head: null, headMatches: false, prevIndexChainUnbroken: true });
      expect((await trace(keys)).lots.map((l) => [l.lot, l.onChain])).to.deep.equal([["LATE-1", false]]);

      await ledger.sync();
      const indexed = await provenance(keys);
      expect(indexed.batch.onChain).to.equal(true);
      expect(indexed.completeness).to.include({ complete: true, headMatches: true });
    });
  });
});

function verifyProof(t: TimelineEntry): boolean {
  const p = t.proof;
  return verifyInclusion(p.leafIndex, p.treeSize, hexToBytes(p.leafHash), proofFromHex(p.path), hexToBytes(p.root));
}
