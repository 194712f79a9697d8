/**
 * The answers' store reads (store/answer-store.ts) on both drivers: a lot's observation summary is always a recount of
 * its Observed entries (kept in the append's own transaction, and built for a log that predates it), its lifecycle
 * entries and observation pages are read past each other, and a lot's version moves with every write an answer about
 * it reads (index rows, lineage, recorded events, relay rows), as actors' and anchors' do with theirs, an index reset
 * included. The observations are real signed documents (test/api/query/observation-log.ts) appended through the store.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import type { TypedDataDomain } from "ethers";
import { batchIdOf, Kind } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { ChainBatch, IndexedBatch, ObservationSummaryRow, Store } from "../../../ledger-api/src/store/store.ts";
import { appendItem, h } from "../log/fixtures.ts";
import { signedObservations, type ObservationRun } from "../query/observation-log.ts";
import { forEachDriver, locations, type StoreLocation } from "./drivers.ts";

const signer = Wallet.createRandom();
const domain: TypedDataDomain = {
  name: "ProvenanceLedger",
  version: "1",
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};

const lotA = { gtin: "08801234567893", lot: "OBS-A" };
const lotB = { gtin: "08801234567893", lot: "OBS-B" };
const idA = batchIdOf(lotA.gtin, lotA.lot).toLowerCase();
const idB = batchIdOf(lotB.gtin, lotB.lot).toLowerCase();

/** 40 readings of lot A over about 3 hours: a temperature and a humidity on each (equal counts: order by name). */
const runA: ObservationRun = {
  lot: lotA,
  count: 40,
  start: new Date("2026-11-20T08:30:00Z"),
  stepSeconds: 277,
  readings: (i) => [
    { type: "Temperature", value: 2 + ((i * 7) % 11) / 2, unit: "Cel" },
    { type: "humidity", value: 60 + (i % 5), unit: "%" },
  ],
  nonceBase: 1_000n,
};

/** 5 sales of lot B, one of them with a second reading. */
const runB: ObservationRun = {
  lot: lotB,
  count: 5,
  start: new Date("2026-11-21T09:00:00Z"),
  stepSeconds: 60,
  readings: (i) => (i === 2 ? [{ type: "Sale", value: 3, unit: "EA" }, { type: "Sale", value: 1.5, unit: "KGM" }] : [{ type: "Sale", value: i + 1, unit: "EA" }]),
  nonceBase: 2_000n,
};

interface Recount {
  readonly indices: number[];
  readonly byType: Map<string, { count: number; min: number; max: number; firstAt: number; lastAt: number; lastValue: number; lastIndex: number }>;
  readonly hours: Map<string, Map<number, { count: number; min: number; max: number; sum: number }>>;
}

/** The lot's Observed entries as the store holds them, recounted here: what every summary must equal. */
async function recount(store: Store, batchId: string): Promise<Recount> {
  const entries = (await store.entriesOfBatch(batchId)).filter((e) => e.kind === Kind.Observed);
  const byType: Recount["byType"] = new Map();
  const hours: Recount["hours"] = new Map();
  for (const e of entries) {
    const doc = (JSON.parse(e.body) as { doc: { occurredAt: string; readings?: { type: string; value: number; unit: string }[] } }).doc;
    const at = Date.parse(doc.occurredAt) / 1000;
    for (const r of doc.readings ?? []) {
      const key = `${r.type}/${r.unit}`;
      const t = byType.get(key);
      if (t === undefined) byType.set(key, { count: 1, min: r.value, max: r.value, firstAt: at, lastAt: at, lastValue: r.value, lastIndex: e.index });
      else byType.set(key, { count: t.count + 1, min: Math.min(t.min, r.value), max: Math.max(t.max, r.value), firstAt: Math.min(t.firstAt, at), lastAt: Math.max(t.lastAt, at), lastValue: r.value, lastIndex: e.index });
      const perHour = hours.get(key) ?? new Map();
      const hour = Math.trunc(at / 3600);
      const hr = perHour.get(hour);
      perHour.set(hour, hr === undefined ? { count: 1, min: r.value, max: r.value, sum: r.value } : { count: hr.count + 1, min: Math.min(hr.min, r.value), max: Math.max(hr.max, r.value), sum: hr.sum + r.value });
      hours.set(key, perHour);
    }
  }
  return { indices: entries.map((e) => e.index), byType, hours };
}

function expectSummaryOf(summary: ObservationSummaryRow, counted: Recount): void {
  expect(summary.entries).to.equal(counted.indices.length);
  expect(summary.firstIndex).to.equal(counted.indices[0]);
  expect(summary.lastIndex).to.equal(counted.indices[counted.indices.length - 1]);
  expect(summary.types).to.equal(counted.byType.size);
  for (const r of summary.readings) {
    const t = counted.byType.get(`${r.type}/${r.unit}`)!;
    expect(r, `${r.type}/${r.unit}`).to.deep.include({
      count: t.count, min: t.min, max: t.max, firstAt: t.firstAt, lastAt: t.lastAt, lastValue: t.lastValue, lastValueAt: t.lastAt, lastIndex: t.lastIndex,
    });
  }
}

const batchRow = (batchId: string, over: Partial<IndexedBatch> = {}): IndexedBatch => ({
  batchId,
  gtin: undefined,
  lot: undefined,
  registrant: "0x" + "11".repeat(20),
  custodian: "0x" + "11".repeat(20),
  quantity: 10n,
  unit: "KGM",
  status: "active",
  recalled: false,
  imported: false,
  customsCleared: false,
  offerTo: undefined,
  head: "0x" + "00".repeat(32),
  ancestry: 0,
  createdBlock: 1,
  createdTx: "0x" + "aa".repeat(32),
  updatedBlock: 1,
  ...over,
});

forEachDriver("Store answers' reads and versions", (driver) => {
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

  /** Lifecycle entries of lot A around its observations, then lot B's. */
  async function logBoth(target: Store): Promise<void> {
    const lifecycle = (n: number) => ({ ...appendItem(n, "A"), entry: { ...appendItem(n, "A").entry, batchId: idA, kind: n % 4 } });
    await target.appendBatch([lifecycle(1), ...signedObservations(signer, domain, runA, 0, 25)]);
    await target.appendBatch([lifecycle(2), ...signedObservations(signer, domain, runA, 25, 40), lifecycle(3)]);
    await target.appendBatch(signedObservations(signer, domain, runB));
  }

  it("keeps each lot's observation summary a recount of its Observed entries, updated by the append that logs them", async function () {
    expect(await store.observationSummary(idA, 8)).to.deep.equal({ entries: 0, firstIndex: undefined, lastIndex: undefined, readings: [], types: 0 });
    await logBoth(store);
    const a = await store.observationSummary(idA, 8);
    expectSummaryOf(a, await recount(store, idA));
    // Most readings first; equal counts by name, byte-wise as SQLite orders text (capitals first).
    expect(a.readings.map((r) => r.type)).to.deep.equal(["Temperature", "humidity"]);
    const b = await store.observationSummary(idB, 1);
    expect(b.types).to.equal(2);
    expect(b.readings.map((r) => `${r.type}/${r.unit}`)).to.deep.equal(["Sale/EA"]);
    expectSummaryOf(b, await recount(store, idB));
  });

  it("reads a reading type's newest hours, oldest first, as the recount buckets them", async function () {
    await logBoth(store);
    const counted = (await recount(store, idA)).hours.get("Temperature/Cel")!;
    const newest = [...counted.keys()].sort((x, y) => x - y).slice(-2);
    const hours = await store.readingHours(idA, "Temperature", "Cel", 2);
    expect(hours.map((x) => x.hour)).to.deep.equal(newest);
    for (const x of hours) expect(x).to.deep.include(counted.get(x.hour)!);
    expect(await store.readingHours(idA, "Temperature", "KGM", 5)).to.deep.equal([]);
  });

  it("reads a lot's lifecycle entries past its observations, and its observations newest first from a cursor", async function () {
    await logBoth(store);
    const all = await store.entriesOfBatch(idA);
    const lifecycle = all.filter((e) => e.kind !== Kind.Observed);
    const observed = all.filter((e) => e.kind === Kind.Observed).reverse();
    expect((await store.lifecycleEntriesOfBatch(idA, 10)).map((e) => e.index)).to.deep.equal(lifecycle.map((e) => e.index));
    expect((await store.lifecycleEntriesOfBatch(idA, 2)).map((e) => e.index)).to.deep.equal(lifecycle.slice(0, 2).map((e) => e.index));
    const cursor = observed[9]!.index;
    const page = await store.observationsOfBatch(idA, cursor, 5);
    expect(page.map((e) => e.index)).to.deep.equal(observed.slice(9, 14).map((e) => e.index));
    expect(page[0]).to.deep.equal(observed[9]);
    expect(await store.lifecycleEntriesOfBatch(idB, 10)).to.deep.equal([]);
  });

  it("builds the summaries of a log that predates them as the append would have (migration answers)", async function () {
    const before = driver.migrations.findIndex((m) => m.name === "answers");
    const old = await made.create();
    const oldStore = await old.open({ migrations: driver.migrations.slice(0, before) });
    await logBoth(oldStore);
    await oldStore.close();
    const migrated = await old.open();
    await logBoth(store);
    for (const id of [idA, idB]) {
      expect(await migrated.observationSummary(id, 8)).to.deep.equal(await store.observationSummary(id, 8));
      expect(await migrated.readingHours(id, id === idA ? "Temperature" : "Sale", id === idA ? "Cel" : "EA", 100)).to.deep.equal(
        await store.readingHours(id, id === idA ? "Temperature" : "Sale", id === idA ? "Cel" : "EA", 100),
      );
    }
  });

  it("moves a lot's version with every write an answer about it reads, and actors', anchors' and recalls' with theirs", async function () {
    await logBoth(store);
    const [x, y, z] = [h("lot-x"), h("lot-y"), h("lot-z")].map((k) => k.toLowerCase()) as [string, string, string];
    const keys = [x, y, z, idA, "recalls"];
    const versions = () => store.answerVersions(keys);
    const cursor = (n: number) => ({ contracts: "test", blockNumber: n, blockHash: "0x" + n.toString(16).padStart(64, "0") });
    const empty = { roleChanges: [], profiles: [], batches: [], lineage: [], events: [], nonces: [], anchors: [] };
    const start = await versions();
    expect(start.lastIndices).to.deep.equal([-1, -1, -1, (await store.lastIndexOfBatch(idA))!, -1]);

    const batch1: ChainBatch = { ...empty, previous: undefined, cursor: cursor(1), batches: [batchRow(x), batchRow(y)] };
    await store.applyChainBatch(batch1);
    const v1 = await versions();
    expect(v1.versions[0]).to.be.above(start.versions[0]!);
    expect(v1.versions[1]).to.be.above(start.versions[1]!);
    expect(v1.versions[2]).to.equal(start.versions[2]);
    expect(v1.versions[4], "no recall yet").to.equal(start.versions[4]);

    // A split: lineage names parent and child; the child's recall raises "recalls".
    const edge = { child: z, parent: x, eventHash: h("split"), quantity: 4n, blockNumber: 2 };
    await store.applyChainBatch({ ...empty, previous: cursor(1), cursor: cursor(2), batches: [batchRow(z, { recalled: true })], lineage: [edge] });
    const v2 = await versions();
    expect(v2.versions[0]).to.be.above(v1.versions[0]!);
    expect(v2.versions[1]).to.equal(v1.versions[1]);
    expect(v2.versions[2]).to.be.above(v1.versions[2]!);
    expect(v2.versions[4]).to.be.above(v1.versions[4]!);

    // Profiles and roles raise "actors"; an anchor raises "anchors"; neither moves a lot.
    await store.applyChainBatch({
      ...empty,
      previous: cursor(2),
      cursor: cursor(3),
      profiles: [{ account: "0x" + "22".repeat(20), name: "Stall 7", gln: 0n, country: "0x4b52", retail: true, blockNumber: 3 }],
      anchors: [{ anchorIndex: 0, size: 3, root: "0x" + "cd".repeat(32), previousSize: 0, anchorer: "0x" + "33".repeat(20), txHash: "0x" + "ee".repeat(32), blockNumber: 3, blockHash: "0x" + "03".padStart(64, "0"), blockTime: 1_800_000_000 }],
    });
    const v3 = await versions();
    expect(v3.actors).to.be.above(v2.actors);
    expect(v3.anchors).to.be.above(v2.anchors);
    expect(v3.versions).to.deep.equal(v2.versions);
    expect((await store.firstAnchorCovering(2))?.size).to.equal(3);
    expect(await store.firstAnchorCovering(3)).to.equal(undefined);

    // The relay's rows: the lot of the entry they stand for.
    const lifecycleA = (await store.lifecycleEntriesOfBatch(idA, 1))[0]!;
    const size = await store.size();
    const relayRows = (await store.entries(0, size)).filter((e) => e.kind !== Kind.Observed).map((e) => ({ index: e.index, kind: e.kind, actor: "0xab" }));
    await store.advanceRelayCursor(0, size, relayRows, 5);
    const v4 = await versions();
    expect(v4.versions[3]).to.be.above(v3.versions[3]!);
    await store.markRelaySent(lifecycleA.index, { nonce: 1, txHash: "0x" + "01".repeat(32), rawTx: "0x02" }, 6);
    const v5 = await versions();
    expect(v5.versions[3]).to.be.above(v4.versions[3]!);
    expect(v5.versions.slice(0, 3)).to.deep.equal(v4.versions.slice(0, 3));

    // An index reset takes every row away: every lot that had some, actors, anchors and recalls move.
    await store.resetIndex();
    const v6 = await versions();
    for (const i of [0, 1, 2, 4]) expect(v6.versions[i], keys[i]).to.be.above(v5.versions[i]!);
    expect(v6.actors).to.be.above(v5.actors);
    expect(v6.anchors).to.be.above(v5.anchors);
  });
});
