// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title RFC 9162 (Certificate Transparency v2) Merkle proof verification, with keccak256.
/// @notice Verifies the two proofs of an append-only Merkle log exactly as RFC 9162 section 2.1 defines them:
///   leaf hash = keccak256(0x00 || entry), node hash = keccak256(0x01 || left || right), the tree of n leaves splits
///   at the largest power of two below n, pairs are never sorted and an odd node is never duplicated.
///   - `verifyInclusion` (section 2.1.3.2) is true iff `path` proves that `leafHash` is leaf `index` of the tree of
///     `size` leaves whose root is `root`.
///   - `verifyConsistency` (section 2.1.4.2) is true iff the tree (`newSize`, `newRoot`) is an append-only extension
///     of (`oldSize`, `oldRoot`). Outside the RFC's 0 < old < new there is nothing to prove: old == new needs an
///     empty proof and equal roots; old == 0 needs an empty proof and `oldRoot == EMPTY_ROOT`.
///   Both return false (never revert) on any malformed input, and both loop at most `MAX_PROOF_LENGTH` times.
/// @dev Traps:
///   - `leafHash` must be a *leaf hash* (0x00-prefixed), never raw entry bytes or an interior node: passing an
///     interior node hash with a shorter path "proves" a subtree, not a leaf. `hashLeaf` computes the right thing.
///   - A proof is only meaningful together with its (index, size) or (oldSize, newSize): the same path verifies
///     against exactly one position, so callers must take sizes from a trusted source (e.g. a stored anchor).
///   - Roots are bound, sizes only through the tree's shape: a proof can verify for a wrong size whose tree has the
///     same shape along the proof (inclusion of leaf 0 in 5 or 6 leaves; consistency 10 -> 20 or 10 -> 21).
///   - This is NOT OpenZeppelin's MerkleProof: that one sorts pairs and has no leaf/node domain separation.
library RFC9162 {
    /// @dev Longest proof accepted. An inclusion path in a tree of < 2^64 leaves has at most 64 nodes and a
    /// consistency proof at most 2 * 64; anything longer is malformed, and the bound caps the loop.
    uint256 internal constant MAX_PROOF_LENGTH = 128;

    /// @dev MTH of the empty tree: keccak256 of the empty string (RFC 9162 section 2.1.1).
    bytes32 internal constant EMPTY_ROOT = keccak256("");

    /// @notice RFC 9162 leaf hash of a log entry: keccak256(0x00 || entry).
    function hashLeaf(bytes memory entry) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), entry));
    }

    /// @notice RFC 9162 interior node hash: keccak256(0x01 || left || right).
    function hashNode(bytes32 left, bytes32 right) internal pure returns (bytes32 h) {
        // 65 bytes at the free-memory pointer, not reserved: it is scratch space that nothing else is using.
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 0x01), left)
            mstore(add(p, 0x21), right)
            h := keccak256(p, 0x41)
        }
    }

    /// @notice RFC 9162 section 2.1.3.2: does `path` prove `leafHash` at `index` in the tree (`size`, `root`)?
    function verifyInclusion(uint256 index, uint256 size, bytes32 leafHash, bytes32[] calldata path, bytes32 root)
        internal
        pure
        returns (bool)
    {
        // 1. leaf_index >= tree_size fails. Also refuse over-long paths before looping over them.
        if (index >= size || path.length > MAX_PROOF_LENGTH) return false;
        // 2. and 3.
        uint256 fn = index;
        uint256 sn = size - 1;
        bytes32 r = leafHash;
        // 4.
        for (uint256 i = 0; i < path.length; ++i) {
            // a. The path is longer than the tree is deep.
            if (sn == 0) return false;
            bytes32 p = path[i];
            if (fn & 1 == 1 || fn == sn) {
                // b. p is a left sibling; then skip the levels where this node has no right sibling.
                r = hashNode(p, r);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = hashNode(r, p);
            }
            // c.
            fn >>= 1;
            sn >>= 1;
        }
        // 5.
        return sn == 0 && r == root;
    }

    /// @notice RFC 9162 section 2.1.4.2: is (`newSize`, `newRoot`) an append-only extension of (`oldSize`, `oldRoot`)?
    function verifyConsistency(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32[] calldata proof
    ) internal pure returns (bool) {
        if (oldSize > newSize || proof.length > MAX_PROOF_LENGTH) return false;
        if (oldSize == newSize) return proof.length == 0 && oldRoot == newRoot;
        if (oldSize == 0) return proof.length == 0 && oldRoot == EMPTY_ROOT;
        // 1.
        if (proof.length == 0) return false;
        // 2. "Prepend first_hash when first is a power of 2" without copying: start from oldRoot and consume the
        // whole proof, or start from proof[0] and consume the rest.
        uint256 i;
        bytes32 fr;
        if (oldSize & (oldSize - 1) == 0) {
            fr = oldRoot;
        } else {
            fr = proof[0];
            i = 1;
        }
        bytes32 sr = fr;
        // 3. and 4.
        uint256 fn = oldSize - 1;
        uint256 sn = newSize - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        // 6.
        for (; i < proof.length; ++i) {
            // a.
            if (sn == 0) return false;
            bytes32 c = proof[i];
            // b.
            if (fn & 1 == 1 || fn == sn) {
                fr = hashNode(c, fr);
                sr = hashNode(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                // A node only the new tree has.
                sr = hashNode(sr, c);
            }
            // c.
            fn >>= 1;
            sn >>= 1;
        }
        // 7.
        return fr == oldRoot && sr == newRoot && sn == 0;
    }
}
