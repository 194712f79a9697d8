import { expect } from "chai";
import { AnchorIntentOpenError, ChainWriterStateError } from "../../../ledger-api/src/store/chain-writers.ts";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS } from "../../../ledger-api/src/store/migrations.ts";
import { DB_FILE, SqliteStore } from "../../../ledger-api/src/store/sqlite.ts";
import { appendItem, cleanup, tempDir } from "../log/fixtures.ts";

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

describe("SqliteStore chain-writer tables", function () {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async function () {
    dir = await tempDir();
    store = await SqliteStore.open(dir);
  });
  afterEach(async function () {
    await store.close().catch(() => undefined);
    await cleanup(dir);
  });

  it("keeps at most one anchor intent in flight and settles each only from 'sent', durably across reopen", async function () {
    const a = await store.recordAnchorIntent(intent(4, "01"));
    expect(a).to.include({ status: "sent", root: "0x" + "aa".repeat(32), blockNumber: undefined });
    expect(await rejection(store.recordAnchorIntent(intent(5, "02")))).to.be.instanceOf(AnchorIntentOpenError);
    await store.close();
    store = await SqliteStore.open(dir);
    expect((await store.openAnchorIntent())?.id).to.equal(a.id);
    // A fee bump replaces the transaction of the intent in flight, durably, and only of that one.
    const bumped = await store.replaceAnchorTx(a.id, { rawTx: "0x02F9", txHash: "0x" + "0A".repeat(32) }, 2);
    expect(bumped).to.include({ id: a.id, status: "sent", nonce: 3, rawTx: "0x02f9", txHash: "0x" + "0a".repeat(32), updatedAt: 2 });
    await store.close();
    store = await SqliteStore.open(dir);
    expect((await store.openAnchorIntent())?.txHash).to.equal("0x" + "0a".repeat(32));
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
    await store.replaceRelayTx(0, { rawTx: "0x02AA", txHash: "0x" + "33".repeat(32) }, 5);
    expect(await store.relayRecord(0)).to.include({ status: "sent", nonce: 8, rawTx: "0x02aa", txHash: "0x" + "33".repeat(32) });
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

  describe("relay groups", function () {
    const tx = (b: string) => "0x" + b.repeat(32);
    async function pendingRows(n: number): Promise<void> {
      await store.appendBatch(Array.from({ length: n }, (_, i) => appendItem(i)));
      await store.advanceRelayCursor(0, n, Array.from({ length: n }, (_, index) => ({ index, kind: 2, actor: "0xab" })), 1);
    }

    it("stores a group's raw transaction once and points every row at it, with the group's nonce and hash", async function () {
      await pendingRows(4);
      const id = await store.markRelayGroupSent([0, 1, 3], { nonce: 5, txHash: tx("AA"), rawTx: "0x02F8AB" }, 2);
      expect(await store.relayGroup(id)).to.deep.equal({
        id, nonce: 5, txHash: tx("aa"), rawTx: "0x02f8ab", calls: 3, createdAt: 2, updatedAt: 2,
      });
      const sent = await store.relayRows("sent");
      expect(sent.map((r) => [r.index, r.group, r.nonce, r.txHash, r.rawTx])).to.deep.equal([
        [0, id, 5, tx("aa"), undefined],
        [1, id, 5, tx("aa"), undefined],
        [3, id, 5, tx("aa"), undefined],
      ]);
      expect(await store.relayRecord(2)).to.include({ status: "pending", group: undefined });
      expect(await store.maxRelayNonce()).to.equal(5);
      await store.close();
      store = await SqliteStore.open(dir);
      expect((await store.relayRows("sent")).map((r) => r.group)).to.deep.equal([id, id, id]);
    });

    it("marks a group sent all or nothing: a row that is not pending stores neither the group nor any row", async function () {
      await pendingRows(3);
      await store.markRelaySent(1, { nonce: 1, txHash: tx("11"), rawTx: "0x01" }, 2);
      expect(await rejection(store.markRelayGroupSent([0, 1, 2], { nonce: 2, txHash: tx("22"), rawTx: "0x02" }, 3))).to.be.instanceOf(
        ChainWriterStateError,
      );
      expect((await store.relayRows("pending")).map((r) => r.index)).to.deep.equal([0, 2]);
      expect(await store.relayGroup(1)).to.equal(undefined);
      expect(await rejection(store.markRelayGroupSent([0], { nonce: 2, txHash: tx("22"), rawTx: "0x02" }, 3))).to.be.instanceOf(RangeError);
    });

    it("replaces a group's transaction and the hash of each of its rows in one fee bump, from any of its rows", async function () {
      await pendingRows(3);
      const id = await store.markRelayGroupSent([0, 1], { nonce: 5, txHash: tx("aa"), rawTx: "0x02aa" }, 2);
      await store.markRelaySent(2, { nonce: 6, txHash: tx("cc"), rawTx: "0x02cc" }, 2);
      await store.replaceRelayTx(1, { rawTx: "0x02BB", txHash: tx("BB") }, 3);
      expect(await store.relayGroup(id)).to.include({ nonce: 5, txHash: tx("bb"), rawTx: "0x02bb", updatedAt: 3 });
      expect((await store.relayRows("sent")).map((r) => [r.index, r.txHash, r.updatedAt])).to.deep.equal([
        [0, tx("bb"), 3],
        [1, tx("bb"), 3],
        [2, tx("cc"), 2],
      ]);
    });

    it("settles a group's rows in one transaction, all or nothing; a row reset to pending leaves its group", async function () {
      await pendingRows(4);
      const id = await store.markRelayGroupSent([0, 1, 2], { nonce: 5, txHash: tx("aa"), rawTx: "0x02aa" }, 2);
      const refusal = { errorName: "BatchRecalled", error: "BatchRecalled(0x01, 0x01)", blockNumber: 9 };
      // Row 3 was never sent: the whole settlement is refused and nothing of it is written.
      expect(
        await rejection(
          store.settleRelayRows(
            [
              { index: 0, status: "confirmed", blockNumber: 9 },
              { index: 3, status: "refused", refusal },
            ],
            3,
          ),
        ),
      ).to.be.instanceOf(ChainWriterStateError);
      expect((await store.relayRows("sent")).map((r) => r.index)).to.deep.equal([0, 1, 2]);
      await store.settleRelayRows(
        [
          { index: 0, status: "confirmed", blockNumber: 9 },
          { index: 1, status: "refused", refusal },
          { index: 2, status: "pending", reason: "its nonce went to another transaction" },
        ],
        3,
      );
      expect(await store.relayRecord(0)).to.include({ status: "confirmed", blockNumber: 9, group: id, txHash: tx("aa") });
      expect(await store.relayRecord(1)).to.include({ status: "refused", errorName: "BatchRecalled", blockNumber: 9, group: id, txHash: tx("aa") });
      expect(await store.relayRecord(2)).to.include({ status: "pending", group: undefined, txHash: undefined, nonce: 5 });
      // Recovery: a lost group's rows go back to pending without a group; a confirmed rewrite keeps it.
      await store.rewriteRelayRows(
        [
          { index: 0, status: "pending", reason: "lost" },
          { index: 1, status: "confirmed", blockNumber: 11, txHash: tx("dd") },
        ],
        4,
      );
      expect(await store.relayRecord(0)).to.include({ status: "pending", group: undefined, nonce: undefined, txHash: undefined });
      expect(await store.relayRecord(1)).to.include({ status: "confirmed", group: id, blockNumber: 11, txHash: tx("dd") });
    });

    it("keeps the rows of a database from before groups as they were (migration relay_groups rebuilds the table)", async function () {
      await store.close();
      await cleanup(dir);
      dir = await tempDir();
      store = await SqliteStore.open(dir, { migrations: MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === "relay_groups")) });
      await store.appendBatch([0, 1, 2].map((n) => appendItem(n)));
      await store.close();
      // The rows as the previous version's statements wrote them (its code cannot run here any more).
      const db = new DatabaseSync(join(dir, DB_FILE));
      db.exec(`UPDATE relay_cursor SET next_idx = 3;
        INSERT INTO relay_entries (idx, kind, actor, status, nonce, tx_hash, raw_tx, block_number, updated_at) VALUES
          (0, 2, '0xab', 'sent', 1, '${tx("11")}', '0x0211', NULL, 2),
          (1, 2, '0xab', 'confirmed', 2, '${tx("22")}', '0x0222', 7, 3),
          (2, 2, '0xab', 'pending', NULL, NULL, NULL, NULL, 1);`);
      db.close();
      store = await SqliteStore.open(dir);
      expect(await store.relayRecord(0)).to.include({ status: "sent", nonce: 1, rawTx: "0x0211", group: undefined });
      expect(await store.relayRecord(1)).to.include({ status: "confirmed", blockNumber: 7, rawTx: "0x0222" });
      expect(await store.relayRecord(2)).to.include({ status: "pending" });
      expect(await store.relayCursor()).to.equal(3);
      expect((await store.relayRows("sent")).map((r) => r.index)).to.deep.equal([0]);
    });
  });
});
