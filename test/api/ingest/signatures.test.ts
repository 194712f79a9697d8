/**
 * Signer recovery (ingest/signatures.ts): the signer ethers recovers, under OpenZeppelin ECDSA.recover's rules, in
 * input order. The ingest workers run this same function on every request (ingest-pool.test.ts tests the pool).
 */
import { expect } from "chai";
import { createRequire } from "node:module";
import { SigningKey, TypedDataEncoder, Wallet, getBytes, hexlify, randomBytes, recoverAddress, toBeHex } from "ethers";
import type { TypedDataDomain, TypedDataField } from "ethers";
import { backendName, recoverSync } from "../../../ledger-api/src/ingest/signatures.ts";
import type { SignatureItem } from "../../../ledger-api/src/ingest/signatures.ts";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The raw libsecp256k1 binding, for fast signing of large fixtures and to show what it accepts on its own. */
interface NativeSecp256k1 {
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
}
const native = createRequire(import.meta.url)("secp256k1/bindings") as NativeSecp256k1;

function signed(key: SigningKey, digest: string): SignatureItem {
  return { digest, signature: key.sign(digest).serialized };
}

/** Replaces bytes [from, from + replacement.length) of a 0x-hex string. */
function patch(hex: string, from: number, replacement: string): string {
  const body = hex.slice(2);
  return "0x" + body.slice(0, from * 2) + replacement + body.slice(from * 2 + replacement.length);
}

describe("signature recovery", function () {
  this.timeout(120_000);

  describe("backend", function () {
    it("uses native libsecp256k1", function () {
      expect(backendName).to.equal("native");
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
      expect(recoverSync(items)).to.deep.equal(signers);
    });

    it("accepts v as 0 / 1 as well as 27 / 28", async function () {
      const key = new SigningKey(hexlify(randomBytes(32)));
      const items = Array.from({ length: 8 }, () => signed(key, hexlify(randomBytes(32))));
      const lowV = items.map((it) => ({ digest: it.digest, signature: patch(it.signature, 64, it.signature.endsWith("1b") ? "00" : "01") }));
      const results = recoverSync([...items, ...lowV]);
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
      expect(recoverSync([good, { digest, signature: twin }])).to.deep.equal([signer, null]);
    });

    it("accepts s = n / 2 exactly and refuses s = n / 2 + 1 (the boundary, whatever the key)", async function () {
      const halfN = N / 2n;
      const atHalf = sig.r + toBeHex(halfN, 32).slice(2) + "1b";
      const aboveHalf = sig.r + toBeHex(halfN + 1n, 32).slice(2) + "1b";
      const [at, above] = recoverSync([
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
      it(`refuses ${what} (null)`, function () {
        expect(recoverSync([good, make(), good])).to.deep.equal([signer, null, signer]);
      });
    }

    it("accepts an uppercase 0X prefix and mixed-case hex", async function () {
      const item = { digest: "0X" + digest.slice(2).toUpperCase(), signature: good.signature.toUpperCase().replace("0X", "0x") };
      expect(recoverSync([item, good])).to.deep.equal([signer, signer]);
    });
  });

  describe("order", function () {
    it("answers 20,000 items in input order, with invalid ones sprinkled in", function () {
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
      expect(recoverSync(items)).to.deep.equal(expected);
      expect(recoverSync([])).to.deep.equal([]);
    });

    it("recovers the fixed vector of an independently produced signature", function () {
      expect(recoverSync([good712])).to.deep.equal([good712.signer]);
    });
  });
});

// A fixed, independently produced vector: a wallet's signature over a digest, with its checksummed signer.
const good712 = (() => {
  const key = new SigningKey("0x" + "01".repeat(32));
  const digest = "0x" + "ab".repeat(32);
  return { digest, signature: key.sign(digest).serialized, signer: new Wallet(key).address };
})();
