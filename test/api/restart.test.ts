/**
 * Restarts and crashes of the whole service (app + services) on one store and one chain.
 *
 * A clean restart loses nothing and anchors nothing twice. A crash ("kill") between broadcasting a transaction and
 * storing its outcome is settled by the next process from the chain: the anchor or the relayed event lands exactly
 * once, and nothing is sent a second time.
 *
 * How a kill is simulated. The killed instance is abandoned, never told anything: no app.close(), no worker stop(),
 * no store close. What a SIGKILL leaves behind is the data dir as it is on disk at that moment, so the test copies
 * it (ledger.db and its WAL; not the -shm wal-index, which SQLite rebuilds from the WAL when the first connection
 * opens after a crash, as it does after a real kill) while no write transaction is running (node:sqlite is
 * synchronous and every call of the abandoned instance has returned), and the new instance opens the copy. Every
 * committed transaction is in the copied WAL (synchronous=FULL), nothing uncommitted is. The abandoned instance's
 * transactions stay in the node's mempool, as they would in a real node's. It is closed only at the end of the test,
 * after the new instance is done; that close only touches its own, original data dir, which nothing reads any more.
 */
import { expect } from "chai";
import { Contract } from "ethers";
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { abiOf } from "../../ledger-api/src/chain/contracts.ts";
import type { DemoActorName } from "../../ledger-api/src/demo/story.ts";
import type { EventDoc } from "../../ledger-api/src/protocol/documents.ts";
import { deployChain, ethers, networkHelpers, startLedger, type Chain, type Ledger } from "./harness.ts";

const GTIN = "08801234000017";
let lots = 0;

function hoursAgo(h: number): string {
  return new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const docs = {
  registered: (lot: string): EventDoc => ({
    kind: "Registered",
    batch: { gtin: GTIN, lot },
    occurredAt: hoursAgo(10),
    product: "Jeju Hallabong tangerines",
    origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
    harvestDate: hoursAgo(30).slice(0, 10),
    quantity: { value: 1200, unit: "kg" },
    imported: false,
  }),
  pesticide: (lot: string): EventDoc => ({
    kind: "PesticideApplied",
    batch: { gtin: GTIN, lot },
    occurredAt: hoursAgo(9),
    substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
    dose: { value: 0.25, unit: "L/10a" },
    preHarvestIntervalDays: 21,
  }),
  observed: (lot: string, value: number): EventDoc => ({
    kind: "Observed",
    batch: { gtin: GTIN, lot },
    occurredAt: hoursAgo(8),
    readings: [{ type: "Temperature", value, unit: "Cel" }],
  }),
  offer: (lot: string, to: string): EventDoc => ({ kind: "HandOffOffered", batch: { gtin: GTIN, lot }, occurredAt: hoursAgo(7), to }),
  accept: (lot: string, from: string): EventDoc => ({ kind: "HandOffAccepted", batch: { gtin: GTIN, lot }, occurredAt: hoursAgo(6), from }),
};

type Receipt = Record<string, unknown> & { index: number; eventHash: string; leafHash: string };

async function submit(ledger: Ledger, actor: DemoActorName, doc: EventDoc): Promise<Receipt> {
  const res = await ledger.post(await ledger.sign(actor, doc));
  expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
  return (res.json.receipts as Receipt[])[0]!;
}

async function automine(on: boolean): Promise<void> {
  await ethers.provider.send("evm_setAutomine", [on]);
}

function logAnchor(chain: Chain): Contract {
  return new Contract(chain.deployments.anchor, abiOf("LogAnchor"), ethers.provider);
}

async function anchorSizes(chain: Chain): Promise<number[]> {
  const anchor = logAnchor(chain);
  const count = Number(await anchor.getFunction("anchorCount")());
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) sizes.push(Number((await anchor.getFunction("anchorAt")(i)).size));
  return sizes;
}

function expectStrictlyIncreasing(sizes: readonly number[]): void {
  for (let i = 1; i < sizes.length; i++) expect(sizes[i], `anchor sizes ${sizes.join(",")}`).to.be.greaterThan(sizes[i - 1]!);
}

async function checkpoint(ledger: Ledger): Promise<{ size: number; root: string }> {
  const cp = await ledger.get("/v1/log/checkpoint");
  return { size: cp.json.size as number, root: cp.json.root as string };
}

async function relayStatus(ledger: Ledger, eventHash: string): Promise<{ status: string; txHash?: string }> {
  const res = await ledger.get(`/v1/events/${eventHash}`);
  expect(res.statusCode).to.equal(200);
  return res.json.relay as { status: string; txHash?: string };
}

describe("restarting the service", function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const open: Ledger[] = [];

  async function dataDir(): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), "ledger-restart-"));
    dirs.push(dir);
    return dir;
  }

  async function start(chain: Chain, dir: string, env?: Record<string, string>): Promise<Ledger> {
    const ledger = await startLedger({ chain, dataDir: dir, ...(env ? { env } : {}) });
    open.push(ledger);
    return ledger;
  }

  /** The data dir as a SIGKILL at this moment would leave it on disk (see the module comment). */
  async function killCopy(ledger: Ledger): Promise<string> {
    const dir = await dataDir();
    for (const name of await readdir(ledger.dataDir)) {
      if (name.endsWith("-shm")) continue;
      await cp(path.join(ledger.dataDir, name), path.join(dir, name), { recursive: true });
    }
    return dir;
  }

  afterEach(async function () {
    await automine(true);
    // Newest first: an abandoned ("killed") instance is closed only after the one that replaced it.
    for (const ledger of open.splice(0).reverse()) await ledger.close().catch(() => undefined);
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  describe("cleanly, on the same store and chain", function () {
    it("loses nothing, resumes pending relays and anchors nothing twice", async function () {
      const chain = await deployChain();
      const dir = await dataDir();
      const lot = `RS-${++lots}`;
      // One transaction per event, so that the pesticide is still in flight when the first process stops (in a
      // group it would have gone with its registration; groups across restarts: test/api/chain/relay.test.ts).
      const single = { RELAY_GROUP_SIZE: "1" };
      const first = await start(chain, dir, single);
      const receipts = [
        await submit(first, "cooperative", docs.registered(lot)),
        await submit(first, "cooperative", docs.pesticide(lot)),
        await submit(first, "cooperative", docs.observed(lot, 4.5)),
      ];
      await first.sync();
      await first.services.anchorer.anchorNow();
      await first.services.indexer.syncOnce(); // proofs now go to the anchored root
      expect(await anchorSizes(chain)).to.deep.equal([3]);
      // Logged, not relayed yet: the next process must send it.
      const offer = await submit(first, "cooperative", docs.offer(lot, chain.actors.wholesaler.address));
      receipts.push(offer);
      expect((await relayStatus(first, offer.eventHash)).status).to.equal("queued");
      const before = await checkpoint(first);
      const proofsBefore = await Promise.all(receipts.map((r) => first.get(`/v1/log/entries/${r.index}`)));
      const relaysBefore = await Promise.all(receipts.map((r) => first.get(`/v1/events/${r.eventHash}`)));
      // Registered confirmed; PesticideApplied sent (it waited for its batch's registration to land); Offer queued.
      expect(relaysBefore.map((r) => (r.json.relay as { status: string } | null)?.status)).to.deep.equal(["confirmed", "sent", undefined, "queued"]);
      await first.close();
      open.splice(open.indexOf(first), 1);

      const second = await start(chain, dir, single);
      expect(await checkpoint(second)).to.deep.equal(before);
      for (const [i, r] of receipts.entries()) {
        const again = await second.get(`/v1/events/${r.eventHash}`);
        expect(again.statusCode).to.equal(200);
        expect(again.json).to.include({ index: r.index, eventHash: r.eventHash, leafHash: r.leafHash });
        const entry = await second.get(`/v1/log/entries/${r.index}`);
        expect(entry.json).to.deep.equal(proofsBefore[i]!.json);
      }
      for (const [i, r] of relaysBefore.entries()) expect((await second.get(`/v1/events/${receipts[i]!.eventHash}`)).json).to.deep.equal(r.json);

      // The pending relay resumes; the pending overlay was rebuilt, so the acceptance depending on it is admitted.
      const accept = await submit(second, "wholesaler", docs.accept(lot, chain.actors.cooperative.address));
      await second.sync();
      await second.sync();
      for (const r of [receipts[0]!, receipts[1]!, offer, accept]) {
        expect((await relayStatus(second, r.eventHash)).status, `${String(r.kind)}`).to.equal("confirmed");
      }
      expect(await ethers.provider.getTransactionCount(chain.relayer.address, "latest")).to.equal(4);

      await second.services.anchorer.anchorNow();
      await second.services.indexer.syncOnce();
      const sizes = await anchorSizes(chain);
      expect(sizes).to.deep.equal([3, 5]);
      expectStrictlyIncreasing(sizes);
      const intents = await second.services.store.anchorIntents();
      expect(intents.map((i) => [i.status, i.previousSize, i.size])).to.deep.equal([
        ["confirmed", 0, 3],
        ["confirmed", 3, 5],
      ]);
      const latest = (await second.get("/v1/log/checkpoint")).json.latestAnchor as { size: number };
      expect(latest.size).to.equal(5);
    });
  });

  describe("after a kill between sending an anchor and its confirmation", function () {
    async function anchorInFlight() {
      const chain = await deployChain();
      const lot = `RS-${++lots}`;
      const killed = await start(chain, await dataDir());
      await submit(killed, "cooperative", docs.registered(lot));
      await submit(killed, "cooperative", docs.observed(lot, 3));
      await killed.sync();
      await killed.services.anchorer.anchorNow();
      await submit(killed, "cooperative", docs.observed(lot, 4));
      await automine(false);
      const intent = await killed.services.anchorer.tick({ force: true });
      expect(intent).to.include({ status: "sent", size: 3, previousSize: 2 });
      expect(await ethers.provider.getTransaction(intent!.txHash)).to.not.equal(null);
      expect(await ethers.provider.getTransactionReceipt(intent!.txHash)).to.equal(null);
      const sentNonce = await ethers.provider.getTransactionCount(chain.anchorer.address, "pending");
      return { chain, lot, killed, intent: intent!, sentNonce, dir: await killCopy(killed) };
    }

    /** The restarted anchorer settles the intent; then the next anchor extends it. */
    async function expectExactlyOnce(f: Awaited<ReturnType<typeof anchorInFlight>>, restarted: Ledger): Promise<void> {
      await restarted.services.anchorer.start(); // reconciles what the killed process left in flight
      await restarted.services.anchorer.stop();
      await restarted.services.anchorer.tick(); // a re-broadcast copy is settled on the pass after it is mined
      expect(await anchorSizes(f.chain)).to.deep.equal([2, 3]);
      const intents = await restarted.services.store.anchorIntents();
      expect(intents.map((i) => [i.status, i.size, i.txHash])).to.deep.equal([
        ["confirmed", 2, intents[0]!.txHash],
        ["confirmed", 3, f.intent.txHash],
      ]);
      // Nothing was signed or sent a second time.
      expect(await ethers.provider.getTransactionCount(f.chain.anchorer.address, "latest")).to.equal(f.sentNonce);

      await submit(restarted, "cooperative", docs.observed(f.lot, 5));
      await restarted.services.anchorer.anchorNow();
      const sizes = await anchorSizes(f.chain);
      expect(sizes).to.deep.equal([2, 3, 4]);
      expectStrictlyIncreasing(sizes);
      expect((await restarted.services.store.anchorIntents()).at(-1)).to.include({ status: "confirmed", previousSize: 3, size: 4 });
    }

    it("settles the anchor the node mined meanwhile as confirmed, once", async function () {
      const f = await anchorInFlight();
      await automine(true);
      await networkHelpers.mine(1);
      expect(await anchorSizes(f.chain)).to.deep.equal([2, 3]);
      const restarted = await start(f.chain, f.dir);
      await expectExactlyOnce(f, restarted);
    });

    it("re-sends the same bytes when the node lost the transaction, and it lands once", async function () {
      const f = await anchorInFlight();
      expect(await ethers.provider.send("hardhat_dropTransaction", [f.intent.txHash])).to.equal(true);
      await automine(true);
      const restarted = await start(f.chain, f.dir);
      await expectExactlyOnce(f, restarted);
    });

    it("keeps the anchor in flight, unsent again, while the node has not mined it", async function () {
      const f = await anchorInFlight();
      const restarted = await start(f.chain, f.dir);
      expect(await restarted.services.anchorer.tick({ force: true })).to.include({ id: f.intent.id, txHash: f.intent.txHash });
      expect((await restarted.services.store.anchorIntents()).filter((i) => i.status === "sent")).to.have.length(1);
      await automine(true);
      await networkHelpers.mine(1);
      await expectExactlyOnce(f, restarted);
    });
  });

  describe("after a kill between relaying a lifecycle event and its confirmation", function () {
    async function relayInFlight() {
      const chain = await deployChain();
      const lot = `RS-${++lots}`;
      const killed = await start(chain, await dataDir());
      await submit(killed, "cooperative", docs.registered(lot));
      await killed.sync();
      const pesticide = await submit(killed, "cooperative", docs.pesticide(lot));
      await automine(false);
      await killed.services.relay.syncOnce();
      const row = await killed.services.store.relayRecord(pesticide.index);
      expect(row?.status).to.equal("sent");
      expect(await ethers.provider.getTransaction(row!.txHash!)).to.not.equal(null);
      const sentNonce = await ethers.provider.getTransactionCount(chain.relayer.address, "pending");
      return { chain, lot, killed, pesticide, row: row!, sentNonce, dir: await killCopy(killed) };
    }

    async function expectConfirmedOnce(f: Awaited<ReturnType<typeof relayInFlight>>, restarted: Ledger): Promise<void> {
      await restarted.services.relay.start(); // settles the 'sent' rows before sending anything
      await restarted.services.relay.stop();
      await restarted.services.relay.syncOnce(); // a re-broadcast copy is settled on the pass after it is mined
      await restarted.services.indexer.syncOnce();
      const row = await restarted.services.store.relayRecord(f.pesticide.index);
      expect(row).to.include({ status: "confirmed", txHash: f.row.txHash, nonce: f.row.nonce });
      expect(await relayStatus(restarted, f.pesticide.eventHash)).to.include({ status: "confirmed", txHash: f.row.txHash });
      expect(await ethers.provider.getTransactionCount(f.chain.relayer.address, "latest")).to.equal(f.sentNonce);
      const ledger = new Contract(f.chain.deployments.ledger, abiOf("ProvenanceLedger"), ethers.provider);
      const recorded = await ledger.queryFilter(ledger.getEvent("PesticideApplied"), f.chain.deployments.deployBlock);
      expect(recorded.filter((e) => "args" in e && String(e.args.getValue("eventHash")).toLowerCase() === f.pesticide.eventHash)).to.have.length(1);

      // The relay goes on from the next nonce.
      const offer = await submit(restarted, "cooperative", docs.offer(f.lot, f.chain.actors.wholesaler.address));
      await restarted.sync();
      expect((await relayStatus(restarted, offer.eventHash)).status).to.equal("confirmed");
    }

    it("settles the transaction the node mined meanwhile as confirmed, without a second submission", async function () {
      const f = await relayInFlight();
      await automine(true);
      await networkHelpers.mine(1);
      const restarted = await start(f.chain, f.dir);
      await expectConfirmedOnce(f, restarted);
    });

    it("re-sends the same bytes when the node lost the transaction", async function () {
      const f = await relayInFlight();
      expect(await ethers.provider.send("hardhat_dropTransaction", [f.row.txHash])).to.equal(true);
      await automine(true);
      const restarted = await start(f.chain, f.dir);
      await expectConfirmedOnce(f, restarted);
    });
  });
});
