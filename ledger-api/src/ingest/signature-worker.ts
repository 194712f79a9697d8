/**
 * ECDSA (secp256k1) signer recovery over packed batches, with OpenZeppelin ECDSA.recover's acceptance rules.
 * This file is both the worker_threads entry of SignaturePool and the library its inline path and benchmark call.
 *
 * Loading constraints (why this file looks the way it does):
 * - It must start as a worker under plain Node 24 type stripping (`node app.ts`) as well as under tsx (mocha via
 *   hardhat), and a worker does not necessarily inherit the parent's tsx loader. So it imports no relative module
 *   (a `./x.js` specifier would not resolve to `x.ts` without tsx) and uses erasable TypeScript only: no enums,
 *   namespaces or parameter properties.
 * - It starts serving only when the pool marks it through workerData, so importing it (main thread, or some other
 *   worker) has no side effect beyond loading the secp256k1 backend.
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
 * Packed layout. A request is one ArrayBuffer of `count` items of ITEM_BYTES: digest (32) || r (32) || s (32) || v (1).
 * The reply reuses that same buffer: item i's result is written at i * RESULT_BYTES as one status byte followed by the
 * 40 ASCII characters of the checksummed address (no 0x). Result i ends before item i + 1 starts
 * (41 * (i + 1) <= 97 * (i + 1)) and item i is fully read before its result is written, so the overlap is safe and a
 * batch costs no allocation beyond the address strings.
 *
 * Protocol: worker -> pool `{ type: "ready", backend }` once loaded; pool -> worker `{ id, count, buffer }` with the
 * buffer transferred; worker -> pool `{ type: "result", id, buffer }`, buffer transferred back. Any exception is
 * left uncaught on purpose: the pool sees the worker die, rejects that worker's batches and starts a fresh worker.
 */
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";
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

/** workerData that tells this module to serve the pool protocol. */
export const WORKER_ROLE = "ledger-signature-worker";

export type BackendName = "native" | "js";

export interface RecoverRequest {
  readonly id: number;
  readonly count: number;
  readonly buffer: ArrayBuffer;
}

/** Asks the worker to close its port and exit on its own (see SignaturePool.close). */
export interface ShutdownRequest {
  readonly type: "shutdown";
}

export type WorkerReply =
  | { readonly type: "ready"; readonly backend: BackendName }
  | { readonly type: "result"; readonly id: number; readonly buffer: ArrayBuffer };

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

/**
 * Recovers `count` packed items of `buffer` in place (see the file comment for the layout). Synchronous: call it
 * from the main thread only for a handful of items.
 */
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

if (parentPort !== null && (workerData as { role?: unknown } | null)?.role === WORKER_ROLE) {
  const port = parentPort;
  port.on("message", (request: RecoverRequest | ShutdownRequest) => {
    if ("type" in request) {
      port.close();
      return;
    }
    recoverPacked(request.buffer, request.count);
    const reply: WorkerReply = { type: "result", id: request.id, buffer: request.buffer };
    port.postMessage(reply, [request.buffer]);
  });
  const ready: WorkerReply = { type: "ready", backend: backend.name };
  port.postMessage(ready);
}
