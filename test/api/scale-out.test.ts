/**
 * Scale-out, with failures: three API instances (separate processes running `ledger-api/src/main.ts`) on one
 * PostgreSQL database and one anvil chain; concurrent submitters send signed events to whichever instances are up;
 * the instance holding the leader lease is killed with SIGKILL at random moments, several times, and a replacement
 * started each time. Afterwards: every acknowledged event is in the log exactly once at the index its receipt named,
 * no index was assigned twice, the tree's root is the root recomputed from the entries themselves, every anchor and
 * every relayed lifecycle event is on chain exactly once, and the last leader resumed the dead ones' work (relay and
 * anchor lag back to zero). The random moments come from a seed printed with any failure, so a failure replays.
 */
import { expect } from "chai";
import { Contract, Interface } from "ethers";
import { abiOf } from "../../ledger-api/src/chain/contracts.ts";
import { RELAY_CALLS } from "../../ledger-api/src/chain/relay.ts";
import { Kind, ledgerDomain } from "../../ledger-api/src/protocol/typed-data.ts";
import { signEvent } from "../../ledger-api/src/client/client.ts";
import { demoWallets } from "../../ledger-api/src/demo/load.ts";
import type { EventDoc, SignedEvent } from "../../ledger-api/src/protocol/documents.ts";
import { bytesToHex, leafHash } from "../../ledger-api/src/log/hash.ts";
import { PostgresStore } from "../../ledger-api/src/store/postgres.ts";
import { Rng } from "./ingest/fixtures.ts";
import { leaderOf, startInstance, startSharedChain, type Instance, type SharedChain } from "./instances.ts";
import { mth } from "./log/fixtures.ts";
import { testCluster } from "./store/drivers.ts";

const KILLS = 3;
const SUBMITTERS = 3;
/**
 * Batches each submitter tells the story of (six events each, five of them relayed), an event every 50-250 ms: enough
 * to keep submitting through the kills, few enough for the relay to catch up soon after (it sends a batch's events
 * one at a time, each once the previous is mined).
 */
const BATCHES = 8;
const GTIN = "08801234000017";

const hoursAgo = (h: number): string => new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A batch's life, each event signed by the actor the contract expects. */
function story(lot: string, wholesaler: string, cooperative: string): { actor: "cooperative" | "lab" | "wholesaler"; doc: EventDoc }[] {
  const batch = { gtin: GTIN, lot };
  return [
    {
      actor: "cooperative",
      doc: {
        kind: "Registered", batch, occurredAt: hoursAgo(10), product: "Jeju Hallabong tangerines",
        origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
        harvestDate: hoursAgo(30).slice(0, 10), quantity: { value: 100, unit: "kg" }, imported: false,
      },
    },
    {
      actor: "cooperative",
      doc: {
        kind: "PesticideApplied", batch, occurredAt: hoursAgo(9),
        substance: { name: "Imidacloprid", casNumber: "138261-41-3" }, dose: { value: 0.25, unit: "L/10a" },
        preHarvestIntervalDays: 21,
      },
    },
    {
      actor: "lab",
      doc: {
        kind: "Inspected", batch, occurredAt: hoursAgo(8), lab: { name: "Seogwipo Lab" }, method: "LC-MS/MS",
        analytes: [{ name: "Chlorpyrifos", value: 0, limit: 0.01, unit: "mg/kg" }], passed: true,
      },
    },
    { actor: "cooperative", doc: { kind: "HandOffOffered", batch, occurredAt: hoursAgo(7), to: wholesaler } },
    { actor: "wholesaler", doc: { kind: "HandOffAccepted", batch, occurredAt: hoursAgo(6), from: cooperative } },
    {
      actor: "wholesaler",
      doc: { kind: "Observed", batch, occurredAt: hoursAgo(5), readings: [{ type: "Temperature", value: 7.5, unit: "Cel" }] },
    },
  ];
}

/** The API refused an event: the test fails (nothing here should be refused). */
class Refused extends Error {}

describe("three API instances on one PostgreSQL store, the leader killed at random moments", function () {
  this.timeout(600_000);
  const seed = Number(process.env.SCALE_OUT_SEED ?? Date.now() % 2 ** 31);
  const rng = new Rng(seed);
  let chain: SharedChain | undefined;
  let databaseUrl: string;
  let store: PostgresStore | undefined;
  const alive: Instance[] = [];
  const everyInstance: Instance[] = [];
  const starting: Promise<Instance>[] = [];
  let next = 0;

  const env = {
    ANCHOR_EVERY: "16",
    ANCHOR_INTERVAL_MS: "1000",
    LEADER_LEASE_MS: "1500",
    FEE_BUMP_AFTER_MS: "0",
  };
  function start(): Promise<Instance> {
    const started = startInstance({ chain: chain!, databaseUrl, name: `api-${next++}`, env }).then((instance) => {
      everyInstance.push(instance);
      alive.push(instance);
      return instance;
    });
    starting.push(started);
    started.catch(() => undefined); // awaited by whoever needs it; never an unhandled rejection
    return started;
  }

  before(async function () {
    chain = await startSharedChain();
    databaseUrl = await (await testCluster()).createDatabase();
    await Promise.all([start(), start(), start()]);
    store = await PostgresStore.open(databaseUrl, { poolSize: 2 });
  });
  after(async function () {
    await Promise.allSettled(starting);
    await Promise.all(alive.splice(0).map((i) => i.kill()));
    await store?.close();
    await chain?.stop();
    if (databaseUrl !== undefined) await (await testCluster()).dropDatabase(databaseUrl);
  });

  it("keeps every acknowledged event once, the tree whole, each anchor and relayed event on chain once, and resumes", async function () {
    const context = (): string =>
      `seed ${seed} (SCALE_OUT_SEED=${seed} replays it)\n` +
      everyInstance.map((i) => `--- ${i.name}\n${i.output().slice(-3000)}`).join("\n");
    try {
      await run();
    } catch (e) {
      (e as Error).message += `\n${context()}`;
      throw e;
    }
  });

  async function run(): Promise<void> {
    const { deployments, provider } = chain!;
    const domain = ledgerDomain(BigInt(deployments.chainId), deployments.ledger);
    const wallets = demoWallets();
    /** eventHash -> the log index its receipt named. */
    const acknowledged = new Map<string, number>();

    async function submit(signed: SignedEvent): Promise<void> {
      for (let attempt = 0; attempt < 400; attempt++) {
        if (alive.length === 0) {
          await sleep(100);
          continue;
        }
        const target = rng.pick(alive);
        try {
          const res = await fetch(`${target.url}/v1/events`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(signed),
            signal: AbortSignal.timeout(20_000),
          });
          const body = (await res.json()) as { receipts?: { eventHash: string; index: number }[] };
          if (res.status === 202) {
            for (const r of body.receipts!) {
              const earlier = acknowledged.get(r.eventHash);
              if (earlier !== undefined && earlier !== r.index) throw new Refused(`${r.eventHash} acknowledged at ${earlier} and ${r.index}`);
              acknowledged.set(r.eventHash, r.index);
            }
            return;
          }
          // 5xx: the instance died mid-request, or the log was busy; resubmitting is safe (keys deduplicate).
          if (res.status < 500) throw new Refused(`${res.status} from ${target.name}: ${JSON.stringify(body)}`);
        } catch (e) {
          if (e instanceof Refused) throw e;
          // Connection refused or reset: the instance was killed. Try another.
        }
        await sleep(50);
      }
      throw new Error("an event could not be submitted in 400 attempts");
    }

    async function submitter(k: number): Promise<void> {
      for (let j = 0; j < BATCHES; j++) {
        for (const step of story(`SO-${k}-${j}`, wallets.wholesaler.address, wallets.cooperative.address)) {
          await submit(await signEvent(wallets[step.actor], domain, step.doc));
          await sleep(rng.int(50, 250));
        }
      }
    }

    async function killer(): Promise<number[]> {
      const epochs: number[] = [];
      let replacement: Promise<Instance> | undefined;
      for (let kill = 0; kill < KILLS; kill++) {
        await sleep(rng.int(500, 2500));
        // Three instances at every kill: the previous kill's replacement is up first.
        await replacement;
        const leader = await leaderOf(alive);
        alive.splice(alive.indexOf(leader), 1);
        await leader.kill();
        // Another instance takes over (the dead one's lease session is gone), while a replacement starts.
        const successor = await leaderOf(alive);
        epochs.push(Number((await (await fetch(`${successor.url}/healthz`)).json()).leader.epoch));
        replacement = start();
      }
      await replacement;
      return epochs;
    }

    const [epochs] = await Promise.all([killer(), ...Array.from({ length: SUBMITTERS }, (_, k) => submitter(k))]);
    // Each kill handed the lease on (more often too, if a loaded machine let a lease lapse: fencing covers that).
    epochs.forEach((e, i) => i > 0 && expect(e, `epoch after kill ${i + 1}`).to.be.above(epochs[i - 1]!));

    // The last leader resumes: every lifecycle entry relayed and confirmed, the whole log anchored.
    const s = store!;
    const deadline = Date.now() + 240_000;
    for (;;) {
      const size = await s.size();
      const [cursor, pending, sent, anchored] = await Promise.all([
        s.relayCursor(),
        s.relayRows("pending"),
        s.relayRows("sent"),
        s.lastConfirmedAnchorIntent(),
      ]);
      if (cursor === size && pending.length === 0 && sent.length === 0 && anchored?.size === size) break;
      if (Date.now() > deadline) {
        throw new Error(`not resumed: size ${size}, relay cursor ${cursor}, ${pending.length} pending, ${sent.length} sent, anchored ${anchored?.size}`);
      }
      await sleep(200);
    }

    // The log: dense indices, each key once, every acknowledged event at the index its receipt named.
    const size = await s.size();
    const entries = await s.entries(0, size);
    expect(entries.map((e) => e.index)).to.deep.equal(Array.from({ length: size }, (_, i) => i));
    expect(new Set(entries.map((e) => e.key)).size, "no event logged twice").to.equal(size);
    expect(acknowledged.size).to.equal(SUBMITTERS * BATCHES * 6);
    for (const [eventHash, index] of acknowledged) {
      expect(entries[index]?.key, `acknowledged ${eventHash}`).to.equal(eventHash);
    }
    expect(size, "nothing logged that was not acknowledged").to.equal(acknowledged.size);

    // The tree: leaves recomputed from the entries' preimages, the root from them, against the stored head.
    const leaves = entries.map((e) => leafHash(e.entry));
    entries.forEach((e, i) => expect(bytesToHex(e.leafHash)).to.equal(bytesToHex(leaves[i]!)));
    const checkpoint = await s.checkpoint();
    expect(bytesToHex(checkpoint.root)).to.equal(bytesToHex(mth(leaves)));

    // Anchors: each confirmed intent's size on chain exactly once, nothing else on chain, each root the log's.
    const anchor = new Contract(deployments.anchor, abiOf("LogAnchor"), provider);
    const count = Number(await anchor.getFunction("anchorCount")());
    const onChain: { size: number; root: string }[] = [];
    for (let i = 0; i < count; i++) {
      const a = await anchor.getFunction("anchorAt")(i);
      onChain.push({ size: Number(a.size), root: String(a.root).toLowerCase() });
    }
    const confirmed = (await s.anchorIntents()).filter((i) => i.status === "confirmed");
    expect(onChain.map((a) => a.size)).to.deep.equal(confirmed.map((i) => i.size).sort((x, y) => x - y));
    for (const a of onChain) expect(a.root).to.equal(bytesToHex(mth(leaves.slice(0, a.size))).toLowerCase());

    // Relayed events: every lifecycle entry's event on chain exactly once, and no other lifecycle event.
    const ledger = new Interface(abiOf("ProvenanceLedger"));
    const lifecycleEvents = new Set(Object.values(RELAY_CALLS).map((c) => c.event));
    const logs = await provider.getLogs({ address: deployments.ledger, fromBlock: deployments.deployBlock, toBlock: "latest" });
    const times = new Map<string, number>();
    for (const log of logs) {
      const parsed = ledger.parseLog(log);
      if (parsed === null || !lifecycleEvents.has(parsed.name)) continue;
      const hash = String(parsed.args.getValue("eventHash")).toLowerCase();
      times.set(hash, (times.get(hash) ?? 0) + 1);
    }
    const lifecycle = entries.filter((e) => e.kind !== Kind.Observed);
    for (const e of lifecycle) expect(times.get(e.key.toLowerCase()), `event ${e.index} on chain`).to.equal(1);
    expect(times.size).to.equal(lifecycle.length);
    const statuses = new Set((await Promise.all(lifecycle.map((e) => s.relayRecord(e.index)))).map((r) => r?.status));
    expect([...statuses]).to.deep.equal(["confirmed"]);
  }
});
