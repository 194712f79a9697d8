/**
 * Recovery from a remote chain that lost blocks the ledger had counted final, through the operator's command
 * (`npm run recover`, scripts/recover.ts): an anvil node plays the remote chain (RPC_URL mode, as a consortium node
 * would be configured), the ledger's events are relayed, anchored and indexed on it, and then the node is rolled back
 * (evm_revert) to the block after the deployment, as a reorg deeper than CONFIRMATIONS or a restored backup would.
 *
 * The services run in this process on the real store (no workers in the background; passes are stepped), and are
 * stopped before the command runs, as the command requires.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Wallet } from "ethers";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../ledger-api/src/app.ts";
import type { Deployments } from "../../../ledger-api/src/chain/contracts.ts";
import { DEV_MNEMONIC, startLocalChain, type LocalChain } from "../../../ledger-api/src/chain/local-chain.ts";
import { signEvent } from "../../../ledger-api/src/client/client.ts";
import { loadConfig } from "../../../ledger-api/src/config.ts";
import { LOCAL_KEYS, demoWallet, ensureDemoDeployment } from "../../../ledger-api/src/demo/load.ts";
import { demoActors } from "../../../ledger-api/src/demo/story.ts";
import type { EventDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { ledgerDomain } from "../../../ledger-api/src/protocol/typed-data.ts";
import { openLedgerServices, type LedgerServices } from "../../../ledger-api/src/services.ts";
import { SqliteStore } from "../../../ledger-api/src/store/sqlite.ts";
import { auditLedger } from "./audit.ts";
import { freePort, removeDir } from "./processes.ts";

const wallet = (name: keyof typeof demoActors) => HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${demoActors[name].keyIndex}`);
const cooperative = wallet("cooperative");
const wholesaler = wallet("wholesaler");
const RELAYER_KEY = demoWallet(LOCAL_KEYS.relayer).privateKey;
const ANCHORER_KEY = demoWallet(LOCAL_KEYS.anchorer).privateKey;

function story(lot: string): { signer: HDNodeWallet; doc: EventDoc }[] {
  const batch = { gtin: "08801234000017", lot };
  return [
    {
      signer: cooperative,
      doc: {
        kind: "Registered", batch, occurredAt: "2026-01-01T00:00:00Z", product: "Jeju Hallabong tangerines",
        origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } }, harvestDate: "2025-12-30",
        quantity: { value: 500, unit: "kg" }, imported: false,
      },
    },
    { signer: cooperative, doc: { kind: "Observed", batch, occurredAt: "2026-01-01T01:00:00Z", readings: [{ type: "Temperature", value: 4, unit: "Cel" }] } },
    { signer: cooperative, doc: { kind: "HandOffOffered", batch, occurredAt: "2026-01-01T02:00:00Z", to: wholesaler.address } },
    { signer: wholesaler, doc: { kind: "HandOffAccepted", batch, occurredAt: "2026-01-01T03:00:00Z", from: cooperative.address } },
  ];
}

interface Running {
  readonly services: LedgerServices;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** Runs scripts/recover.ts against the data directory; resolves with its exit code and output. */
function recoverCommand(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["scripts/recover.ts", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.once("exit", (code) => resolve({ code, out }));
  });
}

describe("recovering from a remote chain that lost final blocks (npm run recover)", function () {
  this.timeout(180_000);
  let dir: string;
  let node: LocalChain;
  let provider: JsonRpcProvider;
  let deployments: Deployments;
  let env: Record<string, string>;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "ledger-recover-"));
    node = await startLocalChain({ stateDir: path.join(dir, "node"), port: await freePort(), disableCodeSizeLimit: true, confirmations: 1, mineEveryMs: 20 });
    provider = new JsonRpcProvider(node.rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 50 });
    env = { RPC_URL: node.rpcUrl, RELAYER_KEY, ANCHORER_KEY, DATA_DIR: dir, CONFIRMATIONS: "1", ANCHOR_EVERY: "1000", ANCHOR_INTERVAL_MS: "60000" };
    deployments = await ensureDemoDeployment(provider, path.join(dir, "deployments.json"));
  });

  after(async function () {
    provider?.destroy();
    await node?.stop();
    await removeDir(dir);
  });

  async function open(): Promise<Running> {
    const services = await openLedgerServices({
      config: loadConfig(env),
      provider,
      deployments,
      relayer: new Wallet(RELAYER_KEY, provider),
      anchorer: new Wallet(ANCHORER_KEY, provider),
    });
    const app = await buildApp(services);
    await app.ready();
    return {
      services,
      app,
      async close() {
        await app.close();
        await services.close();
      },
    };
  }

  /** Steps the relay and indexer until every row is settled, then anchors the whole log and indexes that. */
  async function settle({ services }: Running): Promise<void> {
    const { store } = services;
    for (let pass = 0; ; pass++) {
      if (pass === 200) throw new Error("the relay did not settle in 200 passes");
      await services.syncOnce();
      const open = (await store.relayRows("pending", 1)).length + (await store.relayRows("sent", 1)).length;
      if (open === 0 && (await store.relayCursor()) === (await store.size())) break;
      await new Promise((r) => setTimeout(r, 30));
    }
    await services.anchorer.anchorNow(60_000);
    for (let pass = 0; (services.indexer.status().lag ?? 1) > 0 || pass === 0; pass++) {
      if (pass === 200) throw new Error("the indexer did not catch up");
      await new Promise((r) => setTimeout(r, 30));
      await services.indexer.syncOnce();
    }
  }

  async function submitStory(running: Running, lot: string): Promise<void> {
    const domain = ledgerDomain(BigInt(deployments.chainId), deployments.ledger);
    for (const step of story(lot)) {
      const res = await running.app.inject({ method: "POST", url: "/v1/events", payload: (await signEvent(step.signer, domain, step.doc)) as object });
      expect(res.statusCode, res.body).to.equal(202);
    }
  }

  it("reports what the chain lost and what it would redo without changing anything, then with --apply redoes it: the audit is clean", async function () {
    const afterDeploy = (await provider.send("evm_snapshot", [])) as string;
    let running = await open();
    for (const lot of ["RC-1", "RC-2", "RC-3"]) await submitStory(running, lot);
    await settle(running);
    const confirmedBefore = (await running.services.store.relayRows("confirmed")).length;
    expect(confirmedBefore).to.equal(9);
    await running.close();

    // The node loses every block after the deployment; a later transaction of someone else's gives it a new head.
    expect(await provider.send("evm_revert", [afterDeploy])).to.equal(true);
    const someone = new Wallet(Wallet.createRandom().privateKey, provider);
    await (await demoWallet(LOCAL_KEYS.deployer).connect(provider).sendTransaction({ to: someone.address, value: 10n ** 18n })).wait();

    const dry = await recoverCommand(env);
    expect(dry.code, dry.out).to.equal(2);
    expect(dry.out).to.match(/index: rebuild from the deploy block/);
    expect(dry.out).to.match(/9 events to send again in log order from relayer nonce \d+ \(were 9 confirmed\)/);
    expect(dry.out).to.match(/1 anchor intents the chain lacks are dropped/);
    expect(dry.out).to.include("dry run: nothing was changed");
    const store = await SqliteStore.open(dir);
    try {
      expect((await store.relayRows("confirmed")).length, "confirmed rows after the dry run").to.equal(9);
      expect(await store.cursor()).to.not.equal(undefined);
    } finally {
      await store.close();
    }

    const applied = await recoverCommand(env, ["--apply"]);
    expect(applied.code, applied.out).to.equal(0);
    expect(applied.out).to.include("applied");

    running = await open();
    await submitStory(running, "RC-4"); // and the ledger goes on
    await settle(running);
    const health = await running.app.inject({ method: "GET", url: "/healthz" });
    expect(health.statusCode, health.body).to.equal(200);
    await running.close();

    const again = await recoverCommand(env);
    expect(again.code, again.out).to.equal(0);
    expect(again.out).to.include("nothing to redo");

    const audit = await auditLedger(dir, { confirmations: 1, rpcUrl: node.rpcUrl });
    expect(audit.failures).to.deep.equal([]);
    expect(audit.entries).to.equal(16);
    expect(audit.confirmed).to.equal(12);
    expect(audit.refused).to.deep.equal([]);
  });

  it("refuses to apply when the contracts are gone from the remote chain, naming what the operator must do", async function () {
    // A chain without the contracts at the deployments' addresses: a fresh node on the same data.
    const bare = await startLocalChain({ stateDir: path.join(dir, "bare"), port: await freePort(), mineEveryMs: 20 });
    try {
      const out = await recoverCommand({ ...env, RPC_URL: bare.rpcUrl }, ["--apply"]);
      expect(out.code, out.out).to.equal(1);
      expect(out.out).to.include("GONE from the chain").and.include("redeploy the contracts at the same addresses");
    } finally {
      await bare.stop();
    }
  });
});
