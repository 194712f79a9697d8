/**
 * The SQLite driver's log writer thread (store/sqlite-log-thread.ts): what the store promises about its appends holds
 * when the thread dies under it, and an open store does not keep its process alive. (Every other append behaviour is
 * tested in both modes by sqlite.test.ts and appender.test.ts.)
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { hex, mth, appendItem, cleanup, tempDir } from "../log/fixtures.ts";
import { configure, loadFrontier, LogReads } from "../../../ledger-api/src/store/sqlite-log.ts";
import { ThreadLogWriter } from "../../../ledger-api/src/store/sqlite-log-thread.ts";
import { DB_FILE, SqliteStore } from "../../../ledger-api/src/store/sqlite.ts";
import { POISON_KEY } from "./fixtures/crashing-log-worker.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("the SQLite log writer thread", function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(async function () {
    dir = await tempDir();
    // A migrated, empty database, as SqliteStore.open leaves it.
    await (await SqliteStore.open(dir)).close();
  });
  afterEach(async function () {
    await cleanup(dir);
  });

  function loaded(): { size: number; root: Uint8Array } {
    const db = new DatabaseSync(join(dir, DB_FILE));
    try {
      configure(db);
      const frontier = loadFrontier(new LogReads(db));
      return { size: frontier.size, root: frontier.root() };
    } finally {
      db.close();
    }
  }

  it("rejects the group on a thread that dies, stores none of it, and appends the next group on a fresh thread", async function () {
    const { size, root } = loaded();
    const writer = await ThreadLogWriter.start(join(dir, DB_FILE), 5000, size, root, new URL("crashing-log-worker.ts", FIXTURES));
    try {
      await writer.append([appendItem(0), appendItem(1)]);
      const poisoned = { ...appendItem(2), key: POISON_KEY };
      const err = await rejection(writer.append([appendItem(3), poisoned]));
      expect(err.message).to.match(/^the log writer thread died with a group on it: exited with code 7$/);
      const results = await writer.append([appendItem(4)]);
      expect(results.map((r) => [r.index, r.duplicate])).to.deep.equal([[2, false]]);
      expect(writer.size).to.equal(3);
      const after = loaded();
      expect(after.size).to.equal(3);
      expect(hex(writer.root)).to.equal(hex(after.root));
    } finally {
      await writer.close();
    }
  });

  it("answers each group with its indices in order and keeps the reference root across groups", async function () {
    const { size, root } = loaded();
    const writer = await ThreadLogWriter.start(join(dir, DB_FILE), 5000, size, root);
    const leaves: Uint8Array[] = [];
    try {
      for (const group of [[0, 1, 2], [3], [4, 5, 6, 7, 8]]) {
        const results = await writer.append(group.map((n) => appendItem(n)));
        expect(results.map((r) => r.index)).to.deep.equal(group);
        leaves.push(...results.map((r) => r.leafHash));
      }
      expect(hex(writer.root)).to.equal(hex(mth(leaves)));
    } finally {
      await writer.close();
    }
  });

  it("lets its process exit on its own while its store is open", function () {
    const script = fileURLToPath(new URL("store-lifecycle.ts", FIXTURES));
    const run = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 30_000 });
    expect(run.error, "the process did not exit within 30 s").to.equal(undefined);
    expect(run.stderr).to.equal("");
    expect(run.stdout.trim()).to.equal("ok");
    expect(run.status).to.equal(0);
  });
});
