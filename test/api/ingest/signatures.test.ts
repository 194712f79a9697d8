import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { SigningKey, TypedDataEncoder, Wallet, getBytes, hexlify, randomBytes, recoverAddress, toBeHex } from "ethers";
import type { TypedDataDomain, TypedDataField } from "ethers";
import {
  SignaturePool,
  SignatureWorkerError,
  mainThreadBackend,
  recoverSync,
} from "../../../ledger-api/src/ingest/signatures.ts";
import type { SignatureItem } from "../../../ledger-api/src/ingest/signatures.ts";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const WORKER_TS = new URL("../../../ledger-api/src/ingest/signature-worker.ts", import.meta.url);
const FIXTURES = new URL("./fixtures/", import.meta.url);

/** The raw libsecp256k1 binding, for fast signing of large fixtures and to show what it accepts on its own. */
interface NativeSecp256k1 {
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
}
const native = createRequire(import.meta.url)("secp256k1/bindings") as NativeSecp256k1;

function signed(key: SigningKey, digest: string): SignatureItem {
  return { digest, signature: key.sign(digest).serialized };
}

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
  expect(err).to.be.instanceOf(SignatureWorkerError);
  expect((err as Error).message).to.match(message);
}

/** Replaces bytes [from, from + replacement.length) of a 0x-hex string. */
function patch(hex: string, from: number, replacement: string): string {
  const body = hex.slice(2);
  return "0x" + body.slice(0, from * 2) + replacement + body.slice(from * 2 + replacement.length);
}

describe("signature recovery", function () {
  this.timeout(120_000);

  let pool: SignaturePool;
  before(function () {
    pool = new SignaturePool({ workers: 2, inlineMax: 0 });
  });
  after(async function () {
    await pool.close();
  });

  describe("backend", function () {
    it("uses native libsecp256k1 on the main thread and in the workers", async function () {
      expect(mainThreadBackend).to.equal("native");
      expect(await pool.backend()).to.equal("native");
    });
  });

  describe("agreement with ethers", function () {
    it("recovers the same address as ethers' recoverAddress for 1,000 random wallets and digests", async function () {
      const items: SignatureItem[] = [];
      const expected: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const key = new SigningKey(hexlify(randomBytes(32)));
        const item = signed(key, hexlify(randomBytes(32)));
        items.push(item);
        expected.push(recoverAddress(item.digest, item.signature));
      }
      expect(await pool.recover(items)).to.deep.equal(expected);
      expect(recoverSync(items)).to.deep.equal(expected);
    });

    it("recovers the signer of an EIP-712 struct from TypedDataEncoder.hash", async function () {
      const domain: TypedDataDomain = {
        name: "ProvenanceLedger",
        version: "1",
        chainId: 31337,
        verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      };
      const types: Record<string, TypedDataField[]> = {
        Event: [
          { name: "batchId", type: "bytes32" },
          { name: "kind", type: "uint8" },
          { name: "at", type: "uint64" },
          { name: "docHash", type: "bytes32" },
        ],
      };
      const items: SignatureItem[] = [];
      const signers: string[] = [];
      for (let i = 0; i < 20; i++) {
        const wallet = Wallet.createRandom();
        const value = { batchId: hexlify(randomBytes(32)), kind: i % 9, at: 1_700_000_000 + i, docHash: hexlify(randomBytes(32)) };
        items.push({ digest: TypedDataEncoder.hash(domain, types, value), signature: await wallet.signTypedData(domain, types, value) });
        signers.push(wallet.address);
      }
      expect(await pool.recover(items)).to.deep.equal(signers);
    });

    it("accepts v as 0 / 1 as well as 27 / 28", async function () {
      const key = new SigningKey(hexlify(randomBytes(32)));
      const items = Array.from({ length: 8 }, () => signed(key, hexlify(randomBytes(32))));
      const lowV = items.map((it) => ({ digest: it.digest, signature: patch(it.signature, 64, it.signature.endsWith("1b") ? "00" : "01") }));
      const results = await pool.recover([...items, ...lowV]);
      expect(results).to.deep.equal(Array(16).fill(new Wallet(key).address));
    });
  });

  describe("OpenZeppelin ECDSA.recover rules", function () {
    const key = new SigningKey(hexlify(randomBytes(32)));
    const signer = new Wallet(key).address;
    const digest = hexlify(randomBytes(32));
    const good = signed(key, digest);
    const sig = key.sign(digest);

    it("refuses the high-s twin (n - s, v flipped), a signature libsecp256k1 itself would recover", async function () {
      const highS = toBeHex(N - BigInt(sig.s), 32).slice(2);
      const twin = sig.r + highS + (sig.v === 27 ? "1c" : "1b");
      // The twin is mathematically valid: raw libsecp256k1 recovers the signer's very key from it...
      const raw = native.ecdsaRecover(getBytes(twin).subarray(0, 64), sig.v === 27 ? 1 : 0, getBytes(digest), false);
      expect(hexlify(raw)).to.equal(key.publicKey);
      // ...ethers 6 also refuses it (its "non-canonical s" check), and so must we, as OpenZeppelin does.
      expect(() => recoverAddress(digest, twin)).to.throw(/non-canonical s/);
      expect(await pool.recover([good, { digest, signature: twin }])).to.deep.equal([signer, null]);
    });

    it("accepts s = n / 2 exactly and refuses s = n / 2 + 1 (the boundary, whatever the key)", async function () {
      const halfN = N / 2n;
      const atHalf = sig.r + toBeHex(halfN, 32).slice(2) + "1b";
      const aboveHalf = sig.r + toBeHex(halfN + 1n, 32).slice(2) + "1b";
      const [at, above] = await pool.recover([
        { digest, signature: atHalf },
        { digest, signature: aboveHalf },
      ]);
      // s = n/2 recovers some key (not the signer's): only the range rule is under test here.
      expect(at).to.match(/^0x[0-9a-fA-F]{40}$/);
      expect(above).to.equal(null);
    });

    const refusals: [string, () => SignatureItem][] = [
      ["v = 29", () => ({ digest, signature: patch(good.signature, 64, "1d") })],
      ["v = 2", () => ({ digest, signature: patch(good.signature, 64, "02") })],
      ["r = 0", () => ({ digest, signature: patch(good.signature, 0, "00".repeat(32)) })],
      ["s = 0", () => ({ digest, signature: patch(good.signature, 32, "00".repeat(32)) })],
      ["r = n", () => ({ digest, signature: patch(good.signature, 0, toBeHex(N, 32).slice(2)) })],
      ["r > n", () => ({ digest, signature: patch(good.signature, 0, "ff".repeat(32)) })],
      ["s = n", () => ({ digest, signature: patch(good.signature, 32, toBeHex(N, 32).slice(2)) })],
      ["s = n + 1", () => ({ digest, signature: patch(good.signature, 32, toBeHex(N + 1n, 32).slice(2)) })],
      ["an EIP-2098 64-byte compact signature", () => ({ digest, signature: sig.compactSerialized })],
      ["a 66-byte signature", () => ({ digest, signature: good.signature + "00" })],
      ["a 64-byte signature with v dropped", () => ({ digest, signature: good.signature.slice(0, -2) })],
      ["a 31-byte digest", () => ({ digest: digest.slice(0, -2), signature: good.signature })],
      ["a 33-byte digest", () => ({ digest: digest + "00", signature: good.signature })],
      ["a digest without 0x", () => ({ digest: digest.slice(2) + "00", signature: good.signature })],
      ["non-hex characters", () => ({ digest, signature: patch(good.signature, 10, "zz") })],
      ["a signature that is not a string", () => ({ digest, signature: 42 as unknown as string })],
      ["an r that is no curve point's x", () => ({ digest, signature: patch(good.signature, 0, "00".repeat(31) + "05") })],
    ];
    for (const [what, make] of refusals) {
      it(`refuses ${what} (null), in the workers and inline alike`, async function () {
        const batch = [good, make(), good];
        expect(await pool.recover(batch)).to.deep.equal([signer, null, signer]);
        expect(recoverSync(batch)).to.deep.equal([signer, null, signer]);
      });
    }

    it("accepts an uppercase 0X prefix and mixed-case hex", async function () {
      const item = { digest: "0X" + digest.slice(2).toUpperCase(), signature: good.signature.toUpperCase().replace("0X", "0x") };
      expect(await pool.recover([item, good])).to.deep.equal([signer, signer]);
    });
  });

  describe("batching", function () {
    it("keeps input order across workers for 20,000 items, with invalid ones sprinkled in", async function () {
      const keys = Array.from({ length: 50 }, () => new SigningKey(hexlify(randomBytes(32))));
      const addresses = keys.map((k) => new Wallet(k).address);
      const items: SignatureItem[] = [];
      const expected: (string | null)[] = [];
      for (let i = 0; i < 20_000; i++) {
        const digest = randomBytes(32);
        const { signature, recid } = native.ecdsaSign(digest, getBytes(keys[i % 50]!.privateKey));
        // Every 7th item gets v = 29: order must hold for refusals too.
        const v = i % 7 === 0 ? 29 : 27 + recid;
        items.push({ digest: hexlify(digest), signature: hexlify(signature) + v.toString(16).padStart(2, "0") });
        expected.push(i % 7 === 0 ? null : addresses[i % 50]!);
      }
      const [a, b] = await Promise.all([pool.recover(items), pool.recover(items.slice(0, 1000))]);
      expect(a).to.deep.equal(expected);
      expect(b).to.deep.equal(expected.slice(0, 1000));
    });

    it("answers an empty call with an empty array and tiny calls inline when configured", async function () {
      expect(await pool.recover([])).to.deep.equal([]);
      const inline = new SignaturePool({ workers: 1, inlineMax: 4 });
      try {
        const key = new SigningKey(hexlify(randomBytes(32)));
        const item = signed(key, hexlify(randomBytes(32)));
        expect(await inline.recover([item, item])).to.deep.equal([new Wallet(key).address, new Wallet(key).address]);
      } finally {
        await inline.close();
      }
    });

    it("refuses invalid options at construction", function () {
      expect(() => new SignaturePool({ workers: 0 })).to.throw(RangeError, /workers/);
      expect(() => new SignaturePool({ batchSize: 1.5 })).to.throw(RangeError, /batchSize/);
      expect(() => new SignaturePool({ inlineMax: -1 })).to.throw(RangeError, /inlineMax/);
    });
  });

  describe("worker failure", function () {
    const ok = { digest: "0x" + "00".repeat(32), signature: "0x" + "00".repeat(65) };
    const poisoned = { digest: "0xee" + "00".repeat(31), signature: ok.signature };
    const exiting = { digest: "0xef" + "00".repeat(31), signature: ok.signature };
    const fake = "0x" + "a".repeat(40);

    it("rejects the calls on a worker that throws, replaces it, and serves the calls queued behind", async function () {
      // One worker taking one batch at a time: the second call waits in the queue while the first kills the worker.
      const pool = new SignaturePool({
        workers: 1,
        maxInFlightPerWorker: 1,
        inlineMax: 0,
        workerUrl: new URL("crashing-signature-worker.ts", FIXTURES),
      });
      try {
        const [dead, alive] = await Promise.allSettled([pool.recover([poisoned, ok]), pool.recover([ok])]);
        expect(dead.status).to.equal("rejected");
        expectWorkerError(
          (dead as PromiseRejectedResult).reason,
          /^signature worker \(thread \d+\) died with 1 batch\(es\) in flight: poisoned batch$/,
        );
        expect(alive).to.deep.equal({ status: "fulfilled", value: [fake] });
        expect(await pool.recover(Array(600).fill(ok))).to.deep.equal(Array(600).fill(fake));
      } finally {
        await pool.close();
      }
    });

    it("fails only the calls on the dead worker when several workers share the load", async function () {
      const pool = new SignaturePool({ workers: 2, batchSize: 1, inlineMax: 0, workerUrl: new URL("crashing-signature-worker.ts", FIXTURES) });
      try {
        const healthy = Array.from({ length: 20 }, () => pool.recover([ok, ok]));
        const dead = rejection(pool.recover([poisoned]));
        expectWorkerError(await dead, /poisoned batch/);
        // Calls that were in flight on the dying worker may fail with it; all others must succeed.
        const outcomes = await Promise.allSettled(healthy);
        const fulfilled = outcomes.filter((o) => o.status === "fulfilled");
        expect(fulfilled.length).to.be.greaterThan(10);
        for (const o of fulfilled) expect(o.value).to.deep.equal([fake, fake]);
        for (const o of outcomes) if (o.status === "rejected") expectWorkerError(o.reason, /poisoned batch/);
        expect(await pool.recover([ok, ok, ok])).to.deep.equal([fake, fake, fake]);
      } finally {
        await pool.close();
      }
    });

    it("rejects the calls on a worker that exits, and replaces it", async function () {
      const pool = new SignaturePool({ workers: 1, inlineMax: 0, workerUrl: new URL("crashing-signature-worker.ts", FIXTURES) });
      try {
        expectWorkerError(await rejection(pool.recover([exiting])), /^signature worker \(thread [1-9]\d*\) died .*exited with code 7$/);
        expect(await pool.recover([ok, ok])).to.deep.equal([fake, fake]);
      } finally {
        await pool.close();
      }
    });

    it("gives up, loudly, when workers die before they are ready", async function () {
      const pool = new SignaturePool({ workers: 1, inlineMax: 0, workerUrl: new URL("broken-signature-worker.ts", FIXTURES) });
      try {
        expectWorkerError(await rejection(pool.recover([ok])), /keep dying before they are ready.*cannot load/);
        expectWorkerError(await rejection(pool.recover([ok])), /keep dying/);
        expectWorkerError(await rejection(pool.backend()), /keep dying/);
      } finally {
        await pool.close();
      }
    });
  });

  describe("lifecycle", function () {
    it("close() rejects pending calls, refuses later ones and is idempotent", async function () {
      const pool = new SignaturePool({ workers: 1, inlineMax: 0 });
      const pending = pool.recover(Array(2000).fill({ digest: "0x" + "11".repeat(32), signature: "0x" + "22".repeat(64) + "1b" }));
      const refused = rejection(pending);
      await pool.close();
      expectWorkerError(await refused, /closed/);
      expectWorkerError(await rejection(pool.recover([{ digest: "0x", signature: "0x" }])), /closed/);
      await pool.close();
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

    it("starts the worker file under plain Node type stripping, without tsx", function () {
      const [major] = process.versions.node.split(".").map(Number);
      if (major! < 23) this.skip();
      const code = `
        import { Worker } from "node:worker_threads";
        const w = new Worker(new URL(${JSON.stringify(WORKER_TS.href)}), {
          workerData: { role: "ledger-signature-worker" },
          // Not inherited: --input-type applies to this script only and would stop the worker file from loading.
          execArgv: [],
        });
        w.on("message", (m) => {
          if (m.type === "ready") {
            console.log(m.backend);
            const buf = new Uint8Array(97); buf.set(Buffer.from(${JSON.stringify(good712.digest.slice(2))}, "hex"), 0);
            buf.set(Buffer.from(${JSON.stringify(good712.signature.slice(2))}, "hex"), 32);
            w.postMessage({ id: 1, count: 1, buffer: buf.buffer }, [buf.buffer]);
          } else {
            console.log("0x" + Buffer.from(m.buffer).toString("latin1", 1, 41));
            w.terminate();
          }
        });`;
      const run = spawnSync(process.execPath, ["--input-type=module"], { input: code, encoding: "utf8", timeout: 30_000 });
      expect(run.stderr).to.equal("");
      expect(run.stdout.trim().split("\n")).to.deep.equal(["native", good712.signer]);
    });
  });
});

// A fixed, independently produced vector: a wallet's signature over a digest, with its checksummed signer.
const good712 = (() => {
  const key = new SigningKey("0x" + "01".repeat(32));
  const digest = "0x" + "ab".repeat(32);
  return { digest, signature: key.sign(digest).serialized, signer: new Wallet(key).address };
})();
