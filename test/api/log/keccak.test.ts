import { expect } from "chai";
import { keccak_256 } from "@noble/hashes/sha3";
import { keccak256 as ethersKeccak } from "ethers";
import { keccak256 } from "../../../ledger-api/src/log/keccak.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** A deterministic byte string of `n` bytes (xorshift), so a failure names its input. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe("keccak256 (log/keccak.ts)", function () {
  it("hashes the empty input to the Keccak team's vector (c5d2...a470)", function () {
    expect(hex(keccak256(new Uint8Array(0)))).to.equal("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  });

  it("equals @noble/hashes' keccak_256 on every length from 0 to 700 bytes (five blocks), three inputs each", function () {
    for (let n = 0; n <= 700; n++) {
      for (let seed = 1; seed <= 3; seed++) {
        const input = bytes(n, seed + 7 * n);
        expect(hex(keccak256(input)), `length ${n}, seed ${seed}`).to.equal(hex(keccak_256(input)));
      }
    }
  });

  it("equals ethers' keccak256 around the block boundary (135, 136, 137 bytes) and on a view into a larger buffer", function () {
    for (const n of [135, 136, 137, 271, 272, 273]) {
      const input = bytes(n, n);
      expect("0x" + hex(keccak256(input))).to.equal(ethersKeccak(input));
    }
    const big = bytes(300, 9);
    const view = big.subarray(17, 17 + 140);
    expect("0x" + hex(keccak256(view))).to.equal(ethersKeccak(view));
  });

  it("leaves no state behind between calls: hashing other data in between changes nothing", function () {
    const a = bytes(200, 1);
    const first = hex(keccak256(a));
    keccak256(bytes(500, 2));
    expect(hex(keccak256(a))).to.equal(first);
  });
});
