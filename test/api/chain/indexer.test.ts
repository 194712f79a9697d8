import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { deployContracts } from "../../../ledger-api/src/chain/contracts.ts";
import type { Deployments } from "../../../ledger-api/src/chain/contracts.ts";
import { Indexer, IndexerHaltedError } from "../../../ledger-api/src/chain/indexer.ts";
import type { IndexerOptions } from "../../../ledger-api/src/chain/indexer.ts";
import { Kind, batchIdOf, countryCode, ledgerDomain } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { Bytes32 } from "../../../ledger-api/src/protocol/typed-data.ts";
import { bytesToHex } from "../../../ledger-api/src/log/hash.ts";
import { MemoryNodeStore, consistencyProof, proofToHex, root } from "../../../ledger-api/src/log/merkle.ts";
import { IndexCursorConflictError } from "../../../ledger-api/src/store/store.ts";
import type { IndexedBatch, Store } from "../../../ledger-api/src/store/store.ts";
import { call, children, handOff, hashOf, registerBatch, relayGroup, splitBatch, submit, values } from "../../contracts/fixtures.ts";
import type { Ledger } from "../../contracts/fixtures.ts";
import { forEachDriver, locations, type StoreLocation } from "../store/drivers.ts";
import { vectorLeaves } from "../log/vectors.ts";

const STATUS = ["none", "active", "split", "merged"] as const;

/** A fresh in-process chain with both contracts deployed through contracts.ts, every role granted, and a store. */
async function setUp(loc: StoreLocation) {
  const connection = await network.create();
  const { ethers, networkHelpers } = connection;
  const signers = await ethers.getSigners();
  const at = (i: number): HardhatEthersSigner => signers[i]!;
  const [admin, regulator, producer, producer2, importer, importer2, inspector, wholesaler, stall, relayer, outsider, anchorer] =
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(at) as HardhatEthersSigner[] as [
      HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner,
      HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner,
      HardhatEthersSigner, HardhatEthersSigner,
    ];
  const deployments = await deployContracts(admin, admin.address);
  const ledger = await ethers.getContractAt("ProvenanceLedger", deployments.ledger);
  const logAnchor = await ethers.getContractAt("LogAnchor", deployments.anchor);
  const grants: [string, HardhatEthersSigner][] = [
    ["REGULATOR_ROLE", regulator],
    ["PRODUCER_ROLE", producer],
    ["PRODUCER_ROLE", producer2],
    ["IMPORTER_ROLE", importer],
    ["IMPORTER_ROLE", importer2],
    ["INSPECTOR_ROLE", inspector],
    ["HANDLER_ROLE", wholesaler],
    ["HANDLER_ROLE", stall],
    ["RELAYER_ROLE", relayer],
  ];
  for (const [name, who] of grants) await ledger.grantRole(ethers.id(name), who.address);
  await logAnchor.grantRole(ethers.id("ANCHORER_ROLE"), anchorer.address);
  await ledger.setProfile(stall.address, { name: "Dongmun Market stall 12", gln: 0n, country: countryCode("KR"), retail: true });
  await ledger.setProfile(wholesaler.address, { name: "Jeju Wholesale", gln: 8801234000024n, country: countryCode("KR"), retail: false });
  const { chainId } = await ethers.provider.getNetwork();
  const domain = ledgerDomain(chainId, deployments.ledger);
  const f: Ledger = {
    ledger, domain, chainId, admin, regulator, producer, producer2, importer, importer2, inspector, wholesaler, stall, relayer, outsider,
  };
  const store: Store = await loc.open();
  const indexer = (over: Partial<IndexerOptions> = {}): Indexer =>
    new Indexer({
      provider: ethers.provider,
      deployments,
      store,
      confirmations: 0,
      pollIntervalMs: 5,
      batchBlocks: 4,
      ...over,
    });
  return { connection, ethers, networkHelpers, deployments, f, logAnchor, anchorer, store, indexer };
}

type Env = Awaited<ReturnType<typeof setUp>>;

/** The on-chain record of a batch, in the index's shape (minus the fields getBatch does not return). */
async function onChain(env: Env, batchId: Bytes32) {
  const b = await env.f.ledger.getBatch(batchId);
  return {
    registrant: b.registrant.toLowerCase(),
    custodian: b.custodian.toLowerCase(),
    quantity: b.quantity,
    unit: b.unit,
    status: STATUS[Number(b.status)],
    recalled: b.recalled,
    imported: b.imported,
    customsCleared: b.customsCleared,
    offerTo: b.offeredTo === env.ethers.ZeroAddress ? undefined : b.offeredTo.toLowerCase(),
    head: b.head,
    ancestry: Number(b.ancestry),
    parents: b.parents.map((p) => p.toLowerCase()),
  };
}

async function indexed(env: Env, batchId: Bytes32) {
  const b = await env.store.batch(batchId);
  if (b === undefined) return undefined;
  const { registrant, custodian, quantity, unit, status, recalled, imported, customsCleared, offerTo, head, ancestry } = b;
  const parents = (await env.store.parents(batchId)).map((e) => e.parent);
  return { registrant, custodian, quantity, unit, status, recalled, imported, customsCleared, offerTo, head, ancestry, parents };
}

async function expectBatchMatchesChain(env: Env, batchId: Bytes32): Promise<IndexedBatch> {
  expect(await indexed(env, batchId), `batch ${batchId}`).to.deep.equal(await onChain(env, batchId));
  // The batch's hash chain, folded over the events the index files under it, ends at the on-chain head.
  const events = await env.store.lifecycleEventsOfBatch(batchId);
  expect(events.at(-1)?.batchHead).to.equal(await env.f.ledger.headOf(batchId));
  return (await env.store.batch(batchId))!;
}

async function rowCount(loc: StoreLocation, table: string): Promise<number> {
  return Number((await loc.rows(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
}

forEachDriver("Indexer", (driver) => {
  const made = locations(driver);
  let loc: StoreLocation;
  let env: Env;

  beforeEach(async function () {
    loc = await made.create();
    env = await setUp(loc);
  });
  afterEach(async function () {
    await env.connection.close();
    await made.removeAll();
  });

  describe("roles and profiles", function () {
    it("indexes role grants and revocations on both contracts, and each profile as last set", async function () {
      const { f, ethers, store, logAnchor, anchorer } = env;
      const PRODUCER = ethers.id("PRODUCER_ROLE");
      const ANCHORER = ethers.id("ANCHORER_ROLE");
      await env.indexer().syncOnce();
      expect(await store.hasRole(PRODUCER, f.producer.address)).to.equal(true);
      expect(await store.hasRole(ethers.ZeroHash, f.admin.address)).to.equal(true);
      expect(await store.hasRole(ethers.ZeroHash, f.admin.address, "anchor")).to.equal(true);
      expect(await store.hasRole(ANCHORER, anchorer.address, "anchor")).to.equal(true);
      expect(await store.hasRole(ANCHORER, anchorer.address, "ledger")).to.equal(false);
      expect(await store.hasRole(PRODUCER, f.outsider.address)).to.equal(false);
      expect((await store.profile(f.stall.address))?.retail).to.equal(true);

      await f.ledger.revokeRole(PRODUCER, f.producer.address);
      await f.ledger.grantRole(PRODUCER, f.outsider.address);
      await logAnchor.revokeRole(ANCHORER, anchorer.address);
      await f.ledger.setProfile(f.stall.address, { name: "Stall 12 (moved)", gln: 8801234000031n, country: countryCode("KR"), retail: false });
      await env.indexer().syncOnce();

      expect(await store.hasRole(PRODUCER, f.producer.address)).to.equal(false);
      expect(await store.hasRole(PRODUCER, f.outsider.address)).to.equal(true);
      expect(await store.hasRole(ANCHORER, anchorer.address, "anchor")).to.equal(false);
      expect((await store.rolesOf(f.outsider.address)).map((r) => [r.contract, r.role])).to.deep.equal([["ledger", PRODUCER]]);
      const profile = await store.profile(f.stall.address.toUpperCase().replace("0X", "0x"));
      expect(profile).to.include({ name: "Stall 12 (moved)", gln: 8801234000031n, country: countryCode("KR"), retail: false });
      const chainProfile = await f.ledger.profileOf(f.stall.address);
      expect([profile?.name, profile?.gln, profile?.country, profile?.retail]).to.deep.equal([
        chainProfile.name,
        chainProfile.gln,
        chainProfile.country,
        chainProfile.retail,
      ]);
      expect(await store.profile(f.producer.address)).to.equal(undefined);
    });
  });

  describe("batches and lifecycle events", function () {
    it("indexes a full lifecycle with every batch equal to getBatch and every head chained", async function () {
      const { f, store } = env;
      const indexer = env.indexer({ batchBlocks: 3 });
      const ids: Bytes32[] = [];

      const a = await registerBatch(f, { quantity: 100n });
      ids.push(a.batchId);
      await submit(f, Kind.PesticideApplied, values.pesticide(a.batchId), f.producer);
      await submit(f, Kind.Inspected, values.inspected(a.batchId, { passed: false }), f.inspector, { relayed: true });
      const b = await registerBatch(f, { imported: true, quantity: 50n });
      ids.push(b.batchId);
      await indexer.syncOnce(); // a range boundary in the middle of the story: later ranges load earlier state
      await submit(f, Kind.CustomsCleared, values.customs(b.batchId), f.importer);
      await submit(f, Kind.HandOffOffered, values.offered(a.batchId, f.wholesaler.address), f.producer);
      await submit(f, Kind.HandOffCancelled, values.cancelled(a.batchId, f.wholesaler.address), f.producer);
      await submit(f, Kind.HandOffOffered, values.offered(a.batchId, f.wholesaler.address), f.producer);
      await indexer.syncOnce();
      expect((await store.batch(a.batchId))?.offerTo).to.equal(f.wholesaler.address.toLowerCase());
      await submit(f, Kind.HandOffAccepted, values.accepted(a.batchId, f.producer.address), f.wholesaler, { relayed: true });
      const kids = children(60n, 40n);
      await submit(f, Kind.Split, values.split(a.batchId, kids), f.wholesaler, { relayed: true });
      const [a1, a2] = kids.map((c) => batchIdOf(c.gtin, c.lot)) as [Bytes32, Bytes32];
      ids.push(a1, a2);
      await handOff(f, b.batchId, f.importer, f.wholesaler);
      const m = values.merged([a2, b.batchId]);
      await submit(f, Kind.Merged, m, f.wholesaler);
      const merged = batchIdOf(m.gtin, m.lot);
      ids.push(merged);
      await handOff(f, merged, f.wholesaler, f.stall);
      // An uncleared import split and merged again: the flags travel through both.
      const c = await registerBatch(f, { imported: true, quantity: 30n });
      const [c1, c2] = (await splitBatch(f, c.batchId, f.importer, 10n, 20n)) as [Bytes32, Bytes32];
      const mc = values.merged([c1, c2]);
      await submit(f, Kind.Merged, mc, f.importer);
      const mergedC = batchIdOf(mc.gtin, mc.lot);
      ids.push(c.batchId, c1, c2, mergedC);
      await submit(f, Kind.Recalled, values.recalled(a1), f.regulator);
      await submit(f, Kind.Recalled, values.recalled(c.batchId), f.regulator); // a consumed batch may be recalled
      await indexer.syncOnce();

      for (const id of ids) await expectBatchMatchesChain(env, id);
      const m1 = (await store.batch(merged))!;
      expect(m1).to.include({ imported: true, customsCleared: true, quantity: 90n, status: "active", gtin: m.gtin, lot: m.lot });
      expect(m1.custodian).to.equal(f.stall.address.toLowerCase());
      expect((await store.batch(mergedC))!).to.include({ imported: true, customsCleared: false, quantity: 30n });
      expect((await store.batch(a1))!).to.include({ gtin: kids[0]!.gtin, lot: kids[0]!.lot, quantity: 60n, recalled: true });
      expect((await store.batch(a.batchId))!.status).to.equal("split");

      // A's history: its own events and the split; A1's: the split, then the recall.
      const aEvents = await store.lifecycleEventsOfBatch(a.batchId);
      expect(aEvents.map((e) => e.kind)).to.deep.equal([
        "Registered", "PesticideApplied", "Inspected", "HandOffOffered", "HandOffCancelled", "HandOffOffered",
        "HandOffAccepted", "Split",
      ]);
      expect(aEvents.every((e) => e.head === e.batchHead)).to.equal(true);
      expect(aEvents[2]!.details).to.deep.equal({ passed: false });
      const a1Events = await store.lifecycleEventsOfBatch(a1);
      expect(a1Events.map((e) => e.kind)).to.deep.equal(["Split", "Recalled"]);
      expect(a1Events[0]!.batchId).to.equal(a.batchId);
      const bEvents = await store.lifecycleEventsOfBatch(b.batchId);
      expect(bEvents.map((e) => e.kind)).to.deep.equal(["Registered", "CustomsCleared", "HandOffOffered", "HandOffAccepted", "Merged"]);

      // Every event is one row; its nonce, from calldata (direct or relayed), is spent on chain and in the index.
      const all = [...new Set([...(await Promise.all(ids.map((id) => store.lifecycleEventsOfBatch(id)))).flat().map((e) => e.eventHash)])];
      expect(await rowCount(loc, "lifecycle_events")).to.equal(all.length);
      const unknown = "0x" + "ab".repeat(32);
      expect(await store.indexedEvents([...all.map((h) => h.toUpperCase().replace("0X", "0x")), unknown])).to.deep.equal(new Set(all));
      for (const h of all) {
        const e = (await store.lifecycleEvent(h))!;
        expect(e.nonce === undefined, `nonce of ${e.kind} unknown`).to.equal(false);
        expect(await f.ledger.nonceUsed(e.actor, e.nonce!)).to.equal(true);
        expect(await store.nonceUsed(e.actor, e.nonce!)).to.equal(true);
        const receipt = await env.ethers.provider.getTransactionReceipt(e.txHash);
        expect(receipt?.blockNumber).to.equal(e.blockNumber);
        expect(receipt?.blockHash.toLowerCase()).to.equal(e.blockHash);
      }
      expect(await store.nonceUsed(f.producer.address, 12345n)).to.equal(false);

      // The same answers for many keys in one call (what ingest's rule checks read), unknown keys absent.
      const events = await Promise.all(all.map((h) => store.lifecycleEvent(h)));
      const accounts = [f.stall.address, f.wholesaler.address, f.outsider.address];
      const state = await store.indexState({
        batchIds: [...ids.map((id) => id.toUpperCase().replace("0X", "0x")), unknown],
        accounts,
        nonces: [...events.map((e) => [e!.actor, e!.nonce!] as const), [f.producer.address, 12345n]],
      });
      expect([...state.batches.keys()].sort()).to.deep.equal(ids.map((id) => id.toLowerCase()).sort());
      for (const id of ids) {
        expect(state.batches.get(id.toLowerCase())).to.deep.equal({
          batch: await store.batch(id),
          parents: (await store.parents(id)).map((e) => e.parent),
        });
      }
      for (const account of accounts) {
        const grants = await store.rolesOf(account);
        expect(state.grants.get(account.toLowerCase()) ?? []).to.deep.equal(grants);
        expect(state.profiles.get(account.toLowerCase())).to.deep.equal(await store.profile(account));
      }
      expect([...state.spentNonces].sort()).to.deep.equal(events.map((e) => `${e!.actor}:${e!.nonce}`).sort());
    });

    it("reads nonces and split children's GS1 keys from the calls of a relayed group, and indexes nothing of a refused call", async function () {
      const { f, store } = env;
      const a = await registerBatch(f, { quantity: 100n });
      const b = await registerBatch(f);
      const kids = children(30n, 70n);
      const r = values.registered({ quantity: 5n });
      const refused = values.pesticide(b.batchId);
      const calls = [
        call(Kind.Split, values.split(a.batchId, kids), f.producer),
        call(Kind.PesticideApplied, refused, f.producer2), // not the custodian: refused, skipped
        call(Kind.Registered, r, f.producer),
        call(Kind.Inspected, values.inspected(b.batchId), f.inspector),
      ];
      await relayGroup(f, calls);
      await env.indexer().syncOnce();

      const ids = [a.batchId, b.batchId, batchIdOf(r.gtin, r.lot), ...kids.map((c) => batchIdOf(c.gtin, c.lot))];
      for (const id of ids) await expectBatchMatchesChain(env, id);
      for (const [i, c] of kids.entries()) {
        expect(await store.batch(ids[3 + i]!)).to.include({ gtin: c.gtin, lot: c.lot, quantity: c.quantity });
      }
      expect(await store.batch(ids[2]!)).to.include({ gtin: r.gtin, lot: r.lot });
      for (const c of calls) {
        const e = await store.lifecycleEvent(hashOf(f, c.kind as never, c.values as never));
        if (c.values === refused) {
          expect(e).to.equal(undefined);
          expect(await store.nonceUsed(c.actor.address, c.values.nonce)).to.equal(false);
          continue;
        }
        expect(e?.nonce).to.equal(c.values.nonce);
        expect(await store.nonceUsed(c.actor.address, c.values.nonce)).to.equal(true);
      }
    });

    it("answers ancestors, descendants and inherited recalls through lineage", async function () {
      const { f, store } = env;
      const a = await registerBatch(f, { quantity: 90n });
      const [a1, a2, a3] = (await splitBatch(f, a.batchId, f.producer, 30n, 30n, 30n)) as [Bytes32, Bytes32, Bytes32];
      const [a11, a12] = (await splitBatch(f, a1, f.producer, 10n, 20n)) as [Bytes32, Bytes32];
      const m = values.merged([a12, a2]);
      await submit(f, Kind.Merged, m, f.producer);
      const merged = batchIdOf(m.gtin, m.lot);
      await submit(f, Kind.Recalled, values.recalled(a1), f.regulator);
      await env.indexer().syncOnce();

      const up = await store.ancestors(merged);
      expect(up.map((e) => [e.child, e.parent, e.depth])).to.deep.equal([
        [merged, a12, 1],
        [merged, a2, 1],
        [a2, a.batchId, 2], // same depth: in creation order
        [a12, a1, 2],
        [a1, a.batchId, 3],
      ]);
      expect(up[0]!.quantity).to.equal(20n);
      const down = await store.descendants(a.batchId);
      expect(down.map((e) => [e.parent, e.child, e.depth])).to.deep.equal([
        [a.batchId, a1, 1],
        [a.batchId, a2, 1],
        [a.batchId, a3, 1],
        [a1, a11, 2],
        [a1, a12, 2],
        [a2, merged, 2],
        [a12, merged, 3],
      ]);
      expect((await store.descendants(a.batchId, { maxDepth: 1 })).length).to.equal(3);
      expect((await store.descendants(a.batchId, { limit: 2 })).length).to.equal(2);
      expect((await store.children(a1)).map((e) => e.child)).to.deep.equal([a11, a12]);
      expect(await store.recalledAncestor(merged)).to.equal(a1);
      expect(await store.recalledAncestor(a11)).to.equal(a1);
      expect(await store.recalledAncestor(a3)).to.equal(undefined);
      for (const id of [merged, a11, a3]) {
        expect(await store.recalledAncestor(id) !== undefined).to.equal(await f.ledger.isRecalled(id));
      }
      expect(await store.ancestors(a.batchId)).to.deep.equal([]);
    });
  });

  describe("anchors", function () {
    it("indexes each anchor with its block and time, newest first, and finds the anchor covering a leaf", async function () {
      const { logAnchor, anchorer, store, ethers } = env;
      const log = new MemoryNodeStore();
      log.append(...vectorLeaves(40));
      const asAnchorer = logAnchor.connect(anchorer);
      let previous = 0;
      for (const size of [3, 10, 40]) {
        await asAnchorer.anchor(size, bytesToHex(await root(size, log)), proofToHex(await consistencyProof(previous, size, log)));
        previous = size;
      }
      await env.indexer().syncOnce();

      const anchors = await store.anchors(10);
      expect(anchors.map((a) => [a.anchorIndex, a.size, a.previousSize])).to.deep.equal([[2, 40, 10], [1, 10, 3], [0, 3, 0]]);
      for (const a of anchors) {
        const stored = await logAnchor.anchorAt(a.anchorIndex);
        expect([a.root, BigInt(a.size), BigInt(a.blockTime), BigInt(a.blockNumber)]).to.deep.equal([
          stored.root, stored.size, stored.timestamp, stored.blockNumber,
        ]);
        expect(a.anchorer).to.equal(anchorer.address.toLowerCase());
        expect((await ethers.provider.getBlock(a.blockNumber))?.hash?.toLowerCase()).to.equal(a.blockHash);
      }
      expect((await store.latestAnchor())?.anchorIndex).to.equal(2);
      expect((await store.anchors(1, 2)).map((a) => a.anchorIndex)).to.deep.equal([1]);
      expect((await store.anchorCovering(9))?.size).to.equal(40);
      expect(await store.anchorCovering(40)).to.equal(undefined);
    });
  });

  describe("confirmations", function () {
    it("leaves the last `confirmations` blocks unindexed until more blocks are mined", async function () {
      const { f, store, networkHelpers } = env;
      const indexer = env.indexer({ confirmations: 3 });
      const { batchId } = await registerBatch(f);
      const block = await env.ethers.provider.getBlockNumber();
      await indexer.syncOnce();
      expect(await store.batch(batchId)).to.equal(undefined);
      expect(indexer.status()).to.include({ head: block, safeHead: block - 3, lag: 0 });
      expect(indexer.status().cursor?.blockNumber).to.equal(block - 3);
      await networkHelpers.mine(2);
      await indexer.syncOnce();
      expect(await store.batch(batchId)).to.equal(undefined);
      await networkHelpers.mine(1);
      await indexer.syncOnce();
      expect(await store.batch(batchId)).to.not.equal(undefined);
      expect((await store.cursor())?.blockNumber).to.equal(block);
    });
  });

  describe("restart", function () {
    it("continues a reopened store from its cursor with a new indexer, indexing nothing twice", async function () {
      const { f } = env;
      const first = await registerBatch(f);
      await env.indexer().syncOnce();
      const cursor = await env.store.cursor();
      await env.store.close();
      const store = await loc.open();
      env.store = store;

      const again = new Indexer({ provider: env.ethers.provider, deployments: env.deployments, store, confirmations: 0, pollIntervalMs: 5, batchBlocks: 4 });
      expect(await again.syncOnce()).to.deep.include({ ranges: 0, events: 0, cursor });
      await submit(f, Kind.Inspected, values.inspected(first.batchId), f.inspector);
      const second = await registerBatch(f);
      const result = await again.syncOnce();
      expect(result.ranges).to.equal(1);
      expect(result.events).to.equal(2);
      expect(await rowCount(loc, "lifecycle_events")).to.equal(3);
      await expectBatchMatchesChain(env, first.batchId);
      await expectBatchMatchesChain(env, second.batchId);
    });

    it("polls with start() until stop()", async function () {
      const indexer = env.indexer();
      indexer.start();
      const { batchId } = await registerBatch(env.f);
      const deadline = Date.now() + 10_000;
      while ((await env.store.batch(batchId)) === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await indexer.stop();
      expect(await env.store.batch(batchId)).to.not.equal(undefined);
      expect(indexer.status()).to.include({ running: false, error: undefined });
    });
  });

  describe("reorgs and resets below the cursor", function () {
    async function indexedPastSnapshot() {
      const { ethers, f, networkHelpers } = env;
      const snapshot = (await ethers.provider.send("evm_snapshot", [])) as string;
      const kept = await registerBatch(f);
      await networkHelpers.mine(3);
      const indexer = env.indexer({ confirmations: 2 });
      await indexer.syncOnce();
      const cursor = (await env.store.cursor())!;
      expect(await env.store.batch(kept.batchId)).to.not.equal(undefined);
      return { snapshot, kept, indexer, cursor };
    }

    async function expectHalted(indexer: Indexer, code: string) {
      const error = await indexer.syncOnce().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(IndexerHaltedError);
      expect((error as IndexerHaltedError).code).to.equal(code);
      expect(indexer.status().error?.code).to.equal(code);
      return error as IndexerHaltedError;
    }

    it("halts with REORG_BELOW_CURSOR when indexed blocks are replaced, and leaves the index untouched", async function () {
      const { ethers, f, networkHelpers } = env;
      const { snapshot, kept, indexer, cursor } = await indexedPastSnapshot();
      await ethers.provider.send("evm_revert", [snapshot]);
      const forked = await registerBatch(f, {}, f.producer2); // a different history at the same heights
      await networkHelpers.mine(6);
      const error = await expectHalted(indexer, "REORG_BELOW_CURSOR");
      expect(error.message).to.contain(cursor.blockHash);

      expect(await env.store.cursor()).to.deep.equal(cursor);
      expect(await env.store.batch(kept.batchId)).to.not.equal(undefined);
      expect(await env.store.batch(forked.batchId)).to.equal(undefined);
      // Sticky: the same indexer stays halted, and a fresh one on the same store halts at its first poll.
      await expectHalted(indexer, "REORG_BELOW_CURSOR");
      await expectHalted(env.indexer({ confirmations: 2 }), "REORG_BELOW_CURSOR");
      expect(await env.store.cursor()).to.deep.equal(cursor);
    });

    it("halts with CHAIN_BEHIND_CURSOR when the chain is reset below the cursor", async function () {
      const { ethers } = env;
      const { snapshot, indexer, cursor } = await indexedPastSnapshot();
      await ethers.provider.send("evm_revert", [snapshot]);
      const error = await expectHalted(indexer, "CHAIN_BEHIND_CURSOR");
      expect(error.message).to.contain(`block ${cursor.blockNumber}`);
      expect(await env.store.cursor()).to.deep.equal(cursor);
    });

    it("after resetIndex, rebuilds the index from the deployment block on the new history", async function () {
      const { ethers, f, networkHelpers } = env;
      const { snapshot, kept } = await indexedPastSnapshot();
      await ethers.provider.send("evm_revert", [snapshot]);
      const forked = await registerBatch(f, {}, f.producer2);
      await networkHelpers.mine(3);
      await env.store.resetIndex();
      await env.indexer({ confirmations: 2 }).syncOnce();
      expect(await env.store.batch(kept.batchId)).to.equal(undefined);
      await expectBatchMatchesChain(env, forked.batchId);
    });

    it("halts with OTHER_CONTRACTS when the store indexed another contract set", async function () {
      await env.indexer().syncOnce();
      const other: Deployments = { ...env.deployments, deployBlock: 0, anchor: env.deployments.ledger };
      await expectHalted(env.indexer({ deployments: other }), "OTHER_CONTRACTS");
      await expectHalted(env.indexer({ deployments: { ...env.deployments, chainId: 1 } }), "WRONG_CHAIN");
    });
  });

  describe("store", function () {
    it("refuses a range built on another cursor and writes nothing of it", async function () {
      await env.indexer().syncOnce();
      const cursor = (await env.store.cursor())!;
      const stale = {
        previous: undefined,
        cursor: { ...cursor, blockNumber: cursor.blockNumber + 1 },
        roleChanges: [{ contract: "ledger" as const, role: env.ethers.id("X"), account: env.f.outsider.address, granted: true, blockNumber: 1 }],
        profiles: [],
        batches: [],
        lineage: [],
        events: [],
        nonces: [],
        anchors: [],
      };
      let error: unknown;
      await env.store.applyChainBatch(stale).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(IndexCursorConflictError);
      expect(await env.store.cursor()).to.deep.equal(cursor);
      expect(await env.store.hasRole(env.ethers.id("X"), env.f.outsider.address)).to.equal(false);
    });
  });
});
