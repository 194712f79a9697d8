/**
 * Sequencing: turns one group of submissions into the rows and nodes a store writes in one transaction.
 *
 * This is the log's write rule, kept free of I/O so every store driver applies the same one:
 * for each item, in arrival order,
 *   - an item whose key is already in the log, or earlier in this group, is a duplicate: it gets the first
 *     occurrence's index, leaf hash and prevIndex and writes nothing;
 *   - otherwise prevIndex = the last index of its batch (earlier in this group, else in the log, else -1), the entry
 *     is encoded, hashed, given index = size, and every subtree it completes is emitted.
 * The caller passes a frontier it may throw away (a clone): on success it adopts `result.frontier` only after its
 * COMMIT returned, so a failed transaction leaves its in-memory state as it was.
 */
import { encodeEntry, ENTRY_VERSION, NO_PREVIOUS } from "./entry.ts";
import type { LogEntryInput } from "./entry.ts";
import { leafHash } from "./hash.ts";
import type { Hash } from "./hash.ts";
import type { Frontier, NodeWrite } from "./frontier.ts";

/** One submission to append. */
export interface AppendItem {
  /** Idempotency key: the event's EIP-712 digest hex. The same key always maps to the same log entry. */
  readonly key: string;
  readonly entry: LogEntryInput;
  /** The submitted JSON document, served back verbatim. */
  readonly body: string;
  /** Milliseconds since the epoch when the service accepted the submission (not part of the leaf). */
  readonly receivedAt: number;
  /**
   * The signer's nonce (decimal), when the entry spends one: the store keeps each (signer, nonce) to one entry of
   * the log, whatever its kind, and refuses a group that would spend one twice.
   */
  readonly nonce?: string;
}

/** Where an item ended up. */
export interface AppendResult {
  readonly index: number;
  readonly leafHash: Hash;
  readonly prevIndex: number;
  /** True when the key was already logged (earlier, or earlier in the same group); nothing new was written. */
  readonly duplicate: boolean;
}

/** A new log row. */
export interface EntryRow {
  readonly index: number;
  readonly key: string;
  readonly batchId: string;
  readonly kind: number;
  readonly prevIndex: number;
  readonly leafHash: Hash;
  readonly entry: Uint8Array;
  readonly body: string;
  readonly receivedAt: number;
  /** Lower-case 0x address of the entry's signer. */
  readonly signer: string;
  readonly nonce: string | undefined;
}

/** What the sequencer needs to know about entries already committed (read inside the write transaction). */
export interface SequencerLookups {
  entryByKey(key: string): Pick<AppendResult, "index" | "leafHash" | "prevIndex"> | undefined;
  lastIndexOfBatch(batchId: string): number | undefined;
}

export interface SequencedGroup {
  readonly results: AppendResult[];
  readonly rows: EntryRow[];
  readonly nodes: NodeWrite[];
  /** The frontier after the group; adopt it only once the group is committed. */
  readonly frontier: Frontier;
}

/** Sequences `items` onto `frontier`, which it mutates (pass a clone). Throws InvalidEntryError on a bad item. */
export function sequence(items: readonly AppendItem[], frontier: Frontier, lookups: SequencerLookups): SequencedGroup {
  const results: AppendResult[] = [];
  const rows: EntryRow[] = [];
  const nodes: NodeWrite[] = [];
  const byKey = new Map<string, AppendResult>();
  const lastOfBatch = new Map<string, number>();
  for (const item of items) {
    const earlier = byKey.get(item.key) ?? lookups.entryByKey(item.key);
    if (earlier !== undefined) {
      results.push({ index: earlier.index, leafHash: earlier.leafHash, prevIndex: earlier.prevIndex, duplicate: true });
      continue;
    }
    const batchId = item.entry.batchId.toLowerCase();
    const prevIndex = lastOfBatch.get(batchId) ?? lookups.lastIndexOfBatch(batchId) ?? NO_PREVIOUS;
    const entry = encodeEntry({ ...item.entry, version: ENTRY_VERSION, prevIndex });
    const leaf = leafHash(entry);
    const index = frontier.append(leaf, nodes);
    rows.push({
      index,
      key: item.key,
      batchId,
      kind: item.entry.kind,
      prevIndex,
      leafHash: leaf,
      entry,
      body: item.body,
      receivedAt: item.receivedAt,
      signer: item.entry.signer.toLowerCase(),
      nonce: item.nonce,
    });
    const result: AppendResult = { index, leafHash: leaf, prevIndex, duplicate: false };
    results.push(result);
    byKey.set(item.key, result);
    lastOfBatch.set(batchId, index);
  }
  return { results, rows, nodes, frontier };
}
