import { expect } from "chai";
import { AnchorIntentOpenError, ChainWriterStateError } from "../../../ledger-api/src/store/chain-writers.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import { appendItem } from "../log/fixtures.ts";
import { forEachDriver, locations, type StoreLocation } from "./drivers.ts";

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

const intent = (size: number, tx: string) => ({
  size,
  root: "0x" + "AA".repeat(32),
  previousSize: 0,
  previousRoot: "0x" + "bb".repeat(32),
  nonce: 3,
  rawTx: "0x02f8",
  txHash: "0x" + tx.repeat(32),
  createdAt: 1,
});

forEachDriver("Store chain-writer tables", (driver) => {
  const made = locations(driver);
  let loc: StoreLocation;
  let store: Store;
  beforeEach(async function () {
    loc = await made.create();
    store = await loc.open();
  });
  afterEach(async function () {
    await made.removeAll();
  });

  it("keeps at most one anchor intent in flight and settles each only from 'sent', durably across reopen", async function () {
    const a = await store.recordAnchorIntent(intent(4, "01"));
    expect(a).to.include({ status: "sent", root: "0x" + "aa".repeat(32), blockNumber: undefined });
    expect(await rejection(store.recordAnchorIntent(intent(5, "02")))).to.be.instanceOf(AnchorIntentOpenError);
    await store.close();
    store = await loc.open();
    expect((await store.openAnchorIntent())?.id).to.equal(a.id);
    // A fee bump replaces the transaction of the intent in flight, durably, and only of that one.
    const bumped = await store.replaceAnchorTx(a.id, { rawTx: "0x02F9", txHash: "0x" + "0A".repeat(32) }, 2);
    expect(bumped).to.include({ id: a.id, status: "sent", nonce: 3, rawTx: "0x02f9", txHash: "0x" + "0a".repeat(32), updatedAt: 2 });
    // The bump is counted in the intent, so a restart (or another leader) does not start the count again.
    expect(bumped.feeBumps).to.equal(1);
    await store.close();
    store = await loc.open();
    expect(await store.openAnchorIntent()).to.include({ txHash: "0x" + "0a".repeat(32), feeBumps: 1 });
    await store.settleAnchorIntent(a.id, { status: "confirmed", blockNumber: 9 }, 2);
    expect(await rejection(store.replaceAnchorTx(a.id, { rawTx: "0x02", txHash: "0x" + "0b".repeat(32) }, 3))).to.be.instanceOf(
      ChainWriterStateError,
    );
    expect(await rejection(store.settleAnchorIntent(a.id, { status: "failed", failure: "x" }, 3))).to.be.instanceOf(
      ChainWriterStateError,
    );
    const b = await store.recordAnchorIntent(intent(6, "03"));
    await store.settleAnchorIntent(b.id, { status: "failed", failure: "reverted" }, 4);
    expect((await store.lastConfirmedAnchorIntent())?.size).to.equal(4);
    expect((await store.anchorIntents()).map((i) => i.status)).to.deep.equal(["confirmed", "failed"]);
  });

  it("reads every relay row in a status when no limit is given, however many (the ingest overlay rebuilds from them)", async function () {
    const n = 1_500;
    await store.appendBatch(Array.from({ length: n }, (_, i) => appendItem(i)));
    await store.advanceRelayCursor(0, n, Array.from({ length: n }, (_, index) => ({ index, kind: 0, actor: "0xab" })), 1);
    const all = await store.relayRows("pending");
    expect(all.length).to.equal(n);
    expect(all.map((r) => r.index)).to.deep.equal(Array.from({ length: n }, (_, i) => i));
    expect((await store.relayRows("pending", 16)).length).to.equal(16);
    // The statuses of many rows in one read (ingest prunes its pending events with it); rows never ingested are absent.
    await store.markRelaySent(7, { nonce: 1, txHash: "0x" + "07".repeat(32), rawTx: "0x02" }, 2);
    const statuses = await store.relayStatuses([0, 7, n + 5]);
    expect([...statuses.entries()]).to.deep.equal([[0, "pending"], [7, "sent"]]);
  });

  it("lets recovery fail anchor intents and rewrite relay rows, all of them or none, and counts rows per status", async function () {
    const a = await store.recordAnchorIntent(intent(4, "01"));
    await store.settleAnchorIntent(a.id, { status: "confirmed", blockNumber: 9 }, 2);
    const b = await store.recordAnchorIntent(intent(6, "02"));
    // One unknown id fails the whole call: nothing changed.
    expect(await rejection(store.failAnchorIntents([a.id, b.id, 999], "lost", 3))).to.be.instanceOf(ChainWriterStateError);
    expect((await store.anchorIntents()).map((i) => i.status)).to.deep.equal(["confirmed", "sent"]);
    await store.failAnchorIntents([a.id, b.id], "the chain lost it", 3);
    expect((await store.anchorIntents()).map((i) => [i.status, i.failure])).to.deep.equal([
      ["failed", "the chain lost it"],
      ["failed", "the chain lost it"],
    ]);

    await store.appendBatch([0, 1, 2].map((n) => appendItem(n)));
    await store.advanceRelayCursor(0, 3, [0, 1, 2].map((index) => ({ index, kind: 0, actor: "0xab" })), 1);
    await store.markRelaySent(0, { nonce: 5, txHash: "0x" + "05".repeat(32), rawTx: "0x02" }, 2);
    await store.markRelaySent(1, { nonce: 6, txHash: "0x" + "06".repeat(32), rawTx: "0x02" }, 2);
    expect(await store.relayCounts()).to.deep.equal({ pending: 1, sent: 2, confirmed: 0, refused: 0 });
    // A row that never held a transaction cannot be rewritten confirmed: nothing of the call is applied.
    const refused = await rejection(
      store.rewriteRelayRows(
        [
          { index: 0, status: "pending", reason: "lost with the chain" },
          { index: 2, status: "confirmed", blockNumber: 7, txHash: "0x" + "07".repeat(32) },
        ],
        3,
      ),
    );
    expect(refused).to.be.instanceOf(ChainWriterStateError);
    expect((await store.relayRecord(0))?.status).to.equal("sent");
    await store.rewriteRelayRows(
      [
        { index: 0, status: "pending", reason: "lost with the chain" },
        { index: 1, status: "confirmed", blockNumber: 7, txHash: "0x" + "0A".repeat(32) },
      ],
      4,
    );
    expect(await store.relayRecord(0)).to.include({ status: "pending", nonce: undefined, txHash: undefined, error: "lost with the chain" });
    expect(await store.relayRecord(1)).to.include({ status: "confirmed", blockNumber: 7, txHash: "0x" + "0a".repeat(32) });
    expect(await store.relayCounts()).to.deep.equal({ pending: 2, sent: 0, confirmed: 1, refused: 0 });
  });

  it("moves the relay cursor only from where it is, with the rows of the range, and guards every row transition", async function () {
    await store.appendBatch([0, 1, 2].map((n) => appendItem(n)));
    expect(await store.relayCursor()).to.equal(0);
    await store.advanceRelayCursor(0, 3, [{ index: 0, kind: 0, actor: "0xAB" }, { index: 2, kind: 1, actor: "0xcd" }], 1);
    expect(await rejection(store.advanceRelayCursor(0, 3, [], 2))).to.be.instanceOf(ChainWriterStateError);
    expect(await store.relayCursor()).to.equal(3);
    expect((await store.relayRows("pending")).map((r) => [r.index, r.actor])).to.deep.equal([[0, "0xab"], [2, "0xcd"]]);
    expect(await rejection(store.markRelayConfirmed(0, 5, 3))).to.be.instanceOf(ChainWriterStateError);
    await store.markRelaySent(0, { nonce: 7, txHash: "0x" + "11".repeat(32), rawTx: "0x02" }, 3);
    await store.resetRelay(0, "lost", 4);
    expect(await store.relayRecord(0)).to.include({ status: "pending", error: "lost", txHash: undefined });
    expect(await store.maxRelayNonce()).to.equal(7);
    await store.markRelaySent(0, { nonce: 8, txHash: "0x" + "22".repeat(32), rawTx: "0x02" }, 5);
    // A fee bump replaces the transaction of a 'sent' row, and of no other.
    expect((await store.relayRecord(0))?.feeBumps).to.equal(0);
    await store.replaceRelayTx(0, { rawTx: "0x02AA", txHash: "0x" + "33".repeat(32) }, 5);
    expect(await store.relayRecord(0)).to.include({ status: "sent", nonce: 8, rawTx: "0x02aa", txHash: "0x" + "33".repeat(32), feeBumps: 1 });
    expect(await rejection(store.replaceRelayTx(2, { rawTx: "0x02", txHash: "0x" + "44".repeat(32) }, 5))).to.be.instanceOf(
      ChainWriterStateError,
    );
    await store.markRelayConfirmed(0, 12, 6);
    await store.markRelayRefused(2, { errorName: "UnknownBatch", error: "UnknownBatch(0x01)" }, 7);
    expect(await store.relayRecord(0)).to.include({ status: "confirmed", blockNumber: 12, nonce: 8, error: undefined, txHash: "0x" + "33".repeat(32) });
    expect(await store.relayRecord(2)).to.include({ status: "refused", errorName: "UnknownBatch" });
    expect(await rejection(store.markRelayRefused(0, { errorName: "x", error: "x" }, 8))).to.be.instanceOf(
      ChainWriterStateError,
    );
  });
});
