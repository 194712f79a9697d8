// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ILogAnchor} from "./interfaces/ILogAnchor.sol";
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
contract LogAnchor is ILogAnchor, AccessControl {
    /// @inheritdoc ILogAnchor
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    Anchor[] private _anchors;

    /// @param admin Receives DEFAULT_ADMIN_ROLE and grants ANCHORER_ROLE.
    constructor(address admin) {
        if (admin == address(0)) revert InvalidAdmin(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc ILogAnchor
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

    /// @inheritdoc ILogAnchor
    function anchorCount() external view returns (uint256) {
        return _anchors.length;
    }

    /// @inheritdoc ILogAnchor
    function anchorAt(uint256 anchorIndex) external view returns (Anchor memory) {
        return _anchorAt(anchorIndex);
    }

    /// @inheritdoc ILogAnchor
    function latest() external view returns (Anchor memory) {
        uint256 count = _anchors.length;
        if (count == 0) revert AnchorIndexOutOfRange(0, 0);
        return _anchors[count - 1];
    }

    /// @inheritdoc ILogAnchor
    function verifyInclusion(uint256 anchorIndex, uint64 leafIndex, bytes32 leafHash, bytes32[] calldata path)
        external
        view
        returns (bool)
    {
        Anchor storage a = _anchorAt(anchorIndex);
        return _verifyInclusion(a.root, a.size, leafIndex, leafHash, path);
    }

    /// @inheritdoc ILogAnchor
    function verifyInclusionAgainst(
        bytes32 root,
        uint64 size,
        uint64 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata path
    ) external pure returns (bool) {
        return _verifyInclusion(root, size, leafIndex, leafHash, path);
    }

    /// @inheritdoc ILogAnchor
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
