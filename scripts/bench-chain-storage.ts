/**
 * How much disk the local chain's state takes: after N events recorded through the ledger (relayed, anchored,
 * indexed), and after M idle minutes on top, with the local chain as `npm start` runs it (ledger-api/src/chain/
 * local-chain.ts). With --previous it also measures an idle anvil run as earlier versions ran it (`--block-time 1
 * --state --state-interval 5 --preserve-historical-states`) for the same M minutes, for comparison.
 *
 *   node scripts/bench-chain-storage.ts [--events 1000] [--idle-minutes 2] [--previous]
 *
 * Events are stories of lots (register, observe, pesticide, hand-off offer and acceptance, observe: 4 of 6 are
 * lifecycle events on chain), submitted 6 lots at a time.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { HDNodeWallet, JsonRpcProvider, Wallet } from "ethers";
import { buildApp } from "../ledger-api/src/app.ts";
import { anvilBinary } from "../ledger-api/src/chain/anvil-process.ts";
import { DEV_MNEMONIC, SNAPSHOT_FILE, startLocalChain } from "../ledger-api/src/chain/local-chain.ts";
import { ledgerDomain } from "../ledger-api/src/protocol/typed-data.ts";
import { signEvent } from "../ledger-api/src/client/client.ts";
import { loadConfig } from "../ledger-api/src/config.ts";
import { LOCAL_KEYS, demoWallet, ensureDemoDeployment } from "../ledger-api/src/demo/load.ts";
import { demoActors } from "../ledger-api/src/demo/story.ts";
import type { EventDoc } from "../ledger-api/src/protocol/documents.ts";
import { openLedgerServices } from "../ledger-api/src/services.ts";

const { values } = parseArgs({
  options: { events: { type: "string", default: "1000" }, "idle-minutes": { type: "string", default: "2" }, previous: { type: "boolean", default: false } },
});
const events = Number(values.events);
const idleMinutes = Number(values["idle-minutes"]);

const wallet = (name: keyof typeof demoActors) => HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${demoActors[name].keyIndex}`);
const cooperative = wallet("cooperative");
const wholesaler = wallet("wholesaler");

function story(lot: string): { signer: HDNodeWallet; doc: EventDoc }[] {
  const batch = { gtin: "08801234000017", lot };
  return [
    { signer: cooperative, doc: { kind: "Registered", batch, occurredAt: "2026-01-01T00:00:00Z", product: "Jeju Hallabong tangerines", origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } }, harvestDate: "2025-12-30", quantity: { value: 500, unit: "kg" }, imported: false } },
    { signer: cooperative, doc: { kind: "Observed", batch, occurredAt: "2026-01-01T01:00:00Z", readings: [{ type: "Temperature", value: 4, unit: "Cel" }] } },
    { signer: cooperative, doc: { kind: "PesticideApplied", batch, occurredAt: "2026-01-01T02:00:00Z", substance: { name: "Imidacloprid", casNumber: "138261-41-3" }, dose: { value: 0.25, unit: "L/10a" }, preHarvestIntervalDays: 21 } },
    { signer: cooperative, doc: { kind: "HandOffOffered", batch, occurredAt: "2026-01-01T03:00:00Z", to: wholesaler.address } },
    { signer: wholesaler, doc: { kind: "HandOffAccepted", batch, occurredAt: "2026-01-01T04:00:00Z", from: cooperative.address } },
    { signer: wholesaler, doc: { kind: "Observed", batch, occurredAt: "2026-01-01T05:00:00Z", readings: [{ type: "Temperature", value: 3, unit: "Cel" }] } },
  ];
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

async function current(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "bench-chain-"));
  const chain = await startLocalChain({ stateDir: path.join(dir, "chain"), port: 18600 + Math.floor(Math.random() * 1000), disableCodeSizeLimit: true });
  const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 100 });
  try {
    const deployments = await ensureDemoDeployment(provider, path.join(dir, "deployments.json"));
    await chain.snapshot();
    const size = async () => (await stat(path.join(dir, "chain", SNAPSHOT_FILE))).size;
    const deployedSize = await size();
    console.log(`deployed (contracts, roles, profiles): block ${await provider.getBlockNumber()}, snapshot ${kib(deployedSize)}`);
    const services = await openLedgerServices({
      config: loadConfig({ DATA_DIR: dir, ANCHOR_INTERVAL_MS: "1000" }),
      provider,
      deployments,
      relayer: new Wallet(demoWallet(LOCAL_KEYS.relayer).privateKey, provider),
      anchorer: new Wallet(demoWallet(LOCAL_KEYS.anchorer).privateKey, provider),
      durableBlock: () => chain.durableBlock(),
    });
    const app = await buildApp(services);
    await services.startWorkers();
    const domain = ledgerDomain(BigInt(deployments.chainId), deployments.ledger);
    const lots = Math.ceil(events / 6);
    const started = Date.now();
    for (let first = 0; first < lots; first += 6) {
      await Promise.all(
        Array.from({ length: Math.min(6, lots - first) }, async (_, i) => {
          for (const step of story(`B${first + i}`)) {
            const res = await app.inject({ method: "POST", url: "/v1/events", payload: (await signEvent(step.signer, domain, step.doc)) as object });
            if (res.statusCode !== 202) throw new Error(res.body);
          }
        }),
      );
    }
    const logged = await services.store.size();
    for (;;) {
      const h = await services.relay.health(60_000);
      const anchored = (await services.anchorer.status()).lagEntries === 0;
      if (h.pending + h.sent + h.unread === 0 && anchored) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await chain.snapshot();
    const afterEvents = await size();
    const blocks = await provider.getBlockNumber();
    console.log(
      `${logged} events logged and settled (${(await services.store.relayCounts()).confirmed} on chain) in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
        `block ${blocks}, snapshot ${kib(afterEvents)} (+${((afterEvents - deployedSize) / logged).toFixed(0)} bytes per event logged), ` +
        `${chain.status().snapshots} snapshots written`,
    );
    const snapshots = chain.status().snapshots;
    for (let m = 1; m <= idleMinutes; m++) {
      await new Promise((r) => setTimeout(r, 60_000));
      console.log(`idle ${m} min: block ${await provider.getBlockNumber()}, snapshot ${kib(await size())}, ${chain.status().snapshots - snapshots} snapshots written since`);
    }
    await app.close();
    await services.close();
  } finally {
    provider.destroy();
    await chain.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** anvil as earlier versions ran it, idle: its state file after each minute. */
async function previous(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "bench-chain-prev-"));
  const file = path.join(dir, "state.json");
  const anvil = spawn(anvilBinary(), ["--port", String(19600 + Math.floor(Math.random() * 300)), "--mnemonic", DEV_MNEMONIC, "--accounts", "20", "--block-time", "1", "--state", file, "--state-interval", "5", "--preserve-historical-states", "--silent"], { stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 10_000));
    const start = (await stat(file)).size;
    console.log(`previous flags, idle: state.json ${kib(start)} after 10 s`);
    for (let m = 1; m <= idleMinutes; m++) {
      await new Promise((r) => setTimeout(r, 60_000));
      const now = (await stat(file)).size;
      console.log(`previous flags, idle ${m} min: state.json ${kib(now)} (+${kib(now - start)})`);
    }
  } finally {
    anvil.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

await current();
if (values.previous) await previous();
