// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title The lifecycle vocabulary shared by the contract and the TypeScript mirror (ledger-api/src/protocol/typed-data.ts).
 * @notice Guarantees: each `*_TYPEHASH` is `keccak256` of the exact EIP-712 type string written beside it, and each
 * `hash(...)` is that struct's EIP-712 `hashStruct` (strings hashed, arrays hashed as the keccak of the
 * concatenated 32-byte encodings, `ChildLot[]` as the keccak of the concatenated child struct hashes).
 *
 * Traps:
 * - The type strings, the field order and the `Kind` numbering are an interface: a change here must be made in
 *   typed-data.ts in the same commit, or every signature made off chain stops verifying.
 * - Every struct ends with `occurredAt, docHash, nonce, deadline`. `nonce` is unordered (any unused value per
 *   actor) and `deadline` voids the signature after that unix second; `occurredAt` is the actor's claim, not checked.
 * - `Observed` has a struct and a typehash here for reference only; no contract function accepts it.
 */
library LifecycleTypes {
    /// @notice Event kinds; the numbering is shared with the TypeScript side.
    enum Kind {
        Registered, // 0
        PesticideApplied, // 1
        Inspected, // 2
        CustomsCleared, // 3
        HandOffOffered, // 4
        HandOffAccepted, // 5
        HandOffCancelled, // 6
        Split, // 7
        Merged, // 8
        Recalled, // 9
        Observed // 10, off chain only
    }

    /// @notice Where a batch is in its life. `None` marks an unknown id; a split or merged batch is consumed.
    enum Status {
        None,
        Active,
        Split,
        Merged
    }

    /// @notice One batch as ProvenanceLedger.getBatch returns it (stored packed: see ProvenanceLedger's Record).
    struct Batch {
        address registrant; // the producer or importer of record (children of a split inherit it; a merge's child gets the merger)
        Status status;
        bool imported;
        bool customsCleared;
        bool recalled; // recalled itself; see ProvenanceLedger.isRecalled for inherited recalls
        uint32 ancestry; // ancestors counted along every lineage path (bounded by MAX_ANCESTRY)
        address custodian;
        address offeredTo; // open hand-off offer, address(0) when none
        uint256 quantity; // integer amount in `unit`
        bytes32 head; // hash chain of the batch's event hashes, starting at bytes32(0)
        string unit;
        bytes32[] parents; // the batch(es) it was split from or merged from
    }

    struct Registered {
        string gtin;
        string lot;
        string product;
        bytes2 originCountry;
        string region;
        uint64 farmGln;
        uint64 harvestDate;
        uint256 quantity;
        string unit;
        bool imported;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct PesticideApplied {
        bytes32 batchId;
        string substance;
        string casNumber;
        uint32 preHarvestIntervalDays;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct Inspected {
        bytes32 batchId;
        bool passed;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct CustomsCleared {
        bytes32 batchId;
        string declarationNumber;
        string hsCode;
        bytes2 originCountry;
        string portOfEntry;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct HandOffOffered {
        bytes32 batchId;
        address to;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct HandOffAccepted {
        bytes32 batchId;
        address from;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct HandOffCancelled {
        bytes32 batchId;
        address to;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct ChildLot {
        string gtin;
        string lot;
        uint256 quantity;
    }

    struct Split {
        bytes32 batchId;
        ChildLot[] children;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct Merged {
        bytes32[] parents;
        string gtin;
        string lot;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct Recalled {
        bytes32 batchId;
        string reason;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct Observed {
        bytes32 batchId;
        uint64 occurredAt;
        bytes32 docHash;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 internal constant REGISTERED_TYPEHASH = keccak256(
        "Registered(string gtin,string lot,string product,bytes2 originCountry,string region,uint64 farmGln,uint64 harvestDate,uint256 quantity,string unit,bool imported,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant PESTICIDE_APPLIED_TYPEHASH = keccak256(
        "PesticideApplied(bytes32 batchId,string substance,string casNumber,uint32 preHarvestIntervalDays,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant INSPECTED_TYPEHASH =
        keccak256("Inspected(bytes32 batchId,bool passed,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)");
    bytes32 internal constant CUSTOMS_CLEARED_TYPEHASH = keccak256(
        "CustomsCleared(bytes32 batchId,string declarationNumber,string hsCode,bytes2 originCountry,string portOfEntry,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant HAND_OFF_OFFERED_TYPEHASH = keccak256(
        "HandOffOffered(bytes32 batchId,address to,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant HAND_OFF_ACCEPTED_TYPEHASH = keccak256(
        "HandOffAccepted(bytes32 batchId,address from,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant HAND_OFF_CANCELLED_TYPEHASH = keccak256(
        "HandOffCancelled(bytes32 batchId,address to,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant CHILD_LOT_TYPEHASH = keccak256("ChildLot(string gtin,string lot,uint256 quantity)");
    bytes32 internal constant SPLIT_TYPEHASH = keccak256(
        "Split(bytes32 batchId,ChildLot[] children,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)ChildLot(string gtin,string lot,uint256 quantity)"
    );
    bytes32 internal constant MERGED_TYPEHASH = keccak256(
        "Merged(bytes32[] parents,string gtin,string lot,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant RECALLED_TYPEHASH = keccak256(
        "Recalled(bytes32 batchId,string reason,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant OBSERVED_TYPEHASH =
        keccak256("Observed(bytes32 batchId,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)");

    // The EIP-712 encoding of static fields is their 32-byte ABI words back to back, so a long struct is encoded
    // in two abi.encode calls joined by bytes.concat (one call with 15 words overflows the legacy code generator's stack).

    /// @notice EIP-712 struct hash of a Registered event.
    function hash(Registered calldata e) internal pure returns (bytes32) {
        bytes memory head = abi.encode(
            REGISTERED_TYPEHASH,
            keccak256(bytes(e.gtin)),
            keccak256(bytes(e.lot)),
            keccak256(bytes(e.product)),
            e.originCountry,
            keccak256(bytes(e.region)),
            e.farmGln,
            e.harvestDate
        );
        return keccak256(
            bytes.concat(
                head,
                abi.encode(e.quantity, keccak256(bytes(e.unit)), e.imported),
                _tail(e.occurredAt, e.docHash, e.nonce, e.deadline)
            )
        );
    }

    /// @notice EIP-712 struct hash of a PesticideApplied event.
    function hash(PesticideApplied calldata e) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(
                    PESTICIDE_APPLIED_TYPEHASH,
                    e.batchId,
                    keccak256(bytes(e.substance)),
                    keccak256(bytes(e.casNumber)),
                    e.preHarvestIntervalDays
                ),
                _tail(e.occurredAt, e.docHash, e.nonce, e.deadline)
            )
        );
    }

    /// @notice EIP-712 struct hash of an Inspected event.
    function hash(Inspected calldata e) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(abi.encode(INSPECTED_TYPEHASH, e.batchId, e.passed), _tail(e.occurredAt, e.docHash, e.nonce, e.deadline))
        );
    }

    /// @notice EIP-712 struct hash of a CustomsCleared event.
    function hash(CustomsCleared calldata e) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(
                    CUSTOMS_CLEARED_TYPEHASH,
                    e.batchId,
                    keccak256(bytes(e.declarationNumber)),
                    keccak256(bytes(e.hsCode)),
                    e.originCountry,
                    keccak256(bytes(e.portOfEntry))
                ),
                _tail(e.occurredAt, e.docHash, e.nonce, e.deadline)
            )
        );
    }

    /// @notice EIP-712 struct hash of a HandOffOffered event.
    function hash(HandOffOffered calldata e) internal pure returns (bytes32) {
        return _handOff(HAND_OFF_OFFERED_TYPEHASH, e.batchId, e.to, _tail(e.occurredAt, e.docHash, e.nonce, e.deadline));
    }

    /// @notice EIP-712 struct hash of a HandOffAccepted event.
    function hash(HandOffAccepted calldata e) internal pure returns (bytes32) {
        return _handOff(HAND_OFF_ACCEPTED_TYPEHASH, e.batchId, e.from, _tail(e.occurredAt, e.docHash, e.nonce, e.deadline));
    }

    /// @notice EIP-712 struct hash of a HandOffCancelled event.
    function hash(HandOffCancelled calldata e) internal pure returns (bytes32) {
        return _handOff(HAND_OFF_CANCELLED_TYPEHASH, e.batchId, e.to, _tail(e.occurredAt, e.docHash, e.nonce, e.deadline));
    }

    /// @notice EIP-712 struct hash of one child lot of a Split.
    function hash(ChildLot calldata c) internal pure returns (bytes32) {
        return keccak256(abi.encode(CHILD_LOT_TYPEHASH, keccak256(bytes(c.gtin)), keccak256(bytes(c.lot)), c.quantity));
    }

    /// @notice EIP-712 struct hash of a Split event.
    function hash(Split calldata e) internal pure returns (bytes32) {
        bytes32[] memory children = new bytes32[](e.children.length);
        for (uint256 i; i < children.length; ++i) {
            children[i] = hash(e.children[i]);
        }
        return keccak256(
            bytes.concat(
                abi.encode(SPLIT_TYPEHASH, e.batchId, keccak256(abi.encodePacked(children))),
                _tail(e.occurredAt, e.docHash, e.nonce, e.deadline)
            )
        );
    }

    /// @notice EIP-712 struct hash of a Merged event.
    function hash(Merged calldata e) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(
                    MERGED_TYPEHASH,
                    keccak256(abi.encodePacked(e.parents)),
                    keccak256(bytes(e.gtin)),
                    keccak256(bytes(e.lot))
                ),
                _tail(e.occurredAt, e.docHash, e.nonce, e.deadline)
            )
        );
    }

    /// @notice EIP-712 struct hash of a Recalled event.
    function hash(Recalled calldata e) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(RECALLED_TYPEHASH, e.batchId, keccak256(bytes(e.reason))),
                _tail(e.occurredAt, e.docHash, e.nonce, e.deadline)
            )
        );
    }

    function _handOff(bytes32 typehash, bytes32 batchId, address party, bytes memory tail) private pure returns (bytes32) {
        return keccak256(bytes.concat(abi.encode(typehash, batchId, party), tail));
    }

    function _tail(uint64 occurredAt, bytes32 docHash, uint256 nonce, uint256 deadline) private pure returns (bytes memory) {
        return abi.encode(occurredAt, docHash, nonce, deadline);
    }
}
