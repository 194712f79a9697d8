import { expect } from "chai";
import { network } from "hardhat";
import { id } from "ethers";
import { EMPTY_ROOT, bytesToHex, leafHash } from "../../ledger-api/src/log/hash.ts";
import type { Hash } from "../../ledger-api/src/log/hash.ts";
import {
  MemoryNodeStore,
  consistencyProof,
  inclusionProof,
  root,
  verifyConsistency,
  verifyInclusion,
} from "../../ledger-api/src/log/merkle.ts";
import { flipBit, prng, vectorLeaves } from "../api/log/vectors.ts";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const ANCHORER_ROLE = id("ANCHORER_ROLE");
const EMPTY = bytesToHex(EMPTY_ROOT);
const LEAVES = vectorLeaves(5000);
const STORE = new MemoryNodeStore();
STORE.append(...LEAVES);

const hex = (hashes: readonly Hash[]): string[] => hashes.map(bytesToHex);
const rootHex = async (size: number): Promise<string> => bytesToHex(await root(size, STORE));

async function deployed() {
  const [admin, anchorer, stranger] = await ethers.getSigners();
  const log = await ethers.deployContract("LogAnchor", [admin!.address]);
  await log.connect(admin!).grantRole(ANCHORER_ROLE, anchorer!.address);
  return { log, admin: admin!, anchorer: anchorer!, stranger: stranger!, asAnchorer: log.connect(anchorer!) };
}

/** Anchors the vector log at every size 1..64, each with the consistency proof merkle.ts serves. */
async function anchoredAtEverySizeUpTo64() {
  const f = await deployed();
  for (let n = 1; n <= 64; n++) {
    await f.asAnchorer.anchor(n, await rootHex(n), hex(await consistencyProof(n - 1, n, STORE)));
  }
  return f;
}

/** Runs view calls concurrently in chunks: one in-process JSON-RPC round trip each, but no serial waiting. */
async function all<T>(jobs: (() => Promise<T>)[], chunk = 256): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < jobs.length; i += chunk) out.push(...(await Promise.all(jobs.slice(i, i + chunk).map((j) => j()))));
  return out;
}

describe("LogAnchor", function () {
  describe("deployment", function () {
    it("gives the admin DEFAULT_ADMIN_ROLE, names ANCHORER_ROLE, and starts with no anchor", async function () {
      const { log, admin, anchorer } = await loadFixture(deployed);
      expect(await log.hasRole(await log.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      expect(await log.ANCHORER_ROLE()).to.equal(ANCHORER_ROLE);
      expect(await log.hasRole(ANCHORER_ROLE, anchorer.address)).to.equal(true);
      expect(await log.anchorCount()).to.equal(0n);
      await expect(log.latest()).to.be.revertedWithCustomError(log, "AnchorIndexOutOfRange").withArgs(0, 0);
      await expect(log.anchorAt(0)).to.be.revertedWithCustomError(log, "AnchorIndexOutOfRange").withArgs(0, 0);
    });

    it("refuses the zero address as admin", async function () {
      const factory = await ethers.getContractFactory("LogAnchor");
      await expect(ethers.deployContract("LogAnchor", [ethers.ZeroAddress]))
        .to.be.revertedWithCustomError(factory, "InvalidAdmin")
        .withArgs(ethers.ZeroAddress);
    });
  });

  describe("anchoring", function () {
    it("accepts a growing log with merkle.ts consistency proofs, stores each head and emits Anchored", async function () {
      const { log, asAnchorer, anchorer } = await loadFixture(deployed);
      const sizes = [1, 2, 3, 7, 8, 9, 64, 100, 1000, 1024, 4097, 5000];
      let previous = 0;
      for (const [i, size] of sizes.entries()) {
        const r = await rootHex(size);
        const proof = hex(await consistencyProof(previous, size, STORE));
        const tx = asAnchorer.anchor(size, r, proof);
        await expect(tx).to.emit(log, "Anchored").withArgs(i, size, r, previous, anchorer.address);
        const receipt = await (await tx).wait();
        const block = await ethers.provider.getBlock(receipt!.blockNumber);
        const stored = await log.anchorAt(i);
        expect([stored.root, stored.size, stored.timestamp, stored.blockNumber]).to.deep.equal([
          r,
          BigInt(size),
          BigInt(block!.timestamp),
          BigInt(receipt!.blockNumber),
        ]);
        expect((await log.latest()).root).to.equal(r);
        previous = size;
      }
      expect(await log.anchorCount()).to.equal(BigInt(sizes.length));
    });

    it("takes no proof for the first anchor: a non-empty one is refused", async function () {
      const { log, asAnchorer } = await loadFixture(deployed);
      const r = await rootHex(4);
      await expect(asAnchorer.anchor(4, r, [r]))
        .to.be.revertedWithCustomError(log, "InvalidConsistencyProof")
        .withArgs(0, EMPTY, 4, r);
      await expect(asAnchorer.anchor(0, EMPTY, [])).to.be.revertedWithCustomError(log, "SizeNotIncreasing").withArgs(0, 0);
    });

    describe("refuses a head that does not extend the log", function () {
      async function anchoredAt10() {
        const f = await deployed();
        await f.asAnchorer.anchor(10, await rootHex(10), []);
        return f;
      }

      it("when the size is equal or smaller", async function () {
        const { log, asAnchorer } = await loadFixture(anchoredAt10);
        await expect(asAnchorer.anchor(10, await rootHex(10), []))
          .to.be.revertedWithCustomError(log, "SizeNotIncreasing")
          .withArgs(10, 10);
        await expect(asAnchorer.anchor(9, await rootHex(9), hex(await consistencyProof(9, 10, STORE))))
          .to.be.revertedWithCustomError(log, "SizeNotIncreasing")
          .withArgs(10, 9);
      });

      it("when the root is forged, or proven from another tree, or the proof is empty", async function () {
        const { log, asAnchorer } = await loadFixture(anchoredAt10);
        const old = await rootHex(10);
        const proof = hex(await consistencyProof(10, 20, STORE));
        const forged = bytesToHex(flipBit(await root(20, STORE), 100));
        await expect(asAnchorer.anchor(20, forged, proof))
          .to.be.revertedWithCustomError(log, "InvalidConsistencyProof")
          .withArgs(10, old, 20, forged);

        // A different log of 20 entries: its own proof is valid, but from its own size-10 head, not the anchored one.
        const other = new MemoryNodeStore();
        other.append(...vectorLeaves(20, 1_000_000));
        const otherRoot = bytesToHex(await root(20, other));
        await expect(asAnchorer.anchor(20, otherRoot, hex(await consistencyProof(10, 20, other))))
          .to.be.revertedWithCustomError(log, "InvalidConsistencyProof")
          .withArgs(10, old, 20, otherRoot);

        // A fork: leaf 3 rewritten, entries 10..19 unchanged.
        const forkedLeaves = LEAVES.slice(0, 20);
        forkedLeaves[3] = leafHash(Uint8Array.of(3));
        const fork = new MemoryNodeStore();
        fork.append(...forkedLeaves);
        const forkRoot = bytesToHex(await root(20, fork));
        await expect(asAnchorer.anchor(20, forkRoot, hex(await consistencyProof(10, 20, fork))))
          .to.be.revertedWithCustomError(log, "InvalidConsistencyProof")
          .withArgs(10, old, 20, forkRoot);
        await expect(asAnchorer.anchor(20, forkRoot, proof)).to.be.revertedWithCustomError(log, "InvalidConsistencyProof");

        const r20 = await rootHex(20);
        await expect(asAnchorer.anchor(20, r20, []))
          .to.be.revertedWithCustomError(log, "InvalidConsistencyProof")
          .withArgs(10, old, 20, r20);
        await expect(asAnchorer.anchor(20, r20, proof.slice(1))).to.be.revertedWithCustomError(log, "InvalidConsistencyProof");

        await expect(asAnchorer.anchor(20, r20, proof)).to.emit(log, "Anchored");
      });

      it("but binds the new size only through the tree's shape, as RFC 9162 does: the anchorer must take size and root from one log state", async function () {
        // The 10 -> 20 proof also leads to root(20) when 21 is claimed: the proof's shape is the same for both sizes.
        // Nothing anchored is rewritten (the root still commits to the same 20 entries), but the mis-sized anchor
        // serves only the proofs whose shape is unchanged, and no honest proof can extend it: the anchor chain is
        // stuck. So the anchorer must read size and root from one log state, never combine them.
        const { log, asAnchorer } = await loadFixture(anchoredAt10);
        const proof = hex(await consistencyProof(10, 20, STORE));
        await expect(asAnchorer.anchor(21, await rootHex(20), proof)).to.emit(log, "Anchored");
        const leaf = (i: number) => bytesToHex(LEAVES[i]!);
        expect(await log.verifyInclusion(1, 0, leaf(0), hex(await inclusionProof(0, 20, STORE)))).to.equal(true);
        expect(await log.verifyInclusion(1, 19, leaf(19), hex(await inclusionProof(19, 20, STORE)))).to.equal(false);
        expect(await log.verifyInclusion(1, 20, leaf(20), hex(await inclusionProof(20, 21, STORE)))).to.equal(false);
        await expect(asAnchorer.anchor(30, await rootHex(30), hex(await consistencyProof(21, 30, STORE))))
          .to.be.revertedWithCustomError(log, "InvalidConsistencyProof");
      });

      it("when the proof is longer than any valid proof", async function () {
        const { log, asAnchorer } = await loadFixture(anchoredAt10);
        await expect(asAnchorer.anchor(20, await rootHex(20), Array(129).fill(EMPTY)))
          .to.be.revertedWithCustomError(log, "ProofTooLong")
          .withArgs(129, 128);
      });
    });

    it("is refused to accounts without ANCHORER_ROLE, the admin included", async function () {
      const { log, admin, stranger } = await loadFixture(deployed);
      for (const who of [stranger, admin]) {
        await expect(log.connect(who).anchor(1, await rootHex(1), []))
          .to.be.revertedWithCustomError(log, "AccessControlUnauthorizedAccount")
          .withArgs(who.address, ANCHORER_ROLE);
      }
    });
  });

  describe("inclusion", function () {
    it("accepts the merkle.ts proof of every (index, size) with size 1..64 against the anchor of that size", async function () {
      const { log } = await loadFixture(anchoredAtEverySizeUpTo64);
      expect(await log.anchorCount()).to.equal(64n);
      const jobs: (() => Promise<boolean>)[] = [];
      for (let n = 1; n <= 64; n++) {
        for (let i = 0; i < n; i++) {
          const path = hex(await inclusionProof(i, n, STORE));
          jobs.push(() => log.verifyInclusion(n - 1, i, bytesToHex(LEAVES[i]!), path));
        }
      }
      const results = await all(jobs);
      expect(results.length).to.equal(2080);
      expect(results.every((ok) => ok)).to.equal(true);
    });

    it("accepts merkle.ts proofs in larger logs, against anchors up to 5,000 entries", async function () {
      const { log, asAnchorer } = await loadFixture(deployed);
      const rnd = prng(7);
      let previous = 0;
      const jobs: (() => Promise<boolean>)[] = [];
      for (let a = 0; a < 8; a++) {
        const size = a === 7 ? 5000 : previous + 1 + rnd(700);
        await asAnchorer.anchor(size, await rootHex(size), hex(await consistencyProof(previous, size, STORE)));
        for (let k = 0; k < 12; k++) {
          const i = rnd(size);
          const path = hex(await inclusionProof(i, size, STORE));
          expect(verifyInclusion(i, size, LEAVES[i]!, await inclusionProof(i, size, STORE), await root(size, STORE))).to.equal(true);
          jobs.push(() => log.verifyInclusion(a, i, bytesToHex(LEAVES[i]!), path));
          jobs.push(async () => !(await log.verifyInclusion(a, (i + 1) % size, bytesToHex(LEAVES[i]!), path)));
        }
        previous = size;
      }
      expect((await all(jobs)).every((ok) => ok)).to.equal(true);
    });

    it("refuses forged proofs: flipped bit, other index, other leaf, another anchor's proof, index past the end", async function () {
      const { log } = await loadFixture(anchoredAtEverySizeUpTo64);
      const rnd = prng(9);
      const jobs: (() => Promise<boolean>)[] = [];
      for (let n = 2; n <= 64; n++) {
        const i = rnd(n);
        const leaf = bytesToHex(LEAVES[i]!);
        const proof = await inclusionProof(i, n, STORE);
        const at = rnd(proof.length);
        const flipped = proof.slice();
        flipped[at] = flipBit(flipped[at]!, rnd(256));
        const refused = (anchorIndex: number, index: number, leafHex: string, path: readonly Hash[]) => async () =>
          !(await log.verifyInclusion(anchorIndex, index, leafHex, hex(path)));
        jobs.push(refused(n - 1, i, leaf, flipped));
        jobs.push(refused(n - 1, (i + 1) % n, leaf, proof));
        jobs.push(refused(n - 1, i, bytesToHex(LEAVES[(i + 1) % n]!), proof));
        jobs.push(refused(n - 1, i, leaf, proof.slice(0, -1)));
        jobs.push(refused(n - 1, i, leaf, [...proof, LEAVES[0]!]));
        jobs.push(refused(n - 1, n, bytesToHex(LEAVES[n]!), proof));
        // The proof of the same leaf in the next-larger tree, against this anchor.
        if (i < n - 1) jobs.push(refused(n - 2, i, leaf, proof));
      }
      expect((await all(jobs)).every((ok) => ok)).to.equal(true);
    });

    it("reverts for an unknown anchor and for an over-long path", async function () {
      const { log } = await loadFixture(anchoredAtEverySizeUpTo64);
      await expect(log.verifyInclusion(64, 0, bytesToHex(LEAVES[0]!), []))
        .to.be.revertedWithCustomError(log, "AnchorIndexOutOfRange")
        .withArgs(64, 64);
      await expect(log.verifyInclusion(63, 0, bytesToHex(LEAVES[0]!), Array(129).fill(EMPTY)))
        .to.be.revertedWithCustomError(log, "ProofTooLong")
        .withArgs(129, 128);
    });
  });

  describe("pure helpers agree with merkle.ts", function () {
    it("verifyInclusionAgainst and verifyConsistency accept what merkle.ts accepts and refuse what it refuses", async function () {
      const { log } = await loadFixture(deployed);
      const rnd = prng(11);
      const jobs: (() => Promise<boolean>)[] = [];
      for (let t = 0; t < 40; t++) {
        const n = 1 + rnd(5000);
        const m = rnd(n + 1);
        const i = rnd(n);
        const [rn, rm] = [await root(n, STORE), await root(m, STORE)];
        const ip = await inclusionProof(i, n, STORE);
        const cp = await consistencyProof(m, n, STORE);
        const badCp = cp.length > 0 ? [flipBit(cp[0]!, 5), ...cp.slice(1)] : [rn];
        const cases: [boolean, () => Promise<boolean>][] = [
          [verifyInclusion(i, n, LEAVES[i]!, ip, rn), () => log.verifyInclusionAgainst(bytesToHex(rn), n, i, bytesToHex(LEAVES[i]!), hex(ip))],
          [verifyInclusion(i, n, LEAVES[i]!, ip, rm), () => log.verifyInclusionAgainst(bytesToHex(rm), n, i, bytesToHex(LEAVES[i]!), hex(ip))],
          [verifyConsistency(m, n, rm, rn, cp), () => log.verifyConsistency(m, n, bytesToHex(rm), bytesToHex(rn), hex(cp))],
          [verifyConsistency(m, n, rm, rn, badCp), () => log.verifyConsistency(m, n, bytesToHex(rm), bytesToHex(rn), hex(badCp))],
          [verifyConsistency(n, m, rn, rm, cp), () => log.verifyConsistency(n, m, bytesToHex(rn), bytesToHex(rm), hex(cp))],
        ];
        for (const [expected, call] of cases) jobs.push(async () => (await call()) === expected);
        expect(cases[0]![0] && cases[2]![0]).to.equal(true);
      }
      expect((await all(jobs)).every((ok) => ok)).to.equal(true);
      await expect(log.verifyConsistency(1, 2, EMPTY, EMPTY, Array(129).fill(EMPTY)))
        .to.be.revertedWithCustomError(log, "ProofTooLong")
        .withArgs(129, 128);
      await expect(log.verifyInclusionAgainst(EMPTY, 2, 0, EMPTY, Array(129).fill(EMPTY)))
        .to.be.revertedWithCustomError(log, "ProofTooLong")
        .withArgs(129, 128);
    });
  });
});
