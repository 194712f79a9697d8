/**
 * The binary log entry: the exact bytes whose RFC 9162 leaf hash goes into the Merkle log.
 *
 *   abi.encode(uint8 version, bytes32 batchId, uint8 kind, bytes32 eventDigest, bytes32 docHash,
 *              address signer, bytes signature, int64 prevIndex)
 *
 * Standard (non-packed) ABI encoding, so a Solidity contract can `abi.decode` an entry it is shown with an inclusion
 * proof, and every field sits at a fixed, unambiguous offset (packed encoding of a dynamic `bytes` would not be
 * injective).
 *
 * `prevIndex` is the log index of the previous entry of the same batch, or -1 for the batch's first entry. Following
 * the chain backwards from any entry reaches the batch's first entry; a reader shown a batch history with a gap can
 * tell, because some entry names a predecessor it was not shown.
 *
 * Field representation (chosen once, here): bytes32 / address / bytes are 0x-prefixed lower-case hex strings (input
 * may be any case; a mixed-case address must carry a valid EIP-55 checksum, display code re-checksums);
 * `version`, `kind` and `prevIndex` are JS numbers, since a log index stays below 2^53 (9e15 entries) and a number is
 * what the rest of the service indexes with. The encoder normalises; the decoder rejects anything that does not
 * re-encode to the same bytes, so one entry has exactly one encoding.
 */
import { AbiCoder, getAddress, isHexString } from "ethers";

/** The only entry version this code writes or reads. A new layout gets a new number, never a reinterpretation. */
export const ENTRY_VERSION = 1;

/** `prevIndex` of a batch's first entry. */
export const NO_PREVIOUS = -1;

const ENTRY_TYPES = ["uint8", "bytes32", "uint8", "bytes32", "bytes32", "address", "bytes", "int64"] as const;
const ZERO_BYTES32 = "0x" + "00".repeat(32);
const LOWER_ADDRESS = /^0x[0-9a-f]{40}$/;
const coder = AbiCoder.defaultAbiCoder();

/** The decoded fields of a log entry. */
export interface LogEntryFields {
  readonly version: typeof ENTRY_VERSION;
  /** keccak256 of the batch's canonical GS1 Digital Link path; never zero, every event names a batch. */
  readonly batchId: string;
  /** Event kind code, 0..255. */
  readonly kind: number;
  /** The event's EIP-712 digest (what the actor signed). */
  readonly eventDigest: string;
  /** keccak256 of the JCS-canonical event document. */
  readonly docHash: string;
  /** The recovered signer address. */
  readonly signer: string;
  /** The actor's signature over `eventDigest`, as submitted. */
  readonly signature: string;
  /** Index of the previous entry of the same batch, or NO_PREVIOUS. */
  readonly prevIndex: number;
}

/** What a submitter supplies; the log fills in `version` and `prevIndex` when it sequences the entry. */
export type LogEntryInput = Omit<LogEntryFields, "version" | "prevIndex">;

/** A value that cannot be (or was not) a valid log entry. */
export class InvalidEntryError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`invalid log entry field ${field}: ${message}`);
    this.name = "InvalidEntryError";
    this.field = field;
  }
}

function bytes32(field: string, value: string, allowZero: boolean): string {
  if (!isHexString(value, 32)) throw new InvalidEntryError(field, `expected 0x-prefixed 32-byte hex, got ${value}`);
  const v = value.toLowerCase();
  if (!allowZero && v === ZERO_BYTES32) throw new InvalidEntryError(field, "must not be zero");
  return v;
}

function uint8(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new InvalidEntryError(field, `not a uint8: ${value}`);
  return value;
}

/** Normalises and checks every field; the single place the entry's rules live. */
export function normalizeEntry(fields: LogEntryFields): LogEntryFields {
  if (fields.version !== ENTRY_VERSION) throw new InvalidEntryError("version", `unsupported version ${fields.version}`);
  let signer = fields.signer;
  // A lower-case address has no checksum to verify; only mixed case pays for getAddress's keccak.
  if (!LOWER_ADDRESS.test(signer)) {
    try {
      signer = getAddress(signer).toLowerCase();
    } catch {
      throw new InvalidEntryError("signer", `not an address (or bad EIP-55 checksum): ${fields.signer}`);
    }
  }
  if (!isHexString(fields.signature) || fields.signature.length % 2 !== 0) {
    throw new InvalidEntryError("signature", "expected 0x-prefixed hex bytes");
  }
  if (!Number.isSafeInteger(fields.prevIndex) || fields.prevIndex < NO_PREVIOUS) {
    throw new InvalidEntryError("prevIndex", `expected an index or ${NO_PREVIOUS}, got ${fields.prevIndex}`);
  }
  return {
    version: ENTRY_VERSION,
    batchId: bytes32("batchId", fields.batchId, false),
    kind: uint8("kind", fields.kind),
    eventDigest: bytes32("eventDigest", fields.eventDigest, true),
    docHash: bytes32("docHash", fields.docHash, true),
    signer,
    signature: fields.signature.toLowerCase(),
    prevIndex: fields.prevIndex,
  };
}

const HEAD_WORDS = 8;

function putHex(buf: Buffer, offset: number, hex: string): void {
  buf.write(hex.slice(2), offset, "hex");
}

/**
 * ABI-encodes an entry; throws InvalidEntryError on a bad field.
 *
 * Written out by hand for this one fixed layout because ethers' generic AbiCoder costs ~150 µs an entry, which
 * capped the appender near 4,000 entries/s; the tests check the bytes against AbiCoder.encode. Layout: eight
 * 32-byte head words (uint8 and int64 right-aligned, int64 sign-extended; address right-aligned; the signature's
 * word holds its offset 0x100), then the signature's length word and its bytes zero-padded to a whole word.
 */
export function encodeEntry(fields: LogEntryFields): Uint8Array {
  const f = normalizeEntry(fields);
  const sigLen = (f.signature.length - 2) / 2;
  const sigWords = Math.ceil(sigLen / 32);
  const buf = Buffer.alloc(32 * (HEAD_WORDS + 1 + sigWords));
  buf[31] = f.version;
  putHex(buf, 32, f.batchId);
  buf[95] = f.kind;
  putHex(buf, 96, f.eventDigest);
  putHex(buf, 128, f.docHash);
  putHex(buf, 160 + 12, f.signer);
  buf.writeUInt32BE(32 * HEAD_WORDS, 192 + 28);
  if (f.prevIndex < 0) buf.fill(0xff, 224, 256 - 8);
  buf.writeBigInt64BE(BigInt(f.prevIndex), 256 - 8);
  buf.writeUInt32BE(sigLen, 256 + 28);
  putHex(buf, 288, f.signature);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * The signer field of encoded entry bytes (lower-case 0x hex), read at its fixed offset without decoding the rest:
 * for readers that need only who signed (the relay's catch-up). Trusts the bytes to be an entry this log stored.
 */
export function entrySigner(bytes: Uint8Array): string {
  if (bytes.length < 32 * HEAD_WORDS) throw new InvalidEntryError("entry", `too short for an entry: ${bytes.length} bytes`);
  return "0x" + Buffer.from(bytes.buffer, bytes.byteOffset + 160 + 12, 20).toString("hex");
}

/**
 * Decodes entry bytes. Throws InvalidEntryError unless the bytes are exactly the canonical encoding of a version-1
 * entry (the ABI decoder alone tolerates e.g. trailing bytes and odd offsets; re-encoding closes that door).
 */
export function decodeEntry(bytes: Uint8Array): LogEntryFields {
  let values: ReturnType<AbiCoder["decode"]>;
  try {
    values = coder.decode(ENTRY_TYPES, bytes);
  } catch (e) {
    throw new InvalidEntryError("entry", `not ABI-decodable: ${(e as Error).message}`);
  }
  const num = (i: number): number => Number(values[i] as bigint);
  const str = (i: number): string => values[i] as string;
  const version = num(0);
  if (version !== ENTRY_VERSION) throw new InvalidEntryError("version", `unsupported version ${version}`);
  const fields: LogEntryFields = {
    version: ENTRY_VERSION,
    batchId: str(1),
    kind: num(2),
    eventDigest: str(3),
    docHash: str(4),
    signer: str(5),
    signature: str(6),
    prevIndex: num(7),
  };
  const again = encodeEntry(fields);
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) !== 0) {
    throw new InvalidEntryError("entry", "not the canonical encoding");
  }
  return normalizeEntry(fields);
}
