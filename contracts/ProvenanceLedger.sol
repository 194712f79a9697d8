// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ActorRegistry} from "./ActorRegistry.sol";
import {IProvenanceLedger} from "./interfaces/IProvenanceLedger.sol";
import {GS1} from "./lib/GS1.sol";
import {LifecycleTypes as T} from "./lib/LifecycleTypes.sol";

/**
 * @title The on-chain lifecycle of food batches: who registered, tested, cleared, held, split, merged or recalled each.
 * @notice Guarantees:
 * - A batch id is the keccak of its GS1 Digital Link path `/01/{gtin14}/10/{lot}`, checked here (GS1 library);
 *   an id is created once, by registration, split or merge, never twice.
 * - Every lifecycle fact is an EIP-712 struct (LifecycleTypes) signed by its actor. The actor either sends it
 *   (empty signature: `actor` must be msg.sender) or a RELAYER_ROLE holder relays it with the actor's signature.
 *   In both cases the deadline is checked, the actor's unordered nonce is spent, and the recorded `eventHash` is
 *   the same `_hashTypedDataV4(structHash)`, so an off-chain copy of the event verifies against the chain either way.
 * - Each batch keeps a hash chain `head = keccak256(abi.encode(head, eventHash))` from bytes32(0) over its events.
 *   A split extends the parent's chain and starts each child at `keccak256(abi.encode(bytes32(0), eventHash))`;
 *   a merge extends every parent's chain and starts the child's the same way.
 * - Custody moves only when the named receiver accepts an open offer from the current custodian. Quantities are
 *   conserved by split and merge. An imported batch never reaches a retail address before customs clearance.
 * - Nothing happens to a recalled batch, or a batch with a recalled ancestor, except a recall by the regulator.
 *
 * Traps:
 * - Recall inheritance is computed on read, not pushed to descendants: `isRecalled` walks the lineage graph.
 *   To keep that walk bounded each batch stores its parents and an `ancestry` count (ancestors counted along
 *   every lineage path: a split child has parent.ancestry + 1, a merged child the sum of parent.ancestry + 1),
 *   and no batch is created with ancestry above MAX_ANCESTRY. The walk therefore reads at most MAX_ANCESTRY
 *   records, and the price is that a batch which has been re-split or merged MAX_ANCESTRY times can be
 *   transformed no further on chain (record its later history as Observed events instead).
 * - Nonces are unordered: a signed event stays valid until its deadline or until its nonce is spent. To revoke a
 *   signature you gave out, spend its nonce with any other event, or wait for its deadline.
 * - `occurredAt` and `docHash` are the actor's statements; the contract does not check them against block time or
 *   any document. The relayer chooses the order of relayed events: sign events that depend on each other only
 *   after the earlier one is recorded.
 * - Signatures are plain ECDSA (65 bytes, low s, OpenZeppelin ECDSA); contract accounts must call directly.
 *
 * Groups: `relayGroup` lets the relayer record many lifecycle events, on different lots, in one transaction (the
 * transaction's base cost and the first touch of the contract and of the relayer's role are paid once). Each call is
 * run by delegatecall exactly as if sent alone, and a call refused by a rule is skipped and reported by
 * {GroupCallRefused} while the others land. This was chosen over OpenZeppelin Multicall, whose group reverts whole:
 * the relay signs groups ahead and keeps several in flight, and an event refused only at mining (a recall, a role
 * revoked or a competing hand-off landing first) would otherwise take every other event of its group down with it
 * and waste their gas. Traps:
 * - The transaction succeeding does not mean every call did: read {GroupCallRefused} from the receipt (or `results`
 *   from an eth_call) for the refused ones. A refused call spends no nonce, so it may be sent again.
 * - A call that reverts without data (out of gas, or calldata that does not decode) reverts the whole group, so a
 *   gas estimate cannot settle on a limit at which calls would be dropped silently.
 * - Calls run in the order given; a call that depends on an earlier one of the same group sees its effects.
 *
 * Storage: a batch is stored as a packed `Record` holding only what a rule reads; everything else a reader wants
 * (GS1 keys, product, documents, the history itself) is in the events, from which the off-chain index is built.
 * Custodian, status, flags, ancestry and a unit id share one slot; each distinct unit string is stored once
 * (`_units`); a split child stores its one parent in a single slot and no registrant or unit of its own, since
 * both are its parent's for good (`_registrantOf` follows `parent` up, at most MAX_ANCESTRY steps). `getBatch`
 * rebuilds the same `LifecycleTypes.Batch` from the record, so views answer as if every field were stored.
 */
contract ProvenanceLedger is IProvenanceLedger, ActorRegistry, EIP712 {
    /// @inheritdoc IProvenanceLedger
    uint256 public constant MAX_LINEAGE = 32;
    /// @inheritdoc IProvenanceLedger
    uint256 public constant MAX_ANCESTRY = 32;
    /// @inheritdoc IProvenanceLedger
    uint256 public constant MAX_UNIT_LENGTH = 32;

    /// @dev A batch as stored; see "Storage" in the header. Slot 0 is written whole when a batch is created.
    struct Record {
        address custodian;
        T.Status status;
        bool imported;
        bool customsCleared;
        bool recalled; // recalled itself; see isRecalled for inherited recalls
        uint32 ancestry; // ancestors counted along every lineage path (bounded by MAX_ANCESTRY)
        uint32 unitId; // 1 + the unit's index in _units; 0 only for an unknown id
        address registrant; // the producer, importer or merger of record; zero for a split child (its parent's)
        address offeredTo; // open hand-off offer, address(0) when none
        uint256 quantity; // integer amount in the unit
        bytes32 head; // hash chain of the batch's event hashes, starting at bytes32(0)
        bytes32 parent; // the batch a split child was split from; zero for any other batch
        bytes32[] mergedFrom; // the parents of a merged batch; empty for any other batch
    }

    mapping(bytes32 batchId => Record) private _batches;
    /// @dev Each distinct unit string once, in order of first use; `Record.unitId` is 1 + its index.
    string[] private _units;
    mapping(bytes32 unitHash => uint32 unitId) private _unitIds;

    /// @inheritdoc IProvenanceLedger
    mapping(address actor => mapping(uint256 nonce => bool)) public nonceUsed;

    /// @param admin the authority: holds DEFAULT_ADMIN_ROLE, grants every other role and sets profiles.
    constructor(address admin) ActorRegistry(admin) EIP712("ProvenanceLedger", "1") {}

    // ------------------------------------------------------------------------------------------------------------
    // Lifecycle. Each takes the signed struct, the actor, and the actor's signature (empty for a direct call).
    // ------------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProvenanceLedger
    function register(T.Registered calldata e, address actor, bytes calldata signature) external returns (bytes32 batchId) {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        _checkRole(e.imported ? IMPORTER_ROLE : PRODUCER_ROLE, actor);
        batchId = GS1.checkedBatchId(e.gtin, e.lot);
        if (e.quantity == 0) revert ZeroQuantity();
        Record storage b = _create(batchId, actor, _unitIdOf(e.unit), e.imported, false, 0);
        b.registrant = actor;
        b.quantity = e.quantity;
        _emitRegistered(batchId, actor, e, eventHash, _extend(b, eventHash));
    }

    /// @inheritdoc IProvenanceLedger
    function recordPesticide(T.PesticideApplied calldata e, address actor, bytes calldata signature) external {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        _checkRole(PRODUCER_ROLE, actor);
        Record storage b = _activeBatch(e.batchId);
        if (b.custodian != actor) revert NotCustodian(e.batchId, b.custodian, actor);
        bytes32 head = _extend(b, eventHash);
        emit PesticideApplied(
            e.batchId, actor, e.casNumber, e.preHarvestIntervalDays, e.docHash, eventHash, head
        );
    }

    /// @inheritdoc IProvenanceLedger
    function recordInspection(T.Inspected calldata e, address actor, bytes calldata signature) external {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        _checkRole(INSPECTOR_ROLE, actor);
        bytes32 head = _extend(_activeBatch(e.batchId), eventHash);
        emit Inspected(e.batchId, actor, e.passed, e.docHash, eventHash, head);
    }

    /// @inheritdoc IProvenanceLedger
    function clearCustoms(T.CustomsCleared calldata e, address actor, bytes calldata signature) external {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        _checkRole(IMPORTER_ROLE, actor);
        Record storage b = _activeBatch(e.batchId);
        if (!b.imported) revert NotImported(e.batchId);
        address registrant = _registrantOf(b);
        if (registrant != actor) revert NotRegistrant(e.batchId, registrant, actor);
        if (b.customsCleared) revert AlreadyCleared(e.batchId);
        b.customsCleared = true;
        bytes32 head = _extend(b, eventHash);
        emit CustomsCleared(e.batchId, actor, e.declarationNumber, e.originCountry, e.docHash, eventHash, head);
    }

    /// @inheritdoc IProvenanceLedger
    function offerHandOff(T.HandOffOffered calldata e, address actor, bytes calldata signature) external {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        Record storage b = _heldBatch(e.batchId, actor);
        if (e.to == actor) revert SelfHandOff(e.batchId, actor);
        _checkReceiver(e.batchId, b, e.to);
        b.offeredTo = e.to;
        bytes32 head = _extend(b, eventHash);
        emit HandOffOffered(e.batchId, actor, e.to, e.docHash, eventHash, head);
    }

    /// @inheritdoc IProvenanceLedger
    function acceptHandOff(T.HandOffAccepted calldata e, address actor, bytes calldata signature) external {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        Record storage b = _activeBatch(e.batchId);
        address offeredTo = b.offeredTo;
        if (offeredTo == address(0)) revert NoOpenOffer(e.batchId);
        if (offeredTo != actor) revert NotOfferRecipient(e.batchId, offeredTo, actor);
        if (e.from != b.custodian) revert CustodianMismatch(e.batchId, b.custodian, e.from);
        _checkReceiver(e.batchId, b, actor);
        b.custodian = actor;
        b.offeredTo = address(0);
        bytes32 head = _extend(b, eventHash);
        emit HandOffAccepted(e.batchId, actor, e.from, e.docHash, eventHash, head);
    }

    /// @inheritdoc IProvenanceLedger
    function cancelHandOff(T.HandOffCancelled calldata e, address actor, bytes calldata signature) external {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        Record storage b = _activeBatch(e.batchId);
        if (b.custodian != actor) revert NotCustodian(e.batchId, b.custodian, actor);
        if (b.offeredTo == address(0)) revert NoOpenOffer(e.batchId);
        if (b.offeredTo != e.to) revert OfferMismatch(e.batchId, b.offeredTo, e.to);
        b.offeredTo = address(0);
        bytes32 head = _extend(b, eventHash);
        emit HandOffCancelled(e.batchId, actor, e.to, e.docHash, eventHash, head);
    }

    /// @inheritdoc IProvenanceLedger
    function split(T.Split calldata e, address actor, bytes calldata signature) external {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        Record storage parent = _heldBatch(e.batchId, actor);
        bytes32[] memory children = _createChildren(e, parent, actor, eventHash);
        parent.status = T.Status.Split;
        bytes32 head = _extend(parent, eventHash);
        emit Split(e.batchId, actor, children, e.docHash, eventHash, head);
    }

    /// @inheritdoc IProvenanceLedger
    function merge(T.Merged calldata e, address actor, bytes calldata signature) external returns (bytes32 batchId) {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        uint256 n = e.parents.length;
        if (n < 2 || n > MAX_LINEAGE) revert LineageSizeInvalid(n);
        batchId = GS1.checkedBatchId(e.gtin, e.lot);
        // The new lot may not be one of its own parents: an unknown parent id equal to the child's would otherwise be
        // created here and then consumed as a parent of itself (a self-loop in the lineage). Bounded by MAX_LINEAGE.
        for (uint256 i; i < n; ++i) {
            if (e.parents[i] == batchId) revert MergeIntoParent(batchId);
        }
        // The child takes the first parent's unit (0 if that parent is unknown, which _consumeParents then refuses).
        Record storage child = _create(batchId, actor, _batches[e.parents[0]].unitId, false, false, 0);
        _consumeParents(e.parents, actor, batchId, child, eventHash);
        bytes32 head = keccak256(abi.encode(bytes32(0), eventHash));
        child.head = head;
        emit Merged(batchId, actor, e.parents, child.quantity, e.docHash, eventHash, head);
    }

    /// @inheritdoc IProvenanceLedger
    function recall(T.Recalled calldata e, address actor, bytes calldata signature) external {
        bytes32 eventHash = _authorize(T.hash(e), actor, e.nonce, e.deadline, signature);
        _checkRole(REGULATOR_ROLE, actor);
        Record storage b = _knownBatch(e.batchId);
        if (b.recalled) revert AlreadyRecalled(e.batchId);
        b.recalled = true;
        bytes32 head = _extend(b, eventHash);
        emit Recalled(e.batchId, actor, e.reason, e.docHash, eventHash, head);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Groups
    // ------------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProvenanceLedger
    function relayGroup(bytes[] calldata calls) external onlyRole(RELAYER_ROLE) returns (CallResult[] memory results) {
        uint256 n = calls.length;
        results = new CallResult[](n);
        for (uint256 i; i < n; ++i) {
            bytes calldata call = calls[i];
            bytes4 selector = bytes4(call);
            if (!_isLifecycle(selector)) revert NotLifecycleCall(i, selector);
            (bool success, bytes memory returnData) = address(this).delegatecall(call);
            if (!success) {
                if (returnData.length == 0) revert GroupCallWithoutReason(i);
                emit GroupCallRefused(i, returnData);
            }
            results[i] = CallResult(success, returnData);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProvenanceLedger
    function getBatch(bytes32 batchId) external view returns (T.Batch memory) {
        Record storage b = _batches[batchId];
        T.Batch memory batch;
        batch.registrant = _registrantOf(b);
        batch.status = b.status;
        batch.imported = b.imported;
        batch.customsCleared = b.customsCleared;
        batch.recalled = b.recalled;
        batch.ancestry = b.ancestry;
        batch.custodian = b.custodian;
        batch.offeredTo = b.offeredTo;
        batch.quantity = b.quantity;
        batch.head = b.head;
        batch.unit = _unitOf(b.unitId);
        if (b.parent != bytes32(0)) {
            batch.parents = new bytes32[](1);
            batch.parents[0] = b.parent;
        } else {
            batch.parents = b.mergedFrom;
        }
        return batch;
    }

    /// @inheritdoc IProvenanceLedger
    function headOf(bytes32 batchId) external view returns (bytes32) {
        return _batches[batchId].head;
    }

    /// @inheritdoc IProvenanceLedger
    function isRecalled(bytes32 batchId) external view returns (bool) {
        return _recalledAncestor(batchId) != bytes32(0);
    }

    /// @inheritdoc IProvenanceLedger
    function batchIdOf(string calldata gtin, string calldata lot) external pure returns (bytes32) {
        return GS1.checkedBatchId(gtin, lot);
    }

    /// @inheritdoc IProvenanceLedger
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------------------

    /// @dev Whether `selector` is one of the ten lifecycle functions, the only ones a group may call.
    function _isLifecycle(bytes4 selector) private pure returns (bool) {
        return selector == this.register.selector || selector == this.recordPesticide.selector
            || selector == this.recordInspection.selector || selector == this.clearCustoms.selector
            || selector == this.offerHandOff.selector || selector == this.acceptHandOff.selector
            || selector == this.cancelHandOff.selector || selector == this.split.selector || selector == this.merge.selector
            || selector == this.recall.selector;
    }

    /// @dev Authenticates `actor` for the struct `structHash`, spends its nonce and returns the event hash.
    function _authorize(bytes32 structHash, address actor, uint256 nonce, uint256 deadline, bytes calldata signature)
        private
        returns (bytes32 eventHash)
    {
        if (block.timestamp > deadline) revert DeadlinePassed(deadline, block.timestamp);
        eventHash = _hashTypedDataV4(structHash);
        if (signature.length == 0) {
            if (actor != msg.sender) revert ActorNotSender(actor, msg.sender);
        } else {
            _checkRole(RELAYER_ROLE);
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(eventHash, signature);
            // tryRecover never reports NoError with address(0), so a zero actor never passes.
            if (err != ECDSA.RecoverError.NoError || recovered != actor) revert InvalidSignature(actor, recovered);
        }
        if (nonceUsed[actor][nonce]) revert NonceAlreadyUsed(actor, nonce);
        nonceUsed[actor][nonce] = true;
    }

    /// @dev Creates an active batch held by `custodian`, writing its first slot once.
    function _create(bytes32 batchId, address custodian, uint32 unitId, bool imported, bool cleared, uint32 ancestry)
        private
        returns (Record storage b)
    {
        b = _batches[batchId];
        if (b.status != T.Status.None) revert BatchExists(batchId);
        b.custodian = custodian;
        b.status = T.Status.Active;
        b.imported = imported;
        b.customsCleared = cleared;
        b.ancestry = ancestry;
        b.unitId = unitId;
    }

    /// @dev The id of a unit given in calldata, checked, added to `_units` on its first use.
    function _unitIdOf(string calldata unit) private returns (uint32 id) {
        uint256 len = bytes(unit).length;
        if (len == 0 || len > MAX_UNIT_LENGTH) revert UnitInvalid(unit);
        bytes32 key = keccak256(bytes(unit));
        id = _unitIds[key];
        if (id == 0) {
            _units.push(unit);
            id = SafeCast.toUint32(_units.length);
            _unitIds[key] = id;
        }
    }

    /// @dev The unit string of a unit id; "" for 0 (an unknown batch).
    function _unitOf(uint32 unitId) private view returns (string memory) {
        return unitId == 0 ? "" : _units[unitId - 1];
    }

    /// @dev The registrant of a batch: its own, or for a split child the nearest one up its parents (a registered or
    /// merged batch always has one, and each step up lowers ancestry, so this reads at most MAX_ANCESTRY records).
    /// address(0) for an unknown id.
    function _registrantOf(Record storage b) private view returns (address registrant) {
        registrant = b.registrant;
        while (registrant == address(0) && b.parent != bytes32(0)) {
            b = _batches[b.parent];
            registrant = b.registrant;
        }
    }

    function _emitRegistered(bytes32 batchId, address actor, T.Registered calldata e, bytes32 eventHash, bytes32 head)
        private
    {
        emit Registered(
            batchId, actor, e.gtin, e.lot, e.quantity, e.unit, e.imported, e.docHash, eventHash, head
        );
    }

    /// @dev Creates the children of a split and checks their count, ancestry and that quantity is conserved.
    function _createChildren(T.Split calldata e, Record storage parent, address actor, bytes32 eventHash)
        private
        returns (bytes32[] memory ids)
    {
        uint256 n = e.children.length;
        if (n < 2 || n > MAX_LINEAGE) revert LineageSizeInvalid(n);
        if (uint256(parent.ancestry) + 1 > MAX_ANCESTRY) revert AncestryTooDeep(uint256(parent.ancestry) + 1, MAX_ANCESTRY);
        ids = new bytes32[](n);
        uint256 total;
        bytes32 head = keccak256(abi.encode(bytes32(0), eventHash));
        for (uint256 i; i < n; ++i) {
            ids[i] = _createChild(e.batchId, parent, e.children[i], actor, eventHash, head);
            total += e.children[i].quantity;
        }
        if (total != parent.quantity) revert QuantityNotConserved(e.batchId, parent.quantity, total);
    }

    /// @dev Creates one child of a split: it keeps its parent's unit and import flags, and its registrant through
    /// `parent`; the actor holds it and its chain starts at `head`.
    function _createChild(
        bytes32 parentId,
        Record storage parent,
        T.ChildLot calldata c,
        address actor,
        bytes32 eventHash,
        bytes32 head
    ) private returns (bytes32 id) {
        id = GS1.checkedBatchId(c.gtin, c.lot);
        if (c.quantity == 0) revert ZeroQuantity();
        // ancestry + 1 is checked against MAX_ANCESTRY by the caller.
        Record storage child =
            _create(id, actor, parent.unitId, parent.imported, parent.customsCleared, parent.ancestry + 1);
        child.parent = parentId;
        child.quantity = c.quantity;
        child.head = head;
        emit Lineage(id, parentId, eventHash, c.quantity);
    }

    /// @dev Consumes each parent into `child` and sets the child's quantity, ancestry, parents and import flags.
    function _consumeParents(
        bytes32[] calldata parents,
        address actor,
        bytes32 childId,
        Record storage child,
        bytes32 eventHash
    ) private {
        _checkDistinct(parents);
        uint256 quantity;
        uint256 ancestry;
        bool imported;
        bool cleared = true;
        for (uint256 i; i < parents.length; ++i) {
            Record storage p = _consumeParent(parents[i], actor, child.unitId, childId, eventHash);
            quantity += p.quantity;
            ancestry += uint256(p.ancestry) + 1;
            if (p.imported) {
                imported = true;
                cleared = cleared && p.customsCleared;
            }
        }
        if (ancestry > MAX_ANCESTRY) revert AncestryTooDeep(ancestry, MAX_ANCESTRY);
        child.registrant = actor;
        child.quantity = quantity;
        child.ancestry = uint32(ancestry);
        child.imported = imported;
        child.customsCleared = imported && cleared;
        child.mergedFrom = parents;
    }

    /// @dev Checks one merge parent (held by `actor`, same unit), marks it merged and extends its chain.
    function _consumeParent(bytes32 id, address actor, uint32 unitId, bytes32 childId, bytes32 eventHash)
        private
        returns (Record storage p)
    {
        p = _heldBatch(id, actor);
        if (p.unitId != unitId) revert UnitMismatch(id, _unitOf(p.unitId), _unitOf(unitId));
        p.status = T.Status.Merged;
        _extend(p, eventHash);
        emit Lineage(childId, id, eventHash, p.quantity);
    }

    /// @dev At most MAX_LINEAGE ids, so the quadratic scan stays under ~500 comparisons.
    function _checkDistinct(bytes32[] calldata ids) private pure {
        for (uint256 i = 1; i < ids.length; ++i) {
            for (uint256 j; j < i; ++j) {
                if (ids[j] == ids[i]) revert DuplicateParent(ids[i]);
            }
        }
    }

    /// @dev head = keccak256(abi.encode(head, eventHash)).
    function _extend(Record storage b, bytes32 eventHash) private returns (bytes32 head) {
        head = keccak256(abi.encode(b.head, eventHash));
        b.head = head;
    }

    function _knownBatch(bytes32 batchId) private view returns (Record storage b) {
        b = _batches[batchId];
        if (b.status == T.Status.None) revert UnknownBatch(batchId);
    }

    /// @dev An existing, unconsumed batch with no recall on it or any ancestor.
    function _activeBatch(bytes32 batchId) private view returns (Record storage b) {
        b = _knownBatch(batchId);
        if (b.status != T.Status.Active) revert BatchNotActive(batchId, b.status);
        bytes32 recalled = _recalledAncestor(batchId);
        if (recalled != bytes32(0)) revert BatchRecalled(batchId, recalled);
    }

    /// @dev An active batch held by `actor`, who still holds a custody role, with no open offer.
    function _heldBatch(bytes32 batchId, address actor) private view returns (Record storage b) {
        b = _activeBatch(batchId);
        if (b.custodian != actor) revert NotCustodian(batchId, b.custodian, actor);
        if (!_isCustodyRole(actor)) revert NotCustodyHolder(actor);
        if (b.offeredTo != address(0)) revert OfferAlreadyOpen(batchId, b.offeredTo);
    }

    /// @dev `to` may receive the batch: it holds a custody role and, if retail, the batch is not an uncleared import.
    function _checkReceiver(bytes32 batchId, Record storage b, address to) private view {
        if (!_isCustodyRole(to)) revert NotCustodyHolder(to);
        if (b.imported && !b.customsCleared && _isRetail(to)) revert RetailBeforeClearance(batchId, to);
    }

    /// @dev The first recalled batch found among `batchId` and its ancestors, or bytes32(0). Depth-first over the
    /// parents; the stack never holds more than `ancestry` entries because ancestry counts every lineage path.
    function _recalledAncestor(bytes32 batchId) private view returns (bytes32) {
        Record storage b = _batches[batchId];
        if (b.recalled) return batchId;
        if (b.ancestry == 0) return bytes32(0);
        bytes32[] memory stack = new bytes32[](b.ancestry);
        uint256 top = _pushParents(stack, 0, b);
        while (top != 0) {
            bytes32 id = stack[--top];
            Record storage a = _batches[id];
            if (a.recalled) return id;
            top = _pushParents(stack, top, a);
        }
        return bytes32(0);
    }

    /// @dev Pushes the parents of `r` in the order getBatch lists them. A batch of ancestry 0 has none, so its
    /// parent slots are not read.
    function _pushParents(bytes32[] memory stack, uint256 top, Record storage r) private view returns (uint256) {
        if (r.ancestry == 0) return top;
        if (r.parent != bytes32(0)) {
            stack[top++] = r.parent;
            return top;
        }
        bytes32[] storage items = r.mergedFrom;
        uint256 n = items.length;
        for (uint256 i; i < n; ++i) {
            stack[top++] = items[i];
        }
        return top;
    }
}
