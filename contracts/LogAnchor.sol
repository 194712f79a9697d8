// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {RFC9162} from "./lib/RFC9162.sol";

/// @title Anchors of the ledger's append-only Merkle log (RFC 9162 with keccak256).
/// @notice Guarantees:
///   - Anchors form an append-only array; an anchor, once stored, never changes.
///   - Each anchor's tree size is strictly greater than the previous one's, and it was accepted only with a valid
///     RFC 9162 consistency proof from the previous anchored (size, root). Consistency is transitive, so every anchor
///     is an append-only extension of every earlier one: whoever runs the log cannot rewrite or fork history that was
///     anchored, only add to it. The first anchor is checked against the empty tree, which needs no proof.
///   - `verifyInclusion` checks an RFC 9162 inclusion proof against the (size, root) stored for an anchor, so a
///     reader trusts the chain, not the log server.
/// @dev Traps:
///   - The contract checks that roots extend each other, not what the leaves contain: an anchorer can still anchor a
///     log that contains garbage. Control who holds ANCHORER_ROLE.
///   - A consistency proof binds the roots, and the new size only through the tree's shape (an RFC 9162 property):
///     e.g. the proof 10 -> 20 also "proves" (21, root of 20). History is still not rewritten (the root commits to
///     the same entries), but such a mis-sized anchor cannot serve every inclusion proof and no honest proof extends
///     it, so the anchor chain stops. The anchorer must take size and root from one log state.
///   - `leafHash` arguments are RFC 9162 leaf hashes keccak256(0x00 || entry), never raw entries.
///   - Proofs longer than `RFC9162.MAX_PROOF_LENGTH` (128) are refused, which bounds every loop; no valid proof for a
///     tree of fewer than 2^64 leaves is that long.
contract LogAnchor is AccessControl {
    /// @notice May append anchors.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @notice One anchored tree head, with where and when the chain recorded it. Fits in two storage slots.
    struct Anchor {
        bytes32 root;
        uint64 size;
        uint64 timestamp;
        uint64 blockNumber;
    }

    Anchor[] private _anchors;

    /// @notice A tree head was anchored.
    /// @param anchorIndex Position of the new anchor (0 for the first).
    /// @param size Tree size of the anchored head.
    /// @param root Root of the tree of `size` leaves.
    /// @param previousSize Tree size of the previous anchor (0 for the first), which `root` was proven to extend.
    /// @param anchorer Account that anchored it.
    event Anchored(
        uint256 indexed anchorIndex, uint64 size, bytes32 root, uint64 previousSize, address indexed anchorer
    );

    /// @notice The admin passed to the constructor is the zero address.
    error InvalidAdmin(address admin);
    /// @notice The new tree size is not strictly greater than the last anchored size.
    error SizeNotIncreasing(uint64 previousSize, uint64 size);
    /// @notice The proof does not show that (size, root) extends (previousSize, previousRoot).
    error InvalidConsistencyProof(uint64 previousSize, bytes32 previousRoot, uint64 size, bytes32 root);
    /// @notice A proof is longer than any valid proof can be.
    error ProofTooLong(uint256 length, uint256 maxLength);
    /// @notice No anchor has that index.
    error AnchorIndexOutOfRange(uint256 anchorIndex, uint256 anchorCount);

    /// @param admin Receives DEFAULT_ADMIN_ROLE and grants ANCHORER_ROLE.
    constructor(address admin) {
        if (admin == address(0)) revert InvalidAdmin(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Anchors the log's tree head (`size`, `root`).
    /// @dev The first anchor takes an empty proof (it extends the empty tree); every later one a consistency proof
    /// (RFC 9162 section 2.1.4) from the latest anchor's (size, root) to (`size`, `root`).
    /// @param size Tree size; strictly greater than the latest anchored size.
    /// @param root Root of the tree of `size` leaves.
    /// @param consistencyProof PROOF(latest size, D[size]) as the log serves it.
    /// @return anchorIndex Index of the new anchor.
    function anchor(uint64 size, bytes32 root, bytes32[] calldata consistencyProof)
        external
        onlyRole(ANCHORER_ROLE)
        returns (uint256 anchorIndex)
    {
        if (consistencyProof.length > RFC9162.MAX_PROOF_LENGTH) {
            revert ProofTooLong(consistencyProof.length, RFC9162.MAX_PROOF_LENGTH);
        }
        anchorIndex = _anchors.length;
        (uint64 previousSize, bytes32 previousRoot) = (0, RFC9162.EMPTY_ROOT);
        if (anchorIndex != 0) {
            Anchor storage last = _anchors[anchorIndex - 1];
            (previousSize, previousRoot) = (last.size, last.root);
        }
        if (size <= previousSize) revert SizeNotIncreasing(previousSize, size);
        if (!RFC9162.verifyConsistency(previousSize, size, previousRoot, root, consistencyProof)) {
            revert InvalidConsistencyProof(previousSize, previousRoot, size, root);
        }
        _anchors.push(Anchor(root, size, uint64(block.timestamp), uint64(block.number)));
        emit Anchored(anchorIndex, size, root, previousSize, msg.sender);
    }

    /// @notice Number of anchors stored.
    function anchorCount() external view returns (uint256) {
        return _anchors.length;
    }

    /// @notice The anchor at `anchorIndex`; reverts with AnchorIndexOutOfRange past the end.
    function anchorAt(uint256 anchorIndex) external view returns (Anchor memory) {
        return _anchorAt(anchorIndex);
    }

    /// @notice The most recent anchor; reverts with AnchorIndexOutOfRange(0, 0) before the first.
    function latest() external view returns (Anchor memory) {
        uint256 count = _anchors.length;
        if (count == 0) revert AnchorIndexOutOfRange(0, 0);
        return _anchors[count - 1];
    }

    /// @notice Does `path` prove that `leafHash` is leaf `leafIndex` of the tree anchored at `anchorIndex`?
    /// @dev RFC 9162 section 2.1.3.2 against that anchor's stored size and root. Reverts only for an unknown anchor
    /// or an over-long path; every other bad proof returns false.
    /// @param anchorIndex Anchor whose (size, root) the proof is for.
    /// @param leafIndex Position of the leaf in the log (its sequence number).
    /// @param leafHash RFC 9162 leaf hash keccak256(0x00 || entry).
    /// @param path PATH(leafIndex, D[size]), leaf to root.
    function verifyInclusion(uint256 anchorIndex, uint64 leafIndex, bytes32 leafHash, bytes32[] calldata path)
        external
        view
        returns (bool)
    {
        Anchor storage a = _anchorAt(anchorIndex);
        return _verifyInclusion(a.root, a.size, leafIndex, leafHash, path);
    }

    /// @notice Does `path` prove that `leafHash` is leaf `leafIndex` of the tree (`size`, `root`)?
    /// @dev Pure RFC 9162 section 2.1.3.2; the caller vouches for (`size`, `root`). Reverts only for an over-long path.
    function verifyInclusionAgainst(
        bytes32 root,
        uint64 size,
        uint64 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata path
    ) external pure returns (bool) {
        return _verifyInclusion(root, size, leafIndex, leafHash, path);
    }

    /// @notice Is (`newSize`, `newRoot`) an append-only extension of (`oldSize`, `oldRoot`)?
    /// @dev Pure RFC 9162 section 2.1.4.2 (see RFC9162.verifyConsistency for old == new and old == 0). Reverts only
    /// for an over-long proof.
    function verifyConsistency(
        uint64 oldSize,
        uint64 newSize,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32[] calldata proof
    ) external pure returns (bool) {
        if (proof.length > RFC9162.MAX_PROOF_LENGTH) revert ProofTooLong(proof.length, RFC9162.MAX_PROOF_LENGTH);
        return RFC9162.verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof);
    }

    function _verifyInclusion(bytes32 root, uint64 size, uint64 leafIndex, bytes32 leafHash, bytes32[] calldata path)
        private
        pure
        returns (bool)
    {
        if (path.length > RFC9162.MAX_PROOF_LENGTH) revert ProofTooLong(path.length, RFC9162.MAX_PROOF_LENGTH);
        return RFC9162.verifyInclusion(leafIndex, size, leafHash, path, root);
    }

    function _anchorAt(uint256 anchorIndex) private view returns (Anchor storage) {
        uint256 count = _anchors.length;
        if (anchorIndex >= count) revert AnchorIndexOutOfRange(anchorIndex, count);
        return _anchors[anchorIndex];
    }
}
