import { expect } from "chai";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MerkleTree } from "merkletreejs";
import { keccak256 } from "ethers";
import { decodeEntry } from "../../../ledger-api/src/log/entry.ts";
import { Frontier } from "../../../ledger-api/src/log/frontier.ts";
import { EMPTY_ROOT, leafHash } from "../../../ledger-api/src/log/hash.ts";
import type { Hash, NodeRef } from "../../../ledger-api/src/log/hash.ts";
import { MIGRATIONS } from "../../../ledger-api/src/store/migrations.ts";
import type { Migration } from "../../../ledger-api/src/store/migrations.ts";
import { DB_FILE, SqliteStore } from "../../../ledger-api/src/store/sqlite.ts";
import { SchemaTooNewError, StoreClosedError, StoreCorruptError } from "../../../ledger-api/src/store/store.ts";
import { appendItem, cleanup, h, hex, mth, SIGNATURE, SIGNER, tempDir } from "../log/fixtures.ts";

/** Every complete subtree of a tree of `size` leaves. */
function completeRefs(size: number): NodeRef[] {
  const refs: NodeRef[] = [];
  for (let level = 0; 2 ** level <= size; level++) {
    for (let index = 0; (index + 1) * 2 ** level <= size; index++) refs.push({ level, index });
  }
  return refs;
}

async function leavesOf(store: SqliteStore): Promise<Hash[]> {
  const size = await store.size();
  return store.nodes(Array.from({ length: size }, (_, index) => ({ level: 0, index })));
}

type OpenOptions = Parameters<typeof SqliteStore.open>[1];

/**
 * A fresh data directory per test, and `openStore` opening stores in it with `defaults`, all closed and the directory
 * removed after each test. The directory is `ctx.dir`.
 */
function storesPerTest(defaults: OpenOptions = {}): { readonly ctx: { dir: string }; openStore(options?: OpenOptions): Promise<SqliteStore> } {
  const ctx = { dir: "" };
  const open: SqliteStore[] = [];
  beforeEach(async function () {
    ctx.dir = await tempDir();
  });
  afterEach(async function () {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    await cleanup(ctx.dir);
  });
  return {
    ctx,
    async openStore(options?: OpenOptions): Promise<SqliteStore> {
      const s = await SqliteStore.open(ctx.dir, { ...defaults, ...options });
      open.push(s);
      return s;
    },
  };
}

describe("SqliteStore", function () {
  const { ctx, openStore } = storesPerTest();

  describe("migrations", function () {
    function versions(): number[] {
      const db = new DatabaseSync(join(ctx.dir, DB_FILE), { readOnly: true });
      try {
        return db.prepare("SELECT version FROM schema_migrations ORDER BY version").all().map((r) => Number(r.version));
      } finally {
        db.close();
      }
    }

    it("creates every table of a fresh database in WAL mode and records each migration", async function () {
      const store = await openStore();
      expect(versions()).to.deep.equal(MIGRATIONS.map((m) => m.version));
      expect(await store.size()).to.equal(0);
      expect(hex(await store.latestRoot())).to.equal(hex(EMPTY_ROOT));
      const db = new DatabaseSync(join(ctx.dir, DB_FILE), { readOnly: true });
      expect(db.prepare("PRAGMA journal_mode").get()?.journal_mode).to.equal("wal");
      db.close();
    });

    it("re-opens an up-to-date database without re-applying anything and keeps its data", async function () {
      const a = await openStore();
      await a.appendBatch([appendItem(1)]);
      await a.close();
      const b = await openStore();
      expect(versions()).to.deep.equal(MIGRATIONS.map((m) => m.version));
      expect(await b.size()).to.equal(1);
    });

    it("brings an older database up to date by applying only the missing migrations", async function () {
      const extra: Migration = { version: MIGRATIONS.length + 1, name: "extra", sql: "CREATE TABLE extra (x INTEGER)" };
      const a = await openStore({ migrations: MIGRATIONS.slice(0, 1) });
      await a.appendBatch([appendItem(1)]);
      await a.close();
      const b = await openStore({ migrations: [...MIGRATIONS, extra] });
      expect(versions()).to.deep.equal([...MIGRATIONS, extra].map((m) => m.version));
      expect(await b.size()).to.equal(1);
    });

    it("refuses to open a database whose schema is newer than the code", async function () {
      const a = await openStore();
      await a.close();
      const db = new DatabaseSync(join(ctx.dir, DB_FILE));
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(99, "future", 0);
      db.close();
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
      const db = new DatabaseSync(join(ctx.dir, DB_FILE), { readOnly: true });
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name IN ('half', 'log_entries')").all()).to.deep.equal([]);
      db.close();
    });
  });
});

for (const logWriter of ["inline", "thread"] as const) {
  describe(`SqliteStore, log appended ${logWriter === "thread" ? "on its writer thread" : "on the calling thread"}`, function () {
    const { openStore } = storesPerTest({ logWriter });

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

        const otherDir = await tempDir();
        try {
          const b = await SqliteStore.open(otherDir, { logWriter });
          await b.appendBatch(items);
          const refs = completeRefs(300);
          expect((await a.nodes(refs)).map(hex)).to.deep.equal((await b.nodes(refs)).map(hex));
          expect(hex(await a.latestRoot())).to.equal(hex(await b.latestRoot()));
          await b.close();
        } finally {
          await cleanup(otherDir);
        }
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
  });
}
