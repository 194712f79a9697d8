/**
 * The fast EIP-712 encoder (protocol/eip712.ts) hashes every kind exactly as ethers' TypedDataEncoder does, on random
 * values and on the edges of each type, and refuses what ethers refuses. (That it equals the contract's own hash is
 * held for every on-chain kind by test/contracts/LifecycleCall.behavior.ts: a signature over its digest is accepted.)
 */
import { expect } from "chai";
import { getAddress, hexlify, TypedDataEncoder, type TypedDataField } from "ethers";
import { Eip712Hasher, hasherFor, kindTypeString, structHashBytes, toHex } from "../../../ledger-api/src/protocol/eip712.ts";
import { KINDS, KIND_NAMES, Kind, TYPES, eventHash, ledgerDomain, structHash, type ValuesOf } from "../../../ledger-api/src/protocol/typed-data.ts";

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX_UINT256 = (1n << 256n) - 1n;
const ALPHABET = ["a", "Z", "0", " ", "/", "é", "€", "한", "\u{1F34A}", "\u0000", "\n", "דּ"];

class Gen {
  readonly rand: () => number;
  constructor(seed: number) {
    this.rand = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  bytes(n: number): string {
    return hexlify(Uint8Array.from({ length: n }, () => this.int(256)));
  }
  string(): string {
    const len = [0, 1, 5, 40, 300][this.int(5)]!;
    let s = "";
    for (let i = 0; i < len; i++) s += ALPHABET[this.int(ALPHABET.length)]!;
    return s;
  }
  uint(bits: number): bigint {
    const max = (1n << BigInt(bits)) - 1n;
    switch (this.int(4)) {
      case 0:
        return 0n;
      case 1:
        return max;
      case 2:
        return BigInt(this.int(1_000_000));
      default:
        return BigInt(this.bytes(bits / 8)) & max;
    }
  }
  address(): string {
    const raw = this.bytes(20);
    // Lower case, upper case and checksummed are all valid spellings.
    return [raw, "0x" + raw.slice(2).toUpperCase(), getAddress(raw)][this.int(3)]!;
  }
  value(type: string, types: Readonly<Record<string, TypedDataField[]>>): unknown {
    if (type.endsWith("[]")) {
      const len = [0, 1, 2, 32, 100][this.int(5)]!;
      return Array.from({ length: len }, () => this.value(type.slice(0, -2), types));
    }
    if (types[type] !== undefined) return this.struct(type, types);
    if (type === "string") return this.string();
    if (type === "bool") return this.rand() < 0.5;
    if (type === "address") return this.address();
    if (type.startsWith("bytes")) return this.bytes(Number(type.slice(5)));
    if (type.startsWith("uint")) return this.uint(Number(type.slice(4)));
    throw new Error(`no generator for ${type}`);
  }
  struct(name: string, types: Readonly<Record<string, TypedDataField[]>>): Record<string, unknown> {
    return Object.fromEntries(types[name]!.map((f) => [f.name, this.value(f.type, types)]));
  }
}

const domain = ledgerDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");

function ethersHash(kind: Kind, values: unknown): string {
  return TypedDataEncoder.hash(domain, TYPES[kind] as Record<string, TypedDataField[]>, values as Record<string, unknown>);
}

describe("protocol/eip712: the fast EIP-712 encoder", function () {
  it("spells every kind's type string as ethers does", function () {
    for (const kind of KINDS) {
      expect(kindTypeString(kind)).to.equal(TypedDataEncoder.from(TYPES[kind]).encodeType(KIND_NAMES[kind]!));
    }
  });

  it("computes the domain separator ethers computes, for the ledger's domain and for partial domains", function () {
    expect(new Eip712Hasher(domain).domainSeparator).to.equal(TypedDataEncoder.hashDomain(domain));
    for (const d of [{ name: "X" }, { name: "é", version: "2", chainId: 1n }, { verifyingContract: domain.verifyingContract, salt: "0x" + "11".repeat(32) }]) {
      expect(new Eip712Hasher(d).domainSeparator).to.equal(TypedDataEncoder.hashDomain(d));
    }
  });

  it("hashes 200 random values of every kind exactly as ethers' TypedDataEncoder.hash", function () {
    const hasher = new Eip712Hasher(domain);
    for (const kind of KINDS) {
      const gen = new Gen(1000 + kind);
      for (let i = 0; i < 200; i++) {
        const values = gen.struct(KIND_NAMES[kind]!, TYPES[kind]) as unknown as ValuesOf[Kind];
        const expected = ethersHash(kind, values);
        expect(hasher.hash(kind, values), `${KIND_NAMES[kind]} case ${i}`).to.equal(expected);
        expect(eventHash(domain, kind, values)).to.equal(expected);
        expect(structHash(kind, values)).to.equal(TypedDataEncoder.from(TYPES[kind]).hash(values as unknown as Record<string, unknown>));
      }
    }
  });

  it("hashes the edges: empty strings, max uint256, the widest uints, long arrays and astral unicode", function () {
    const edge = {
      gtin: "",
      lot: "\u{1F34A}\u{1F34A}",
      product: "한라봉 ".repeat(500),
      originCountry: "0xffff",
      region: "",
      farmGln: (1n << 64n) - 1n,
      harvestDate: 0n,
      quantity: MAX_UINT256,
      unit: "\u0000",
      imported: true,
      occurredAt: (1n << 64n) - 1n,
      docHash: "0x" + "ff".repeat(32),
      nonce: MAX_UINT256,
      deadline: MAX_UINT256,
    };
    expect(hasherFor(domain).hash(Kind.Registered, edge)).to.equal(ethersHash(Kind.Registered, edge));
    const gen = new Gen(7);
    const split = {
      batchId: gen.bytes(32),
      children: Array.from({ length: 500 }, (_, i) => ({ gtin: String(i), lot: "", quantity: MAX_UINT256 - BigInt(i) })),
      occurredAt: 0n,
      docHash: gen.bytes(32),
      nonce: 0n,
      deadline: 0n,
    };
    expect(hasherFor(domain).hash(Kind.Split, split)).to.equal(ethersHash(Kind.Split, split));
    const merged = { parents: Array.from({ length: 1000 }, () => gen.bytes(32)), gtin: "x", lot: "y", occurredAt: 1n, docHash: gen.bytes(32), nonce: 2n, deadline: 3n };
    expect(hasherFor(domain).hash(Kind.Merged, merged)).to.equal(ethersHash(Kind.Merged, merged));
    expect(toHex(structHashBytes(Kind.Merged, { ...merged, parents: [] }))).to.equal(
      TypedDataEncoder.from(TYPES[Kind.Merged]).hash({ ...merged, parents: [] }),
    );
  });

  it("refuses what ethers refuses: out-of-range integers, wrong-length bytes, bad addresses and checksums, lone surrogates", function () {
    const gen = new Gen(99);
    const base = gen.struct("HandOffOffered", TYPES[Kind.HandOffOffered]) as unknown as ValuesOf[typeof Kind.HandOffOffered];
    const bad: Record<string, unknown>[] = [
      { occurredAt: 1n << 64n },
      { nonce: MAX_UINT256 + 1n },
      { deadline: -1n },
      { batchId: "0x" + "00".repeat(31) },
      { batchId: "0x" + "zz".repeat(32) },
      { to: "0x" + "00".repeat(19) },
      // A mixed-case address with one letter's case flipped from its checksum.
      { to: getAddress("0x" + "ab".repeat(20)).replace("AB", "Ab") },
    ];
    const hasher = new Eip712Hasher(domain);
    for (const over of bad) {
      const values = { ...base, ...over } as ValuesOf[typeof Kind.HandOffOffered];
      expect(() => ethersHash(Kind.HandOffOffered, values), JSON.stringify(over, (_, v) => (typeof v === "bigint" ? String(v) : v))).to.throw();
      expect(() => hasher.hash(Kind.HandOffOffered, values)).to.throw();
    }
    const recall = { ...(gen.struct("Recalled", TYPES[Kind.Recalled]) as unknown as ValuesOf[typeof Kind.Recalled]), reason: "a\uD800b" };
    expect(() => ethersHash(Kind.Recalled, recall)).to.throw();
    expect(() => hasher.hash(Kind.Recalled, recall)).to.throw();
  });
});
