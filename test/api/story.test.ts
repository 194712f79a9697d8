/**
 * A whole story through the API, as docs/ARCHITECTURE.md "The data path" tells it: register, pesticide, inspect, hand-off offered and accepted,
 * customs clearance for an import, split, Observed readings, recall, anchor; then every proof in the answers checks
 * out against the chain, with the log-math module and with the anchor contract's own view.
 */
import { expect } from "chai";
import { Contract } from "ethers";
import { abiOf } from "../../ledger-api/src/chain/contracts.ts";
import { demoStory } from "../../ledger-api/src/demo/story.ts";
import { hexToBytes } from "../../ledger-api/src/log/hash.ts";
import { verifyInclusion, proofFromHex } from "../../ledger-api/src/log/merkle.ts";
import { ethers, startLedger, type Ledger } from "./harness.ts";
import { forEachDriver } from "./store/drivers.ts";

forEachDriver("the demo story through the API", function (driver) {
  let ledger: Ledger;
  before(async function () {
    ledger = await startLedger({ driver: driver.name });
  });
  after(async function () {
    await ledger?.close();
  });

  it("logs every event, relays the lifecycle ones to the contract and anchors the log", async function () {
    const story = demoStory(new Date(), (name) => ledger.chain.actors[name].address);
    const receipts: Record<string, unknown>[] = [];
    for (const step of story) {
      const res = await ledger.post(await ledger.sign(step.actor, step.doc));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      receipts.push(...(res.json.receipts as Record<string, unknown>[]));
      await ledger.sync();
    }
    expect(receipts.map((r) => r.index)).to.deep.equal(story.map((_, i) => i));

    for (const r of receipts) {
      const now = await ledger.get(`/v1/events/${String(r.eventHash)}`);
      expect(now.statusCode).to.equal(200);
      const relay = now.json.relay as { status: string } | null;
      if (r.kind === "Observed") expect(relay).to.equal(null);
      else expect(relay?.status, `${String(r.kind)} ${JSON.stringify(now.json)}`).to.equal("confirmed");
    }

    await ledger.services.anchorer.anchorNow();
    await ledger.services.indexer.syncOnce();
    const checkpoint = await ledger.get("/v1/log/checkpoint");
    expect(checkpoint.json.size).to.equal(story.length);
    const anchor = checkpoint.json.latestAnchor as { size: number; root: string; anchorIndex: number };
    expect(anchor.size).to.equal(story.length);
    expect(anchor.root).to.equal(checkpoint.json.root);

    const logAnchor = new Contract(ledger.chain.deployments.anchor, abiOf("LogAnchor"), ethers.provider);
    for (let i = 0; i < story.length; i++) {
      const entry = await ledger.get(`/v1/log/entries/${i}`);
      const proof = entry.json.proof as { leafIndex: number; treeSize: number; leafHash: string; path: string[]; root: string };
      expect(
        verifyInclusion(proof.leafIndex, proof.treeSize, hexToBytes(proof.leafHash), proofFromHex(proof.path), hexToBytes(proof.root)),
      ).to.equal(true);
      expect(await logAnchor.getFunction("verifyInclusion")(anchor.anchorIndex, proof.leafIndex, proof.leafHash, proof.path)).to.equal(true);
    }
  });
});
