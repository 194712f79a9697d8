import { expect } from "chai";
import { Contract, Transaction, hexlify } from "ethers";
import { Anchorer, AnchorMismatchError } from "../../../ledger-api/src/chain/anchorer.ts";
import type { AnchorerOptions } from "../../../ledger-api/src/chain/anchorer.ts";
import { bytesToHex } from "../../../ledger-api/src/log/hash.ts";
import { inclusionProof, root } from "../../../ledger-api/src/log/merkle.ts";
import { AnchorIntentOpenError } from "../../../ledger-api/src/store/chain-writers.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import { forEachDriver } from "../store/drivers.ts";
import { appendItem } from "../log/fixtures.ts";
import {
  ANCHOR_ABI,
  automine,
  deploy,
  dropTransaction,
  ethers,
  fundedWallet,
  manualClock,
  memoryLogger,
  mine,
  networkHelpers,
  stores,
} from "./fixtures.ts";

const T0 = 1_700_000_000_000;

async function anchorFixture() {
  const deployments = await deploy();
  const [admin] = await ethers.getSigners();
  const wallet = await fundedWallet();
  const anchor = new Contract(deployments.anchor, ANCHOR_ABI, admin);
  await anchor.getFunction("grantRole")(await anchor.getFunction("ANCHORER_ROLE")(), wallet.address);
  return { deployments, wallet, anchor: anchor.connect(ethers.provider) as Contract };
}

interface OnChainAnchor {
  readonly root: string;
  readonly size: number;
  readonly blockNumber: number;
}

async function anchorsOnChain(anchor: Contract): Promise<OnChainAnchor[]> {
  const count = Number(await anchor.getFunction("anchorCount")());
  const out: OnChainAnchor[] = [];
  for (let i = 0; i < count; i++) {
    const a = await anchor.getFunction("anchorAt")(i);
    out.push({ root: String(a.root).toLowerCase(), size: Number(a.size), blockNumber: Number(a.blockNumber) });
  }
  return out;
}

const hex = (b: Uint8Array): string => bytesToHex(b).toLowerCase();

forEachDriver("Anchorer", (driver) => {
  const s = stores(driver);
  let store: Store;
  let f: Awaited<ReturnType<typeof anchorFixture>>;
  let next = 0;
  let clock: ReturnType<typeof manualClock>;

  /** Appends `count` entries received at `receivedAt`. */
  async function append(count: number, receivedAt = clock.now()): Promise<void> {
    const items = Array.from({ length: count }, () => ({ ...appendItem(next++), receivedAt }));
    await store.appendBatch(items);
  }

  function anchorer(over: Partial<AnchorerOptions> = {}): Anchorer {
    return new Anchorer({
      store,
      anchorContract: { address: f.deployments.anchor, abi: ANCHOR_ABI },
      signer: f.wallet,
      every: 4,
      intervalMs: 60_000,
      confirmations: 1,
      clock,
      pollMs: 10,
      ...over,
    });
  }

  beforeEach(async function () {
    f = await networkHelpers.loadFixture(anchorFixture);
    store = await s.open();
    next = 0;
    clock = manualClock(T0);
  });
  afterEach(async function () {
    await automine(true);
    await s.close();
  });

  describe("policy", function () {
    it("anchors once `every` entries are unanchored, not before", async function () {
      const a = anchorer({ every: 4 });
      await append(3);
      expect(await a.tick()).to.equal(undefined);
      expect(await anchorsOnChain(f.anchor)).to.have.length(0);
      await append(1);
      const intent = await a.tick();
      expect(intent?.size).to.equal(4);
      expect(await a.tick()).to.equal(undefined);
      const [first] = await anchorsOnChain(f.anchor);
      expect(first?.size).to.equal(4);
      expect(first?.root).to.equal(hex(await root(4, store)));
      const stored = await store.lastConfirmedAnchorIntent();
      expect(stored).to.include({ size: 4, status: "confirmed", blockNumber: first?.blockNumber });
    });

    it("anchors when the oldest unanchored entry is `intervalMs` old, even below `every`", async function () {
      const a = anchorer({ every: 1000, intervalMs: 5_000 });
      await append(2, T0);
      clock.set(T0 + 4_999);
      expect(await a.tick()).to.equal(undefined);
      expect((await a.status()).lagMs).to.equal(4_999);
      clock.set(T0 + 5_000);
      expect((await a.tick())?.size).to.equal(2);
      await a.tick();
      expect((await anchorsOnChain(f.anchor)).map((x) => x.size)).to.deep.equal([2]);
    });

    it("measures the interval from the oldest entry the chain does not cover yet", async function () {
      const a = anchorer({ every: 1000, intervalMs: 5_000 });
      await append(2, T0);
      await a.anchorNow();
      await append(1, T0 + 10_000);
      clock.set(T0 + 14_999);
      expect(await a.tick()).to.equal(undefined);
      clock.set(T0 + 15_000);
      expect((await a.tick())?.size).to.equal(3);
    });

    it("never has two anchors in flight: a forced pass while one is pending returns that one", async function () {
      const a = anchorer();
      await append(5);
      await automine(false);
      const first = await a.tick({ force: true });
      await append(5);
      const again = await a.tick({ force: true });
      expect(again?.id).to.equal(first?.id);
      expect((await store.anchorIntents()).filter((i) => i.status === "sent")).to.have.length(1);
      // The store itself refuses a second one, whoever asks.
      const { id: _id, status: _s, blockNumber: _b, failure: _f, updatedAt: _u, ...copy } = first!;
      let refused: unknown;
      try {
        await store.recordAnchorIntent({ ...copy, size: 10, txHash: "0x" + "11".repeat(32) });
      } catch (e) {
        refused = e;
      }
      expect(refused).to.be.instanceOf(AnchorIntentOpenError);
      await automine(true);
      await mine();
      await a.anchorNow();
      expect((await anchorsOnChain(f.anchor)).map((x) => x.size)).to.deep.equal([5, 10]);
    });

    it("runs on its own after start(), with the real clock", async function () {
      const a = anchorer({ every: 1000, intervalMs: 50, clock: undefined, pollMs: 10 });
      await store.appendBatch([{ ...appendItem(next++), receivedAt: Date.now() }]);
      await a.start();
      try {
        for (let i = 0; i < 200 && (await a.status()).anchoredSize < 1; i++) await new Promise((r) => setTimeout(r, 10));
        expect((await a.status()).anchoredSize).to.equal(1);
      } finally {
        await a.stop();
      }
    });
  });

  describe("what lands on chain", function () {
    it("anchors roots equal to the store's, in strictly increasing sizes, that verify inclusion on chain", async function () {
      const a = anchorer({ every: 1 });
      for (const n of [1, 2, 5, 8, 13]) {
        await append(n);
        await a.anchorNow();
      }
      const anchors = await anchorsOnChain(f.anchor);
      const sizes = anchors.map((x) => x.size);
      expect(sizes).to.deep.equal([1, 3, 8, 16, 29]);
      for (let i = 0; i < anchors.length; i++) {
        const { size, root: r } = anchors[i]!;
        expect(r).to.equal(hex(await root(size, store)));
        for (const leaf of new Set([0, Math.floor(size / 2), size - 1])) {
          const entry = await store.entry(leaf);
          const path = (await inclusionProof(leaf, size, store)).map((p) => hexlify(p));
          expect(await f.anchor.getFunction("verifyInclusion")(i, leaf, hexlify(entry!.leafHash), path)).to.equal(true);
        }
      }
      const intents = await store.anchorIntents();
      expect(intents.map((x) => [x.status, x.previousSize, x.size])).to.deep.equal([
        ["confirmed", 0, 1],
        ["confirmed", 1, 3],
        ["confirmed", 3, 8],
        ["confirmed", 8, 16],
        ["confirmed", 16, 29],
      ]);
    });

    it("waits for `confirmations` blocks before marking an anchor confirmed", async function () {
      const a = anchorer({ confirmations: 3 });
      await append(4);
      const intent = await a.tick();
      expect(intent?.status).to.equal("sent");
      expect((await a.tick())?.id).to.equal(intent?.id); // mined: 1 confirmation
      await mine(1);
      expect((await a.tick())?.id).to.equal(intent?.id); // 2
      await mine(1);
      expect(await a.tick()).to.equal(undefined); // 3
      expect((await store.lastConfirmedAnchorIntent())?.id).to.equal(intent?.id);
    });

    it("reports status: anchored size, lag in entries and ms, the pending intent", async function () {
      const a = anchorer({ every: 1000 });
      await append(3, T0);
      clock.set(T0 + 700);
      expect(await a.status()).to.deep.include({ anchoredSize: 0, logSize: 3, lagEntries: 3, lagMs: 700 });
      await automine(false);
      await a.tick({ force: true });
      expect((await a.status()).pending?.size).to.equal(3);
      await automine(true);
      await mine();
      await a.tick();
      expect(await a.status()).to.deep.include({ anchoredSize: 3, lagEntries: 0, lagMs: 0, pending: undefined });
    });
  });

  describe("restarts and crashes", function () {
    it("a new Anchorer on the same store anchors nothing twice and extends the chain's latest anchor", async function () {
      const first = anchorer();
      await append(6);
      await first.anchorNow();
      await first.stop();
      store = await s.reopen(store);
      const second = anchorer();
      await second.start();
      expect(await second.tick({ force: true })).to.equal(undefined);
      await append(4);
      await second.anchorNow();
      await second.stop();
      expect((await anchorsOnChain(f.anchor)).map((x) => x.size)).to.deep.equal([6, 10]);
      expect((await store.anchorIntents()).map((i) => i.previousSize)).to.deep.equal([0, 6]);
    });

    it("crash after broadcast, tx lost from the mempool: the restart re-broadcasts the same bytes, one anchor lands", async function () {
      await append(7);
      await automine(false);
      const crashed = anchorer();
      const intent = await crashed.tick({ force: true });
      expect(intent?.status).to.equal("sent");
      expect(await ethers.provider.getTransaction(intent!.txHash)).to.not.equal(null);
      // "kill": the object is dropped without stop(); the node forgets the transaction.
      expect(await dropTransaction(intent!.txHash)).to.equal(true);
      expect(await ethers.provider.getTransaction(intent!.txHash)).to.equal(null);
      store = await s.reopen(store);

      const logger = memoryLogger();
      const restarted = anchorer({ logger });
      await restarted.start();
      await restarted.stop();
      const resent = await ethers.provider.getTransaction(intent!.txHash);
      expect(resent?.nonce).to.equal(intent!.nonce);
      expect(logger.lines.some((l) => /re-broadcast/.test(l.msg))).to.equal(true);
      // Even a second copy of the same bytes cannot land twice: same nonce, same hash.
      await ethers.provider.broadcastTransaction(intent!.rawTx).catch(() => undefined);
      await mine();
      await automine(true);
      await restarted.tick();
      const anchors = await anchorsOnChain(f.anchor);
      expect(anchors.map((x) => x.size)).to.deep.equal([7]);
      expect(await store.anchorIntents()).to.have.length(1);
      expect((await store.anchorIntents())[0]).to.include({ status: "confirmed", txHash: intent!.txHash });

      await append(3);
      await restarted.anchorNow();
      expect((await anchorsOnChain(f.anchor)).map((x) => x.size)).to.deep.equal([7, 10]);
    });

    it("replaces a transaction stuck in the mempool at higher fees, and settles from the chain whichever copy lands", async function () {
      await append(6);
      await automine(false);
      const logger = memoryLogger();
      const a = anchorer({ feeBumpAfterMs: 30_000, logger });
      const intent = (await a.tick({ force: true }))!;
      clock.set(T0 + 29_999);
      expect((await a.tick())?.txHash, "not stuck yet").to.equal(intent.txHash);
      clock.set(T0 + 30_000);
      const bumped = (await a.tick())!;
      expect(bumped).to.include({ id: intent.id, nonce: intent.nonce, status: "sent" });
      expect(bumped.txHash).to.not.equal(intent.txHash);
      const [before, after] = [Transaction.from(intent.rawTx), Transaction.from(bumped.rawTx)];
      expect(after.data).to.equal(before.data);
      expect(after.nonce).to.equal(before.nonce);
      expect(after.maxFeePerGas! * 100n >= before.maxFeePerGas! * 110n).to.equal(true);
      expect(after.maxPriorityFeePerGas! * 100n >= before.maxPriorityFeePerGas! * 110n).to.equal(true);
      expect(logger.lines.some((l) => /replaced at higher fees/.test(l.msg))).to.equal(true);
      // Stored before broadcast, so a restart would know the new bytes; the node took the replacement.
      store = await s.reopen(store);
      expect((await store.openAnchorIntent())?.txHash).to.equal(bumped.txHash);
      expect(await ethers.provider.getTransaction(bumped.txHash)).to.not.equal(null);
      // Say the old copy is what lands after all: the intent is settled from the contract's state, not from a hash.
      await dropTransaction(bumped.txHash);
      await ethers.provider.broadcastTransaction(intent.rawTx);
      await mine();
      await automine(true);
      const restarted = anchorer({ feeBumpAfterMs: 30_000 });
      await restarted.tick();
      expect((await anchorsOnChain(f.anchor)).map((x) => x.size)).to.deep.equal([6]);
      expect(await store.anchorIntents()).to.have.length(1);
      expect((await store.anchorIntents())[0]).to.include({ status: "confirmed", txHash: bumped.txHash });
      expect(await ethers.provider.getTransactionReceipt(intent.txHash)).to.not.equal(null);
    });

    it("crash after the anchor was mined but before it was recorded: the restart confirms it and sends nothing", async function () {
      await append(5);
      const crashed = anchorer();
      const intent = await crashed.tick({ force: true }); // automine: already mined, still 'sent' in the store
      expect(intent?.status).to.equal("sent");
      const nonceBefore = await ethers.provider.getTransactionCount(f.wallet.address);
      store = await s.reopen(store);
      const restarted = anchorer();
      await restarted.start();
      await restarted.stop();
      expect(await ethers.provider.getTransactionCount(f.wallet.address)).to.equal(nonceBefore);
      expect((await store.anchorIntents())[0]).to.include({ status: "confirmed", size: 5 });
      expect((await anchorsOnChain(f.anchor)).map((x) => x.size)).to.deep.equal([5]);
    });

    it("an intent whose nonce another transaction consumed is marked failed and rebuilt from the current log", async function () {
      await append(4);
      await automine(false);
      const crashed = anchorer();
      const intent = await crashed.tick({ force: true });
      await dropTransaction(intent!.txHash);
      // Someone spends the anchorer's nonce (a misconfigured second user of the key).
      await f.wallet.sendTransaction({ to: f.wallet.address, value: 0n, nonce: intent!.nonce });
      await mine();
      await append(2);
      store = await s.reopen(store);
      const restarted = anchorer();
      await restarted.start();
      const [failed] = await store.anchorIntents();
      expect(failed).to.include({ status: "failed", size: 4 });
      expect(failed?.failure).to.match(/nonce/);
      const rebuilt = await restarted.tick({ force: true });
      expect(rebuilt).to.include({ size: 6, previousSize: 0, nonce: intent!.nonce + 1 });
      await automine(true);
      await mine();
      await restarted.anchorNow();
      await restarted.stop();
      expect((await anchorsOnChain(f.anchor)).map((x) => x.size)).to.deep.equal([6]);
    });

    it("an intent that reverted (another anchorer moved the chain) is marked failed and rebuilt against the chain", async function () {
      await append(4);
      const admin = (await ethers.getSigners())[0]!;
      const other = await fundedWallet();
      const asAdmin = f.anchor.connect(admin) as Contract;
      await asAdmin.getFunction("grantRole")(await f.anchor.getFunction("ANCHORER_ROLE")(), other.address);
      await automine(false);
      const a = anchorer();
      const intent = await a.tick({ force: true });
      // A second holder of the role anchors size 2 first.
      const r2 = hexlify(await root(2, store));
      await (f.anchor.connect(other) as Contract).getFunction("anchor")(2, r2, [], { gasLimit: 500_000 });
      // Make the other's anchor land first: drop ours, mine, then put ours back so it reverts against the new head.
      await dropTransaction(intent!.txHash);
      await mine();
      await ethers.provider.broadcastTransaction(intent!.rawTx);
      await mine();
      await automine(true);
      expect((await ethers.provider.getTransactionReceipt(intent!.txHash))?.status).to.equal(0);
      await a.anchorNow();
      const anchors = await anchorsOnChain(f.anchor);
      expect(anchors.map((x) => x.size)).to.deep.equal([2, 4]);
      expect((await store.anchorIntents()).map((i) => [i.status, i.previousSize, i.size])).to.deep.equal([
        ["failed", 0, 4],
        ["confirmed", 2, 4],
      ]);
    });

    it("refuses to start when the chain's anchor is not a root of this log", async function () {
      await append(3);
      const admin = (await ethers.getSigners())[0]!;
      await (f.anchor.connect(admin) as Contract).getFunction("grantRole")(
        await f.anchor.getFunction("ANCHORER_ROLE")(),
        admin.address,
      );
      await (f.anchor.connect(admin) as Contract).getFunction("anchor")(2, "0x" + "77".repeat(32), []);
      let err: unknown;
      try {
        await anchorer().start();
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(AnchorMismatchError);
    });

    it("refuses to start without ANCHORER_ROLE", async function () {
      const outsider = await fundedWallet();
      let err: unknown;
      try {
        await anchorer({ signer: outsider }).start();
      } catch (e) {
        err = e;
      }
      expect(String(err)).to.match(/lacks ANCHORER_ROLE/);
    });
  });
});
