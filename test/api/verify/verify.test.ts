/**
 * The independent verifier (ledger-api/src/verify/) against the real ledger: the demo story on Hardhat's in-process
 * chain (test/api/harness.ts), verified through a ChainReader over that chain's provider. An honest answer verifies
 * (pending until its log is anchored); each tamper of the fetched answer JSON fails the check that guards it.
 * The describes run in order: "before the anchor" runs before the log is anchored twice in "after the anchors".
 */
import { expect } from "chai";
import { Interface, randomBytes, Wallet } from "ethers";
import { abiOf } from "../../../ledger-api/src/chain/contracts.ts";
import { eventHash, Kind, ledgerDomain, TYPES } from "../../../ledger-api/src/chain/typed-data.ts";
import { decodeRelayBody } from "../../../ledger-api/src/chain/relay-body.ts";
import { demoBatches, demoStory, type DemoActorName } from "../../../ledger-api/src/demo/story.ts";
import { docHash, type JsonValue } from "../../../ledger-api/src/ingest/canonical.ts";
import type { EventDoc } from "../../../ledger-api/src/ingest/documents.ts";
import { bytesToHex, hexToBytes } from "../../../ledger-api/src/log/hash.ts";
import { inclusionProofOf, proofToHex, rootOf } from "../../../ledger-api/src/log/merkle.ts";
import type { Provenance, TimelineEntry } from "../../../ledger-api/src/query/provenance.ts";
import { ANCHOR_VIEWS, LEDGER_EVENTS, LEDGER_VIEWS } from "../../../ledger-api/src/verify/chain-reader.ts";
import { providerReader, verifyProvenance, type Check, type Verification } from "../../../ledger-api/src/verify/verify.ts";
import { ethers, startLedger, type Ledger } from "../harness.ts";

type Keys = { readonly gtin: string; readonly lot: string };
const { tangerines, tangerineStallLots, beef, spinach } = demoBatches;
const stallLot = tangerineStallLots[0] as Keys;

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

  async function provenance(keys: Keys): Promise<Provenance> {
    const res = await ledger.get(`/v1/batches/${encodeURIComponent(pathOf(keys))}/provenance`);
    expect(res.statusCode, JSON.stringify(res.json)).to.equal(200);
    return res.json as unknown as Provenance;
  }

  before(async function () {
    ledger = await startLedger();
    const address = (actor: DemoActorName): string => ledger.chain.actors[actor].address;
    for (const step of demoStory(new Date(), address)) {
      const res = await ledger.post(await ledger.sign(step.actor, step.doc));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      await ledger.sync();
    }
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
      const typed = decodeRelayBody(Kind.Inspected, JSON.stringify({ doc: {}, values, signer: outsider.address, signature: "0x" })).values;
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
      a.batch.custodian = { ...a.batch.custodian, address: ledger.chain.actors.stall.address.toLowerCase() };
      const v = await verify(a);
      expect(failures(v)).to.deep.equal(["batch custodian"]);
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
  });
});
