import { expect } from "chai";
import { keccak256 } from "ethers";
import { MerkleTree } from "merkletreejs";
import { EMPTY_ROOT, bytesToHex, leafHash, nodeHash } from "../../../ledger-api/src/log/hash.ts";
import type { Hash, NodeRef } from "../../../ledger-api/src/log/hash.ts";
import {
  MemoryNodeStore,
  consistencyPlan,
  consistencyProof,
  consistencyProofOf,
  inclusionPlan,
  inclusionProof,
  inclusionProofOf,
  proofFromHex,
  proofToHex,
  root,
  rootOf,
  rootPlan,
  verifyConsistency,
  verifyInclusion,
} from "../../../ledger-api/src/log/merkle.ts";
import { flipBit, pinnedRoots, prng, vectorLeaves } from "./vectors.ts";

const MAX = 64;
const LEAVES = vectorLeaves(5000);
const SMALL = LEAVES.slice(0, MAX);
/** ROOTS[n] = MTH of the first n vector leaves. */
const ROOTS: Hash[] = Array.from({ length: MAX + 2 }, (_, n) => rootOf(LEAVES.slice(0, n)));

function hex(hashes: readonly Hash[]): string[] {
  return hashes.map(bytesToHex);
}

function storeOf(leaves: readonly Hash[]): MemoryNodeStore {
  const store = new MemoryNodeStore();
  store.append(...leaves);
  return store;
}

/** merkletreejs configured as RFC 9162: leaves given pre-hashed, node = keccak256(0x01 || l || r), pairs unsorted,
 * the odd node promoted (not duplicated, not bitcoin-style). */
function merkletreejsRoot(leaves: readonly Hash[]): MerkleTree {
  return new MerkleTree(
    leaves.map((l) => Buffer.from(l)),
    (data: Buffer) => Buffer.from(keccak256(data).slice(2), "hex"),
    {
      hashLeaves: false,
      sortLeaves: false,
      sortPairs: false,
      duplicateOdd: false,
      isBitcoinTree: false,
      complete: false,
      concatenator: (inputs: Buffer[]) => Buffer.concat([Buffer.of(0x01), ...inputs]),
    },
  );
}

/** Every ref of a plan names a subtree that is complete in a tree of `size` leaves. */
function allComplete(plan: readonly (readonly NodeRef[])[], size: number): boolean {
  return plan.flat().every((r) => (r.index + 1) * 2 ** r.level <= size);
}

describe("RFC 9162 log math (merkle.ts)", function () {
  describe("tree heads", function () {
    it("equal merkletreejs with the domain-separated hash and the odd node promoted, for every size 1..64", function () {
      for (let n = 1; n <= MAX; n++) {
        const tree = merkletreejsRoot(SMALL.slice(0, n));
        expect(tree.getHexRoot(), `size ${n}`).to.equal(bytesToHex(ROOTS[n]!));
      }
    });

    it("equal the pinned vectors that the Solidity tests also check", function () {
      const pinned = pinnedRoots();
      expect(pinned.length).to.be.greaterThan(0);
      for (const { size, root: expected } of pinned) {
        expect(bytesToHex(rootOf(LEAVES.slice(0, size))), `size ${size}`).to.equal(expected);
      }
    });

    it("of the empty tree is the hash of the empty string, with no read", async function () {
      const store = new MemoryNodeStore();
      expect(rootOf([])).to.deep.equal(EMPTY_ROOT);
      expect(await root(0, store)).to.deep.equal(EMPTY_ROOT);
      expect(store.reads).to.equal(0);
      expect(rootPlan(0)).to.deep.equal([]);
    });

    it("of a single leaf is the leaf hash, and of two leaves their node hash", function () {
      expect(rootOf([LEAVES[0]!])).to.deep.equal(LEAVES[0]);
      expect(rootOf([LEAVES[0]!, LEAVES[1]!])).to.deep.equal(nodeHash(LEAVES[0]!, LEAVES[1]!));
    });

    it("from stored nodes equal the reference for every size 1..64, in one read, even after the log grew", async function () {
      const store = storeOf(SMALL);
      for (let n = 1; n <= MAX; n++) {
        const before = store.reads;
        expect(hex([await root(n, store)]), `size ${n}`).to.deep.equal(hex([ROOTS[n]!]));
        expect(store.reads - before).to.equal(1);
        expect(allComplete(rootPlan(n), n)).to.equal(true);
      }
    });
  });

  describe("the RFC 9162 section 2.1.5 example tree of 7 leaves", function () {
    // Names as in the RFC's figure.
    const d = SMALL.slice(0, 7);
    const [a, b, c, dd, e, f, j] = d as [Hash, Hash, Hash, Hash, Hash, Hash, Hash];
    const g = nodeHash(a, b);
    const h = nodeHash(c, dd);
    const i = nodeHash(e, f);
    const k = nodeHash(g, h);
    const l = nodeHash(i, j);
    const top = nodeHash(k, l);

    it("has the RFC's root and inclusion proofs [b,h,l] for d0, [c,g,l] for d3, [f,j,k] for d4, [i,k] for d6", function () {
      expect(rootOf(d)).to.deep.equal(top);
      expect(hex(inclusionProofOf(0, d))).to.deep.equal(hex([b, h, l]));
      expect(hex(inclusionProofOf(3, d))).to.deep.equal(hex([c, g, l]));
      expect(hex(inclusionProofOf(4, d))).to.deep.equal(hex([f, j, k]));
      expect(hex(inclusionProofOf(6, d))).to.deep.equal(hex([i, k]));
    });

    it("has the RFC's consistency proofs [c,d,g,l] from 3, [l] from 4 and [i,j,k] from 6", function () {
      expect(hex(consistencyProofOf(3, d))).to.deep.equal(hex([c, dd, g, l]));
      expect(hex(consistencyProofOf(4, d))).to.deep.equal(hex([l]));
      expect(hex(consistencyProofOf(6, d))).to.deep.equal(hex([i, j, k]));
      expect(verifyConsistency(3, 7, nodeHash(g, c), top, [c, dd, g, l])).to.equal(true);
      expect(verifyConsistency(4, 7, k, top, [l])).to.equal(true);
      expect(verifyConsistency(6, 7, nodeHash(k, i), top, [i, j, k])).to.equal(true);
    });
  });

  describe("inclusion proofs", function () {
    it("verify, match merkletreejs and come out equal from stored nodes in one read, for every (index, size) up to 64", async function () {
      const store = storeOf(SMALL);
      for (let n = 1; n <= MAX; n++) {
        const tree = merkletreejsRoot(SMALL.slice(0, n));
        for (let idx = 0; idx < n; idx++) {
          const proof = inclusionProofOf(idx, SMALL.slice(0, n));
          expect(verifyInclusion(idx, n, SMALL[idx]!, proof, ROOTS[n]!), `(${idx}, ${n})`).to.equal(true);
          expect(hex(proof), `merkletreejs (${idx}, ${n})`).to.deep.equal(tree.getHexProof(Buffer.from(SMALL[idx]!), idx));
          const before = store.reads;
          expect(hex(await inclusionProof(idx, n, store)), `stored (${idx}, ${n})`).to.deep.equal(hex(proof));
          expect(store.reads - before, "one read per proof").to.be.at.most(1);
          expect(allComplete(inclusionPlan(idx, n), n)).to.equal(true);
        }
      }
    });

    it("are refused when tampered: flipped bit, other index, other size, other leaf, truncated, extended", function () {
      const rnd = prng(1);
      for (let n = 1; n <= MAX; n++) {
        const leaves = SMALL.slice(0, n);
        for (let idx = 0; idx < n; idx++) {
          const leaf = SMALL[idx]!;
          const proof = inclusionProofOf(idx, leaves);
          const why = `(${idx}, ${n})`;
          proof.forEach((_, at) => {
            const bad = proof.slice();
            bad[at] = flipBit(bad[at]!, rnd(256));
            expect(verifyInclusion(idx, n, leaf, bad, ROOTS[n]!), `flip ${at} ${why}`).to.equal(false);
          });
          // Every other index in small trees, a few random ones in larger trees (keeps the run short).
          const others = n <= 16 ? Array.from({ length: n }, (_, o) => o) : [0, n - 1, rnd(n), rnd(n), idx ^ 1];
          for (const other of others) {
            if (other !== idx && other < n) {
              expect(verifyInclusion(other, n, leaf, proof, ROOTS[n]!), `index ${other} ${why}`).to.equal(false);
            }
          }
          // Another size, against that size's root: the leaf is in both trees, but this path belongs to only one.
          for (const m of [n - 1, n + 1, 1 + rnd(MAX)]) {
            if (m !== n && m > idx) expect(verifyInclusion(idx, m, leaf, proof, ROOTS[m]!), `size ${m} ${why}`).to.equal(false);
          }
          expect(verifyInclusion(idx, n, flipBit(leaf, 0), proof, ROOTS[n]!), `leaf ${why}`).to.equal(false);
          expect(verifyInclusion(idx, n, leaf, proof, flipBit(ROOTS[n]!, 7)), `root ${why}`).to.equal(false);
          if (proof.length > 0) expect(verifyInclusion(idx, n, leaf, proof.slice(1), ROOTS[n]!), `truncated ${why}`).to.equal(false);
          expect(verifyInclusion(idx, n, leaf, [...proof, LEAVES[0]!], ROOTS[n]!), `extended ${why}`).to.equal(false);
          expect(verifyInclusion(idx, n, leaf, [...proof, proof[0] ?? leaf], ROOTS[n]!), `extended ${why}`).to.equal(false);
        }
      }
    });

    it("are refused for index >= size, negative or unsafe numbers, and hashes that are not 32 bytes", function () {
      const proof = inclusionProofOf(2, SMALL.slice(0, 5));
      expect(verifyInclusion(5, 5, SMALL[5]!, proof, ROOTS[5]!)).to.equal(false);
      expect(verifyInclusion(7, 5, SMALL[7]!, proof, ROOTS[5]!)).to.equal(false);
      expect(verifyInclusion(-1, 5, SMALL[2]!, proof, ROOTS[5]!)).to.equal(false);
      expect(verifyInclusion(2.5, 5, SMALL[2]!, proof, ROOTS[5]!)).to.equal(false);
      expect(verifyInclusion(2, 2 ** 53, SMALL[2]!, proof, ROOTS[5]!)).to.equal(false);
      expect(verifyInclusion(0, 0, SMALL[0]!, [], EMPTY_ROOT)).to.equal(false);
      expect(verifyInclusion(2, 5, SMALL[2]!.slice(1), proof, ROOTS[5]!)).to.equal(false);
      expect(verifyInclusion(2, 5, SMALL[2]!, [...proof.slice(1), new Uint8Array(31)], ROOTS[5]!)).to.equal(false);
      expect(verifyInclusion(2, 5, SMALL[2]!, proof, ROOTS[5]!)).to.equal(true);
    });

    it("cannot be asked for outside the tree", function () {
      expect(() => inclusionProofOf(3, SMALL.slice(0, 3))).to.throw(RangeError);
      expect(() => inclusionPlan(3, 3)).to.throw(RangeError);
      expect(() => inclusionPlan(-1, 3)).to.throw(RangeError);
      expect(() => inclusionPlan(0, 2 ** 53)).to.throw(RangeError);
    });
  });

  describe("consistency proofs", function () {
    it("verify and come out equal from stored nodes in one read, for every 0 <= m <= n <= 64", async function () {
      const store = storeOf(SMALL);
      for (let n = 1; n <= MAX; n++) {
        for (let m = 0; m <= n; m++) {
          const proof = consistencyProofOf(m, SMALL.slice(0, n));
          const why = `(${m}, ${n})`;
          expect(verifyConsistency(m, n, ROOTS[m]!, ROOTS[n]!, proof), why).to.equal(true);
          if (m === 0 || m === n) expect(proof, why).to.deep.equal([]);
          const before = store.reads;
          expect(hex(await consistencyProof(m, n, store)), `stored ${why}`).to.deep.equal(hex(proof));
          expect(store.reads - before, "at most one read per proof").to.equal(proof.length === 0 ? 0 : 1);
          expect(allComplete(consistencyPlan(m, n), n)).to.equal(true);
        }
      }
    });

    it("are refused when tampered: flipped bit, other sizes, swapped or forged roots, truncated, extended", function () {
      const rnd = prng(2);
      for (let n = 2; n <= MAX; n++) {
        // A fork of the log: leaf n-2 rewritten, so every tree head from size n-1 on differs.
        const forked = SMALL.slice(0, n);
        forked[n - 2] = leafHash(Uint8Array.of(0xff));
        const forkedRoot = rootOf(forked);
        for (let m = 1; m < n; m++) {
          const proof = consistencyProofOf(m, SMALL.slice(0, n));
          const [oldRoot, newRoot] = [ROOTS[m]!, ROOTS[n]!];
          const why = `(${m}, ${n})`;
          proof.forEach((_, at) => {
            const bad = proof.slice();
            bad[at] = flipBit(bad[at]!, rnd(256));
            expect(verifyConsistency(m, n, oldRoot, newRoot, bad), `flip ${at} ${why}`).to.equal(false);
          });
          expect(verifyConsistency(m, n, oldRoot, forkedRoot, proof), `fork ${why}`).to.equal(false);
          expect(verifyConsistency(m, n, flipBit(oldRoot, 3), newRoot, proof), `old root ${why}`).to.equal(false);
          expect(verifyConsistency(m, n, newRoot, oldRoot, proof), `swapped ${why}`).to.equal(false);
          expect(verifyConsistency(n, m, newRoot, oldRoot, proof), `m > n ${why}`).to.equal(false);
          expect(verifyConsistency(m, n, oldRoot, newRoot, []), `empty ${why}`).to.equal(false);
          expect(verifyConsistency(m, n, oldRoot, newRoot, proof.slice(0, -1)), `truncated ${why}`).to.equal(false);
          expect(verifyConsistency(m, n, oldRoot, newRoot, [...proof, newRoot]), `extended ${why}`).to.equal(false);
          // Other sizes, each against the real root of that size.
          for (const m2 of [m - 1, m + 1]) {
            if (m2 >= 1 && m2 < n && m2 !== m) {
              expect(verifyConsistency(m2, n, ROOTS[m2]!, newRoot, proof), `old size ${m2} ${why}`).to.equal(false);
            }
          }
          expect(verifyConsistency(m, n + 1, oldRoot, ROOTS[n + 1]!, proof), `new size ${n + 1} ${why}`).to.equal(false);
        }
      }
    });

    it("outside 0 < m < n accept only the trivial statements with an empty proof", function () {
      const p = consistencyProofOf(3, SMALL.slice(0, 5));
      expect(verifyConsistency(5, 5, ROOTS[5]!, ROOTS[5]!, [])).to.equal(true);
      expect(verifyConsistency(5, 5, ROOTS[5]!, ROOTS[5]!, p)).to.equal(false);
      expect(verifyConsistency(5, 5, ROOTS[5]!, ROOTS[4]!, [])).to.equal(false);
      expect(verifyConsistency(0, 5, EMPTY_ROOT, ROOTS[5]!, [])).to.equal(true);
      expect(verifyConsistency(0, 5, ROOTS[1]!, ROOTS[5]!, [])).to.equal(false);
      expect(verifyConsistency(0, 5, EMPTY_ROOT, ROOTS[5]!, p)).to.equal(false);
      expect(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])).to.equal(true);
      expect(verifyConsistency(6, 5, ROOTS[6]!, ROOTS[5]!, [])).to.equal(false);
      expect(verifyConsistency(-1, 5, EMPTY_ROOT, ROOTS[5]!, [])).to.equal(false);
      expect(verifyConsistency(3, 5, ROOTS[3]!.slice(1), ROOTS[5]!, p)).to.equal(false);
      expect(() => consistencyProofOf(6, SMALL.slice(0, 5))).to.throw(RangeError);
      expect(() => consistencyPlan(6, 5)).to.throw(RangeError);
      expect(() => consistencyPlan(0.5, 5)).to.throw(RangeError);
    });

    it("bind the sizes only through the tree's shape: the anchored size must come from the log, not the proof", function () {
      // Trap worth knowing (holds for RFC 9162 itself): from (4, k) the one-node proof [l] reaches H(k, l) whether
      // the new size is claimed as 7 or 8, because both trees have the same shape above level 2. Nothing is forged:
      // the 7 real leaves are still committed, but leaf 7 of the claimed 8 can never be proven.
      const l = rootOf(SMALL.slice(4, 7));
      expect(verifyConsistency(4, 7, ROOTS[4]!, ROOTS[7]!, [l])).to.equal(true);
      expect(verifyConsistency(4, 8, ROOTS[4]!, ROOTS[7]!, [l])).to.equal(true);
      expect(ROOTS[8]).to.not.deep.equal(ROOTS[7]);
    });
  });

  describe("larger random trees (up to 5,000 leaves)", function () {
    it("give stored proofs equal to the reference, which verify, and tampered ones that do not", async function () {
      const rnd = prng(3);
      const store = storeOf(LEAVES);
      for (let t = 0; t < 30; t++) {
        const n = 65 + rnd(LEAVES.length - 64);
        const leaves = LEAVES.slice(0, n);
        const r = rootOf(leaves);
        expect(hex([await root(n, store)])).to.deep.equal(hex([r]));

        const idx = rnd(n);
        const ip = await inclusionProof(idx, n, store);
        expect(hex(ip), `inclusion (${idx}, ${n})`).to.deep.equal(hex(inclusionProofOf(idx, leaves)));
        expect(verifyInclusion(idx, n, LEAVES[idx]!, ip, r)).to.equal(true);
        expect(verifyInclusion(idx, n, LEAVES[idx]!, [...ip.slice(0, -1), flipBit(ip.at(-1)!, rnd(256))], r)).to.equal(false);
        expect(verifyInclusion((idx + 1) % n, n, LEAVES[idx]!, ip, r)).to.equal(false);

        const m = 1 + rnd(n - 1);
        const cp = await consistencyProof(m, n, store);
        expect(hex(cp), `consistency (${m}, ${n})`).to.deep.equal(hex(consistencyProofOf(m, leaves)));
        const oldRoot = rootOf(LEAVES.slice(0, m));
        expect(verifyConsistency(m, n, oldRoot, r, cp)).to.equal(true);
        const at = rnd(cp.length);
        const bad = cp.slice();
        bad[at] = flipBit(bad[at]!, rnd(256));
        expect(verifyConsistency(m, n, oldRoot, r, bad)).to.equal(false);
      }
    });
  });

  describe("MemoryNodeStore", function () {
    it("keeps exactly the complete nodes and refuses to read an incomplete one", async function () {
      const store = storeOf(SMALL.slice(0, 5));
      expect(store.size).to.equal(5);
      expect(await store.nodes([{ level: 2, index: 0 }])).to.deep.equal([ROOTS[4]]);
      expect(await store.nodes([{ level: 0, index: 4 }])).to.deep.equal([SMALL[4]]);
      await store.nodes([{ level: 1, index: 2 }]).then(
        () => expect.fail("read an incomplete node"),
        (e: unknown) => expect(e).to.be.instanceOf(RangeError),
      );
      expect(store.append(SMALL[5]!)).to.equal(5);
      expect(await store.nodes([{ level: 1, index: 2 }])).to.deep.equal([nodeHash(SMALL[4]!, SMALL[5]!)]);
      expect(() => store.append(new Uint8Array(31))).to.throw(TypeError);
    });

    it("serves proofs of any size it has reached, however far it has grown since", async function () {
      const store = storeOf(SMALL);
      expect(hex(await inclusionProof(2, 3, store))).to.deep.equal(hex(inclusionProofOf(2, SMALL.slice(0, 3))));
      expect(hex(await consistencyProof(3, 5, store))).to.deep.equal(hex(consistencyProofOf(3, SMALL.slice(0, 5))));
    });

    it("is checked: a reader returning the wrong number of hashes is an error", async function () {
      const liar = { nodes: async (refs: readonly NodeRef[]) => refs.slice(1).map(() => EMPTY_ROOT) };
      await inclusionProof(0, 4, liar).then(
        () => expect.fail("accepted a short answer"),
        (e: unknown) => expect(String(e)).to.match(/returned 1 hashes for 2 refs/),
      );
    });
  });

  describe("hex wrappers", function () {
    it("round-trip proofs and refuse hashes that are not 32 bytes", function () {
      const proof = inclusionProofOf(5, SMALL.slice(0, 9));
      expect(proofFromHex(proofToHex(proof))).to.deep.equal(proof);
      expect(() => proofFromHex(["0x1234"])).to.throw(TypeError);
    });
  });
});
