import { expect } from "chai";
import { MerkleTree } from "merkletreejs";
import pg from "pg";
import { keccak256 } from "ethers";
import { decodeEntry } from "../../../ledger-api/src/log/entry.ts";
import { Frontier } from "../../../ledger-api/src/log/frontier.ts";
import { EMPTY_ROOT, leafHash } from "../../../ledger-api/src/log/hash.ts";
import type { Hash, NodeRef } from "../../../ledger-api/src/log/hash.ts";
import type { Migration } from "../../../ledger-api/src/store/migrations.ts";
import { clientConfig } from "../../../ledger-api/src/store/postgres-rows.ts";
import { SchemaTooNewError, StoreClosedError, StoreCorruptError } from "../../../ledger-api/src/store/store.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import { appendItem, h, hex, mth, SIGNATURE, SIGNER } from "../log/fixtures.ts";
import { SqliteStore } from "../../../ledger-api/src/store/sqlite.ts";
import { cleanup, tempDir } from "../log/fixtures.ts";
import { forEachDriver, LOG_DRIVERS, locations, type StoreLocation } from "./drivers.ts";

/** Every complete subtree of a tree of `size` leaves. */
function completeRefs(size: number): NodeRef[] {
  const refs: NodeRef[] = [];
  for (let level = 0; 2 ** level <= size; level++) {
    for (let index = 0; (index + 1) * 2 ** level <= size; index++) refs.push({ level, index });
  }
  return refs;
}

async function leavesOf(store: Store): Promise<Hash[]> {
  const size = await store.size();
  return store.nodes(Array.from({ length: size }, (_, index) => ({ level: 0, index })));
}

forEachDriver("Store", (driver) => {
  const made = locations(driver);
  let loc: StoreLocation;
  async function openStore(options?: { migrations?: readonly Migration[] }): Promise<Store> {
    return loc.open(options);
  }

  beforeEach(async function () {
    loc = await made.create();
  });
  afterEach(async function () {
    await made.removeAll();
  });

  describe("migrations", function () {
    const MIGRATIONS = driver.migrations;
    async function versions(): Promise<number[]> {
      return (await loc.rows("SELECT version FROM schema_migrations ORDER BY version")).map((r) => Number(r.version));
    }

    it("creates every table of a fresh database and records each migration", async function () {
      const store = await openStore();
      expect(await versions()).to.deep.equal(MIGRATIONS.map((m) => m.version));
      expect(await store.size()).to.equal(0);
      expect(hex(await store.latestRoot())).to.equal(hex(EMPTY_ROOT));
      expect((await loc.rows(driver.tablesNamed(["log_entries", "relay_entries", "anchor_intents"]))).length).to.equal(3);
    });

    if (driver.name === "sqlite") {
      it("runs the database in WAL mode (commits are fsynced: synchronous=FULL on every connection)", async function () {
        await openStore();
        expect((await loc.rows("PRAGMA journal_mode"))[0]?.journal_mode).to.equal("wal");
      });
    } else {
      it("commits synchronously on every session it opens, whatever the database's default", async function () {
        await openStore();
        const name = new URL(loc.env.DATABASE_URL!).pathname.slice(1);
        await loc.exec(`ALTER DATABASE ${name} SET synchronous_commit = off`);
        const session = new pg.Client(clientConfig(loc.env.DATABASE_URL!, "test"));
        await session.connect();
        try {
          expect((await session.query("SHOW synchronous_commit")).rows[0]?.synchronous_commit).to.equal("on");
        } finally {
          await session.end();
        }
      });

      it("migrates once when several instances open a fresh database together", async function () {
        const stores = await Promise.all([openStore(), openStore(), openStore()]);
        expect(await versions()).to.deep.equal(MIGRATIONS.map((m) => m.version));
        expect(await Promise.all(stores.map((s) => s.size()))).to.deep.equal([0, 0, 0]);
      });
    }

    it("re-opens an up-to-date database without re-applying anything and keeps its data", async function () {
      const a = await openStore();
      await a.appendBatch([appendItem(1)]);
      await a.close();
      const b = await openStore();
      expect(await versions()).to.deep.equal(MIGRATIONS.map((m) => m.version));
      expect(await b.size()).to.equal(1);
    });

    it("brings an older database up to date by applying only the missing migrations", async function () {
      const extra: Migration = { version: MIGRATIONS.length + 1, name: "extra", sql: "CREATE TABLE extra (x INTEGER)" };
      const a = await openStore({ migrations: MIGRATIONS.slice(0, 1) });
      await a.appendBatch([appendItem(1)]);
      await a.close();
      const b = await openStore({ migrations: [...MIGRATIONS, extra] });
      expect(await versions()).to.deep.equal([...MIGRATIONS, extra].map((m) => m.version));
      expect(await b.size()).to.equal(1);
    });

    it("refuses to open a database whose schema is newer than the code", async function () {
      const a = await openStore();
      await a.close();
      await loc.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)");
      let error: unknown;
      try {
        await openStore();
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(SchemaTooNewError);
      expect((error as SchemaTooNewError).databaseVersion).to.equal(99);
      expect((error as SchemaTooNewError).codeVersion).to.equal(MIGRATIONS.length);
    });

    it("rolls back a failing migration entirely", async function () {
      const bad: Migration = { version: 2, name: "bad", sql: "CREATE TABLE half (x INTEGER); SELECT * FROM nope;" };
      let failed = false;
      try {
        await openStore({ migrations: [...MIGRATIONS.slice(0, 1), bad] });
      } catch {
        failed = true;
      }
      expect(failed).to.equal(true);
      expect(await loc.rows(driver.tablesNamed(["half", "log_entries"]))).to.deep.equal([]);
    });
  });

  describe("the Merkle tree it stores", function () {
    it("has the reference root after every size from 1 to 300 and stores exactly the complete subtrees", async function () {
      const store = await openStore();
      const leaves: Hash[] = [];
      let n = 0;
      // Group sizes 1, 2, 3, ... so both single appends and multi-leaf groups cross every boundary.
      for (let group = 1; n < 300; group++) {
        const items = Array.from({ length: Math.min(group, 300 - n) }, (_, i) => appendItem(n + i));
        const results = await store.appendBatch(items);
        for (const r of results) leaves.push(r.leafHash);
        n += items.length;
        const cp = await store.checkpoint();
        expect(cp.size).to.equal(n);
        expect(hex(cp.root), `root of ${n}`).to.equal(hex(mth(leaves)));
      }
      // A complete subtree's reference hash does not depend on the tree size, so compute each one once.
      const reference = new Map<string, string>();
      for (let size = 1; size <= 300; size++) {
        const refs = completeRefs(size);
        const stored = await store.nodes(refs);
        refs.forEach((ref, i) => {
          const id = `${ref.level}:${ref.index}`;
          const lo = ref.index * 2 ** ref.level;
          if (!reference.has(id)) reference.set(id, hex(mth(leaves, lo, lo + 2 ** ref.level)));
          expect(hex(stored[i] as Hash), `node (${ref.level}, ${ref.index}) at size ${size}`).to.equal(reference.get(id));
        });
      }
      let missing: unknown;
      try {
        await store.nodes([{ level: 2, index: 75 }]); // leaves [300, 304): not complete
      } catch (e) {
        missing = e;
      }
      expect(missing).to.be.instanceOf(RangeError);
    });

    it("agrees with merkletreejs given the RFC 9162 node hash", async function () {
      const store = await openStore();
      const results = await store.appendBatch(Array.from({ length: 77 }, (_, i) => appendItem(i)));
      const nodeFn = (data: Buffer): Buffer => Buffer.from(keccak256(Buffer.concat([Buffer.from([1]), data])).slice(2), "hex");
      for (const size of [1, 2, 3, 5, 8, 13, 31, 64, 77]) {
        const tree = new MerkleTree(results.slice(0, size).map((r) => Buffer.from(r.leafHash)), nodeFn);
        const ours = mth(results.slice(0, size).map((r) => r.leafHash));
        expect(tree.getRoot().toString("hex"), `size ${size}`).to.equal(hex(ours));
      }
      expect(hex(await store.latestRoot())).to.equal(hex(mth(results.map((r) => r.leafHash))));
    });

    it("reloads the frontier on open, so appends after a restart write the same nodes as an uninterrupted run", async function () {
      const items = Array.from({ length: 300 }, (_, i) => appendItem(i));
      let a = await openStore();
      for (const cut of [137, 138, 255, 256]) {
        const from = await a.size();
        await a.appendBatch(items.slice(from, cut));
        await a.close();
        a = await openStore();
        expect(await a.size()).to.equal(cut);
      }
      await a.appendBatch(items.slice(256));

      const other = await made.create();
      const b = await other.open();
      await b.appendBatch(items);
      const refs = completeRefs(300);
      expect((await a.nodes(refs)).map(hex)).to.deep.equal((await b.nodes(refs)).map(hex));
      expect(hex(await a.latestRoot())).to.equal(hex(await b.latestRoot()));
    });

    it("keeps the frontier nodes that Frontier.refs names", async function () {
      const store = await openStore();
      await store.appendBatch(Array.from({ length: 300 }, (_, i) => appendItem(i)));
      const leaves = await leavesOf(store);
      const frontier = Frontier.fromNodes(300, await store.nodes(Frontier.refs(300)));
      expect(hex(frontier.root())).to.equal(hex(mth(leaves)));
    });
  });

  describe("entries", function () {
    it("serves an entry by index and by key with its body, batch link and decodable leaf preimage", async function () {
      const store = await openStore();
      const items = [appendItem(0, "A"), appendItem(1, "B"), appendItem(2, "A")];
      const results = await store.appendBatch(items);
      const e = await store.entry(2);
      expect(e?.key).to.equal(items[2]?.key);
      expect(e?.body).to.equal(items[2]?.body);
      expect(e?.prevIndex).to.equal(0);
      expect(e?.receivedAt).to.equal(items[2]?.receivedAt);
      expect(hex(e?.leafHash as Hash)).to.equal(hex(results[2]?.leafHash as Hash));
      expect(hex(leafHash(e?.entry as Uint8Array))).to.equal(hex(e?.leafHash as Hash));
      const fields = decodeEntry(e?.entry as Uint8Array);
      expect(fields.prevIndex).to.equal(0);
      expect(fields.batchId).to.equal(items[2]?.entry.batchId);
      expect((await store.entryByKey(items[1]?.key as string))?.index).to.equal(1);
      expect((await store.entry(0))?.prevIndex).to.equal(-1);
      expect(await store.entry(3)).to.equal(undefined);
      expect(await store.entryByKey("0xnope")).to.equal(undefined);
      expect(await store.lastIndexOfBatch(items[0]?.entry.batchId.toUpperCase().replace("0X", "0x") as string)).to.equal(2);
      expect(await store.lastIndexOfBatch(items[1]?.entry.batchId as string)).to.equal(1);
    });

    it("says where each of many keys' entries is in one call, undefined for a key not logged", async function () {
      const store = await openStore();
      const results = await store.appendBatch([appendItem(0, "A"), appendItem(1, "B"), appendItem(2, "A")]);
      const receipts = await store.receiptsByKeys([appendItem(2, "A").key, "0xnope", appendItem(0, "A").key, appendItem(2, "A").key]);
      expect(receipts.map((r) => r && [r.index, r.prevIndex, hex(r.leafHash)])).to.deep.equal([
        [2, 0, hex(results[2]!.leafHash)],
        undefined,
        [0, -1, hex(results[0]!.leafHash)],
        [2, 0, hex(results[2]!.leafHash)],
      ]);
    });

    it("serves a range of entries in log order, cut at the log's end", async function () {
      const store = await openStore();
      await store.appendBatch(Array.from({ length: 10 }, (_, i) => appendItem(i)));
      expect((await store.entries(3, 7)).map((e) => [e.index, e.key])).to.deep.equal(
        [3, 4, 5, 6].map((i) => [i, appendItem(i).key]),
      );
      expect((await store.entries(8, 20)).map((e) => e.index)).to.deep.equal([8, 9]);
      expect(await store.entries(10, 12)).to.deep.equal([]);
    });

    it("lists a batch's entries in log order, whatever the case of the id asked for", async function () {
      const store = await openStore();
      await store.appendBatch([appendItem(0, "A"), appendItem(1, "B"), appendItem(2, "A")]);
      await store.appendBatch([appendItem(3, "A")]);
      const id = appendItem(0, "A").entry.batchId;
      const entries = await store.entriesOfBatch(id.toUpperCase().replace("0X", "0x"));
      expect(entries.map((e) => [e.index, e.prevIndex])).to.deep.equal([
        [0, -1],
        [2, 0],
        [3, 2],
      ]);
      expect(await store.entriesOfBatch(h("nobody"))).to.deep.equal([]);
    });

    it("lists a range's lifecycle entries (index, kind, key, signer) in log order up to a limit, never an Observed one", async function () {
      const store = await openStore();
      // Every third entry Observed (kind 10), the others of lifecycle kinds.
      const items = Array.from({ length: 30 }, (_, n) => {
        const item = appendItem(n);
        return n % 3 === 0 ? { ...item, entry: { ...item.entry, kind: 10 } } : item;
      });
      await store.appendBatch(items);
      const lifecycle = items.map((item, index) => ({ index, item })).filter(({ index }) => index % 3 !== 0);
      const expected = lifecycle.map(({ index, item }) => ({ index, kind: item.entry.kind, key: item.key, signer: SIGNER }));
      expect(await store.lifecycleEntries(0, 30, 100)).to.deep.equal(expected);
      expect(await store.lifecycleEntries(4, 11, 100)).to.deep.equal(expected.filter((e) => e.index >= 4 && e.index < 11));
      expect(await store.lifecycleEntries(0, 30, 3)).to.deep.equal(expected.slice(0, 3));
      expect(await store.lifecycleEntries(30, 40, 10)).to.deep.equal([]);
    });

    it("writes nothing for a key it already holds and answers with the first entry", async function () {
      const store = await openStore();
      const [first] = await store.appendBatch([appendItem(5)]);
      const again = await store.appendBatch([appendItem(5), appendItem(6), appendItem(6)]);
      expect(again.map((r) => [r.index, r.duplicate])).to.deep.equal([
        [0, true],
        [1, false],
        [1, true],
      ]);
      expect(hex(again[0]?.leafHash as Hash)).to.equal(hex(first?.leafHash as Hash));
      expect(await store.size()).to.equal(2);
    });
  });

  describe("transactions and lifecycle", function () {
    it("commits a transaction that resolves and rolls back one that rejects", async function () {
      const store = await openStore();
      await store.appendBatch([appendItem(0)]);
      const seen = await store.transaction(async (tx) => (await tx.entry(0))?.key);
      expect(seen).to.equal(appendItem(0).key);
      let error: unknown;
      try {
        await store.transaction(async () => {
          throw new Error("boom");
        });
      } catch (e) {
        error = e;
      }
      expect((error as Error).message).to.equal("boom");
      expect(store.stats().rollbacks).to.equal(1);
      expect(store.stats().commits).to.equal(2);
    });

    it("runs write transactions one at a time, in call order", async function () {
      const store = await openStore();
      const order: string[] = [];
      const t = store.transaction(async () => {
        await new Promise((r) => setTimeout(r, 20));
        order.push("tx");
      });
      const a = store.appendBatch([appendItem(0)]).then(() => order.push("append"));
      await Promise.all([t, a]);
      expect(order).to.deep.equal(["tx", "append"]);
    });

    if (driver.name === "sqlite") {
      it("detects a second process appending to the same database instead of forking the tree", async function () {
        const a = await openStore();
        const b = await openStore();
        await a.appendBatch([appendItem(0)]);
        let error: unknown;
        try {
          await b.appendBatch([appendItem(1)]);
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(StoreCorruptError);
        expect(await a.size()).to.equal(1);
      });
    } else {
      it("lets several instances append to one log at once: dense indices, every key once, one tree", async function () {
        const instances = await Promise.all([openStore(), openStore(), openStore()]);
        // Each instance appends its own groups concurrently with the others; some keys are sent by two instances.
        const groups = instances.map((store, i) =>
          (async () => {
            for (let g = 0; g < 8; g++) {
              const n = 100 * i + 10 * g;
              await store.appendBatch([...Array.from({ length: 5 }, (_, k) => appendItem(n + k)), appendItem(1000 + g)]);
            }
          })(),
        );
        await Promise.all(groups);
        const size = await instances[0]!.size();
        expect(size).to.equal(3 * 8 * 5 + 8);
        const entries = await instances[1]!.entries(0, size);
        expect(entries.map((e) => e.index)).to.deep.equal(Array.from({ length: size }, (_, i) => i));
        expect(new Set(entries.map((e) => e.key)).size).to.equal(size);
        // Every batch link names the previous entry of the same batch.
        const last = new Map<string, number>();
        for (const e of entries) {
          expect(e.prevIndex, `entry ${e.index}`).to.equal(last.get(e.batchId) ?? -1);
          last.set(e.batchId, e.index);
        }
        const root = hex(mth(entries.map((e) => e.leafHash)));
        for (const store of instances) expect(hex(await store.latestRoot())).to.equal(root);
        const refs = completeRefs(size);
        expect((await instances[2]!.nodes(refs)).map(hex)).to.deep.equal(
          refs.map((r) => hex(mth(entries.map((e) => e.leafHash), r.index * 2 ** r.level, (r.index + 1) * 2 ** r.level))),
        );
      });
    }

    it("rejects every call after close", async function () {
      const store = await openStore();
      await store.close();
      for (const call of [() => store.size(), () => store.appendBatch([appendItem(0)]), () => store.nodes([])]) {
        let error: unknown;
        try {
          await call();
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(StoreClosedError);
      }
    });
  });

  describe("signers' nonces and observations", function () {
    const MIGRATIONS = driver.migrations;
    const OTHER = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
    /** Item `n` signed by `signer` with `nonce`, of `kind`, about `batch`, received at `receivedAt`. */
    function signed(n: number, nonce: string, options: { signer?: string; kind?: number; batch?: string; receivedAt?: number } = {}) {
      const item = appendItem(n, options.batch ?? "lot", `-${nonce}`);
      const signer = options.signer ?? SIGNER;
      return {
        ...item,
        nonce,
        receivedAt: options.receivedAt ?? item.receivedAt,
        entry: { ...item.entry, signer, kind: options.kind ?? 10 },
        body: JSON.stringify({ doc: {}, values: { nonce }, signer, signature: SIGNATURE }),
      };
    }

    it("names the entry that spent a signer's nonce, per signer", async function () {
      const store = await openStore();
      const [first] = await store.appendBatch([signed(1, "7"), signed(2, "8", { signer: OTHER })]);
      expect(first).to.include({ index: 0 });
      expect(await store.nonceSpentBy(SIGNER.toUpperCase().replace("0X", "0x"), "7")).to.equal(h("event-1-7"));
      expect(await store.nonceSpentBy(SIGNER, "8")).to.equal(undefined);
      expect(await store.nonceSpentBy(OTHER, "8")).to.equal(h("event-2-8"));
    });

    it("refuses a group that would spend a signer's nonce twice, whole", async function () {
      const store = await openStore();
      await store.appendBatch([signed(1, "7")]);
      let failed = false;
      try {
        await store.appendBatch([signed(2, "9"), signed(3, "7")]);
      } catch {
        failed = true;
      }
      expect(failed).to.equal(true);
      expect(await store.size()).to.equal(1);
      expect(await store.nonceSpentBy(SIGNER, "9")).to.equal(undefined);
    });

    it("counts a signer's observations of a lot since a time, with the oldest's time", async function () {
      const store = await openStore();
      await store.appendBatch([
        signed(1, "1", { receivedAt: 1000 }),
        signed(2, "2", { receivedAt: 2000 }),
        signed(3, "3", { receivedAt: 3000 }),
        signed(4, "4", { receivedAt: 3000, kind: 4 }),
        signed(5, "5", { receivedAt: 3000, batch: "other lot" }),
        signed(6, "6", { receivedAt: 3000, signer: OTHER }),
      ]);
      expect(await store.observationsSince(h("lot"), SIGNER, 1000)).to.deep.equal({ count: 2, oldest: 2000 });
      expect(await store.observationsSince(h("lot"), SIGNER, 0)).to.deep.equal({ count: 3, oldest: 1000 });
      expect(await store.observationsSince(h("lot"), SIGNER, 3000)).to.deep.equal({ count: 0 });
    });

    it("migrates a log in which observations reused a nonce: the first use keeps it, the rest spent none", async function () {
      const old = await openStore({ migrations: MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === "log_signers")) });
      await old.appendBatch([signed(1, "5"), signed(2, "5"), signed(3, "6", { kind: 4 })]);
      await old.close();
      const store = await openStore();
      expect(await store.size()).to.equal(3);
      expect(await store.nonceSpentBy(SIGNER, "5")).to.equal(h("event-1-5"));
      expect(await store.nonceSpentBy(SIGNER, "6")).to.equal(h("event-3-6"));
      expect(await store.observationsSince(h("lot"), SIGNER, 0)).to.deep.equal({ count: 2, oldest: 1_700_000_000_001 });
    });
  });
}, LOG_DRIVERS);

describe("SqliteStore, the database's one writer", function () {
  let dir: string;
  const open: SqliteStore[] = [];
  beforeEach(async function () {
    dir = await tempDir();
  });
  afterEach(async function () {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    await cleanup(dir);
  });
  async function openStore(options: Parameters<typeof SqliteStore.open>[1] = {}): Promise<SqliteStore> {
    const s = await SqliteStore.open(dir, options);
    open.push(s);
    return s;
  }

  it("a store opened beside the writer reads the relay cursor afresh; only the sole writer answers it from memory", async function () {
    const writer = await openStore({ soleWriter: true });
    const beside = await openStore();
    await writer.appendBatch([appendItem(0), appendItem(1), appendItem(2)]);
    expect(await beside.relayCursor()).to.equal(0);
    expect(await writer.relayCursor()).to.equal(0);
    await writer.advanceRelayCursor(0, 3, [], 1);
    expect(await writer.relayCursor()).to.equal(3);
    expect(await beside.relayCursor()).to.equal(3);
  });
});
