/**
 * What a lot inherits from the lots it was made from, as the contract defines it:
 * - the facts about the produce itself (pesticide records, lab results, customs clearance), which the provenance
 *   answer shows on every descendant lot and the verifier accepts only from a chain-recorded ancestor;
 * - a recall, found by the contract's own walk (ProvenanceLedger._recalledAncestor): depth-first over `parents`
 *   with a stack of `ancestry` entries, so the parent listed last is looked at first. With two recalled ancestors
 *   the walk's order decides which one is named the source, so every copy of it runs this function: the ingest
 *   rules (ingest/rules.ts) and the chain index (store/sqlite-index.ts). test/api/chain/recall-source.test.ts holds
 *   the three (contract, rules, index) to the same answer.
 */
import type { Bytes32, KindName } from "./typed-data.ts";

/** Kinds a lot inherits from its ancestors: facts about the produce itself. */
export const INHERITED_KINDS: ReadonlySet<KindName> = new Set<KindName>(["PesticideApplied", "Inspected", "CustomsCleared"]);

/** What the recall walk reads of a batch. */
export interface LineageNode {
  /** Recalled itself. */
  readonly recalled: boolean;
  /** Ancestors counted per lineage path (the contract's `ancestry`): the walk's stack size. */
  readonly ancestry: number;
  /** Direct parents, in the order the contract stores them. */
  readonly parents: readonly Bytes32[];
}

/** The walk overflows its stack where the contract's isRecalled panics (0x32, array out of bounds). */
export class RecallWalkError extends Error {
  override readonly name = "RecallWalkError";
}

/**
 * The first recalled batch among `batchId` and its ancestors in the contract's walk order, or undefined: the batch
 * the contract names in BatchRecalled, and what its `isRecalled` answers (true exactly when this is defined).
 * `read` gives a batch's node, undefined for an unknown batch. Throws RecallWalkError where the contract reverts.
 */
export function firstRecalled(read: (batchId: Bytes32) => LineageNode | undefined, batchId: Bytes32): Bytes32 | undefined {
  const b = read(batchId);
  if (b === undefined) return undefined;
  if (b.recalled) return batchId;
  if (b.ancestry === 0) return undefined;
  // The contract's fixed-size stack: a lineage that would overflow it fails here as it panics there.
  const capacity = b.ancestry;
  const stack: Bytes32[] = [];
  const push = (ids: readonly Bytes32[]): void => {
    for (const id of ids) {
      if (stack.length >= capacity) {
        throw new RecallWalkError(`the recall walk from ${batchId} overflows its stack of ${capacity}`);
      }
      stack.push(id);
    }
  };
  push(b.parents);
  while (stack.length > 0) {
    const id = stack.pop() as Bytes32;
    const a = read(id);
    if (a?.recalled) return id;
    push(a?.parents ?? []);
  }
  return undefined;
}
