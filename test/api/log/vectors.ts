/**
 * The log vectors both languages check: leaf i is the RFC 9162 leaf hash of the entry abi.encode(uint256 i), the same
 * leaves test/contracts/LogAnchor.t.sol builds for its pinned roots (test/vectors/rfc9162-keccak.json). Shared by the
 * TypeScript log tests and the contract tests, so a proof the contract accepts is a proof merkle.ts produced.
 */
import { readFileSync } from "node:fs";
import { AbiCoder } from "ethers";
import { hexToBytes, leafHash } from "../../../ledger-api/src/log/hash.ts";
import type { Hash } from "../../../ledger-api/src/log/hash.ts";

const coder = AbiCoder.defaultAbiCoder();

/** Leaf hashes 0..n-1 of the vector log. */
export function vectorLeaves(n: number, from = 0): Hash[] {
  return Array.from({ length: n }, (_, i) => leafHash(hexToBytes(coder.encode(["uint256"], [from + i]))));
}

export interface PinnedRoot {
  readonly size: number;
  readonly root: string;
}

export function pinnedRoots(): PinnedRoot[] {
  const url = new URL("../../vectors/rfc9162-keccak.json", import.meta.url);
  const parsed = JSON.parse(readFileSync(url, "utf8")) as { roots: PinnedRoot[] };
  return parsed.roots;
}

/** Deterministic PRNG (mulberry32) so a failing random case can be replayed from its seed. */
export function prng(seed: number): (below: number) => number {
  let a = seed >>> 0;
  return (below: number): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

/** A copy of `hash` with one bit flipped. */
export function flipBit(hash: Hash, bit: number): Hash {
  const out = Uint8Array.from(hash);
  out[Math.floor(bit / 8) % 32]! ^= 1 << bit % 8;
  return out;
}
