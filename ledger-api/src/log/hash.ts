/**
 * Hashing of the ledger's append-only log: RFC 9162 (Certificate Transparency v2) with keccak256.
 *
 *   leaf hash  = keccak256(0x00 || entry)
 *   node hash  = keccak256(0x01 || left || right)
 *
 * The 0x00 / 0x01 prefixes keep a leaf from ever being mistaken for an interior node (the second-preimage trap of
 * ad-hoc Merkle trees). Pairs are never sorted and an odd node is never duplicated: the tree of n leaves splits at
 * the largest power of two below n, exactly as RFC 9162 section 2.1.1 defines MTH.
 *
 * Stored nodes. Only complete subtrees are ever stored: node (level, index) is the root of the perfect subtree over
 * leaves [index * 2^level, (index + 1) * 2^level). Level 0 holds the leaf hashes. Once written a stored node never
 * changes, so any root or proof of any tree size is assembled from a few stored nodes without rebuilding a tree.
 */
// keccak on bytes directly: ethers' keccak256 round-trips through hex strings, which dominated append cost.
import { keccak256 } from "./keccak.ts";

/** A 32-byte hash. */
export type Hash = Uint8Array;

/** The address of a complete subtree: the root of leaves [index * 2^level, (index + 1) * 2^level). */
export interface NodeRef {
  readonly level: number;
  readonly index: number;
}

/** Reads stored complete-subtree hashes; one call per proof so a database answers it in one query. */
export interface NodeReader {
  nodes(refs: readonly NodeRef[]): Promise<Hash[]>;
}

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

function keccak(bytes: Uint8Array): Hash {
  return keccak256(bytes);
}

/** RFC 9162 leaf hash of a log entry. */
export function leafHash(entry: Uint8Array): Hash {
  const buf = new Uint8Array(1 + entry.length);
  buf[0] = LEAF_PREFIX;
  buf.set(entry, 1);
  return keccak(buf);
}

/** RFC 9162 interior node hash. */
export function nodeHash(left: Hash, right: Hash): Hash {
  const buf = new Uint8Array(65);
  buf[0] = NODE_PREFIX;
  buf.set(left, 1);
  buf.set(right, 33);
  return keccak(buf);
}

/** Root of the empty tree: the hash of the empty string (RFC 9162 section 2.1.1). */
export const EMPTY_ROOT: Hash = keccak(new Uint8Array(0));

export function hexToBytes(hex: string): Uint8Array {
  const h = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new TypeError(`not a hex string: ${hex}`);
  return Uint8Array.from(Buffer.from(h, "hex"));
}

export function bytesToHex(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
