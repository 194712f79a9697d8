/**
 * Shared fixtures for log and store tests: temp data directories, deterministic events, and an independent RFC 9162
 * reference (MTH over leaf hashes, split at the largest power of two below n) to check stored nodes and roots against.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, toUtf8Bytes } from "ethers";
import { EMPTY_ROOT, hexToBytes, nodeHash } from "../../../ledger-api/src/log/hash.ts";
import type { Hash } from "../../../ledger-api/src/log/hash.ts";
import type { AddItem } from "../../../ledger-api/src/log/appender.ts";
import type { AppendItem } from "../../../ledger-api/src/log/sequencer.ts";

/** A fresh temporary directory; remove with `cleanup`. */
export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "ledger-store-"));
}

export async function cleanup(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function h(label: string): string {
  return keccak256(toUtf8Bytes(label));
}

export const SIGNER = "0x70997970c51812dc3a010c7d01b50e20d17dc79c";
export const SIGNATURE = "0x" + "ab".repeat(65);

/** Event number `n` of batch `batch`; the key is unique per (n, tag). */
export function event(n: number, batch = `batch-${n % 7}`, tag = ""): AddItem {
  const key = h(`event-${n}${tag}`);
  return {
    key,
    batchId: h(batch),
    kind: n % 10,
    eventDigest: key,
    docHash: h(`doc-${n}${tag}`),
    signer: SIGNER,
    signature: SIGNATURE,
    body: JSON.stringify({ n, batch, tag }),
  };
}

/** The same event as a store-level AppendItem. */
export function appendItem(n: number, batch = `batch-${n % 7}`, tag = ""): AppendItem {
  const { key, body, ...entry } = event(n, batch, tag);
  return { key, body, entry, receivedAt: 1_700_000_000_000 + n };
}

/** RFC 9162 MTH over leaf hashes [lo, hi). */
export function mth(leaves: readonly Hash[], lo = 0, hi = leaves.length): Hash {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo] as Hash;
  let k = 1;
  while (k * 2 < n) k *= 2;
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

export { hexToBytes };
