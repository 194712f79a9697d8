/**
 * The embedded chain's crash, end to end, with real processes: `npm start`'s server (local mode, its own anvil) under
 * concurrent signed load while its anvil is SIGKILLed, then the same ledger after its chain is rolled back to an older
 * snapshot (what restoring a backup, or anvil's own five-second dumps of earlier versions, leave behind).
 *
 * After each, the server is stopped and an independent audit (audit.ts) loads the chain from the data directory alone
 * and checks every acknowledged entry, every anchor and the whole index against it. The steps share one ledger: each
 * rolls back what the ones before built, the last one while the server runs.
 */
import { expect } from "chai";
import { copyFile } from "node:fs/promises";
import path from "node:path";
import { HDNodeWallet } from "ethers";
import { DEV_MNEMONIC, SNAPSHOT_FILE } from "../../../ledger-api/src/chain/local-chain.ts";
import { LedgerClient, signEvent } from "../../../ledger-api/src/client/client.ts";
import { demoActors } from "../../../ledger-api/src/demo/story.ts";
import type { EventDoc, SignedEvent } from "../../../ledger-api/src/protocol/documents.ts";
import { auditLedger } from "./audit.ts";
import { anvilsOf, deployedDataDir, eventually, getJson, removeDir, startApi, type ApiProcess } from "./processes.ts";

const GTIN = "08801234000017";
const wallet = (name: keyof typeof demoActors) =>
  HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${demoActors[name].keyIndex}`);
const cooperative = wallet("cooperative");
const wholesaler = wallet("wholesaler");

const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().replace(/\.\d{3}Z$/, "Z");

/** A lot's story: six events, four of them lifecycle events the relay puts on chain. */
function story(lot: string): { signer: HDNodeWallet; doc: EventDoc }[] {
  const batch = { gtin: GTIN, lot };
  return [
    {
      signer: cooperative,
      doc: {
        kind: "Registered", batch, occurredAt: iso(3_600_000), product: "Jeju Hallabong tangerines",
        origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } }, harvestDate: iso(86_400_000).slice(0, 10),
        quantity: { value: 1200, unit: "kg" }, imported: false,
      },
    },
    { signer: cooperative, doc: { kind: "Observed", batch, occurredAt: iso(3_000_000), readings: [{ type: "Temperature", value: 4.5, unit: "Cel" }] } },
    {
      signer: cooperative,
      doc: {
        kind: "PesticideApplied", batch, occurredAt: iso(2_400_000), substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
        dose: { value: 0.25, unit: "L/10a" }, preHarvestIntervalDays: 21,
      },
    },
    { signer: cooperative, doc: { kind: "HandOffOffered", batch, occurredAt: iso(1_800_000), to: wholesaler.address } },
    { signer: wholesaler, doc: { kind: "HandOffAccepted", batch, occurredAt: iso(1_200_000), from: cooperative.address } },
    { signer: wholesaler, doc: { kind: "Observed", batch, occurredAt: iso(600_000), readings: [{ type: "Temperature", value: 3.9, unit: "Cel" }] } },
  ];
}

async function chainAnswers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

interface Health {
  status: string;
  problems: string[];
  chain: { head: number | null; indexerLagBlocks: number | null; durableBlock?: number; restarts?: number };
  log: { size: number; anchorLagEntries: number };
  relay: { pending: number; sent: number; unread: number; stuck: string | null } | null;
  recovery?: { running: boolean; runs: number; lastReport: string[] | null };
}

/**
 * Waits until the receipt of every one of the `logSize` entries says relayed (confirmed or refused; none for Observed
 * entries) and anchored (by an indexed anchor), and the server is healthy.
 */
async function settled(api: ApiProcess, logSize: number): Promise<Health> {
  return eventually(
    `the ledger settling ${logSize} entries on chain\n${api.output().slice(-2000)}`,
    async () => {
      const receipts = await Promise.all(Array.from({ length: logSize }, (_, i) => getJson(`${api.baseUrl}/v1/events/${i}`)));
      const open = receipts.filter((r) => {
        const body = r?.body as { relay: { status: string } | null; anchor: { status: string } } | undefined;
        return r?.status !== 200 || body === undefined || body.anchor.status !== "anchored" ||
          (body.relay !== null && body.relay.status !== "confirmed" && body.relay.status !== "refused");
      });
      if (open.length > 0 || (await getJson(`${api.baseUrl}/v1/events/${logSize}`))?.status !== 404) return undefined;
      const health = await getJson(`${api.baseUrl}/healthz`);
      return health?.status === 200 ? (health.body as unknown as Health) : undefined;
    },
    120_000,
    500,
  );
}

describe("the embedded chain's crash", function () {
  this.timeout(300_000);
  let dir: string | undefined;
  let api: ApiProcess | undefined;
  let earlySnapshot: string;
  let acknowledged = 0;
  let expiring: { index: number } | undefined;
  let expiresAt = 0;
  let crashSurvived = false;
  let rolledBack = false;
  const run = Date.now().toString(36).slice(-5).toUpperCase();

  before(async function () {
    dir = await deployedDataDir();
    earlySnapshot = path.join(dir, "early-snapshot.json.gz");
  });

  after(async function () {
    await api?.stop("SIGKILL");
    await removeDir(dir);
  });

  async function submit(client: LedgerClient, signed: SignedEvent): Promise<number> {
    const [receipt] = await client.submit([signed]);
    acknowledged++;
    return receipt!.index;
  }

  it("SIGKILL of anvil under concurrent signed load loses nothing acknowledged: after a restart every entry is on chain once, anchored, indexed", async function () {
    api = await startApi(dir!);
    const client = new LedgerClient(api.baseUrl);
    const domain = await client.domain();
    // A first lot, settled on chain; the snapshot that holds it is kept for the rollback of the next test.
    for (const step of story(`KW${run}`)) await submit(client, await signEvent(step.signer, domain, step.doc));
    await settled(api, acknowledged);
    await copyFile(path.join(dir!, "chain", SNAPSHOT_FILE), earlySnapshot);
    // A registration whose signature expires in 20 s: on chain soon, but too late for a replay after the rollback.
    expiring = { index: await submit(client, await signEvent(cooperative, domain, story(`KD${run}`)[0]!.doc, { deadline: Math.floor(Date.now() / 1000) + 20 })) };
    expiresAt = Date.now() + 20_000;

    // Four clients, each telling its lots' stories; anvil is killed a third and two thirds of the way through.
    const lots = Array.from({ length: 8 }, (_, i) => `K${run}-${i}`);
    const start = acknowledged;
    const total = lots.length * 6;
    const kills: number[] = [];
    const clients = [0, 1, 2, 3].map(async (c) => {
      for (const lot of lots.filter((_, i) => i % 4 === c)) {
        for (const step of story(lot)) {
          await submit(client, await signEvent(step.signer, domain, step.doc));
          if (kills.length < 2 && acknowledged - start >= ((kills.length + 1) * total) / 3) {
            kills.push(0); // claimed: the other clients go on
            // The anvil running now: after the first kill, the one the server started in its place, once the server
            // has logged that restart done (killed while the server still reads its head, it would count as a failed
            // restart, not a restart).
            const pid = await eventually("a running anvil", async () => {
              const p = api!.anvilPidIfAny();
              if (p === undefined || kills.includes(p) || !(await chainAnswers(api!.chainPort))) return undefined;
              const restarted = api!.output().split("anvil restarted from the snapshot").length - 1;
              return restarted >= kills.length - 1 ? p : undefined;
            });
            kills[kills.length - 1] = pid;
            process.kill(pid, "SIGKILL");
          }
        }
      }
    });
    await Promise.all(clients);

    const health = await settled(api, acknowledged);
    expect(kills).to.have.length(2);
    expect(health.chain.restarts, "anvil restarts by the server").to.equal(2);
    expect(await api.stop("SIGTERM")).to.equal(0);
    expect(anvilsOf(path.join(dir!, "chain")), "anvil processes left behind").to.deep.equal([]);
    api = undefined;

    const audit = await auditLedger(dir!, { confirmations: 1 });
    expect(audit.failures).to.deep.equal([]);
    expect(audit.entries).to.equal(acknowledged);
    expect(audit.refused).to.deep.equal([]);
    expect(audit.confirmed).to.equal(acknowledged - 2 * (lots.length + 1));
    crashSurvived = true;
  });

  it("a chain rolled back to an older snapshot is redone from the log at the next start: re-relayed in order, re-anchored, reindexed; an expired signature is refused with its reason", async function () {
    if (!crashSurvived) this.skip(); // it rolls back what the previous test built
    // The replay must come after the expiring signature's deadline (it is refused then, as any late replay would be).
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt + 1500 - Date.now())));
    await copyFile(earlySnapshot, path.join(dir!, "chain", SNAPSHOT_FILE));
    api = await startApi(dir!);
    const first = (await getJson(`${api.baseUrl}/healthz`))?.body as Health | undefined;
    expect(first?.recovery?.lastReport?.join("\n") ?? "", "the recovery report").to.match(/events to send again/);
    // The ledger goes on: a new lot's story on top of the replay.
    const client = new LedgerClient(api.baseUrl);
    const domain = await client.domain();
    for (const step of story(`KN${run}`)) await submit(client, await signEvent(step.signer, domain, step.doc));

    await settled(api, acknowledged);
    expect(await api.stop("SIGTERM")).to.equal(0);
    api = undefined;

    const audit = await auditLedger(dir!, { confirmations: 1 });
    expect(audit.failures).to.deep.equal([]);
    expect(audit.entries).to.equal(acknowledged);
    expect(audit.refused).to.deep.equal([{ index: expiring!.index, errorName: "DeadlinePassed" }]);
    rolledBack = true;
  });

  it("a chain that loses final blocks while the server runs (anvil restarted from an older snapshot) is redone in place, without a restart of the server", async function () {
    if (!rolledBack) this.skip();
    api = await startApi(dir!);
    await settled(api, acknowledged);
    // Idle and all on disk, so no newer snapshot replaces the older one put back below.
    await eventually("the chain's head in a snapshot", async () => {
      const h = (await getJson(`${api!.baseUrl}/healthz`))?.body as unknown as Health | undefined;
      return h !== undefined && h.chain.head === h.chain.durableBlock ? true : undefined;
    });
    // The snapshot on disk goes back to the first lot's; anvil dies and the server restarts it from that file.
    await copyFile(earlySnapshot, path.join(dir!, "chain", SNAPSHOT_FILE));
    process.kill(api.anvilPid(), "SIGKILL");
    // The indexer finds its cursor block gone and halts; the server recovers in place (its second run, after start's).
    const recovered = await eventually("a recovery in place", async () => {
      const h = (await getJson(`${api!.baseUrl}/healthz`))?.body as unknown as Health | undefined;
      return (h?.recovery?.runs ?? 0) >= 2 && h?.recovery?.running === false ? h : undefined;
    });
    expect(recovered.recovery?.lastReport?.join("\n") ?? "", "the recovery report").to.match(/events to send again/);
    const client = new LedgerClient(api.baseUrl);
    const domain = await client.domain();
    for (const step of story(`KR${run}`)) await submit(client, await signEvent(step.signer, domain, step.doc));

    const health = await settled(api, acknowledged);
    expect(health.chain.restarts, "anvil restarts by the server").to.equal(1);
    expect(await api.stop("SIGTERM")).to.equal(0);
    api = undefined;

    const audit = await auditLedger(dir!, { confirmations: 1 });
    expect(audit.failures).to.deep.equal([]);
    expect(audit.entries).to.equal(acknowledged);
    expect(audit.refused).to.deep.equal([{ index: expiring!.index, errorName: "DeadlinePassed" }]);
  });
});
