/**
 * `npm start` (its server, `node ledger-api/src/main.ts`, with its own anvil) interrupted while it loads the demo,
 * then started again: the next start completes the story, each step logged once, and every URL the start prints
 * answers 200. Interrupted two ways, one after the other on one data directory (the first start's deployment takes
 * most of the time): Ctrl-C (SIGINT to the whole process group, as a terminal sends it) after the first event, then
 * a kill of the API process (SIGKILL) a few events into the next start's load, its anvil then stopped cleanly.
 *
 * The server runs without `hardhat build` (npm start's first step) so as not to replace the coverage build the test
 * run is using, and with CHAIN_UNLIMITED_CODE_SIZE=1, which that instrumented build needs. A killed anvil loses its
 * last blocks (issue 13 item 1, the chain's own recovery); here anvil is always stopped so that it writes its state.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { expect } from "chai";
import { demoStory } from "../../ledger-api/src/demo/story.ts";
import { demoMarketStory } from "../../ledger-api/src/demo/market-story.ts";
import { demoMarketUrls } from "../../ledger-api/src/demo/load.ts";
import { DB_FILE } from "../../ledger-api/src/store/sqlite.ts";

// npm start tells the demo story and then the demo market.
const STEPS = demoStory(new Date(), () => "0x" + "00".repeat(20)).length + demoMarketStory(new Date(), () => "0x" + "00".repeat(20)).length;
/** The four batches' URLs and their labels', then the safety centre's and every stall display's. */
const PRINTED_URLS = 8 + demoMarketUrls("http://x").length;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Entries in the store's log, read from the database file (any process may hold it). */
function logSize(dataDir: string): number {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path.join(dataDir, DB_FILE), { readOnly: true });
    return Number(db.prepare("SELECT count(*) AS n FROM log_entries").get()?.n ?? 0);
  } catch {
    return 0; // not created yet
  } finally {
    db?.close();
  }
}

interface Server {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<void>;
}

/** `npm start`'s server in its own process group (so a signal can reach it and its anvil, as a terminal's would). */
function start(dataDir: string, port: number, chainPort: number): Server {
  const child = spawn(process.execPath, ["ledger-api/src/main.ts"], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      CHAIN_PORT: String(chainPort),
      CHAIN_UNLIMITED_CODE_SIZE: "1",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const server: Server = { child, output: "", exited: new Promise((resolve) => child.once("exit", () => resolve())) };
  child.stdout!.on("data", (chunk: Buffer) => (server.output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (server.output += chunk.toString()));
  return server;
}

/** Waits until `done()` holds, polling every `pollMs`; fails with the server's output after `timeoutMs`. */
async function until(server: Server, what: string, done: () => boolean | Promise<boolean>, timeoutMs = 180_000, pollMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (server.child.exitCode !== null) throw new Error(`the server exited (${server.child.exitCode}) before ${what}:\n${server.output}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms:\n${server.output}`);
    await sleep(pollMs);
  }
}

/** Every URL a started server printed: the demo batches' Digital Links and their label sheets, the market's screens. */
function printedUrls(output: string): string[] {
  const start = output.indexOf("Demo batches:");
  if (start === -1) return [];
  const after = output.slice(start);
  // Complete lines only: the piece after the last newline may be a URL cut between two chunks.
  return after
    .split("\n")
    .slice(0, -1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith("http://"));
}

describe("npm start interrupted while it loads the demo, then started again", function () {
  this.timeout(600_000);
  const dirs: string[] = [];
  const servers: Server[] = [];

  after(async function () {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.pid !== undefined) {
        try {
          process.kill(-s.child.pid, "SIGINT");
        } catch {
          // gone already
        }
        await s.exited;
      }
    }
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("completes the story at the next start after a Ctrl-C and after a kill of the API, each in the middle of the load", async function () {
    const dataDir = await mkdtemp(path.join(tmpdir(), "ledger-start-"));
    dirs.push(dataDir);

    // First start (deploys the contracts): Ctrl-C once the first event is logged.
    const first = start(dataDir, await freePort(), await freePort());
    servers.push(first);
    await until(first, "a first logged event", () => logSize(dataDir) >= 1);
    process.kill(-first.child.pid!, "SIGINT");
    await first.exited;
    const afterCtrlC = logSize(dataDir);
    expect(afterCtrlC, "the load finished before Ctrl-C: nothing was interrupted").to.be.within(1, STEPS - 3);

    // Second start: resubmits what is logged (duplicates), then is killed a few new events later. The API dies at
    // once; its anvil (same process group) is then stopped cleanly, so the chain keeps its blocks.
    const second = start(dataDir, await freePort(), await freePort());
    servers.push(second);
    await until(second, "new logged events", () => logSize(dataDir) >= afterCtrlC + 2);
    process.kill(second.child.pid!, "SIGKILL");
    await second.exited;
    try {
      process.kill(-second.child.pid!, "SIGTERM");
    } catch {
      // anvil already gone
    }
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(-second.child.pid!, 0);
        await sleep(50);
      } catch {
        break; // no process left in the group
      }
    }
    const afterKill = logSize(dataDir);
    expect(afterKill, "the load finished before the kill: nothing was interrupted").to.be.within(afterCtrlC + 2, STEPS - 1);

    // Third start: completes the story; every URL it prints answers.
    const port = await freePort();
    const third = start(dataDir, port, await freePort());
    servers.push(third);
    // The banner ends with the four batches' URLs and their labels', then the market's screens (stdout may deliver
    // them in several chunks).
    await until(third, "banner", () => printedUrls(third.output).length === PRINTED_URLS, 180_000, 200);
    expect(third.output).to.include(`Demo story: ${STEPS} signed events, ${STEPS - afterKill} logged now, ${afterKill} already in the log`);
    const urls = printedUrls(third.output);
    // A lot made by a split is known once the split is mined and indexed (issue 13 item 6): wait for that, not longer.
    for (const url of urls) {
      let status = 0;
      await until(third, `200 from ${url}`, async () => (status = (await fetch(url)).status) === 200, 120_000, 250).catch((err: Error) => {
        throw new Error(`${url} answered ${status}: ${err.message}`);
      });
    }
    const checkpoint = (await (await fetch(`http://127.0.0.1:${port}/v1/log/checkpoint`)).json()) as { size: number };
    expect(checkpoint.size).to.equal(STEPS);
    process.kill(-third.child.pid!, "SIGINT");
    await third.exited;
  });
});
