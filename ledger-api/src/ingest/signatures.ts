/**
 * ECDSA (secp256k1) signer recovery with OpenZeppelin ECDSA.recover's acceptance rules, on native libsecp256k1. It
 * runs where prepare.ts runs: on the ingest workers (ingest-pool.ts), which recover every request's signers off the
 * event loop, or on the calling thread. (An earlier pool of its own, SignaturePool, duplicated the ingest pool's
 * worker management; the ingest pool is the one pool, and it tests what that pool guaranteed.)
 *
 * Recovery costs ~70 us per signature natively, ~1.6 ms with ethers' pure-JS code (scripts/bench-signatures.ts).
 *
 * Guarantees: `recoverSync` answers one entry per item, in input order: the EIP-55 checksummed signer address, or
 * null when the item is malformed or breaks the rules below. Validity is data, never an exception.
 *
 * Acceptance rules, the same as OpenZeppelin 5 `ECDSA.recover(bytes32 hash, bytes signature)`, so an event the API
 * accepts is one the contract accepts:
 * - exactly 65 bytes r || s || v. EIP-2098 64-byte compact signatures are refused, as OZ 5 `recover(bytes)` does:
 *   accepting both encodings would give one signed statement two byte forms, and signature bytes are logged.
 * - v in {27, 28}; v in {0, 1} is also accepted and read as 27 / 28 (wallets and HSMs emit both). The relay must
 *   submit v as 27 / 28, since the ecrecover precompile only knows those.
 * - 0 < r < n and 0 < s <= n / 2: the high-s twin (n - s, v flipped) of every valid signature is refused, so a
 *   signature cannot be re-encoded into a second valid one (malleability). libsecp256k1's recovery itself accepts
 *   high s, which is why the check is made here and not left to the backend.
 * - a recovered key whose address is zero is refused (OZ treats address(0) as "invalid signature").
 * The address is the last 20 bytes of keccak256(uncompressed public key without its 0x04 prefix), EIP-55 checksummed.
 *
 * Packed layout. The items are packed into one buffer of ITEM_BYTES each: digest (32) || r (32) || s (32) || v (1).
 * Results are written into that same buffer: item i's result at i * RESULT_BYTES, one status byte followed by the 40
 * ASCII characters of the checksummed address (no 0x). Result i ends before item i + 1 starts
 * (41 * (i + 1) <= 97 * (i + 1)) and item i is fully read before its result is written, so the overlap is safe and a
 * batch costs no allocation beyond the address strings.
 */
import { createRequire } from "node:module";
import { SigningKey } from "ethers";
import { keccak256 as keccak_256 } from "../log/keccak.ts";

export const DIGEST_BYTES = 32;
export const SIGNATURE_BYTES = 65;
export const ITEM_BYTES = DIGEST_BYTES + SIGNATURE_BYTES;
export const RESULT_BYTES = 41;

/** Per-item outcome. Anything but Ok means "no signer": the public API reports null. */
export const RecoveryStatus = {
  Ok: 0,
  /** v is not 0, 1, 27 or 28. */
  BadV: 1,
  /** r or s is zero or not below the group order n. */
  OutOfRange: 2,
  /** s > n / 2 (the malleable twin of a low-s signature). */
  HighS: 3,
  /** No curve point has x = r, or recovery failed otherwise. */
  NoKey: 4,
  /** The recovered key hashes to address zero. */
  ZeroAddress: 5,
} as const;
export type RecoveryStatus = (typeof RecoveryStatus)[keyof typeof RecoveryStatus];

/** Which secp256k1 implementation recovers: the native binding, or the pure-JS fallback when it failed to load. */
export type BackendName = "native" | "js";

/** Writes the uncompressed (65-byte) public key into `out`, or returns false when no key can be recovered. */
type RecoverFn = (sig64: Uint8Array, recid: number, digest: Uint8Array, out: Uint8Array) => boolean;

interface NativeSecp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean, output: Uint8Array): Uint8Array;
}

/**
 * Loads libsecp256k1 through the package's N-API binding. `require("secp256k1")` would silently fall back to the
 * pure-JS elliptic build (~20x slower), so the native entry is required explicitly; if it cannot load, recovery falls
 * back to ethers' pure-JS secp256k1 with a process warning, and the backend name says so.
 */
function loadBackend(): { name: BackendName; recover: RecoverFn } {
  try {
    const native = createRequire(import.meta.url)("secp256k1/bindings") as NativeSecp256k1;
    return {
      name: "native",
      recover: (sig64, recid, digest, out) => {
        try {
          native.ecdsaRecover(sig64, recid, digest, false, out);
          return true;
        } catch {
          // The binding throws for "no point with this x" and similar; the rules were already checked.
          return false;
        }
      },
    };
  } catch (err) {
    process.emitWarning(
      `native libsecp256k1 binding failed to load (${(err as Error).message}); ` +
        "falling back to pure-JS secp256k1, signature recovery will be ~20x slower",
      { code: "LEDGER_SECP256K1_FALLBACK" },
    );
    return {
      name: "js",
      recover: (sig64, recid, digest, out) => {
        try {
          const hex = SigningKey.recoverPublicKey(digest, {
            r: "0x" + Buffer.from(sig64.subarray(0, 32)).toString("hex"),
            s: "0x" + Buffer.from(sig64.subarray(32, 64)).toString("hex"),
            v: 27 + recid,
          });
          out.set(Buffer.from(hex.slice(2), "hex"));
          return true;
        } catch {
          return false;
        }
      },
    };
  }
}

const backend = loadBackend();

/** Which secp256k1 implementation this thread recovers with. */
export const backendName: BackendName = backend.name;

// secp256k1 group order n and floor(n / 2), big-endian.
const N = Buffer.from("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hex");
const HALF_N = Buffer.from("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", "hex");

/** Compares the 32 big-endian bytes at bytes[offset..] with `ref`: negative, zero or positive. */
function compare32(bytes: Uint8Array, offset: number, ref: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = bytes[offset + i]! - ref[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function isZero32(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 32; i++) if (bytes[offset + i] !== 0) return false;
  return true;
}

const HEX_CODES = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
const pubkey = new Uint8Array(65);
const lowerAscii = new Uint8Array(40);

/** Recovers `count` packed items of `buffer` in place (see the file comment for the layout). */
export function recoverPacked(buffer: ArrayBuffer, count: number): void {
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < count; i++) {
    const item = i * ITEM_BYTES;
    const status = recoverOne(bytes, item);
    // recoverOne has finished reading item i (and left the address in lowerAscii), so its result may overwrite it.
    const out = i * RESULT_BYTES;
    bytes[out] = status;
    if (status === RecoveryStatus.Ok) writeChecksummed(bytes, out + 1);
  }
}

function recoverOne(bytes: Uint8Array, item: number): RecoveryStatus {
  const r = item + DIGEST_BYTES;
  const s = r + 32;
  const v = bytes[s + 32]!;
  const recid = v === 27 || v === 28 ? v - 27 : v === 0 || v === 1 ? v : -1;
  if (recid < 0) return RecoveryStatus.BadV;
  if (isZero32(bytes, r) || isZero32(bytes, s) || compare32(bytes, r, N) >= 0 || compare32(bytes, s, N) >= 0) {
    return RecoveryStatus.OutOfRange;
  }
  if (compare32(bytes, s, HALF_N) > 0) return RecoveryStatus.HighS;
  const ok = backend.recover(bytes.subarray(r, r + 64), recid, bytes.subarray(item, item + DIGEST_BYTES), pubkey);
  if (!ok) return RecoveryStatus.NoKey;
  // The address is the last 20 bytes of keccak256(key); hashed as bytes, written as lowercase ASCII hex.
  const hash = keccak_256(pubkey.subarray(1));
  let zero = true;
  for (let j = 0; j < 20; j++) {
    const b = hash[12 + j]!;
    lowerAscii[2 * j] = HEX_CODES[b >> 4]!;
    lowerAscii[2 * j + 1] = HEX_CODES[b & 15]!;
    if (b !== 0) zero = false;
  }
  return zero ? RecoveryStatus.ZeroAddress : RecoveryStatus.Ok;
}

/** EIP-55: uppercase the letters whose nibble in keccak256(lowercase hex address) is >= 8. */
function writeChecksummed(bytes: Uint8Array, offset: number): void {
  const hash = keccak_256(lowerAscii);
  for (let j = 0; j < 40; j++) {
    const c = lowerAscii[j]!;
    const nibble = (hash[j >> 1]! >> (j % 2 === 0 ? 4 : 0)) & 15;
    // Letters a-f are 0x61-0x66; subtracting 0x20 gives A-F.
    bytes[offset + j] = c >= 0x61 && nibble >= 8 ? c - 0x20 : c;
  }
}

/** A 32-byte digest (e.g. an EIP-712 hash) and a 65-byte r || s || v signature, both 0x-prefixed hex. */
export interface SignatureItem {
  readonly digest: string;
  readonly signature: string;
}

/** Writes `hex` ("0x" + 2 * length hex digits) into bytes[offset..]; false if it is not exactly that. */
function writeHex(bytes: Buffer, offset: number, hex: unknown, length: number): boolean {
  if (typeof hex !== "string" || hex.length !== 2 + 2 * length || hex[0] !== "0" || (hex[1] !== "x" && hex[1] !== "X")) {
    return false;
  }
  // Buffer stops at the first non-hex digit, so the byte count doubles as validation.
  return bytes.write(hex.slice(2), offset, length, "hex") === length;
}

/**
 * Packs items[start, start + count) into a fresh buffer. A malformed item is left as zeros: r = 0 is refused by the
 * recovery rules, so it comes back as "no signer" without a side channel for it.
 */
function pack(items: readonly SignatureItem[], start: number, count: number): ArrayBuffer {
  const buffer = new ArrayBuffer(count * ITEM_BYTES);
  const bytes = Buffer.from(buffer);
  for (let i = 0; i < count; i++) {
    const item = items[start + i];
    const at = i * ITEM_BYTES;
    if (
      item === null ||
      typeof item !== "object" ||
      !writeHex(bytes, at, item.digest, DIGEST_BYTES) ||
      !writeHex(bytes, at + DIGEST_BYTES, item.signature, SIGNATURE_BYTES)
    ) {
      bytes.fill(0, at, at + ITEM_BYTES);
    }
  }
  return buffer;
}

function unpack(buffer: ArrayBuffer, count: number, results: (string | null)[], start: number): void {
  const bytes = Buffer.from(buffer);
  for (let i = 0; i < count; i++) {
    const at = i * RESULT_BYTES;
    results[start + i] = bytes[at] === RecoveryStatus.Ok ? "0x" + bytes.toString("latin1", at + 1, at + RESULT_BYTES) : null;
  }
}

/**
 * Recovers signers synchronously on the calling thread: the ingest workers call it for each request's events
 * (prepare.ts), and tests and benchmarks on the main thread. It blocks for ~70 us per item.
 */
export function recoverSync(items: readonly SignatureItem[]): (string | null)[] {
  const results: (string | null)[] = new Array<string | null>(items.length);
  const buffer = pack(items, 0, items.length);
  recoverPacked(buffer, items.length);
  unpack(buffer, items.length, results, 0);
  return results;
}

