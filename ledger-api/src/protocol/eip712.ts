/**
 * The ledger's EIP-712 hashing, hand-written per kind: the same digests as ethers' `TypedDataEncoder.hash` and the
 * contract's `_hashTypedDataV4(LifecycleTypes.hash(e))`, about 10x faster.
 *
 * Why it exists: ethers' encoder re-reads the type graph, re-derives the type hash and round-trips every word through
 * hex strings for every event; measured at 2,549 events/s on one core, it alone capped ingest. The struct of every
 * kind is fixed (typed-data.ts TYPES, mirrored by contracts/lib/LifecycleTypes.sol), so here the type hashes are
 * computed once at load, a domain separator once per domain, and each struct is written word by word into one buffer
 * and hashed with @noble/hashes' keccak (no hex in between).
 *
 * It is held to ethers on random values of every kind and edge values (test/api/protocol/eip712.test.ts) and to the
 * contract (a relayed event's on-chain eventHash). It runs in the browser bundle too (the verifier): no Node module,
 * no Buffer.
 *
 * Refusals match ethers': an integer out of its type's range, a bytesN of the wrong length, a malformed address or a
 * mixed-case address with a wrong EIP-55 checksum throws a TypeError / RangeError instead of hashing something the
 * contract would encode differently.
 */
import { keccak256 as keccak_256 } from "../log/keccak.ts";
import { KIND_NAMES, TYPES, type Kind, type ValuesOf } from "./typed-data.ts";

/** The EIP-712 domain fields the ledger uses (a subset of ethers' TypedDataDomain, in its hashing order). */
export interface Eip712Domain {
  readonly name?: string | null;
  readonly version?: string | null;
  readonly chainId?: bigint | number | string | null;
  readonly verifyingContract?: string | null;
  readonly salt?: string | Uint8Array | null;
}

const utf8 = new TextEncoder();
const HEX = "0123456789abcdef";
const HEX_PAIRS: string[] = Array.from({ length: 256 }, (_, i) => HEX[i >> 4]! + HEX[i & 15]!);

/** 0x-prefixed lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "0x";
  for (let i = 0; i < bytes.length; i++) out += HEX_PAIRS[bytes[i]!];
  return out;
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Writes the `length` bytes of a 0x-prefixed hex string at out[offset..]; throws unless it is exactly that long. */
function writeHex(out: Uint8Array, offset: number, hex: unknown, length: number, what: string): void {
  if (typeof hex !== "string" || hex.length !== 2 + 2 * length || hex[0] !== "0" || (hex[1] !== "x" && hex[1] !== "X")) {
    throw new TypeError(`invalid ${what}: ${String(hex)}`);
  }
  for (let i = 0; i < length; i++) {
    const hi = nibble(hex.charCodeAt(2 + 2 * i));
    const lo = nibble(hex.charCodeAt(3 + 2 * i));
    if (hi < 0 || lo < 0) throw new TypeError(`invalid ${what}: ${hex}`);
    out[offset + i] = (hi << 4) | lo;
  }
}

/** Throws, as ethers' getAddress does, on a mixed-case address whose EIP-55 checksum is wrong. */
function checkChecksum(address: string): void {
  const body = address.slice(2);
  if (body === body.toLowerCase() || body === body.toUpperCase()) return;
  if (checksummedAddress(address) !== address) throw new TypeError(`bad address checksum: ${address}`);
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * The EIP-55 form of a 0x-prefixed 40-digit hex address (any case), as ethers' getAddress returns it, or undefined
 * for anything else. One keccak of the lower-case digits, no hex round trips.
 */
export function checksummedAddress(address: string): string | undefined {
  if (!ADDRESS.test(address)) return undefined;
  const lower = address.slice(2).toLowerCase();
  const hash = keccak_256(utf8.encode(lower));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const c = lower[i]!;
    out += c >= "a" && ((hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 15) >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

const MAX_UINT256 = (1n << 256n) - 1n;

function toBigInt(value: unknown, what: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) return BigInt(value);
  throw new TypeError(`invalid ${what}: ${String(value)}`);
}

/** Writes an unsigned integer of `bits` as a big-endian 32-byte word. */
function writeUint(out: Uint8Array, offset: number, value: unknown, bits: number): void {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && (bits >= 53 || value < 2 ** bits)) {
    // The common case (times, small quantities) without BigInt: 53 bits fit two 32-bit halves.
    let v = value;
    for (let i = 31; v > 0; i--) {
      out[offset + i] = v % 256;
      v = Math.floor(v / 256);
    }
    return;
  }
  let v = toBigInt(value, `uint${bits}`);
  if (v < 0n || v > (bits === 256 ? MAX_UINT256 : (1n << BigInt(bits)) - 1n)) {
    throw new RangeError(`value out-of-bounds for uint${bits}: ${String(value)}`);
  }
  if (v <= 0xffffffffn) {
    let n = Number(v);
    for (let i = 31; n > 0; i--) {
      out[offset + i] = n & 0xff;
      n >>>= 8;
    }
    return;
  }
  for (let i = 31; v > 0n; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

// With the u flag a surrogate pair is one code point, so only an unpaired surrogate matches.
const LONE_SURROGATE = /\p{Cs}/u;

function writeString(out: Uint8Array, offset: number, value: unknown): void {
  if (typeof value !== "string") throw new TypeError(`invalid string: ${String(value)}`);
  // TextEncoder would write U+FFFD for it (ethers refuses): two strings would hash alike.
  if (LONE_SURROGATE.test(value)) throw new TypeError("invalid string: lone UTF-16 surrogate");
  out.set(keccak_256(utf8.encode(value)), offset);
}

function writeAddress(out: Uint8Array, offset: number, value: unknown): void {
  if (typeof value !== "string") throw new TypeError(`invalid address: ${String(value)}`);
  writeHex(out, offset + 12, value, 20, "address");
  checkChecksum(value);
}

function writeBool(out: Uint8Array, offset: number, value: unknown): void {
  if (typeof value !== "boolean") throw new TypeError(`invalid bool: ${String(value)}`);
  out[offset + 31] = value ? 1 : 0;
}

/** Writes one field of a struct at its word. */
type FieldWriter = (out: Uint8Array, offset: number, value: unknown) => void;

function childLotHash(child: unknown): Uint8Array {
  const c = child as Record<string, unknown>;
  if (c === null || typeof c !== "object") throw new TypeError("invalid ChildLot");
  const out = new Uint8Array(4 * 32);
  out.set(encoders().childLotTypeHash, 0);
  writeString(out, 32, c.gtin);
  writeString(out, 64, c.lot);
  writeUint(out, 96, c.quantity, 256);
  return keccak_256(out);
}

function writerFor(type: string): FieldWriter {
  switch (type) {
    case "string":
      return writeString;
    case "bool":
      return writeBool;
    case "address":
      return writeAddress;
    case "bytes32":
      return (out, offset, value) => writeHex(out, offset, value, 32, "bytes32");
    case "bytes2":
      return (out, offset, value) => writeHex(out, offset, value, 2, "bytes2");
    case "bytes32[]":
      return (out, offset, value) => {
        if (!Array.isArray(value)) throw new TypeError("invalid bytes32[]");
        const words = new Uint8Array(32 * value.length);
        value.forEach((v, i) => writeHex(words, 32 * i, v, 32, "bytes32"));
        out.set(keccak_256(words), offset);
      };
    case "ChildLot[]":
      return (out, offset, value) => {
        if (!Array.isArray(value)) throw new TypeError("invalid ChildLot[]");
        const words = new Uint8Array(32 * value.length);
        value.forEach((child, i) => words.set(childLotHash(child), 32 * i));
        out.set(keccak_256(words), offset);
      };
  }
  const uint = /^uint(\d+)$/.exec(type);
  if (uint) {
    const bits = Number(uint[1]);
    return (out, offset, value) => writeUint(out, offset, value, bits);
  }
  throw new Error(`no EIP-712 writer for type ${type}`);
}

/** EIP-712 encodeType: the primary type, then every struct type it references (transitively), sorted by name. */
function encodeType(types: Readonly<Record<string, readonly { name: string; type: string }[]>>, primary: string): string {
  const one = (name: string) => `${name}(${types[name]!.map((f) => `${f.type} ${f.name}`).join(",")})`;
  const found = new Set<string>();
  const visit = (name: string): void => {
    for (const f of types[name]!) {
      const base = f.type.replace(/\[\d*\]$/, "");
      if (types[base] !== undefined && base !== primary && !found.has(base)) {
        found.add(base);
        visit(base);
      }
    }
  };
  visit(primary);
  return [primary, ...[...found].sort()].map(one).join("");
}

interface KindEncoder {
  readonly typeHash: Uint8Array;
  readonly names: readonly string[];
  readonly writers: readonly FieldWriter[];
}

interface Encoders {
  readonly kinds: readonly KindEncoder[];
  readonly childLotTypeHash: Uint8Array;
}

let built: Encoders | undefined;

/**
 * The type hashes and field writers of every kind, built on first use rather than at load: typed-data.ts, whose
 * TYPES they are made from, imports this module, so at this module's load TYPES may not be initialised yet.
 */
function encoders(): Encoders {
  if (built !== undefined) return built;
  built = {
    kinds: KIND_NAMES.map((name, kind) => {
      const types = TYPES[kind as Kind];
      const fields = types[name]!;
      return {
        typeHash: keccak_256(utf8.encode(encodeType(types, name))),
        names: fields.map((f) => f.name),
        writers: fields.map((f) => writerFor(f.type)),
      };
    }),
    childLotTypeHash: keccak_256(utf8.encode(encodeType(TYPES[7], "ChildLot"))),
  };
  return built;
}

/** The EIP-712 type string of a kind, as hashed into its type hash (equal to ethers' encodeType). */
export function kindTypeString(kind: Kind): string {
  return encodeType(TYPES[kind], KIND_NAMES[kind]!);
}

/** hashStruct(kind, values) as bytes. */
export function structHashBytes<K extends Kind>(kind: K, values: ValuesOf[K]): Uint8Array {
  const encoder = encoders().kinds[kind];
  if (encoder === undefined) throw new RangeError(`unknown kind: ${String(kind)}`);
  const record = values as unknown as Record<string, unknown>;
  const out = new Uint8Array(32 * (1 + encoder.names.length));
  out.set(encoder.typeHash, 0);
  for (let i = 0; i < encoder.names.length; i++) encoder.writers[i]!(out, 32 * (i + 1), record[encoder.names[i]!]);
  return keccak_256(out);
}

const DOMAIN_FIELDS = [
  ["name", "string"],
  ["version", "string"],
  ["chainId", "uint256"],
  ["verifyingContract", "address"],
  ["salt", "bytes32"],
] as const;

/** The EIP-712 domain separator (hashStruct of EIP712Domain with the fields present, in the standard order). */
export function domainSeparatorBytes(domain: Eip712Domain): Uint8Array {
  const present = DOMAIN_FIELDS.filter(([name]) => domain[name] !== undefined && domain[name] !== null);
  const typeString = `EIP712Domain(${present.map(([name, type]) => `${type} ${name}`).join(",")})`;
  const out = new Uint8Array(32 * (1 + present.length));
  out.set(keccak_256(utf8.encode(typeString)), 0);
  present.forEach(([name, type], i) => {
    const value = domain[name];
    const at = 32 * (i + 1);
    if (type === "bytes32" && value instanceof Uint8Array) {
      if (value.length !== 32) throw new TypeError("invalid salt");
      out.set(value, at);
    } else {
      writerFor(type)(out, at, value);
    }
  });
  return keccak_256(out);
}

/**
 * Hashes events of one domain: the separator is computed once, at construction. Use one per domain (the ingest
 * workers, the relay and the verifier each hold one).
 */
export class Eip712Hasher {
  readonly #prefix = new Uint8Array(34);

  constructor(domain: Eip712Domain) {
    this.#prefix[0] = 0x19;
    this.#prefix[1] = 0x01;
    this.#prefix.set(domainSeparatorBytes(domain), 2);
  }

  /** The 0x-hex domain separator. */
  get domainSeparator(): string {
    return toHex(this.#prefix.subarray(2));
  }

  /** keccak256("\x19\x01" || domainSeparator || hashStruct(kind, values)) as bytes. */
  hashBytes<K extends Kind>(kind: K, values: ValuesOf[K]): Uint8Array {
    const buf = new Uint8Array(66);
    buf.set(this.#prefix, 0);
    buf.set(structHashBytes(kind, values), 34);
    return keccak_256(buf);
  }

  /** The event hash (the log key and the contract's eventHash), 0x-prefixed lowercase hex. */
  hash<K extends Kind>(kind: K, values: ValuesOf[K]): string {
    return toHex(this.hashBytes(kind, values));
  }
}

// Most callers hash for one or two domains for the life of the process; a domain object is usually reused.
const byObject = new WeakMap<object, Eip712Hasher>();
const byFields = new Map<string, Eip712Hasher>();

/** The hasher of `domain`, cached by the domain object and by its field values. */
export function hasherFor(domain: Eip712Domain): Eip712Hasher {
  const cached = byObject.get(domain);
  if (cached !== undefined) return cached;
  const key = DOMAIN_FIELDS.map(([name]) => {
    const v = domain[name];
    return v instanceof Uint8Array ? toHex(v) : String(v ?? "");
  }).join("\u0000");
  let hasher = byFields.get(key);
  if (hasher === undefined) {
    hasher = new Eip712Hasher(domain);
    if (byFields.size >= 64) byFields.clear();
    byFields.set(key, hasher);
  }
  byObject.set(domain, hasher);
  return hasher;
}
