/**
 * The independent verifier (ledger-api/src/verify/) against the real ledger: the demo story on Hardhat's in-process
 * chain (test/api/harness.ts), verified through a ChainReader over that chain's provider. An honest answer verifies
 * (pending until its log is anchored); each tamper of the fetched answer JSON fails the check that guards it.
 * The describes run in order: "before the anchor" runs before the log is anchored twice in "after the anchors".
 */
import { expect } from "chai";
import { Contract, Interface, randomBytes, Wallet } from "ethers";
import { abiOf } from "../../../ledger-api/src/chain/contracts.ts";
import { batchIdOf, eventHash, Kind, ledgerDomain, TYPES } from "../../../ledger-api/src/protocol/typed-data.ts";
import { decodeEntryBody } from "../../../ledger-api/src/protocol/entry-body.ts";
import { demoBatches } from "../../../ledger-api/src/demo/story.ts";
import { docHash, type JsonValue } from "../../../ledger-api/src/protocol/canonical.ts";
import type { EventDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { ROLE_IDS } from "../../../ledger-api/src/protocol/roles.ts";
import { bytesToHex, hexToBytes } from "../../../ledger-api/src/log/hash.ts";
import { inclusionProofOf, proofToHex, rootOf } from "../../../ledger-api/src/log/merkle.ts";
import type { Provenance, TimelineEntry } from "../../../ledger-api/src/protocol/answer.ts";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import vm from "node:vm";
import { buildWebBundle } from "../../../ledger-api/src/web/bundle.ts";
import { ANCHOR_VIEWS, LEDGER_EVENTS, LEDGER_VIEWS, rpcReader } from "../../../ledger-api/src/verify/chain-reader.ts";
import { EXIT, runVerify, type VerifyIo } from "../../../ledger-api/src/verify/cli.ts";
import { Value } from "typebox/value";
import { Provenance as ProvenanceSchema } from "../../../ledger-api/src/protocol/answer.ts";
import { answerShapeErrors } from "../../../ledger-api/src/verify/answer-shape.ts";
import { providerReader, verifyProvenance, type Check, type Verification } from "../../../ledger-api/src/verify/verify.ts";
import { ethers, startLedger, type Ledger } from "../harness.ts";

type Keys = { readonly gtin: string; readonly lot: string };
const { tangerines, tangerineStallLots, beef, spinach } = demoBatches;
const stallLot = tangerineStallLots[0] as Keys;

function idOf(keys: Keys): string {
  return batchIdOf(keys.gtin, keys.lot);
}

function pathOf(keys: Keys): string {
  return `/01/${keys.gtin}/10/${keys.lot}`;
}

/** Every check of a verification, named "<index> <kind> <check>" or "batch <check>". */
function allChecks(v: Verification): { where: string; check: Check }[] {
  return [
    ...v.entries.flatMap((e) => e.checks.map((check) => ({ where: `${e.index} ${e.kind} ${check.name}`, check }))),
    ...v.batch.map((check) => ({ where: `batch ${check.name}`, check })),
  ];
}

function failures(v: Verification): string[] {
  return allChecks(v)
    .filter((c) => c.check.status === "failed")
    .map((c) => c.where);
}

function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

function entryOf(answer: Provenance, kind: string): TimelineEntry {
  const found = answer.timeline.find((t) => t.kind === kind);
  if (!found) throw new Error(`no ${kind} in the timeline`);
  return found;
}

function checkOf(v: Verification, index: number, name: string): Check {
  const check = v.entries.find((e) => e.index === index)?.checks.find((c) => c.name === name);
  if (!check) throw new Error(`no ${name} check for entry ${index}`);
  return check;
}

function batchCheck(v: Verification, name: string): Check {
  const check = v.batch.find((c) => c.name === name);
  if (!check) throw new Error(`no batch check ${name}`);
  return check;
}

describe("verifying a provenance answer against the chain", function () {
  let ledger: Ledger;
  const reader = providerReader(ethers.provider);

  const trust = () => ({
    chainId: ledger.chain.deployments.chainId,
    ledger: ledger.chain.deployments.ledger,
    anchor: ledger.chain.deployments.anchor,
  });
  const verify = (answer: Provenance) => verifyProvenance(answer, reader, { trust: trust() });
  /** An answer the chain has moved past since it was built, and its batch (set by "an answer that trails the chain"). */
  let trailing: { answer: Provenance; keys: Keys } | undefined;

  async function provenance(keys: Keys): Promise<Provenance> {
    const res = await ledger.get(`/v1/batches/${encodeURIComponent(pathOf(keys))}/provenance`);
    expect(res.statusCode, JSON.stringify(res.json)).to.equal(200);
    return res.json as unknown as Provenance;
  }

  before(async function () {
    // One lifecycle call per transaction: a batch's events then land one at a time, which reproduces what a phone sees
    // at a group's boundary (RELAY_GROUP_SIZE) without logging a group's worth of events.
    ledger = await startLedger({ env: { RELAY_GROUP_SIZE: "1" } });
    await ledger.playDemoStory();
  });
  after(async function () {
    await ledger?.close();
  });

  it("reads the chain through ABI fragments that match the compiled contracts", function () {
    const compiled = (name: "ProvenanceLedger" | "LogAnchor") => new Interface(abiOf(name));
    const mine = new Interface([...LEDGER_VIEWS, ...LEDGER_EVENTS, ...ANCHOR_VIEWS]);
    mine.forEachFunction((f) => {
      const contract = f.name.startsWith("anchor") ? compiled("LogAnchor") : compiled("ProvenanceLedger");
      expect(contract.getFunction(f.name)?.format("full"), f.name).to.equal(f.format("full"));
    });
    mine.forEachEvent((e) => {
      expect(compiled("ProvenanceLedger").getEvent(e.name)?.format("full"), e.name).to.equal(e.format("full"));
    });
  });

  describe("before the anchor", function () {
    it("verifies every fact but inclusion, which stays pending until the root is on chain", async function () {
      const v = await verify(await provenance(tangerines));
      expect(failures(v)).to.deep.equal([]);
      expect(v.status).to.equal("pending");
      for (const { where, check } of allChecks(v)) {
        expect(check.status, `${where}: ${check.detail}`).to.equal(check.name === "inclusion" ? "pending" : "verified");
      }
    });

    it("leaves the contracts pending when their addresses come from the answer, not the caller", async function () {
      const v = await verifyProvenance(await provenance(tangerines), reader);
      expect(batchCheck(v, "contracts").status).to.equal("pending");
      expect(v.chain.pinned).to.equal(false);
    });
  });

  describe("after the anchors", function () {
    let answer: Provenance;

    before(async function () {
      await ledger.services.anchorer.anchorNow();
      // A second anchor, so "another anchor's index" names a real anchor with a different root.
      const observed: EventDoc = {
        kind: "Observed",
        batch: beef,
        occurredAt: new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString().replace(".000Z", "Z"),
        readings: [{ type: "Temperature", value: 2.5, unit: "Cel" }],
      };
      const res = await ledger.post(await ledger.sign("stall", observed));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      await ledger.sync();
      await ledger.services.anchorer.anchorNow();
      await ledger.sync();
      answer = await provenance(tangerines);
      expect(answer.timeline.every((t) => t.proof.anchor?.anchorIndex === 1)).to.equal(true);
    });

    it("verifies every fact of every demo batch", async function () {
      for (const keys of [tangerines, stallLot, beef, spinach]) {
        const v = await verify(await provenance(keys));
        for (const { where, check } of allChecks(v)) expect(check.status, `${keys.lot} ${where}: ${check.detail}`).to.equal("verified");
        expect(v.status).to.equal("verified");
        expect(v.counts.failed + v.counts.pending).to.equal(0);
      }
    });

    it("verifies a stall lot's inherited farm records, and fails a record shown as inherited from a lot that is no ancestor", async function () {
      const lot = await provenance(stallLot);
      const inherited = lot.timeline.filter((t) => t.relation === "inherited").map((t) => t.kind);
      expect(inherited).to.deep.equal(["PesticideApplied", "Inspected"]);
      const customs = clone(entryOf(await provenance(beef), "CustomsCleared"));
      const a = clone(lot);
      a.timeline.push({ ...customs, relation: "inherited" });
      const v = await verify(a);
      expect(checkOf(v, customs.index, "document").detail).to.match(/does not record as an ancestor/);
      expect(v.status).to.equal("failed");
    });

    it("fails the document of an entry whose pesticide dose was edited", async function () {
      const a = clone(answer);
      const pesticide = entryOf(a, "PesticideApplied");
      (pesticide.document as { dose: { value: number } }).dose.value = 0.025;
      const v = await verify(a);
      expect(failures(v)).to.deep.equal([`${pesticide.index} PesticideApplied document`]);
      expect(checkOf(v, pesticide.index, "document").detail).to.match(/not the signed docHash/);
      expect(v.status).to.equal("failed");
    });

    it("fails the document of an entry whose signed key fields no longer match it", async function () {
      const a = clone(answer);
      const pesticide = entryOf(a, "PesticideApplied");
      const doc = pesticide.document as { preHarvestIntervalDays: number };
      doc.preHarvestIntervalDays = 7;
      (pesticide.values as Record<string, string>).docHash = docHash(doc as unknown as JsonValue);
      const v = await verify(a);
      expect(checkOf(v, pesticide.index, "document").detail).to.match(/do not match the document: preHarvestIntervalDays$/);
      expect(v.status).to.equal("failed");
    });

    it("fails the inclusion of an entry shown with another entry's proof path", async function () {
      const a = clone(answer);
      const [first, second] = a.timeline as [TimelineEntry, TimelineEntry];
      first.proof.path = second.proof.path;
      const v = await verify(a);
      expect(failures(v)).to.deep.equal([`${first.index} Registered inclusion`]);
      expect(checkOf(v, first.index, "inclusion").detail).to.match(/does not lead from leaf/);
    });

    it("fails the inclusion of an entry proven to a root of another anchor", async function () {
      const a = clone(answer);
      const t = entryOf(a, "Inspected");
      if (!t.proof.anchor) throw new Error("anchored");
      t.proof.anchor.anchorIndex = 0;
      const v = await verify(a);
      expect(failures(v)).to.deep.equal([`${t.index} Inspected inclusion`]);
      expect(checkOf(v, t.index, "inclusion").detail).to.match(/anchor #0 on chain is root .* root never anchored/);
    });

    it("fails the inclusion of an entry proven to a fabricated root that was never anchored", async function () {
      const a = clone(answer);
      const t = entryOf(a, "Inspected");
      // A tree of its own making: this leaf among invented ones. The log math holds; the chain never saw the root.
      const leaves = Array.from({ length: t.index + 3 }, (_, i) => (i === t.index ? hexToBytes(t.proof.leafHash) : randomBytes(32)));
      const root = bytesToHex(rootOf(leaves));
      t.proof = {
        ...t.proof,
        treeSize: leaves.length,
        path: proofToHex(inclusionProofOf(t.index, leaves)),
        root,
        anchor: { ...t.proof.anchor!, root, size: leaves.length },
      };
      const v = await verify(a);
      expect(failures(v)).to.deep.equal([`${t.index} Inspected inclusion`]);
      expect(checkOf(v, t.index, "inclusion").detail).to.match(/root never anchored/);
      for (const index of [7, 42]) {
        const b = clone(answer);
        const u = entryOf(b, "Inspected");
        u.proof.anchor!.anchorIndex = index;
        const w = await verify(b);
        expect(checkOf(w, u.index, "inclusion").detail).to.match(new RegExp(`LogAnchor holds no anchor #${index}`));
      }
    });

    it("fails the role of an event re-signed by a key that holds no role, though its signature verifies", async function () {
      const a = clone(answer);
      const t = entryOf(a, "Inspected");
      const outsider = Wallet.createRandom();
      const values = { ...(t.values as Record<string, string>), nonce: "424242" };
      const typed = decodeEntryBody(Kind.Inspected, JSON.stringify({ doc: {}, values, signer: outsider.address, signature: "0x" })).values;
      const domain = ledgerDomain(BigInt(ledger.chain.deployments.chainId), ledger.chain.deployments.ledger);
      t.values = values;
      t.signer = { ...t.signer, address: outsider.address.toLowerCase(), name: "Seogwipo Agricultural Testing Lab" };
      t.signature = await outsider.signTypedData(domain, { Inspected: [...TYPES[Kind.Inspected].Inspected!] }, typed);
      t.eventHash = eventHash(domain, Kind.Inspected, typed);
      const v = await verify(a);
      expect(checkOf(v, t.index, "signature").status).to.equal("verified");
      expect(checkOf(v, t.index, "document").status).to.equal("verified");
      expect(checkOf(v, t.index, "role").status).to.equal("failed");
      expect(checkOf(v, t.index, "role").detail).to.match(/holds no INSPECTOR role/);
      // The re-signed event is not the logged one, nor the one on chain.
      expect(failures(v)).to.include.members([`${t.index} Inspected inclusion`, `${t.index} Inspected chain`, "batch head"]);
    });

    it("fails the history and the head when a lifecycle event is dropped from the middle of the timeline", async function () {
      const a = clone(answer);
      const dropped = entryOf(a, "Inspected");
      a.timeline = a.timeline.filter((t) => t !== dropped);
      const v = await verify(a);
      expect(failures(v)).to.deep.equal(["batch history", "batch head"]);
      expect(batchCheck(v, "head").detail).to.match(/an event is missing/);
    });

    it("fails the head when the batch's last lifecycle event is dropped, though the prevIndex chain still holds", async function () {
      const a = clone(answer);
      const last = a.timeline.at(-1) as TimelineEntry;
      expect(last.kind).to.equal("Split");
      a.timeline = a.timeline.slice(0, -1);
      const v = await verify(a);
      expect(failures(v)).to.deep.equal(["batch head"]);
    });

    it("fails the custodian when the answer names another holder", async function () {
      const a = clone(answer);
      const stall = ledger.chain.actors.stall.address;
      const { name } = await reader.profileOf(ledger.chain.deployments.ledger, stall, await ethers.provider.getBlockNumber());
      a.batch.custodian = { ...a.batch.custodian, address: stall.toLowerCase(), name };
      const v = await verify(a);
      expect(failures(v)).to.deep.equal(["batch custodian"]);
    });

    it("leaves the custodian pending, not failed, when the server's index has not yet caught up with a hand-off the chain holds", async function () {
      // The shape of an answer built while the index trails the chain: the hand-off is in the log and mined (its
      // receipt is on chain), but the index has not recorded it or anything after it, so the batch state still names
      // the producer.
      const a = clone(answer);
      const accepted = a.timeline.findIndex((t) => t.kind === "HandOffAccepted" && t.relation === "own");
      expect(accepted).to.be.greaterThan(0);
      for (const t of a.timeline.slice(accepted)) {
        if (t.chain?.status === "recorded") t.chain = { status: "confirmed", ...(t.chain.txHash ? { txHash: t.chain.txHash } : {}) };
      }
      a.batch.custodian = a.batch.registrant;
      a.batch.updatedBlock = Math.max(...a.timeline.slice(0, accepted).map((t) => t.chain?.blockNumber ?? 0));
      const v = await verify(a);
      expect(failures(v)).to.deep.equal([]);
      const custodian = batchCheck(v, "custodian");
      expect(custodian.status, custodian.detail).to.equal("pending");
      expect(custodian.detail).to.match(/as of block \d+.*the chain has since recorded/);
      expect(v.status).to.equal("pending");
    });

    it("leaves the custodian pending, not failed, when the answer's batch state was read before the index took in a hand-off its timeline shows", async function () {
      // The server reads the batch row, then the records: an index range applied in between gives an answer whose
      // state stands at an older block than its newest indexed record.
      const a = clone(answer);
      const offered = a.timeline.find((t) => t.kind === "HandOffOffered" && t.relation === "own")!;
      a.batch.custodian = a.batch.registrant;
      a.batch.offeredTo = a.timeline.find((t) => t.kind === "HandOffAccepted" && t.relation === "own")!.signer;
      a.batch.status = "active";
      a.batch.updatedBlock = offered.chain!.blockNumber!;
      const v = await verify(a);
      expect(failures(v)).to.deep.equal([]);
      const custodian = batchCheck(v, "custodian");
      expect(custodian.status, custodian.detail).to.equal("pending");
      expect(custodian.detail).to.match(new RegExp(`as of block ${offered.chain!.blockNumber}, where the answer stands`));
      expect(batchCheck(v, "head").status).to.equal("verified");
    });

    it("fails the quantity when the answer shows more than the chain holds, or in another unit", async function () {
      const more = clone(answer);
      more.batch.quantity = { ...more.batch.quantity, value: (BigInt(more.batch.quantity.value) + 1n).toString() };
      expect(failures(await verify(more))).to.deep.equal(["batch quantity"]);
      const unit = clone(answer);
      unit.batch.quantity = { ...unit.batch.quantity, unit: unit.batch.quantity.unit === "KGM" ? "GRM" : "KGM" };
      expect(failures(await verify(unit))).to.deep.equal(["batch quantity"]);
    });

    it("fails the names when an actor is shown under a name the registry does not give it", async function () {
      const a = clone(answer);
      const sprayed = a.timeline.find((t) => t.kind === "PesticideApplied")!;
      sprayed.signer = { ...sprayed.signer, name: "Organic Valley Farm" };
      const v = await verify(a);
      expect(failures(v)).to.deep.equal(["batch names"]);
      expect(batchCheck(v, "names").detail).to.include('"Organic Valley Farm"');
    });

    it("fails the recall state when the answer hides a recall", async function () {
      const a = clone(await provenance(spinach));
      a.batch.recalled = false;
      const v = await verify(a);
      expect(failures(v)).to.deep.equal(["batch recall"]);
    });

    it("fails the contracts when the pinned ledger is not the one the answer names", async function () {
      const v = await verifyProvenance(clone(answer), reader, { trust: { ...trust(), ledger: ledger.chain.deployments.anchor } });
      expect(failures(v)).to.include("batch contracts");
      expect(v.status).to.equal("failed");
    });

    it("keeps what an actor recorded on chain verified after its role is revoked; its off-chain readings then fail", async function () {
      const [admin] = await ethers.getSigners();
      const registry = new Contract(ledger.chain.deployments.ledger, abiOf("ProvenanceLedger"), admin);
      const stall = ledger.chain.actors.stall.address;
      await (await registry.getFunction("revokeRole")(ROLE_IDS.HANDLER, stall)).wait();
      try {
        const lot = await provenance(stallLot);
        const v = await verify(lot);
        const accepted = lot.timeline.find((t) => t.kind === "HandOffAccepted" && t.signer.address.toLowerCase() === stall.toLowerCase())!;
        const observed = lot.timeline.find((t) => t.kind === "Observed" && t.signer.address.toLowerCase() === stall.toLowerCase())!;
        // The ledger checked the role when it recorded the hand-off; a reading has only the role it holds now.
        expect(checkOf(v, accepted.index, "role")).to.include({ status: "verified" });
        expect(checkOf(v, accepted.index, "role").detail).to.match(/the ledger required HANDLER .* when it recorded the event \(block \d+\)/);
        expect(failures(v)).to.deep.equal([`${observed.index} Observed role`]);
      } finally {
        await (await registry.getFunction("grantRole")(ROLE_IDS.HANDLER, stall)).wait();
      }
      expect((await verify(await provenance(stallLot))).status).to.equal("verified");
    });

    it("fails the role of an observation signed by the lot's former holder; an inspector's or the regulator's verifies", async function () {
      const lot = await provenance(stallLot);
      const original = lot.timeline.find((t) => t.kind === "Observed")!;
      const domain = ledgerDomain(BigInt(ledger.chain.deployments.chainId), ledger.chain.deployments.ledger);
      /** The lot's observation as if `actor` had signed it (a server that logged what its admission refuses). */
      const signedBy = async (actor: "wholesaler" | "lab" | "regulator") => {
        const a = clone(lot);
        const t = a.timeline.find((e) => e.index === original.index)!;
        const wallet = ledger.chain.actors[actor];
        const values = { ...(t.values as Record<string, string>), nonce: "515151" };
        const typed = decodeEntryBody(Kind.Observed, JSON.stringify({ doc: {}, values, signer: wallet.address, signature: "0x" })).values;
        t.values = values;
        t.signer = { ...t.signer, address: wallet.address.toLowerCase() };
        t.signature = await wallet.signTypedData(domain, { Observed: [...TYPES[Kind.Observed].Observed!] }, typed);
        t.eventHash = eventHash(domain, Kind.Observed, typed);
        return { v: await verify(a), index: t.index };
      };
      // The wholesaler held the lot until the stall accepted it, before the observation: no longer a party.
      const former = await signedBy("wholesaler");
      expect(checkOf(former.v, former.index, "signature").status).to.equal("verified");
      expect(checkOf(former.v, former.index, "role").status).to.equal("failed");
      expect(checkOf(former.v, former.index, "role").detail).to.match(/neither held the lot nor was offered it/);
      for (const actor of ["lab", "regulator"] as const) {
        const { v, index } = await signedBy(actor);
        expect(checkOf(v, index, "role"), actor).to.include({ status: "verified" });
        expect(checkOf(v, index, "role").detail, actor).to.match(/may observe any lot/);
      }
      // The stall itself, which held it then.
      expect(checkOf(await verify(lot), original.index, "role").detail).to.match(/held the lot at this point of its history and holds HANDLER/);
    });

    it("fails a refused chain record with the contract's reason", async function () {
      const a = clone(answer);
      const t = entryOf(a, "Inspected");
      t.chain = { status: "refused", reason: "BatchRecalled(0x01)" };
      const v = await verify(a);
      expect(checkOf(v, t.index, "chain").detail).to.equal("the contract refused it: BatchRecalled(0x01)");
    });

    it("never throws on a malformed answer: the malformed facts fail", async function () {
      const a = clone(answer) as unknown as { timeline: Record<string, unknown>[] };
      a.timeline[0]!.values = "garbage";
      a.timeline[1]!.kind = "Teleported";
      const v = await verify(a as unknown as Provenance);
      expect(v.status).to.equal("failed");
      expect(failures(v)).to.include.members([`${answer.timeline[0]!.index} Registered document`, `${answer.timeline[1]!.index} Teleported document`]);
    });

    it("takes for a provenance answer exactly what the answer's schema accepts", function () {
      const variants: unknown[] = [answer, null, [], {}, { ...answer, lineage: undefined }];
      const edits: ((a: Record<string, any>) => void)[] = [
        (a) => (a.batch.quantity.value = "1.5"),
        (a) => (a.timeline[1].eventHash = "0xABC"),
        (a) => (a.timeline[0].chain = { status: "lost" }),
        (a) => (a.chain.types = []),
        (a) => (a.completeness.breaks = ["1"]),
        (a) => (a.extra = "ignored, as the schema allows"),
      ];
      for (const edit of edits) {
        const a = clone(answer) as unknown as Record<string, any>;
        edit(a);
        variants.push(a);
      }
      for (const v of variants) expect(answerShapeErrors(v) === undefined, JSON.stringify(v)?.slice(0, 80)).to.equal(Value.Check(ProvenanceSchema, v));
    });

    it("fails an answer without the provenance answer's shape as a whole, naming where, and reads nothing more of it", async function () {
      const a = clone(answer) as unknown as { batch: Record<string, unknown>; timeline: Record<string, unknown>[] };
      delete a.batch.custodian;
      a.timeline[0]!.proof = "trust me";
      const v = await verify(a as unknown as Provenance);
      expect(v.status).to.equal("failed");
      expect(v.entries).to.deep.equal([]);
      expect(v.batch.map((c) => [c.name, c.status])).to.deep.equal([["answer", "failed"]]);
      expect(v.batch[0]!.detail).to.equal(
        "not a provenance answer: batch is malformed; timeline is malformed; the first malformed timeline entry is #0",
      );
    });
  });

  describe("an answer that trails the chain", function () {
    // The server's index reads the chain a confirmation (and, locally, a durable snapshot) behind, and a page carries
    // the answer it was rendered with while the relay goes on landing events: the verifier reads a chain that has
    // moved on since. Each answer here is built, then the chain moves on, then the answer is verified.
    const lot = (suffix: string): Keys => ({ gtin: tangerines.gtin, lot: `JJ-2611-T${suffix}` });
    const at = (hoursAgo: number) => new Date(Math.floor(Date.now() / 3_600_000 - hoursAgo) * 3_600_000).toISOString().replace(".000Z", "Z");

    async function log(actor: "cooperative" | "lab" | "wholesaler", doc: EventDoc): Promise<void> {
      const res = await ledger.post(await ledger.sign(actor, doc));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
    }
    const registered = (batch: Keys): EventDoc => ({
      kind: "Registered",
      batch,
      occurredAt: at(30),
      product: "Jeju Hallabong tangerines",
      origin: { country: "KR", region: "Jeju-do, Seogwipo-si", farm: { name: "Jeju Hallabong Cooperative, orchard 3" } },
      harvestDate: at(48).slice(0, 10),
      quantity: { value: 300, unit: "kg" },
      imported: false,
    });
    const inspected = (batch: Keys): EventDoc => ({
      kind: "Inspected",
      batch,
      occurredAt: at(20),
      lab: { name: "Seogwipo Agricultural Testing Lab" },
      method: "LC-MS/MS multi-residue (MFDS Food Code 8.4)",
      sampleId: `SG-${batch.lot}`,
      analytes: [{ name: "Imidacloprid", casNumber: "138261-41-3", value: 0.02, limit: 1.0, unit: "mg/kg" }],
      passed: true,
    });
    const offered = (batch: Keys): EventDoc => ({
      kind: "HandOffOffered",
      batch,
      occurredAt: at(10),
      to: ledger.chain.actors.wholesaler.address,
    });

    it("leaves the head pending, not failed, when the chain has recorded an event since the answer was built", async function () {
      const keys = lot("1");
      await log("cooperative", registered(keys));
      await log("lab", inspected(keys));
      await ledger.sync();
      const built = await provenance(keys);
      // A hand-off offered after the page was rendered: on chain and indexed, but not in the answer the page holds.
      await log("cooperative", offered(keys));
      await ledger.sync();
      trailing = { answer: built, keys };
      const v = await verify(built);
      const head = batchCheck(v, "head");
      expect(failures(v), head.detail).to.deep.equal([]);
      expect(head.status, head.detail).to.equal("pending");
      expect(head.detail).to.match(/as of block \d+, where the answer stands, .* 2 lifecycle events; the chain has since recorded more/);
      // The same answer read afresh shows the hand-off and verifies it.
      expect(batchCheck(await verify(await provenance(keys)), "head").status).to.equal("verified");
    });

    it("still fails the head of a trailing answer that leaves out an event the chain held at the answer's block", async function () {
      const keys = lot("2");
      await log("cooperative", registered(keys));
      await log("lab", inspected(keys));
      await ledger.sync();
      const built = await provenance(keys);
      await log("cooperative", offered(keys));
      await ledger.sync();
      // The newest event the answer stands on, left out: its prevIndex chain still holds, only the head shows it.
      const dropped = clone(built);
      dropped.timeline = dropped.timeline.filter((t) => t.kind !== "Inspected");
      const v = await verify(dropped);
      expect(failures(v)).to.deep.equal(["batch head"]);
      expect(batchCheck(v, "head").detail).to.match(/an event is missing/);
    });

    it("leaves the head pending, not failed, when only some of the events the answer shows on their way have landed", async function () {
      // The phone's race: the page is rendered while the relay is landing the batch's events a group at a time (it sends
      // a batch's next group once the one before is mined), so by the time the phone reads the chain some of the events
      // the answer shows as queued are on chain and the rest not yet.
      const keys = lot("3");
      await log("cooperative", registered(keys));
      await ledger.sync();
      await log("lab", inspected(keys));
      await log("cooperative", offered(keys));
      const built = await provenance(keys);
      expect(built.timeline.map((t) => t.chain?.status)).to.deep.equal(["recorded", "queued", "queued"]);
      // One relay pass sends the inspection, which is mined; the offer waits for the next pass.
      await ledger.services.relay.syncOnce();
      const inspection = built.timeline[1]!;
      expect((await ledger.services.relay.status(inspection.index))?.status).to.equal("sent");
      expect((await ledger.services.relay.status(built.timeline[2]!.index))?.status).to.equal("pending");
      const v = await verify(built);
      const head = batchCheck(v, "head");
      expect(failures(v), head.detail).to.deep.equal([]);
      expect(head.status, head.detail).to.equal("pending");
      expect(head.detail).to.match(/2 of the answer's 3 lifecycle events; 1 not on chain yet/);
      await ledger.sync();
      expect(batchCheck(await verify(await provenance(keys)), "head").status).to.equal("verified");
    });
  });

  describe("the verify command", function () {
    /** runVerify in process: the API through app.inject, the chain through the in-process provider. */
    async function run(
      args: string[],
      options: { tamper?: (a: Provenance) => void; deployments?: string } = {},
    ): Promise<{ code: number; out: string; err: string; urls: string[] }> {
      const out: string[] = [];
      const err: string[] = [];
      const urls: string[] = [];
      const io: VerifyIo = {
        async fetch(url) {
          urls.push(url);
          const u = new URL(url);
          // As if the ledger were served under /resolver behind a proxy.
          const res = await ledger.app.inject({ method: "GET", url: u.pathname.replace(/^\/resolver/, "") + u.search });
          const body = res.statusCode === 200 ? (res.json() as Provenance) : undefined;
          if (body && options.tamper) options.tamper(body);
          return { ok: res.statusCode === 200, status: res.statusCode, json: async () => body, text: async () => res.body };
        },
        reader: () => reader,
        readFile: (file) => (file === "pinned.json" ? options.deployments : undefined),
        env: {},
        out: (l) => out.push(l),
        err: (l) => err.push(l),
      };
      const code = await runVerify(args, io);
      return { code, out: out.join("\n"), err: err.join("\n"), urls };
    }
    const pinned = () => JSON.stringify(ledger.chain.deployments);

    it("exits 0 with a line per verified fact, taking the API base from a Digital Link URL", async function () {
      const link = `https://market.example.org/resolver${pathOf(tangerines)}`;
      const r = await run([link, "--deployments", "pinned.json"], { deployments: pinned() });
      expect(r.err).to.equal("");
      expect(r.code).to.equal(EXIT.verified);
      expect(r.urls).to.deep.equal([`https://market.example.org/resolver/v1/batches/${encodeURIComponent(link)}/provenance`]);
      expect(r.out).to.match(/✓ #\d+ PesticideApplied .* by Jeju Hallabong Cooperative/);
      expect(r.out).to.match(/✓ inclusion/);
      expect(r.out).to.match(/✓ head/);
      expect(r.out).to.match(/✓ VERIFIED: \d+ verified, 0 pending, 0 failed$/);
    });

    it("exits 1 with the reason when a fact fails", async function () {
      const r = await run([`/01/${tangerines.gtin}/10/${tangerines.lot}`, "--ledger", ledger.chain.deployments.ledger, "--anchor", ledger.chain.deployments.anchor], {
        tamper: (a) => {
          (entryOf(a, "PesticideApplied").document as { dose: { value: number } }).dose.value = 2.5;
        },
      });
      expect(r.code).to.equal(EXIT.failed);
      expect(r.out).to.match(/✗ document +the document hashes to .* it was changed/);
      expect(r.out).to.match(/✗ FAILED: /);
    });

    it("exits 2 when nothing failed but the contracts are not pinned", async function () {
      const r = await run([idOf(beef), "--api", "http://ledger.test"]);
      expect(r.code).to.equal(EXIT.pending);
      expect(r.out).to.match(/… contracts/);
      expect(r.urls[0]).to.match(/^http:\/\/ledger\.test\/v1\/batches\/0x/);
    });

    it("exits 2, not 1, for an answer the chain has moved past since it was built", async function () {
      const { answer: built, keys } = trailing!;
      const r = await run([pathOf(keys), "--deployments", "pinned.json"], {
        deployments: pinned(),
        tamper: (a) => Object.assign(a, clone(built)),
      });
      expect(r.code, r.out).to.equal(EXIT.pending);
      expect(r.out).to.match(/… head +the on-chain head as of block \d+, where the answer stands/);
    });

    it("exits 1 when the answer is about another batch than the one asked for", async function () {
      const r = await run([idOf(beef), "--deployments", "pinned.json"], {
        deployments: pinned(),
        tamper: (a) => {
          a.batch.batchId = idOf(spinach);
        },
      });
      expect(r.code).to.equal(EXIT.failed);
      expect(r.out).to.match(/✗ batch +asked for/);
    });

    it("exits 3 for an unknown batch, a bad reference or bad options", async function () {
      expect((await run([`/01/${tangerines.gtin}/10/NOPE`])).code).to.equal(EXIT.error);
      expect((await run(["not-a-batch"])).code).to.equal(EXIT.error);
      expect((await run([idOf(beef), "--ledger", ledger.chain.deployments.ledger])).err).to.match(/both --ledger and --anchor/);
      expect((await run([idOf(beef), "--deployments", "missing.json"])).code).to.equal(EXIT.error);
      expect((await run([])).code).to.equal(EXIT.error);
    });
  });

  describe("the verify script", function () {
    let rpc: Server;
    let rpcUrl = "";
    let apiUrl = "";
    before(async function () {
      // Hardhat's in-process chain has no HTTP endpoint: a small JSON-RPC bridge to it (single and batched requests).
      rpc = createServer((req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        req.on("end", async () => {
          const one = async (r: { id: unknown; method: string; params?: unknown[] }) => {
            try {
              return { jsonrpc: "2.0", id: r.id, result: await ethers.provider.send(r.method, r.params ?? []) };
            } catch (e) {
              return { jsonrpc: "2.0", id: r.id, error: { code: -32000, message: (e as Error).message } };
            }
          };
          const parsed = JSON.parse(body) as Parameters<typeof one>[0] | Parameters<typeof one>[0][];
          const reply = Array.isArray(parsed) ? await Promise.all(parsed.map(one)) : await one(parsed);
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(reply));
        });
      });
      await new Promise<void>((resolve) => rpc.listen(0, "127.0.0.1", resolve));
      rpcUrl = `http://127.0.0.1:${(rpc.address() as AddressInfo).port}`;
      apiUrl = await ledger.app.listen({ port: 0, host: "127.0.0.1" });
    });
    after(async function () {
      await new Promise((resolve) => rpc?.close(resolve));
    });

    function spawnVerify(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, ["scripts/verify.ts", ...args], { env: { ...process.env, DEPLOYMENTS_FILE: "" } });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
        child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
        child.on("close", (code) => resolve({ code, out, err }));
      });
    }

    it("exits 0 for an honest answer and 3 for an unknown batch, run as a process over HTTP", async function () {
      this.timeout(60_000);
      const { ledger: l, anchor: a } = ledger.chain.deployments;
      const link = `${apiUrl}${pathOf(tangerines)}`;
      const ok = await spawnVerify([link, "--rpc", rpcUrl, "--ledger", l, "--anchor", a]);
      expect(ok.code, ok.out + ok.err).to.equal(0);
      expect(ok.out).to.match(/✓ VERIFIED/);
      const unknown = await spawnVerify([`${apiUrl}/01/${tangerines.gtin}/10/NOPE`, "--rpc", rpcUrl, "--ledger", l, "--anchor", a]);
      expect(unknown.code).to.equal(3);
      expect(unknown.err).to.match(/HTTP 404/);
    });
  });

  describe("the browser bundle", function () {
    let dir: string;
    let bundle: string;
    before(async function () {
      this.timeout(60_000);
      dir = await mkdtemp(path.join(tmpdir(), "verify-web-"));
      const built = await buildWebBundle({ outdir: dir });
      expect(built.built).to.equal(true);
      expect(built.files["verify.js"].gzipBytes).to.be.below(80_000);
      expect(built.files["shopper.js"].gzipBytes).to.be.below(100_000);
      bundle = await readFile(built.files["verify.js"].path, "utf8");
      expect((await buildWebBundle({ outdir: dir, ifMissing: true })).built).to.equal(false);
    });
    after(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it("reads the chain over plain JSON-RPC as it does through an ethers provider", async function () {
      const answer = await provenance(tangerines);
      const viaRpc = await verifyProvenance(answer, rpcReader((m, p) => ethers.provider.send(m, [...p])), { trust: trust() });
      expect(viaRpc).to.deep.equal(await verify(answer));
    });

    it("verifies an answer where no Node global exists (no Buffer, process or require), as the Node verifier does", async function () {
      // What a browser has, and nothing of Node's.
      const sandbox = vm.createContext({ TextEncoder, TextDecoder, crypto: globalThis.crypto, console, setTimeout, clearTimeout, URL });
      vm.runInContext(bundle, sandbox);
      const api = vm.runInContext("globalThis.LedgerVerify", sandbox) as { verifyProvenance: typeof verifyProvenance; rpcReader: typeof rpcReader };
      expect(vm.runInContext("typeof Buffer + typeof process + typeof require", sandbox)).to.equal("undefinedundefinedundefined");
      // The page parses the answer in its own realm (canonical.ts refuses objects of another realm as not plain JSON).
      const parse = vm.runInContext("(text) => JSON.parse(text)", sandbox) as (text: string) => Provenance;
      for (const keys of [tangerines, stallLot]) {
        const answer = await provenance(keys);
        const send = (m: string, p: readonly unknown[]) => ethers.provider.send(m, [...p]);
        const inBrowser = await api.verifyProvenance(parse(JSON.stringify(answer)), api.rpcReader(send), { trust: trust() });
        expect(inBrowser.status, JSON.stringify(allChecks(inBrowser).filter((c) => c.check.status !== "verified"))).to.equal("verified");
        expect(JSON.parse(JSON.stringify(inBrowser))).to.deep.equal(JSON.parse(JSON.stringify(await verify(answer))));
        const tampered = parse(JSON.stringify(answer));
        (tampered.timeline[0]!.document as { occurredAt: string }).occurredAt = "2020-01-01T00:00:00Z";
        expect((await api.verifyProvenance(tampered, api.rpcReader(send), { trust: trust() })).status).to.equal("failed");
      }
      // An answer the chain has moved past: pending in the page's verifier too.
      const built = trailing!.answer;
      const send = (m: string, p: readonly unknown[]) => ethers.provider.send(m, [...p]);
      const inBrowser = await api.verifyProvenance(parse(JSON.stringify(built)), api.rpcReader(send), { trust: trust() });
      expect(inBrowser.batch.find((c) => c.name === "head")?.status).to.equal("pending");
      expect(JSON.parse(JSON.stringify(inBrowser))).to.deep.equal(JSON.parse(JSON.stringify(await verify(built))));
    });
  });
});
