// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/**
 * @title Anchors of the ledger's append-only Merkle log (RFC 9162 with keccak256): events, errors and functions.
 * @notice An ANCHORER_ROLE holder appends tree heads, each proven consistent with the previous one; anyone checks
 * inclusion and consistency proofs against them. Guarantees and traps are stated in LogAnchor's header.
 */
interface ILogAnchor is IAccessControl {
    /// @notice One anchored tree head, with where and when the chain recorded it. Fits in two storage slots.
    struct Anchor {
        bytes32 root;
        uint64 size;
        uint64 timestamp;
        uint64 blockNumber;
    }

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

    /// @notice May append anchors.
    function ANCHORER_ROLE() external view returns (bytes32);

    /// @notice Anchors the log's tree head (`size`, `root`).
    /// @dev The first anchor takes an empty proof (it extends the empty tree); every later one a consistency proof
    /// (RFC 9162 section 2.1.4) from the latest anchor's (size, root) to (`size`, `root`). Emits {Anchored}.
    /// @param size Tree size; strictly greater than the latest anchored size.
    /// @param root Root of the tree of `size` leaves.
    /// @param consistencyProof PROOF(latest size, D[size]) as the log serves it.
    /// @return anchorIndex Index of the new anchor.
    function anchor(uint64 size, bytes32 root, bytes32[] calldata consistencyProof) external returns (uint256 anchorIndex);

    /// @notice Number of anchors stored.
    function anchorCount() external view returns (uint256);

    /// @notice The anchor at `anchorIndex`; reverts with AnchorIndexOutOfRange past the end.
    function anchorAt(uint256 anchorIndex) external view returns (Anchor memory);

    /// @notice The most recent anchor; reverts with AnchorIndexOutOfRange(0, 0) before the first.
    function latest() external view returns (Anchor memory);

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
        returns (bool);

    /// @notice Does `path` prove that `leafHash` is leaf `leafIndex` of the tree (`size`, `root`)?
    /// @dev Pure RFC 9162 section 2.1.3.2; the caller vouches for (`size`, `root`). Reverts only for an over-long path.
    function verifyInclusionAgainst(
        bytes32 root,
        uint64 size,
        uint64 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata path
    ) external pure returns (bool);

    /// @notice Is (`newSize`, `newRoot`) an append-only extension of (`oldSize`, `oldRoot`)?
    /// @dev Pure RFC 9162 section 2.1.4.2 (see RFC9162.verifyConsistency for old == new and old == 0). Reverts only
    /// for an over-long proof.
    function verifyConsistency(
        uint64 oldSize,
        uint64 newSize,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32[] calldata proof
    ) external pure returns (bool);
}
