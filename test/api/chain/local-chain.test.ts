/**
 * The local chain's process and storage, with real processes: `npm start`'s server owns its anvil (it dies with the
 * server, orphans of this data directory are stopped, a port held by anything else is refused), and a kill in the
 * middle of writing the chain's state never leaves a state the next start cannot load.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { watch } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { HDNodeWallet } from "ethers";
import { anvilBinary, isAlive, readPidFile } from "../../../ledger-api/src/chain/anvil-process.ts";
import { DEV_MNEMONIC, SNAPSHOT_FILE } from "../../../ledger-api/src/chain/local-chain.ts";
import { LedgerClient, signEvent } from "../../../ledger-api/src/client/client.ts";
import { demoActors } from "../../../ledger-api/src/demo/story.ts";
import { anvilsOf, deployedDataDir, eventually, freePort, getJson, removeDir, startApi, type ApiProcess } from "./processes.ts";

const cooperative = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${demoActors.cooperative.keyIndex}`);

function registration(lot: string) {
  return {
    kind: "Registered" as const,
    batch: { gtin: "08801234000017", lot },
    occurredAt: "2026-01-01T00:00:00Z",
    product: "Jeju Hallabong tangerines",
    origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
    harvestDate: "2025-12-30",
    quantity: { value: 100, unit: "kg" },
    imported: false,
  };
}

/** Runs `node <script> ...args` until it prints `marker`; resolves with the process and what it printed. */
async function runUntil(script: string, args: string[], marker: string) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  await eventually(`${script} printing "${marker}"`, async () => {
    if (child.exitCode !== null) throw new Error(`${script} exited ${child.exitCode}: ${out}`);
    return out.includes(marker) ? true : undefined;
  }, 60_000, 50);
  return { child, output: () => out };
}

describe("the local chain's process", function () {
  this.timeout(180_000);
  const dirs: string[] = [];
  const running: ApiProcess[] = [];
  const strays: number[] = [];

  async function freshDir(): Promise<string> {
    const dir = await deployedDataDir();
    dirs.push(dir);
    return dir;
  }

  async function start(dir: string, env: Record<string, string> = {}): Promise<ApiProcess> {
    const api = await startApi(dir, env);
    running.push(api);
    return api;
  }

  afterEach(async function () {
    for (const api of running.splice(0)) await api.stop("SIGKILL");
    for (const pid of strays.splice(0)) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    for (const dir of dirs.splice(0)) await removeDir(dir);
  });

  it("dies with the server: after a kill -9 of the server no anvil of its data directory is left", async function () {
    const dir = await freshDir();
    const api = await start(dir);
    const anvil = api.anvilPid();
    expect(anvilsOf(path.join(dir, "chain"))).to.deep.equal([anvil]);
    await api.stop("SIGKILL");
    await eventually("the anvil to exit", async () => (anvilsOf(path.join(dir, "chain")).length === 0 ? true : undefined), 10_000, 100);
  });

  it("stops an orphan this version left (server killed where anvil cannot die with it) and starts its own; a clean stop leaves none", async function () {
    const dir = await freshDir();
    const chainPort = await freePort();
    const maker = await runUntil("test/api/chain/fixtures/orphan-anvil.ts", [path.join(dir, "chain"), String(chainPort)], "ready");
    const orphan = Number(/ready (\d+)/.exec(maker.output())![1]);
    strays.push(orphan);
    maker.child.kill("SIGKILL");
    await new Promise((r) => maker.child.once("exit", r));
    expect(isAlive(orphan), "the orphan outlives its owner").to.equal(true);

    const api = await start(dir, { CHAIN_PORT: String(chainPort) });
    // Stopped, though perhaps not yet reaped: its new parent, init, reaps it on its own schedule (about a second later
    // on this machine, longer under load), and until then kill(pid, 0) still succeeds on its zombie. isAlive counts a
    // zombie as exited, as the server does when it looks for orphans.
    expect(isAlive(orphan), "the orphan after the next start").to.equal(false);
    expect(api.output()).to.include("stopped an orphaned anvil");
    const ours = api.anvilPid();
    expect(ours).to.not.equal(orphan);
    expect(readPidFile(path.join(dir, "chain"))?.owner).to.equal(api.child.pid);
    expect((await getJson(`${api.baseUrl}/healthz`))?.status).to.equal(200);

    expect(await api.stop("SIGINT")).to.equal(0);
    expect(anvilsOf(path.join(dir, "chain")), "anvil processes after Ctrl-C").to.deep.equal([]);
  });

  it("stops an orphan an earlier version left on its port (anvil --state in the data directory) instead of using it", async function () {
    const dir = await freshDir();
    const chainPort = await freePort();
    const stateDir = path.join(dir, "chain");
    // What `npm start` ran before this version, left behind by a kill -9 of its server.
    const old = spawn(anvilBinary(), ["--port", String(chainPort), "--mnemonic", DEV_MNEMONIC, "--silent", "--state", path.join(stateDir, "state.json"), "--state-interval", "5"], {
      stdio: "ignore",
      detached: true,
    });
    strays.push(old.pid!);
    await eventually("the old anvil to listen", async () => {
      const res = await fetch(`http://127.0.0.1:${chainPort}`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' }).catch(() => undefined);
      return res?.ok ? true : undefined;
    });

    const api = await start(dir, { CHAIN_PORT: String(chainPort) });
    expect(isAlive(old.pid!), "the old orphan after the next start").to.equal(false);
    expect(api.anvilPid()).to.not.equal(old.pid);
    // Our chain, not the orphan's empty one: the deployment is there.
    const chain = (await getJson(`${api.baseUrl}/v1/chain`))?.body as { ledger: string };
    expect(chain.ledger).to.match(/^0x[0-9a-fA-F]{40}$/);
    expect((await getJson(`${api.baseUrl}/healthz`))?.status).to.equal(200);
    expect(await api.stop("SIGTERM")).to.equal(0);
    expect(anvilsOf(stateDir)).to.deep.equal([]);
  });

  it("refuses to start when its chain port is held by another program, naming the port and the program", async function () {
    const dir = await freshDir();
    const server: Server = createServer();
    const chainPort = await freePort();
    await new Promise<void>((resolve) => server.listen(chainPort, "127.0.0.1", resolve));
    try {
      let err: unknown;
      try {
        await start(dir, { CHAIN_PORT: String(chainPort) });
      } catch (e) {
        err = e;
      }
      expect(String(err)).to.include(`CHAIN_PORT ${chainPort}`).and.include(`pid ${process.pid}`).and.include("not this ledger's chain");
      expect(anvilsOf(path.join(dir, "chain"))).to.deep.equal([]);
    } finally {
      server.close();
    }
  });

  it("a kill in the middle of writing the chain's state (a service manager's SIGKILL) never leaves a state the next start cannot load", async function () {
    const dir = await freshDir();
    const stateDir = path.join(dir, "chain");
    for (let round = 0; round < 2; round++) {
      const api = await start(dir);
      const client = new LedgerClient(api.baseUrl);
      const domain = await client.domain();
      const anvil = api.anvilPid();
      // SIGKILL the server and its anvil the moment anything in the chain's directory is written, under load.
      let killed = false;
      const watcher = watch(stateDir, () => {
        if (killed) return;
        killed = true;
        process.kill(api.child.pid!, "SIGKILL");
        process.kill(anvil, "SIGKILL");
      });
      try {
        for (let i = 0; !killed && i < 200; i++) {
          await client.submit([await signEvent(cooperative, domain, registration(`W${round}-${i}`))]).catch(() => undefined);
        }
      } finally {
        watcher.close();
      }
      expect(killed, "a write to the chain's state happened under load").to.equal(true);
      await api.stop("SIGKILL");
      await eventually("the killed anvil to exit", async () => (isAlive(anvil) ? undefined : true), 10_000, 50);
      // What the next start loads: readable, whatever the kill cut short.
      expect(() => JSON.parse(gunzipSync(readFileSync(path.join(stateDir, SNAPSHOT_FILE))).toString()), `round ${round}`).to.not.throw();
    }
    // The next start loads it, and the ledger catches up (what the kill cut short is sent again).
    const api = await start(dir);
    await eventually("a healthy ledger", async () => ((await getJson(`${api.baseUrl}/healthz`))?.status === 200 ? true : undefined));
  });
});

describe("the chain state writer", function () {
  this.timeout(120_000);

  it("leaves the previous or the next snapshot, whole, however often it is killed mid-write", async function () {
    const dir = await mkdtemp(path.join(tmpdir(), "ledger-writer-"));
    const file = path.join(dir, "snapshot.json.gz");
    try {
      // Each kill after a different number of snapshots (and somewhere inside the next one): the points the kills land
      // at differ by construction, not by how fast this machine happens to be.
      for (let kill = 0; kill < 5; kill++) {
        const writer = await runUntil("test/api/chain/fixtures/snapshot-writer.ts", [file], `wrote ${kill}\n`);
        await new Promise((r) => setTimeout(r, Math.random() * 200));
        const closed = new Promise((r) => writer.child.once("close", r));
        writer.child.kill("SIGKILL");
        await closed; // its output read to the end
        const wrote = [...writer.output().matchAll(/^wrote (\d+)$/gm)].map((m) => Number(m[1]));
        const last = Math.max(...wrote);
        const snapshot = JSON.parse(gunzipSync(readFileSync(file)).toString()) as { n: number };
        // The last snapshot that returned, or the one the kill cut short if its rename was already done.
        expect(snapshot.n, `kill ${kill}: the writer had written ${last}`).to.be.oneOf([last, last + 1]);
      }
    } finally {
      await removeDir(dir);
    }
  });
});
