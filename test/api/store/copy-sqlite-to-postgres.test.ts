/**
 * Moving a SQLite ledger to PostgreSQL (store/copy-sqlite-to-postgres.ts and its command, npm run migrate:postgres):
 * a ledger that ran the demo story (relayed, indexed, anchored, one event still waiting for the relay) is copied into
 * an empty database and proven equal; the service then runs on the copy and carries on where the SQLite one stopped.
 * A target that is not empty is refused, and a copy that fails midway leaves the target empty.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import {
  copySqliteToPostgres,
  TargetNotEmptyError,
} from "../../../ledger-api/src/store/copy-sqlite-to-postgres.ts";
import { PostgresStore } from "../../../ledger-api/src/store/postgres.ts";
import { deployChain, startLedger, type Chain } from "../harness.ts";
import { driver, type StoreLocation } from "./drivers.ts";

const GTIN = "08801234000017";

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("moving a SQLite ledger to PostgreSQL", function () {
  this.timeout(180_000);
  let chain: Chain;
  let dataDir: string;
  const targets: StoreLocation[] = [];
  async function target(): Promise<StoreLocation> {
    const loc = await driver("postgres").create();
    targets.push(loc);
    return loc;
  }

  before(async function () {
    chain = await deployChain();
    dataDir = await mkdtemp(path.join(tmpdir(), "ledger-sqlite-"));
    const ledger = await startLedger({ chain, dataDir });
    try {
      await ledger.playDemoStory();
      await ledger.services.anchorer.anchorNow();
      await ledger.sync();
      // Logged, not yet relayed: the copy carries the relay's queue.
      const res = await ledger.post(
        await ledger.sign("cooperative", {
          kind: "Registered",
          batch: { gtin: GTIN, lot: "MOVED-1" },
          occurredAt: new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
          product: "Jeju Hallabong tangerines",
          origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
          harvestDate: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
          quantity: { value: 10, unit: "kg" },
          imported: false,
        }),
      );
      expect(res.statusCode).to.equal(202);
    } finally {
      await ledger.close();
    }
  });
  after(async function () {
    for (const loc of targets.splice(0)) await loc.remove();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("copies it with a progress bar, proves the copy, and the service carries on from it on PostgreSQL", async function () {
    const loc = await target();
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["scripts/migrate-sqlite-to-postgres.ts", "--data-dir", dataDir, "--database-url", loc.env.DATABASE_URL!],
      { encoding: "utf8" },
    );
    expect(stderr).to.match(/\[#{30}\] 100% /);
    expect(stdout).to.match(/^copied and proven: log size \d+, root 0x[0-9a-f]{64}$/m);
    expect(stdout).to.match(/^ {2}relay_entries +\d+ rows {2}sha256 [0-9a-f]{64}$/m);
    // The observations' summaries are not copied but rebuilt by PostgreSQL's triggers, and proven equal to SQLite's.
    expect(stdout).to.match(/^ {2}observation_readings +[1-9]\d* rows {2}sha256 [0-9a-f]{64}$/m);

    const before = await startLedger({ chain, dataDir });
    const sqliteCheckpoint = (await before.get("/v1/log/checkpoint")).json;
    const sqliteAnswer = (await before.get(`/v1/batches/${encodeURIComponent(`/01/${GTIN}/10/JJ-2611-A`)}/provenance`)).json;
    await before.close();

    const moved = await startLedger({ chain, location: loc });
    try {
      expect((await moved.get("/v1/log/checkpoint")).json).to.deep.equal(sqliteCheckpoint);
      expect((await moved.get(`/v1/batches/${encodeURIComponent(`/01/${GTIN}/10/JJ-2611-A`)}/provenance`)).json).to.deep.equal(sqliteAnswer);
      // The relay picks up the queued registration; new events get the next indices.
      await moved.sync();
      const size = sqliteCheckpoint.size as number;
      expect(((await moved.get(`/v1/events/${size - 1}`)).json.relay as { status: string }).status).to.equal("confirmed");
      const next = await moved.post(
        await moved.sign("cooperative", {
          kind: "PesticideApplied",
          batch: { gtin: GTIN, lot: "MOVED-1" },
          occurredAt: new Date(Date.now() - 1_800_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
          substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
          dose: { value: 0.25, unit: "L/10a" },
          preHarvestIntervalDays: 21,
        }),
      );
      expect(next.statusCode, JSON.stringify(next.json)).to.equal(202);
      expect((next.json.receipts as { index: number; prevIndex: number }[])[0]).to.include({ index: size, prevIndex: size - 1 });
      await moved.services.anchorer.anchorNow();
    } finally {
      await moved.close();
    }
  });

  it("refuses a target that is not empty, and writes nothing to it", async function () {
    const loc = await target();
    const first = await copySqliteToPostgres({ dataDir, databaseUrl: loc.env.DATABASE_URL! });
    const again = await rejection(copySqliteToPostgres({ dataDir, databaseUrl: loc.env.DATABASE_URL! }));
    expect(again).to.be.instanceOf(TargetNotEmptyError);
    const store = await loc.open();
    expect((await store.checkpoint()).size).to.equal(first.size);
    expect(Number((await loc.rows("SELECT count(*) AS n FROM log_entries"))[0]!.n)).to.equal(first.size);
  });

  it("leaves the target empty when the copy fails midway", async function () {
    const loc = await target();
    await (await PostgresStore.open(loc.env.DATABASE_URL!)).close();
    // A failure at the last table copied, after every other table went in.
    await loc.exec(`
      CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
      CREATE TRIGGER refuse BEFORE INSERT ON relay_entries FOR EACH ROW EXECUTE FUNCTION refuse();`);
    const failed = await rejection(copySqliteToPostgres({ dataDir, databaseUrl: loc.env.DATABASE_URL! }));
    expect(String((failed as Error).message)).to.contain("injected failure");
    for (const table of ["log_entries", "log_nodes", "anchors", "anchor_intents"]) {
      expect(Number((await loc.rows(`SELECT count(*) AS n FROM ${table}`))[0]!.n), table).to.equal(0);
    }
    expect(Number((await loc.rows("SELECT size FROM log_head"))[0]!.size)).to.equal(0);
    await loc.exec("DROP TRIGGER refuse ON relay_entries");
    expect((await copySqliteToPostgres({ dataDir, databaseUrl: loc.env.DATABASE_URL! })).size).to.be.above(0);
  });
});
