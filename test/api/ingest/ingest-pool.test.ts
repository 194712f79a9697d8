/**
 * The ingest pool (ingest/ingest-pool.ts), the process's one pool of worker threads: it prepares a body as the calling
 * thread would, answers each call with its own outcome, survives a dying worker, refuses loudly when workers cannot
 * start, and never keeps its process alive. (Signer recovery's own rules are signatures.test.ts's.)
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Wallet } from "ethers";
import { IngestPool, IngestWorkerError, InlinePreparer } from "../../../ledger-api/src/ingest/ingest-pool.ts";
import { threadEntries } from "../../../ledger-api/src/thread-bundles.ts";
import { DOMAIN, observedBody } from "./fixtures/pool-lifecycle.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const WORKER_TS = new URL("../../../ledger-api/src/ingest/ingest-worker.ts", import.meta.url);
const NOW = () => Math.floor(Date.now() / 1000);
const text = (s: string) => Buffer.from(s);

/** The error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

function expectWorkerError(err: unknown, message: RegExp): void {
  expect(err).to.be.instanceOf(IngestWorkerError);
  expect((err as Error).message).to.match(message);
}

/** What the crashing fixture answers to a body it does not die on. */
function echo(message: string) {
  return { ok: false, refusal: { type: "syntax", message: `echo ${message}` } };
}

/** A pool of the crashing fixture (see fixtures/crashing-ingest-worker.ts). */
function crashing(workers: number, maxInFlightPerWorker = 2): IngestPool {
  return new IngestPool({ domain: DOMAIN, maxEvents: 500, workers, maxInFlightPerWorker, workerUrl: new URL("crashing-ingest-worker.ts", FIXTURES) });
}

describe("the ingest pool", function () {
  this.timeout(120_000);

  describe("preparing bodies", function () {
    let pool: IngestPool;
    before(function () {
      pool = new IngestPool({ domain: DOMAIN, maxEvents: 500, workers: 2 });
    });
    after(async function () {
      await pool.close();
    });

    it("recovers with native libsecp256k1 in its workers", async function () {
      expect(await pool.backend()).to.equal("native");
    });

    it("prepares a signed body exactly as the calling thread does: the same events, hashes, bodies and signers", async function () {
      const wallet = Wallet.createRandom();
      const body = await observedBody(wallet, 5);
      const now = NOW();
      const pooled = await pool.prepare(Buffer.from(body), now);
      const inline = await InlinePreparer.fast(DOMAIN, 500).prepare(Buffer.from(body), now);
      expect(pooled).to.deep.equal(inline);
      expect(pooled.ok && pooled.events.map((e) => [e.signer, e.badSignature])).to.deep.equal(Array(5).fill([wallet.address, null]));
    });

    it("answers concurrent bodies each with its own events, across its workers", async function () {
      const wallets = Array.from({ length: 12 }, () => Wallet.createRandom());
      const bodies = await Promise.all(wallets.map((w, i) => observedBody(w, 2, `POOL-${i}`)));
      const outcomes = await Promise.all(bodies.map((b) => pool.prepare(b, NOW())));
      outcomes.forEach((outcome, i) => {
        expect(outcome.ok).to.equal(true);
        if (outcome.ok) expect(outcome.events.map((e) => [e.signer, e.batchId === outcome.events[0]!.batchId])).to.deep.equal(Array(2).fill([wallets[i]!.address, true]));
      });
    });

    it("prepares the same outcome from its bundled worker (thread-bundles.ts) as from the worker's sources", async function () {
      const entries = await threadEntries();
      expect(entries, "esbuild is installed with the dev dependencies").to.not.equal(undefined);
      const bundled = new IngestPool({ domain: DOMAIN, maxEvents: 500, workers: 1, workerUrl: entries!.ingestWorker });
      try {
        const body = await observedBody(Wallet.createRandom(), 3);
        const now = NOW();
        expect(await bundled.prepare(Buffer.from(body), now)).to.deep.equal(await pool.prepare(Buffer.from(body), now));
        expect(await bundled.backend()).to.equal("native");
      } finally {
        await bundled.close();
      }
    });
  });

  describe("many calls", function () {
    it("answers 300 concurrent calls each with its own outcome, whichever worker took it", async function () {
      const pool = crashing(2, 2);
      try {
        const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => pool.prepare(text(i % 3 === 0 ? `slow 2 ${i}` : `${i}`), NOW())));
        expect(outcomes).to.deep.equal(Array.from({ length: 300 }, (_, i) => echo(String(i))));
      } finally {
        await pool.close();
      }
    });
  });

  describe("worker failure", function () {
    it("rejects the call on a worker that throws, replaces the worker, and serves the calls queued behind", async function () {
      // One worker taking one request at a time: the second call waits in the queue while the first kills the worker.
      const pool = crashing(1, 1);
      try {
        const [dead, alive] = await Promise.allSettled([pool.prepare(text("throw"), NOW()), pool.prepare(text("after"), NOW())]);
        expect(dead.status).to.equal("rejected");
        expectWorkerError((dead as PromiseRejectedResult).reason, /^ingest worker died with 1 request\(s\) on it: poisoned request$/);
        expect(alive).to.deep.equal({ status: "fulfilled", value: echo("after") });
        expect(await pool.prepare(text("again"), NOW())).to.deep.equal(echo("again"));
      } finally {
        await pool.close();
      }
    });

    it("fails only the call on the dead worker when several workers share the load", async function () {
      const pool = crashing(2, 1);
      try {
        const healthy = Array.from({ length: 20 }, (_, i) => pool.prepare(text(`slow 5 ${i}`), NOW()));
        const dead = rejection(pool.prepare(text("throw"), NOW()));
        expectWorkerError(await dead, /poisoned request/);
        expect(await Promise.all(healthy)).to.deep.equal(Array.from({ length: 20 }, (_, i) => echo(String(i))));
        expect(await pool.prepare(text("after"), NOW())).to.deep.equal(echo("after"));
      } finally {
        await pool.close();
      }
    });

    it("rejects the call on a worker that exits, and replaces it", async function () {
      const pool = crashing(1);
      try {
        expectWorkerError(await rejection(pool.prepare(text("exit"), NOW())), /^ingest worker died with 1 request\(s\) on it: exited with code 7$/);
        expect(await pool.prepare(text("after"), NOW())).to.deep.equal(echo("after"));
      } finally {
        await pool.close();
      }
    });

    it("gives up, loudly, when workers die before they are ready", async function () {
      const pool = new IngestPool({ domain: DOMAIN, maxEvents: 500, workers: 1, workerUrl: new URL("broken-ingest-worker.ts", FIXTURES) });
      try {
        expectWorkerError(await rejection(pool.prepare(text("x"), NOW())), /keep dying before they are ready.*cannot load/);
        expectWorkerError(await rejection(pool.prepare(text("x"), NOW())), /keep dying/);
        expectWorkerError(await rejection(pool.backend()), /keep dying/);
      } finally {
        await pool.close();
      }
    });
  });

  describe("lifecycle", function () {
    it("close() rejects pending calls, refuses later ones and is idempotent", async function () {
      const pool = crashing(1, 1);
      const pending = [rejection(pool.prepare(text("slow 1000 a"), NOW())), rejection(pool.prepare(text("b"), NOW()))];
      await new Promise((r) => setTimeout(r, 100));
      await pool.close();
      for (const err of await Promise.all(pending)) expectWorkerError(err, /closed/);
      expectWorkerError(await rejection(pool.prepare(text("c"), NOW())), /closed/);
      await pool.close();
    });

    it("refuses invalid options at construction", function () {
      expect(() => new IngestPool({ domain: DOMAIN, maxEvents: 500, workers: 0 })).to.throw(RangeError, /workers/);
      expect(() => new IngestPool({ domain: DOMAIN, maxEvents: 500, workers: 1, maxInFlightPerWorker: 0 })).to.throw(RangeError, /maxInFlightPerWorker/);
    });

    const modes: Record<string, string> = {
      close: "after close()",
      leave: "even without close()",
      backend: "after awaiting backend() alone, which keeps it alive until a worker answers",
    };
    for (const [mode, how] of Object.entries(modes)) {
      it(`lets its process exit on its own ${how}`, function () {
        const script = fileURLToPath(new URL("pool-lifecycle.ts", FIXTURES));
        const run = spawnSync(process.execPath, ["--import", "tsx", script, mode], { encoding: "utf8", timeout: 30_000 });
        expect(run.error, "the process did not exit within 30 s").to.equal(undefined);
        expect(run.stderr).to.equal("");
        expect(run.stdout.trim()).to.equal(mode === "backend" ? "native" : "ok");
        expect(run.status).to.equal(0);
      });
    }

    it("starts the worker file under plain Node type stripping, without tsx", async function () {
      const [major] = process.versions.node.split(".").map(Number);
      if (major! < 23) this.skip();
      const body = Buffer.from(await observedBody(Wallet.createRandom(), 1)).toString("base64");
      const code = `
        import { Worker } from "node:worker_threads";
        const w = new Worker(new URL(${JSON.stringify(WORKER_TS.href)}), {
          workerData: { role: "ledger-ingest-worker", domain: ${JSON.stringify({ ...DOMAIN, chainId: String(DOMAIN.chainId) })}, maxEvents: 500 },
          // Not inherited: --input-type applies to this script only and would stop the worker file from loading.
          execArgv: [],
        });
        w.on("message", (m) => {
          if (m.type === "ready") {
            console.log(m.backend);
            w.postMessage({ id: 1, body: Buffer.from(${JSON.stringify(body)}, "base64"), now: ${NOW()} });
          } else {
            console.log(m.outcome.ok && m.outcome.events[0].badSignature === null ? "prepared" : JSON.stringify(m));
            w.terminate();
          }
        });`;
      const run = spawnSync(process.execPath, ["--input-type=module"], { input: code, encoding: "utf8", timeout: 30_000 });
      expect(run.stderr).to.equal("");
      expect(run.stdout.trim().split("\n")).to.deep.equal(["native", "prepared"]);
    });
  });
});
