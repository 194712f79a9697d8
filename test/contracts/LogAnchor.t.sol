// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {RFC9162} from "../../contracts/lib/RFC9162.sol";
import {LogAnchor} from "../../contracts/LogAnchor.sol";
import {ILogAnchor} from "../../contracts/interfaces/ILogAnchor.sol";
import {vm} from "../helpers/Vm.sol";

/// @dev Reference RFC 9162 tree in memory: the section 2.1 recursive definitions (MTH, PATH, SUBPROOF) transcribed
/// as plainly as possible, with its own node hash (abi.encodePacked, not the library's assembly), so the fuzz tests
/// compare the library's verifiers against an independent construction.
library Reference {
    function leaf(uint256 seed, uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), abi.encode(seed, i)));
    }

    function node(bytes32 l, bytes32 r) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x01), l, r));
    }

    function leaves(uint256 seed, uint256 n) internal pure returns (bytes32[] memory d) {
        d = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) d[i] = leaf(seed, i);
    }

    /// @dev Largest power of two strictly less than n (n >= 2).
    function split(uint256 n) internal pure returns (uint256 k) {
        k = 1;
        while (k << 1 < n) k <<= 1;
    }

    /// @dev MTH(D[lo:hi]).
    function mth(bytes32[] memory d, uint256 lo, uint256 hi) internal pure returns (bytes32) {
        uint256 n = hi - lo;
        if (n == 0) return keccak256("");
        if (n == 1) return d[lo];
        uint256 k = split(n);
        return node(mth(d, lo, lo + k), mth(d, lo + k, hi));
    }

    /// @dev PATH(m, D[n]) of RFC 9162 section 2.1.3.1.
    function path(bytes32[] memory d, uint256 m, uint256 n) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](64);
        uint256 len = _path(d, m, 0, n, p, 0);
        assembly ("memory-safe") {
            mstore(p, len)
        }
    }

    function _path(bytes32[] memory d, uint256 m, uint256 lo, uint256 hi, bytes32[] memory p, uint256 len)
        private
        pure
        returns (uint256)
    {
        uint256 n = hi - lo;
        if (n == 1) return len;
        uint256 k = split(n);
        if (m < k) {
            len = _path(d, m, lo, lo + k, p, len);
            p[len++] = mth(d, lo + k, hi);
        } else {
            len = _path(d, m - k, lo + k, hi, p, len);
            p[len++] = mth(d, lo, lo + k);
        }
        return len;
    }

    /// @dev PROOF(m, D[n]) of RFC 9162 section 2.1.4.1, 0 < m < n.
    function consistency(bytes32[] memory d, uint256 m, uint256 n) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](128);
        uint256 len = _subproof(d, m, 0, n, true, p, 0);
        assembly ("memory-safe") {
            mstore(p, len)
        }
    }

    function _subproof(bytes32[] memory d, uint256 m, uint256 lo, uint256 hi, bool b, bytes32[] memory p, uint256 len)
        private
        pure
        returns (uint256)
    {
        uint256 n = hi - lo;
        if (m == n) {
            if (!b) p[len++] = mth(d, lo, hi);
            return len;
        }
        uint256 k = split(n);
        if (m <= k) {
            len = _subproof(d, m, lo, lo + k, b, p, len);
            p[len++] = mth(d, lo + k, hi);
        } else {
            len = _subproof(d, m - k, lo + k, hi, false, p, len);
            p[len++] = mth(d, lo, lo + k);
        }
        return len;
    }

    function copy(bytes32[] memory a, uint256 len) internal pure returns (bytes32[] memory c) {
        c = new bytes32[](len);
        for (uint256 i = 0; i < len && i < a.length; ++i) c[i] = a[i];
    }
}

/// @dev Fuzz tests of the RFC 9162 library against the reference tree, for trees of 1..256 leaves.
contract RFC9162Test {
    // External wrappers: the library takes calldata arrays, so the tests call through `this`.
    function verifyInclusion(uint256 index, uint256 size, bytes32 leafHash, bytes32[] calldata p, bytes32 root)
        external
        pure
        returns (bool)
    {
        return RFC9162.verifyInclusion(index, size, leafHash, p, root);
    }

    function verifyConsistency(uint256 m, uint256 n, bytes32 oldRoot, bytes32 newRoot, bytes32[] calldata p)
        external
        pure
        returns (bool)
    {
        return RFC9162.verifyConsistency(m, n, oldRoot, newRoot, p);
    }

    function testFuzz_inclusionProofsOfTheReferenceTreeVerifyAndMutantsDoNot(
        uint256 seed,
        uint16 sizeRaw,
        uint16 indexRaw,
        uint256 mutation
    ) public view {
        uint256 n = 1 + (sizeRaw % 256);
        uint256 i = indexRaw % n;
        bytes32[] memory d = Reference.leaves(seed, n);
        bytes32 root = Reference.mth(d, 0, n);
        bytes32[] memory p = Reference.path(d, i, n);

        require(this.verifyInclusion(i, n, d[i], p, root), "valid inclusion proof refused");
        require(RFC9162.hashLeaf(abi.encode(seed, i)) == d[i], "hashLeaf differs from the reference");

        // Truncated and extended paths.
        if (p.length > 0) {
            require(!this.verifyInclusion(i, n, d[i], Reference.copy(p, p.length - 1), root), "truncated accepted");
        }
        require(!this.verifyInclusion(i, n, d[i], Reference.copy(p, p.length + 1), root), "extended accepted");
        // Another index, the index past the end, another leaf, another root.
        if (n > 1) {
            uint256 j = (i + 1 + (mutation % (n - 1))) % n;
            require(!this.verifyInclusion(j, n, d[i], p, root), "wrong index accepted");
        }
        require(!this.verifyInclusion(n, n, d[i], p, root), "index == size accepted");
        require(!this.verifyInclusion(i, n, bytes32(uint256(d[i]) ^ 1), p, root), "wrong leaf accepted");
        require(!this.verifyInclusion(i, n, d[i], p, bytes32(uint256(root) ^ 1)), "wrong root accepted");
        // One flipped bit anywhere in the path.
        if (p.length > 0) {
            uint256 at = mutation % p.length;
            p[at] = bytes32(uint256(p[at]) ^ (1 << ((mutation >> 16) % 256)));
            require(!this.verifyInclusion(i, n, d[i], p, root), "flipped bit accepted");
        }
    }

    function testFuzz_consistencyProofsOfTheReferenceTreeVerifyAndMutantsDoNot(
        uint256 seed,
        uint16 sizeRaw,
        uint16 oldRaw,
        uint256 mutation
    ) public view {
        uint256 n = 2 + (sizeRaw % 255); // 2..256, so that 0 < m < n exists
        uint256 m = 1 + (oldRaw % (n - 1)); // 1..n-1
        bytes32[] memory d = Reference.leaves(seed, n);
        bytes32 oldRoot = Reference.mth(d, 0, m);
        bytes32 newRoot = Reference.mth(d, 0, n);
        bytes32[] memory p = Reference.consistency(d, m, n);

        require(this.verifyConsistency(m, n, oldRoot, newRoot, p), "valid consistency proof refused");
        // Trivial cases around it.
        require(this.verifyConsistency(n, n, newRoot, newRoot, new bytes32[](0)), "m == n refused");
        require(this.verifyConsistency(0, n, keccak256(""), newRoot, new bytes32[](0)), "m == 0 refused");
        require(!this.verifyConsistency(n, m, newRoot, oldRoot, p), "m > n accepted");

        require(!this.verifyConsistency(m, n, oldRoot, newRoot, new bytes32[](0)), "empty proof accepted");
        require(!this.verifyConsistency(m, n, oldRoot, newRoot, Reference.copy(p, p.length - 1)), "truncated");
        require(!this.verifyConsistency(m, n, oldRoot, newRoot, Reference.copy(p, p.length + 1)), "extended");
        require(!this.verifyConsistency(m, n, bytes32(uint256(oldRoot) ^ 1), newRoot, p), "wrong old root");
        require(!this.verifyConsistency(m, n, oldRoot, bytes32(uint256(newRoot) ^ 1), p), "wrong new root");
        // A root of the same size built from different leaves (a fork) does not extend the old one.
        bytes32[] memory forked = Reference.leaves(seed, n);
        forked[m - 1] = Reference.leaf(~seed, m - 1);
        require(!this.verifyConsistency(m, n, oldRoot, Reference.mth(forked, 0, n), p), "fork accepted");

        uint256 at = mutation % p.length;
        p[at] = bytes32(uint256(p[at]) ^ (1 << ((mutation >> 16) % 256)));
        require(!this.verifyConsistency(m, n, oldRoot, newRoot, p), "flipped bit accepted");
    }

    function testFuzz_overlongProofsAreRefusedWithoutLooping(uint8 extra) public view {
        bytes32[] memory p = new bytes32[](RFC9162.MAX_PROOF_LENGTH + 1 + extra);
        require(!this.verifyInclusion(0, type(uint64).max, bytes32(0), p, bytes32(0)), "overlong inclusion");
        require(!this.verifyConsistency(1, type(uint64).max, bytes32(0), bytes32(0), p), "overlong consistency");
    }

    /// @dev The same vectors as test/vectors/rfc9162-keccak.json, which the TypeScript tests check: leaf i of the
    /// pinned trees is keccak256(0x00 || abi.encode(uint256 i)). Both languages agreeing on these constants is what
    /// ties the Solidity reference above to merkle.ts.
    function test_referenceRootsMatchThePinnedVectors() public pure {
        uint16[6] memory sizes = [uint16(1), 2, 3, 7, 64, 256];
        bytes32[6] memory roots = [
            bytes32(0xf39a869f62e75cf5f0bf914688a6b289caf2049435d8e68c5c5e6d05e44913f3),
            bytes32(0xbddc6fb69c0d10d377bd09489f6772d165f5c27d3f01f62273f4467434b3936c),
            bytes32(0x1c36b50159d8a68e2975f15f76291aa2ff78c2b3289feca9f4cd4083f9eb088f),
            bytes32(0x4e04371182d9425bd078023b09fbb46056a4532f27496b530d9d1ebff56ba288),
            bytes32(0xa9c2ae9649cfdbb801a40fdd54ddc18bb8df10b79325e8d7a411d2589455c8b8),
            bytes32(0x39506b16c7aee270d2310b23df66c43f698ec2c491b468140262efcf37179475)
        ];
        bytes32[] memory d = new bytes32[](256);
        for (uint256 i = 0; i < 256; ++i) d[i] = keccak256(abi.encodePacked(bytes1(0x00), abi.encode(i)));
        for (uint256 s = 0; s < sizes.length; ++s) {
            require(Reference.mth(d, 0, sizes[s]) == roots[s], "pinned root differs");
        }
    }
}

/// @dev Fuzz test of LogAnchor's anchoring rule over random growing sequences built by the reference tree.
contract LogAnchorTest {
    bytes32 private constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    function testFuzz_anchorsAGrowingLogAndRefusesAForkedRoot(uint256 seed, uint16 firstRaw, uint16 secondRaw)
        public
    {
        LogAnchor log = new LogAnchor(address(this));
        log.grantRole(ANCHORER_ROLE, address(this));
        uint256 n = 2 + (secondRaw % 127); // 2..128
        uint256 m = 1 + (firstRaw % (n - 1)); // 1..n-1
        bytes32[] memory d = Reference.leaves(seed, n);

        log.anchor(uint64(m), Reference.mth(d, 0, m), new bytes32[](0));
        bytes32[] memory p = Reference.consistency(d, m, n);

        // A forked log: same size, one earlier leaf rewritten.
        bytes32[] memory forked = Reference.leaves(seed, n);
        forked[seed % m] = Reference.leaf(~seed, seed % m);
        bytes32 forkedRoot = Reference.mth(forked, 0, n);
        vm.expectRevert(
            abi.encodeWithSelector(
                ILogAnchor.InvalidConsistencyProof.selector, uint64(m), Reference.mth(d, 0, m), uint64(n), forkedRoot
            )
        );
        log.anchor(uint64(n), forkedRoot, p);

        log.anchor(uint64(n), Reference.mth(d, 0, n), p);
        require(log.anchorCount() == 2 && log.latest().size == n, "second anchor not stored");
        uint256 i = seed % n;
        require(log.verifyInclusion(1, uint64(i), d[i], Reference.path(d, i, n)), "inclusion against anchor refused");
    }
}
