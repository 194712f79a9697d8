// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {IActorRegistry} from "./IActorRegistry.sol";
import {LifecycleTypes as T} from "../lib/LifecycleTypes.sol";

/**
 * @title The on-chain lifecycle of food batches: events, errors and functions of ProvenanceLedger.
 * @notice Every lifecycle function takes the EIP-712 struct of its kind (LifecycleTypes), the actor, and the actor's
 * signature: empty when the actor sends the call itself, the actor's EIP-712 signature when a RELAYER_ROLE holder
 * relays it. Each records one `eventHash` (the EIP-712 digest of the struct) and extends the batch's hash chain
 * `head = keccak256(abi.encode(head, eventHash))`. The rules each function enforces, and their traps, are stated in
 * ProvenanceLedger's header.
 */
interface IProvenanceLedger is IActorRegistry, IERC5267 {
    /// @notice The outcome of one call of a group (relayGroup): whether it was recorded, and what it returned or the
    /// ABI-encoded custom error it was refused with.
    struct CallResult {
        bool success;
        bytes returnData;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------------------

    /// @notice A batch was registered by its producer (domestic) or importer (imported).
    event Registered(
        bytes32 indexed batchId,
        address indexed actor,
        string gtin,
        string lot,
        uint256 quantity,
        string unit,
        bool imported,
        bytes32 docHash,
        bytes32 eventHash,
        bytes32 head
    );
    /// @notice The producer holding the batch recorded a pesticide application.
    event PesticideApplied(
        bytes32 indexed batchId,
        address indexed actor,
        string casNumber,
        uint32 preHarvestIntervalDays,
        bytes32 docHash,
        bytes32 eventHash,
        bytes32 head
    );
    /// @notice An inspector recorded an inspection result.
    event Inspected(
        bytes32 indexed batchId, address indexed actor, bool passed, bytes32 docHash, bytes32 eventHash, bytes32 head
    );
    /// @notice The importer of record recorded the customs clearance of an imported batch.
    event CustomsCleared(
        bytes32 indexed batchId,
        address indexed actor,
        string declarationNumber,
        bytes2 originCountry,
        bytes32 docHash,
        bytes32 eventHash,
        bytes32 head
    );
    /// @notice The custodian offered the batch to `to`.
    event HandOffOffered(
        bytes32 indexed batchId, address indexed actor, address indexed to, bytes32 docHash, bytes32 eventHash, bytes32 head
    );
    /// @notice `actor` accepted the batch from `from` and is now its custodian.
    event HandOffAccepted(
        bytes32 indexed batchId, address indexed actor, address indexed from, bytes32 docHash, bytes32 eventHash, bytes32 head
    );
    /// @notice The custodian withdrew the open offer to `to`.
    event HandOffCancelled(
        bytes32 indexed batchId, address indexed actor, address indexed to, bytes32 docHash, bytes32 eventHash, bytes32 head
    );
    /// @notice The custodian split `batchId` into `children`; `head` is the parent's new head and every child's head
    /// is `keccak256(abi.encode(bytes32(0), eventHash))`.
    event Split(
        bytes32 indexed batchId,
        address indexed actor,
        bytes32[] children,
        bytes32 docHash,
        bytes32 eventHash,
        bytes32 head
    );
    /// @notice The custodian merged `parents` into the new batch `batchId`; `head` is the child's head and each
    /// parent's chain was extended with `eventHash`.
    event Merged(
        bytes32 indexed batchId,
        address indexed actor,
        bytes32[] parents,
        uint256 quantity,
        bytes32 docHash,
        bytes32 eventHash,
        bytes32 head
    );
    /// @notice The regulator recalled the batch, and with it every batch derived from it.
    event Recalled(
        bytes32 indexed batchId, address indexed actor, string reason, bytes32 docHash, bytes32 eventHash, bytes32 head
    );
    /// @notice One lineage edge created by the Split or Merged event `eventHash`, indexed for trace queries;
    /// `quantity` is what moved along the edge (the child's quantity for a split, the parent's for a merge).
    event Lineage(bytes32 indexed child, bytes32 indexed parent, bytes32 indexed eventHash, uint256 quantity);
    /// @notice Call `index` of a relayed group was refused with `reason`, the ABI-encoded error a single call would
    /// have reverted with; nothing of that call took effect, the group's other calls did.
    event GroupCallRefused(uint256 indexed index, bytes reason);

    // ------------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------------

    /// @notice A direct call (empty signature) named an actor other than msg.sender.
    error ActorNotSender(address actor, address sender);
    /// @notice The event's deadline has passed.
    error DeadlinePassed(uint256 deadline, uint256 timestamp);
    /// @notice The signature is malformed, has a high s, or recovers to `recovered` instead of `actor`.
    error InvalidSignature(address actor, address recovered);
    /// @notice `actor` already spent `nonce`.
    error NonceAlreadyUsed(address actor, uint256 nonce);
    /// @notice No batch has this id.
    error UnknownBatch(bytes32 batchId);
    /// @notice A batch with this id already exists.
    error BatchExists(bytes32 batchId);
    /// @notice The batch was consumed by a split or merge.
    error BatchNotActive(bytes32 batchId, T.Status status);
    /// @notice The batch, or its ancestor `recalledAncestor` (equal to `batchId` when the batch itself), is recalled.
    error BatchRecalled(bytes32 batchId, bytes32 recalledAncestor);
    /// @notice The batch was already recalled.
    error AlreadyRecalled(bytes32 batchId);
    /// @notice Only the custodian may do this.
    error NotCustodian(bytes32 batchId, address custodian, address actor);
    /// @notice `account` holds none of PRODUCER_ROLE, IMPORTER_ROLE, HANDLER_ROLE, so it cannot hold custody.
    error NotCustodyHolder(address account);
    /// @notice A hand-off to oneself.
    error SelfHandOff(bytes32 batchId, address custodian);
    /// @notice The batch already has an open offer to `offeredTo`.
    error OfferAlreadyOpen(bytes32 batchId, address offeredTo);
    /// @notice The batch has no open offer.
    error NoOpenOffer(bytes32 batchId);
    /// @notice The event names `given` but the open offer is to `offeredTo`.
    error OfferMismatch(bytes32 batchId, address offeredTo, address given);
    /// @notice Only the receiver named in the open offer may accept it.
    error NotOfferRecipient(bytes32 batchId, address offeredTo, address actor);
    /// @notice The acceptance names `from` but the custodian is `custodian`.
    error CustodianMismatch(bytes32 batchId, address custodian, address from);
    /// @notice An imported batch may not go to the retail address `to` before customs clearance.
    error RetailBeforeClearance(bytes32 batchId, address to);
    /// @notice Customs clearance of a batch that was not imported.
    error NotImported(bytes32 batchId);
    /// @notice Customs clearance recorded twice.
    error AlreadyCleared(bytes32 batchId);
    /// @notice Only the importer of record may clear the batch.
    error NotRegistrant(bytes32 batchId, address registrant, address actor);
    /// @notice A batch quantity of zero.
    error ZeroQuantity();
    /// @notice The unit is empty or longer than MAX_UNIT_LENGTH bytes.
    error UnitInvalid(string unit);
    /// @notice The children's quantities sum to `actual`, not the parent's `expected`.
    error QuantityNotConserved(bytes32 batchId, uint256 expected, uint256 actual);
    /// @notice A split needs 2..MAX_LINEAGE children and a merge 2..MAX_LINEAGE parents.
    error LineageSizeInvalid(uint256 count);
    /// @notice The same parent appears twice in a merge.
    error DuplicateParent(bytes32 batchId);
    /// @notice A merge names its own new lot among its parents.
    error MergeIntoParent(bytes32 batchId);
    /// @notice Merged parents must share one unit.
    error UnitMismatch(bytes32 batchId, string unit, string expectedUnit);
    /// @notice The new batch would have more than MAX_ANCESTRY ancestors.
    error AncestryTooDeep(uint256 ancestry, uint256 max);
    /// @notice Call `index` of a group does not call a lifecycle function (its first four bytes are `selector`).
    error NotLifecycleCall(uint256 index, bytes4 selector);
    /// @notice Call `index` of a group reverted without a reason (out of gas, or calldata that does not decode), so
    /// the whole group reverts: a refusal is skipped only when it names its rule.
    error GroupCallWithoutReason(uint256 index);

    // ------------------------------------------------------------------------------------------------------------
    // Lifecycle. Each takes the signed struct, the actor, and the actor's signature (empty for a direct call).
    // ------------------------------------------------------------------------------------------------------------

    /// @notice Registers a new batch: a producer registers a domestic one (`imported` false), an importer an
    /// imported one (`imported` true). The actor becomes registrant and custodian.
    /// @dev Emits {Registered}. Reverts on a bad GTIN or lot, an existing id, zero quantity or a bad unit.
    /// @return batchId the new batch's id
    function register(T.Registered calldata e, address actor, bytes calldata signature) external returns (bytes32 batchId);

    /// @notice Records a pesticide application by the producer holding the batch.
    /// @dev Emits {PesticideApplied}.
    function recordPesticide(T.PesticideApplied calldata e, address actor, bytes calldata signature) external;

    /// @notice Records an inspection result by an inspector.
    /// @dev Emits {Inspected}.
    function recordInspection(T.Inspected calldata e, address actor, bytes calldata signature) external;

    /// @notice Records the customs clearance of an imported batch by its importer of record. Once only.
    /// @dev Emits {CustomsCleared}.
    function clearCustoms(T.CustomsCleared calldata e, address actor, bytes calldata signature) external;

    /// @notice The custodian offers the batch to `e.to`, who must hold a custody role. One open offer at a time;
    /// custody does not move until `e.to` accepts.
    /// @dev Emits {HandOffOffered}.
    function offerHandOff(T.HandOffOffered calldata e, address actor, bytes calldata signature) external;

    /// @notice The receiver named in the open offer accepts it and becomes custodian. `e.from` must be the custodian.
    /// @dev Emits {HandOffAccepted}. The retail rule is checked again: clearance or profiles may have changed.
    function acceptHandOff(T.HandOffAccepted calldata e, address actor, bytes calldata signature) external;

    /// @notice The custodian withdraws its open offer to `e.to`.
    /// @dev Emits {HandOffCancelled}. Needs no role beyond custody, so a custodian whose role was revoked can withdraw.
    function cancelHandOff(T.HandOffCancelled calldata e, address actor, bytes calldata signature) external;

    /// @notice The custodian splits the batch into 2..MAX_LINEAGE new batches whose quantities sum exactly to the
    /// parent's. Children inherit custodian, registrant, unit, imported and customsCleared; the parent is consumed.
    /// @dev Emits {Lineage} per child, then {Split}.
    function split(T.Split calldata e, address actor, bytes calldata signature) external;

    /// @notice The custodian of 2..MAX_LINEAGE distinct active parents of one unit merges them into a new batch of
    /// their summed quantity. The child is imported if any parent was, and cleared only if every imported parent
    /// was; the actor is its custodian and registrant. The parents are consumed.
    /// @dev Emits {Lineage} per parent, then {Merged}.
    /// @return batchId the new batch's id
    function merge(T.Merged calldata e, address actor, bytes calldata signature) external returns (bytes32 batchId);

    /// @notice The regulator recalls a batch (active or consumed); every batch derived from it is recalled with it.
    /// @dev Emits {Recalled}. A batch whose ancestor is recalled may still be recalled itself; a batch never twice.
    function recall(T.Recalled calldata e, address actor, bytes calldata signature) external;

    /// @notice Records several lifecycle calls in one transaction, for a RELAYER_ROLE holder. Each element of
    /// `calls` is the ABI-encoded call of one lifecycle function, exactly as it would be sent alone, and is run on this
    /// contract by delegatecall, so msg.sender stays the relayer and every check is that of a single call. A call
    /// refused by a rule is skipped: its changes are undone, {GroupCallRefused} reports its index and error, and the
    /// later calls still run, in order.
    /// @dev Reverts with AccessControlUnauthorizedAccount unless msg.sender holds RELAYER_ROLE, NotLifecycleCall for a
    /// call of any other function, and GroupCallWithoutReason for a call that reverts without data.
    /// @return results one per call, in order: success and the call's return data or refusal
    function relayGroup(bytes[] calldata calls) external returns (CallResult[] memory results);

    // ------------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------------

    /// @notice Most children of one split and most parents of one merge.
    function MAX_LINEAGE() external view returns (uint256);
    /// @notice Most ancestors (counted per lineage path) a batch may have; bounds the recall walk.
    function MAX_ANCESTRY() external view returns (uint256);
    /// @notice Longest unit string, in bytes (e.g. "kg", "box-10kg").
    function MAX_UNIT_LENGTH() external view returns (uint256);

    /// @notice Whether `actor` has spent `nonce`.
    function nonceUsed(address actor, uint256 nonce) external view returns (bool);

    /// @notice The record of a batch; `status` is None for an unknown id.
    function getBatch(bytes32 batchId) external view returns (T.Batch memory);

    /// @notice The head of the batch's event hash chain (bytes32(0) for an unknown id).
    function headOf(bytes32 batchId) external view returns (bytes32);

    /// @notice Whether the batch or any of its ancestors is recalled. Reads at most MAX_ANCESTRY + 1 records.
    function isRecalled(bytes32 batchId) external view returns (bool);

    /// @notice The batch id of a GTIN-14 and lot; reverts if either is invalid.
    function batchIdOf(string calldata gtin, string calldata lot) external pure returns (bytes32);

    /// @notice The EIP-712 domain separator (name "ProvenanceLedger", version "1", this chain, this contract).
    /// eventHash = keccak256("\x19\x01" || domainSeparator || structHash).
    function domainSeparator() external view returns (bytes32);
}
