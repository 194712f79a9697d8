/**
 * The right edge of the log's tree: the roots of the maximal complete subtrees covering leaves [0, size), highest
 * level first (one per set bit of `size`). It is all the state needed to append a leaf, emit every stored node that
 * the leaf completes, and compute the current RFC 9162 root, without reading anything else.
 *
 * Index arithmetic uses division, not bit operators, because JS bit operators truncate to 32 bits and the log is
 * meant to outgrow 2^31 leaves.
 */
import { EMPTY_ROOT, nodeHash } from "./hash.ts";
import type { Hash, NodeRef } from "./hash.ts";

/** A stored node to write: the root of the complete subtree `ref`. */
export interface NodeWrite extends NodeRef {
  readonly hash: Hash;
}

export class Frontier {
  private leaves: number;
  /** Subtree roots, left to right; entry j is at the level of the j-th highest set bit of `leaves`. */
  private readonly edge: Hash[];

  private constructor(leaves: number, edge: Hash[]) {
    this.leaves = leaves;
    this.edge = edge;
  }

  static empty(): Frontier {
    return new Frontier(0, []);
  }

  /** The stored nodes that make up the frontier of a tree of `size` leaves, left to right. */
  static refs(size: number): NodeRef[] {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad tree size ${size}`);
    const refs: NodeRef[] = [];
    let covered = 0;
    for (let level = Math.floor(Math.log2(Math.max(size, 1))) + 1; level >= 0; level--) {
      const width = 2 ** level;
      if (size - covered >= width) {
        refs.push({ level, index: covered / width });
        covered += width;
      }
    }
    return refs;
  }

  /** Rebuilds the frontier from the hashes of `Frontier.refs(size)`, in that order. */
  static fromNodes(size: number, hashes: readonly Hash[]): Frontier {
    const refs = Frontier.refs(size);
    if (hashes.length !== refs.length) throw new RangeError(`frontier of ${size} needs ${refs.length} nodes`);
    return new Frontier(size, hashes.slice());
  }

  get size(): number {
    return this.leaves;
  }

  /** An independent copy: sequencing works on a copy so a failed transaction leaves the original untouched. */
  clone(): Frontier {
    return new Frontier(this.leaves, this.edge.slice());
  }

  /**
   * Appends leaf `size` and pushes to `out` every node it completes: the leaf itself at level 0, then each parent
   * whose right child was just completed. Returns the leaf's index.
   */
  append(leaf: Hash, out: NodeWrite[]): number {
    const index = this.leaves;
    out.push({ level: 0, index, hash: leaf });
    let hash = leaf;
    let n = index;
    let level = 0;
    // The new node is a right child exactly when its index at this level is odd; its left sibling is the last
    // frontier entry, and the two merge into one complete parent.
    while (n % 2 === 1) {
      const left = this.edge.pop();
      if (left === undefined) throw new Error("frontier corrupted: missing left sibling");
      hash = nodeHash(left, hash);
      n = (n - 1) / 2;
      level++;
      out.push({ level, index: n, hash });
    }
    this.edge.push(hash);
    this.leaves = index + 1;
    return index;
  }

  /** RFC 9162 MTH of leaves [0, size): fold the frontier right to left (left subtree is always the larger one). */
  root(): Hash {
    const last = this.edge.length - 1;
    if (last < 0) return EMPTY_ROOT;
    let hash = this.edge[last] as Hash;
    for (let j = last - 1; j >= 0; j--) hash = nodeHash(this.edge[j] as Hash, hash);
    return hash;
  }
}
