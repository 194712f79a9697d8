/**
 * Merkle tree math of the ledger's log: RFC 9162 (Certificate Transparency v2) section 2.1, with the keccak256
 * leaf / node hashes of `hash.ts`. Pure functions plus one in-memory reference store; no I/O of its own.
 *
 * What each function guarantees (n = tree size, m = older size, "leaves" = the leaf hashes d[0..n-1]):
 *
 * Reference from leaves (obviously-correct transcriptions of the RFC's recursive definitions; O(n) hashing per
 * call, meant for tests, tooling and cross-checks, never for the hot path):
 *   - `rootOf(leaves)`                  = MTH(D[n]) (section 2.1.1); `EMPTY_ROOT` for n = 0.
 *   - `inclusionProofOf(index, leaves)` = PATH(index, D[n]) (section 2.1.3.1), ordered leaf-to-root.
 *                                         Throws RangeError unless 0 <= index < n.
 *   - `consistencyProofOf(m, leaves)`   = PROOF(m, D[n]) (section 2.1.4.1) for 0 < m < n. For m = n and m = 0 it
 *                                         returns [] (nothing to prove: a tree is consistent with itself and the
 *                                         empty tree is a prefix of every tree; the RFC defines proofs only for
 *                                         0 < m < n). Throws RangeError for m < 0 or m > n.
 *
 * Production path (from stored complete subtrees, see `NodeRef` in hash.ts):
 *   - `rootPlan(size)`, `inclusionPlan(index, size)`, `consistencyPlan(m, n)` return, per output hash, the list of
 *     complete-subtree refs it is folded from (one ref for a complete subtree; several for the incomplete subtree
 *     on the right edge of the tree). They validate their arguments exactly as the reference functions do.
 *   - `root(size, reader)`, `inclusionProof(index, size, reader)`, `consistencyProof(m, n, reader)` make exactly
 *     one `reader.nodes(...)` call (none when the plan is empty) and return byte-for-byte what the reference
 *     functions return over the same leaves. Only nodes that are complete at `size` are requested, so a store that
 *     has appended at least `size` leaves can always answer, whatever it has appended since.
 *
 * Verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2, step for step; never throws on bad input, returns false):
 *   - `verifyInclusion(index, size, leafHash, proof, root)` is true iff `proof` proves that `leafHash` is leaf
 *     `index` of the tree of `size` leaves whose root is `root`. False when index >= size or the proof length is
 *     not the one the RFC algorithm consumes exactly.
 *   - `verifyConsistency(m, n, oldRoot, newRoot, proof)` is true iff the tree (n, newRoot) extends (m, oldRoot).
 *     0 < m < n: the RFC algorithm. m = n: proof empty and roots equal. m = 0: proof empty and oldRoot = EMPTY_ROOT.
 *     False when m > n.
 *
 * Trap: a proof binds roots, and sizes only through the tree's shape along the proof (RFC 9162 as written): the
 * inclusion proof of leaf 0 in 5 leaves also verifies as "leaf 0 of 6 leaves" against the same root, and the
 * consistency proof 10 -> 20 also verifies as 10 -> 21. Take (size, root) pairs from one trusted tree head (a
 * signed checkpoint, an on-chain anchor), never a size from one place and a root from another.
 *
 * Sizes and indices are JavaScript numbers and must be safe integers (< 2^53); the code uses arithmetic rather
 * than 32-bit bitwise operators so it stays correct above 2^31. Hashes are `Uint8Array`s of 32 bytes throughout.
 */
import { EMPTY_ROOT, bytesToHex, hexToBytes, nodeHash } from "./hash.ts";
import type { Hash, NodeReader, NodeRef } from "./hash.ts";

/** For each hash of the output, the complete subtrees it is folded from (left to right). */
export type Plan = readonly (readonly NodeRef[])[];

// ---------------------------------------------------------------------------------------------------------------
// Small integer helpers. Arithmetic, not bitwise: JS bitwise operators truncate to 32 bits.

function isPowerOfTwo(x: number): boolean {
  if (x < 1) return false;
  while (x % 2 === 0) x /= 2;
  return x === 1;
}

/** The largest power of two strictly less than n (n >= 2): the RFC's split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isOdd(x: number): boolean {
  return x % 2 === 1;
}

function half(x: number): number {
  return Math.floor(x / 2);
}

function checkSize(name: string, x: number): void {
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`${name} must be a non-negative safe integer: ${x}`);
}

function equalHash(a: Hash, b: Hash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isHash(x: unknown): x is Hash {
  return x instanceof Uint8Array && x.length === 32;
}

// ---------------------------------------------------------------------------------------------------------------
// Reference from leaves: the RFC's recursive definitions, transcribed. `lo`/`hi` delimit D[lo:hi] without copying.

function mth(leaves: readonly Hash[], lo: number, hi: number): Hash {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo]!;
  const k = splitPoint(n);
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/** MTH(D[n]) of RFC 9162 section 2.1.1 over the given leaf hashes. */
export function rootOf(leafHashes: readonly Hash[]): Hash {
  return mth(leafHashes, 0, leafHashes.length);
}

function path(m: number, leaves: readonly Hash[], lo: number, hi: number): Hash[] {
  const n = hi - lo;
  if (n === 1) return [];
  const k = splitPoint(n);
  if (m < k) return [...path(m, leaves, lo, lo + k), mth(leaves, lo + k, hi)];
  return [...path(m - k, leaves, lo + k, hi), mth(leaves, lo, lo + k)];
}

/** PATH(index, D[n]) of RFC 9162 section 2.1.3.1: the inclusion proof of leaf `index`, leaf to root. */
export function inclusionProofOf(index: number, leafHashes: readonly Hash[]): Hash[] {
  checkSize("index", index);
  if (index >= leafHashes.length) throw new RangeError(`index ${index} >= tree size ${leafHashes.length}`);
  return path(index, leafHashes, 0, leafHashes.length);
}

function subproof(m: number, leaves: readonly Hash[], lo: number, hi: number, b: boolean): Hash[] {
  const n = hi - lo;
  if (m === n) return b ? [] : [mth(leaves, lo, hi)];
  const k = splitPoint(n);
  if (m <= k) return [...subproof(m, leaves, lo, lo + k, b), mth(leaves, lo + k, hi)];
  return [...subproof(m - k, leaves, lo + k, hi, false), mth(leaves, lo, lo + k)];
}

/** PROOF(m, D[n]) of RFC 9162 section 2.1.4.1; [] for m = 0 and m = n (see the file comment). */
export function consistencyProofOf(m: number, leafHashes: readonly Hash[]): Hash[] {
  checkSize("m", m);
  const n = leafHashes.length;
  if (m > n) throw new RangeError(`old size ${m} > new size ${n}`);
  if (m === 0 || m === n) return [];
  return subproof(m, leafHashes, 0, n, true);
}

// ---------------------------------------------------------------------------------------------------------------
// Production path: plans of stored complete subtrees, then one batched read.

/**
 * The complete subtrees whose fold is MTH(D[lo:hi]). The RFC's recursion only ever asks for ranges that are either
 * a perfect aligned subtree or the right-edge remainder of one, so each binary digit of (hi - lo), high to low, is
 * an aligned complete subtree.
 */
function rangeRefs(lo: number, hi: number): NodeRef[] {
  const refs: NodeRef[] = [];
  let offset = lo;
  let width = 1;
  let level = 0;
  while (width * 2 <= hi - lo) {
    width *= 2;
    level++;
  }
  for (; width >= 1; width /= 2, level--) {
    if (offset + width <= hi) {
      refs.push({ level, index: offset / width });
      offset += width;
    }
  }
  return refs;
}

/** The stored nodes whose right fold is the root of the tree of `size` leaves; [] for size 0 (EMPTY_ROOT). */
export function rootPlan(size: number): Plan {
  checkSize("size", size);
  return size === 0 ? [] : [rangeRefs(0, size)];
}

function pathPlan(m: number, lo: number, hi: number, out: NodeRef[][]): void {
  const n = hi - lo;
  if (n === 1) return;
  const k = splitPoint(n);
  if (m < k) {
    pathPlan(m, lo, lo + k, out);
    out.push(rangeRefs(lo + k, hi));
  } else {
    pathPlan(m - k, lo + k, hi, out);
    out.push(rangeRefs(lo, lo + k));
  }
}

/** The stored nodes the inclusion proof of leaf `index` in the tree of `size` leaves is assembled from. */
export function inclusionPlan(index: number, size: number): Plan {
  checkSize("index", index);
  checkSize("size", size);
  if (index >= size) throw new RangeError(`index ${index} >= tree size ${size}`);
  const out: NodeRef[][] = [];
  pathPlan(index, 0, size, out);
  return out;
}

function subproofPlan(m: number, lo: number, hi: number, b: boolean, out: NodeRef[][]): void {
  const n = hi - lo;
  if (m === n) {
    if (!b) out.push(rangeRefs(lo, hi));
    return;
  }
  const k = splitPoint(n);
  if (m <= k) {
    subproofPlan(m, lo, lo + k, b, out);
    out.push(rangeRefs(lo + k, hi));
  } else {
    subproofPlan(m - k, lo + k, hi, false, out);
    out.push(rangeRefs(lo, lo + k));
  }
}

/** The stored nodes the consistency proof from size m to size n is assembled from ([] for m = 0 or m = n). */
export function consistencyPlan(m: number, n: number): Plan {
  checkSize("m", m);
  checkSize("n", n);
  if (m > n) throw new RangeError(`old size ${m} > new size ${n}`);
  if (m === 0 || m === n) return [];
  const out: NodeRef[][] = [];
  subproofPlan(m, 0, n, true, out);
  return out;
}

/** Reads every ref of the plan in ONE `reader.nodes` call and folds each group right to left into one hash. */
async function execute(plan: Plan, reader: NodeReader): Promise<Hash[]> {
  const refs = plan.flat();
  if (refs.length === 0) return [];
  const hashes = await reader.nodes(refs);
  if (hashes.length !== refs.length) {
    throw new Error(`node reader returned ${hashes.length} hashes for ${refs.length} refs`);
  }
  const out: Hash[] = [];
  let at = 0;
  for (const group of plan) {
    const pieces = hashes.slice(at, at + group.length);
    at += group.length;
    // An incomplete subtree of the right edge is MTH of its complete pieces: H(p0, H(p1, ... H(p_{j-1}, p_j))).
    let acc = pieces[pieces.length - 1]!;
    for (let i = pieces.length - 2; i >= 0; i--) acc = nodeHash(pieces[i]!, acc);
    out.push(acc);
  }
  return out;
}

/** The root of the tree of `size` leaves, from stored nodes (one read). */
export async function root(size: number, reader: NodeReader): Promise<Hash> {
  const [r] = await execute(rootPlan(size), reader);
  return r ?? EMPTY_ROOT;
}

/** The inclusion proof of leaf `index` in the tree of `size` leaves, from stored nodes (one read). */
export async function inclusionProof(index: number, size: number, reader: NodeReader): Promise<Hash[]> {
  return execute(inclusionPlan(index, size), reader);
}

/** The consistency proof from size m to size n, from stored nodes (one read, none if the proof is empty). */
export async function consistencyProof(m: number, n: number, reader: NodeReader): Promise<Hash[]> {
  return execute(consistencyPlan(m, n), reader);
}

// ---------------------------------------------------------------------------------------------------------------
// Verification: RFC 9162 sections 2.1.3.2 and 2.1.4.2, numbered as in the RFC.

/** RFC 9162 section 2.1.3.2. True iff `proof` shows `leafHash` at `index` in the tree (`size`, `root`). */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Hash,
  proof: readonly Hash[],
  root: Hash,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0) return false;
  if (!isHash(leafHash) || !isHash(root) || !proof.every(isHash)) return false;
  // 1. leaf_index >= tree_size fails.
  if (index >= size) return false;
  // 2. fn = leaf_index, sn = tree_size - 1.
  let fn = index;
  let sn = size - 1;
  // 3. r = hash.
  let r = leafHash;
  // 4. For each p in inclusion_path:
  for (const p of proof) {
    // a. sn = 0 means the path is longer than the tree is deep.
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      // b. p is a left sibling.
      r = nodeHash(p, r);
      // Skip the levels where this node has no right sibling (the right edge of an unbalanced tree).
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    // c.
    fn = half(fn);
    sn = half(sn);
  }
  // 5. The path must be exactly consumed and lead to the root.
  return sn === 0 && equalHash(r, root);
}

/** RFC 9162 section 2.1.4.2. True iff the tree (n, newRoot) is an append-only extension of (m, oldRoot). */
export function verifyConsistency(
  m: number,
  n: number,
  oldRoot: Hash,
  newRoot: Hash,
  proof: readonly Hash[],
): boolean {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !proof.every(isHash)) return false;
  if (m > n) return false;
  // Outside the RFC's 0 < first < second there is nothing to prove; accept only the trivially true statements.
  if (m === n) return proof.length === 0 && equalHash(oldRoot, newRoot);
  if (m === 0) return proof.length === 0 && equalHash(oldRoot, EMPTY_ROOT);
  // 1. An empty consistency_path fails.
  if (proof.length === 0) return false;
  // 2. If first is an exact power of 2, prepend first_hash: the old tree is then a single complete subtree the
  // proof does not repeat.
  const path = isPowerOfTwo(m) ? [oldRoot, ...proof] : proof;
  // 3.
  let fn = m - 1;
  let sn = n - 1;
  // 4.
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    // a.
    if (sn === 0) return false;
    // b.
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      // Nodes only in the new tree.
      sr = nodeHash(sr, c);
    }
    // c.
    fn = half(fn);
    sn = half(sn);
  }
  // 7.
  return equalHash(fr, oldRoot) && equalHash(sr, newRoot) && sn === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// In-memory node store.

/**
 * Keeps every complete node of an append-only tree in memory: the reference `NodeReader` for tests and tools.
 * `append` is synchronous and, when it returns, every node completed by that leaf is readable.
 */
export class MemoryNodeStore implements NodeReader {
  // levels[l][i] is NodeRef {level: l, index: i}.
  readonly #levels: Hash[][] = [[]];
  /** Counts calls to `nodes`, so tests can check that a proof costs exactly one read. */
  reads = 0;

  get size(): number {
    return this.#levels[0]!.length;
  }

  /** Appends leaf hashes and stores every subtree they complete. Returns the index of the first one appended. */
  append(...leafHashes: Hash[]): number {
    const first = this.size;
    for (const leaf of leafHashes) {
      if (!isHash(leaf)) throw new TypeError("a leaf hash is 32 bytes");
      let level = 0;
      let node = leaf;
      for (;;) {
        const row = (this.#levels[level] ??= []);
        row.push(node);
        const i = row.length - 1;
        if (isOdd(i) === false) break;
        node = nodeHash(row[i - 1]!, node);
        level++;
      }
    }
    return first;
  }

  async nodes(refs: readonly NodeRef[]): Promise<Hash[]> {
    this.reads++;
    return refs.map(({ level, index }) => {
      const h = this.#levels[level]?.[index];
      if (h === undefined) throw new RangeError(`node (${level}, ${index}) is not complete`);
      return h;
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hex wrappers for JSON / ABI boundaries.

export function proofToHex(proof: readonly Hash[]): string[] {
  return proof.map(bytesToHex);
}

export function proofFromHex(proof: readonly string[]): Hash[] {
  return proof.map((h) => {
    const b = hexToBytes(h);
    if (b.length !== 32) throw new TypeError(`not a 32-byte hash: ${h}`);
    return b;
  });
}
