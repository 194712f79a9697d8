/**
 * The answers' cache (query/answer-cache.ts): a cached answer is served only while the store says nothing it was
 * built from changed. A recall of an ancestor, a new event of the lot, a new anchor over it and a profile change each
 * show on the very next request, in the JSON answer and on the shopper page, as do a lifecycle event on its way and
 * then recorded (the block the lot's state stands at moving) and a lot turning from pending to on chain; another API
 * instance on the same database sees them too; the cache keeps to its byte budget. Real services on Hardhat's
 * in-process chain, on each store driver (the versions the cache checks are the store's own, kept by its triggers).
 */
import { expect } from "chai";
import { Contract } from "ethers";
import { abiOf } from "../../../ledger-api/src/chain/contracts.ts";
import { demoBatches } from "../../../ledger-api/src/demo/story.ts";
import type { Provenance } from "../../../ledger-api/src/protocol/answer.ts";
import { AnswerCache, ByteLru } from "../../../ledger-api/src/query/answer-cache.ts";
import { ethers, startLedger, type Ledger } from "../harness.ts";
import { forEachDriver, locations, type StoreLocation } from "../store/drivers.ts";

type Keys = { readonly gtin: string; readonly lot: string };
const { tangerines, tangerineStallLots, spinach, beef } = demoBatches;
const [stallLot] = tangerineStallLots as [Keys, Keys];

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const pathOf = (keys: Keys) => encodeURIComponent(`/01/${keys.gtin}/10/${keys.lot}`);

forEachDriver("the answers' cache", function (driver) {
  const made = locations(driver);
  let location: StoreLocation;
  let ledger: Ledger;

  async function answer(keys: Keys): Promise<Provenance> {
    const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${pathOf(keys)}/provenance` });
    expect(res.statusCode, res.body.slice(0, 300)).to.equal(200);
    return res.json() as Provenance;
  }

  async function page(keys: Keys): Promise<string> {
    const res = await ledger.app.inject({ method: "GET", url: `/01/${keys.gtin}/10/${keys.lot}?lang=en`, headers: { accept: "text/html" } });
    expect(res.statusCode).to.equal(200);
    return res.body;
  }

  const stats = () => (ledger.app as unknown as { answerCache?: AnswerCache }).answerCache?.stats();

  before(async function () {
    this.timeout(300_000);
    location = await made.create();
    ledger = await startLedger({ driver: driver.name, location });
    await ledger.playDemoStory();
    await ledger.services.anchorer.anchorNow();
    await ledger.sync();
  });

  after(async function () {
    await ledger?.close();
    await made.removeAll();
  });

  it("serves a lot's answer and page from the cache while nothing it was built from changes", async function () {
    const first = await answer(stallLot);
    await page(stallLot);
    const before = stats();
    const again = await answer(stallLot);
    const pageAgain = await page(stallLot);
    const after = stats();
    expect(again).to.deep.equal(first);
    expect(pageAgain).to.include('data-testid="custody"');
    expect(after!.hits - before!.hits).to.be.at.least(3); // the answer twice, the page once
    expect(after!.misses).to.equal(before!.misses);
  });

  it("shows a recall of the lot's parent on the very next answer and page", async function () {
    await answer(stallLot);
    await page(stallLot);
    const recall = await ledger.post(
      await ledger.sign("regulator", { kind: "Recalled", batch: tangerines, occurredAt: now(), reason: "Chlorpyrifos over the limit", reference: "RC-TEST-1" }),
    );
    expect(recall.statusCode, JSON.stringify(recall.json)).to.equal(202);
    await ledger.sync();
    const after = await answer(stallLot);
    expect(after.batch.recalled).to.equal(true);
    expect(after.batch.recall?.inherited).to.equal(true);
    expect(await page(stallLot)).to.include('data-testid="recall-banner"').and.include("Chlorpyrifos over the limit");
  });

  it("shows a new event of the lot on the very next answer, before any anchor covers it", async function () {
    const before = await answer(stallLot);
    const res = await ledger.post(
      await ledger.sign("stall", { kind: "Observed", batch: stallLot, occurredAt: now(), readings: [{ type: "Temperature", value: 4.5, unit: "Cel" }] }),
    );
    expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
    const after = await answer(stallLot);
    expect(after.observations.total).to.equal(before.observations.total + 1);
    expect(after.timeline.at(-1)?.kind).to.equal("Observed");
    expect(after.timeline.at(-1)?.anchored).to.equal(false);
  });

  it("moves the proofs to the anchor that covers the lot as soon as the index records it", async function () {
    const before = await answer(stallLot);
    expect(before.timeline.some((t) => !t.anchored)).to.equal(true);
    await ledger.services.anchorer.anchorNow();
    await ledger.sync();
    const after = await answer(stallLot);
    expect(after.timeline.every((t) => t.anchored)).to.equal(true);
  });

  it("shows an actor's new name on the very next answer", async function () {
    await answer(stallLot);
    const [admin] = await ethers.getSigners();
    const registry = new Contract(ledger.chain.deployments.ledger, abiOf("ProvenanceLedger"), admin);
    const stall = ledger.chain.actors.stall.address;
    const profile = (await registry.getFunction("profileOf")(stall)) as { gln: bigint; country: string; retail: boolean };
    await (await registry.getFunction("setProfile")(stall, { name: "Mangwon Fruit (renamed)", gln: profile.gln, country: profile.country, retail: profile.retail })).wait();
    await ledger.sync();
    const after = await answer(stallLot);
    expect(after.batch.custodian.name).to.equal("Mangwon Fruit (renamed)");
  });

  // The stall lot is recalled by now (an inspection of it would be refused): a lot of its own.
  it("shows a lifecycle event queued, then recorded with the block the lot's state stands at, on the very next answers", async function () {
    await answer(beef);
    const before = await answer(beef);
    const posted = await ledger.post(
      await ledger.sign("lab", {
        kind: "Inspected",
        batch: beef,
        occurredAt: now(),
        lab: { name: "Seogwipo Agricultural Testing Lab" },
        method: "Microbiology (E. coli)",
        analytes: [{ name: "E. coli", value: 10, limit: 100, unit: "CFU/g" }],
        passed: true,
      }),
    );
    expect(posted.statusCode, JSON.stringify(posted.json)).to.equal(202);
    const [receipt] = posted.json.receipts as { index: number }[];
    const inspected = (a: Provenance) => a.timeline.find((t) => t.index === receipt?.index);

    const queued = await answer(beef);
    expect(inspected(queued)?.chain?.status).to.equal("queued");
    expect(queued.batch.updatedBlock).to.equal(before.batch.updatedBlock);

    await ledger.sync();
    const recorded = await answer(beef);
    const block = inspected(recorded)?.chain?.blockNumber;
    expect(inspected(recorded)?.chain?.status).to.equal("recorded");
    expect(block).to.be.a("number").and.greaterThan(before.batch.updatedBlock ?? 0);
    expect(recorded.batch.updatedBlock).to.equal(block);
  });

  it("never caches a lot logged but not yet on chain, and answers it as on chain once the index takes it in", async function () {
    const keys: Keys = { gtin: tangerines.gtin, lot: "CACHE-LATE-1" };
    const posted = await ledger.post(
      await ledger.sign("cooperative", {
        kind: "Registered",
        batch: keys,
        occurredAt: now(),
        product: "Jeju Hallabong tangerines",
        origin: { country: "KR", region: "Jeju-do, Jeju-si", farm: { name: "Orchard CACHE-LATE-1" } },
        harvestDate: now().slice(0, 10),
        quantity: { value: 40, unit: "kg" },
        imported: false,
      }),
    );
    expect(posted.statusCode, JSON.stringify(posted.json)).to.equal(202);

    const before = stats();
    expect((await answer(keys)).batch).to.include({ onChain: false, updatedBlock: null });
    expect(await page(keys)).to.include("CACHE-LATE-1");
    expect((await answer(keys)).batch.onChain).to.equal(false);
    expect(stats()!.hits).to.equal(before!.hits);

    await ledger.sync();
    const indexed = await answer(keys);
    expect(indexed.batch.onChain).to.equal(true);
    expect(indexed.batch.updatedBlock).to.be.a("number").and.equal(indexed.batch.createdBlock);
    expect(indexed.timeline.map((t) => t.chain?.status)).to.deep.equal(["recorded"]);
  });

  it("is seen by another API instance on the same database: its cache checks the store, not this process", async function () {
    const other = await location.open();
    try {
      const cache = new AnswerCache(other, 1 << 24);
      const ctx = {
        store: other,
        deployments: ledger.chain.deployments,
        publicBaseUrl: ledger.services.config.publicBaseUrl,
        publicRpcUrl: ledger.services.config.publicRpcUrl,
      };
      const { batchIdOf } = await import("../../../ledger-api/src/protocol/typed-data.ts");
      const ref = { batchId: batchIdOf(spinach.gtin, spinach.lot) };
      const first = await cache.provenance(ctx, ref);
      expect((await cache.provenance(ctx, ref)).etag).to.equal(first.etag);
      expect(cache.stats().hits).to.equal(1);
      const res = await ledger.post(
        await ledger.sign("regulator", { kind: "Observed", batch: spinach, occurredAt: now(), readings: [{ type: "Temperature", value: 3, unit: "Cel" }] }),
      );
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      // Anchored first: the SQLite driver's checkpoint is its own process's (one appending instance per database), so
      // only the instance that appended can prove an entry to the checkpoint before an anchor covers it.
      await ledger.services.anchorer.anchorNow();
      await ledger.sync();
      const after = await cache.provenance(ctx, ref);
      expect(after.etag).to.not.equal(first.etag);
      expect(after.answer().observations.total).to.equal(first.answer().observations.total + 1);
    } finally {
      await other.close();
    }
  });

  it("keeps to its byte budget, dropping the least recently used first", function () {
    const lru = new ByteLru<string>(1000);
    for (let i = 0; i < 10; i++) lru.set(`k${i}`, "x", 300);
    expect(lru.bytes).to.be.at.most(1000);
    expect(lru.size).to.equal(3);
    expect(lru.get("k9")).to.equal("x");
    expect(lru.get("k0")).to.equal(undefined);
    lru.get("k7");
    lru.set("k10", "x", 300);
    expect(lru.get("k7")).to.equal("x");
    expect(lru.get("k8")).to.equal(undefined);
    lru.set("huge", "x", 5000);
    expect(lru.get("huge")).to.equal(undefined);
  });
});
