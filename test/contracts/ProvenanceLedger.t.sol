// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ProvenanceLedger} from "../../contracts/ProvenanceLedger.sol";
import {IProvenanceLedger} from "../../contracts/interfaces/IProvenanceLedger.sol";
import {LifecycleTypes as T} from "../../contracts/lib/LifecycleTypes.sol";
import {vm} from "../helpers/Vm.sol";
import {assertEq, assertTrue, bound} from "../helpers/Assert.sol";

/**
 * @title Property tests of ProvenanceLedger, fuzzed by Hardhat's Solidity test runner.
 * @notice (a) a batch's head is the keccak chain of the EIP-712 hashes of its events, computed here independently
 * from memory structs; (b) custody changes only through an accepted hand-off, whatever random actors try;
 * (c) a split conserves quantity and a split that does not is refused. Every run is a handful of calls.
 */
contract ProvenanceLedgerTest {
    ProvenanceLedger internal ledger;

    string internal constant GTIN = "08801234567893";
    uint256 internal constant INSPECTOR_KEY = 0x1A5FEC7;
    uint256 internal constant FAR = 2 ** 40;

    address internal constant PRODUCER = address(0xA001);
    address internal constant WHOLESALER = address(0xA002);
    address internal constant STALL = address(0xA003);
    address internal constant OUTSIDER = address(0xA004);
    address internal inspector;
    address[5] internal actors;

    bytes32 internal constant INSPECTED_TYPEHASH =
        keccak256("Inspected(bytes32 batchId,bool passed,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)");
    bytes32 internal constant OFFERED_TYPEHASH = keccak256(
        "HandOffOffered(bytes32 batchId,address to,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant ACCEPTED_TYPEHASH = keccak256(
        "HandOffAccepted(bytes32 batchId,address from,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant CANCELLED_TYPEHASH = keccak256(
        "HandOffCancelled(bytes32 batchId,address to,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)"
    );

    uint256 private _nonce;

    function setUp() public {
        ledger = new ProvenanceLedger(address(this));
        inspector = vm.addr(INSPECTOR_KEY);
        ledger.grantRole(ledger.PRODUCER_ROLE(), PRODUCER);
        ledger.grantRole(ledger.HANDLER_ROLE(), WHOLESALER);
        ledger.grantRole(ledger.HANDLER_ROLE(), STALL);
        ledger.grantRole(ledger.INSPECTOR_ROLE(), inspector);
        ledger.grantRole(ledger.RELAYER_ROLE(), address(this));
        actors = [PRODUCER, WHOLESALER, STALL, OUTSIDER, inspector];
    }

    // ------------------------------------------------------------------------------------------------------------
    // (a) head = keccak chain of event hashes
    // ------------------------------------------------------------------------------------------------------------

    /// @notice For random sequences of inspections (direct or relayed) and hand-off offers, cancellations and
    /// acceptances, the batch head equals the hash chain recomputed here from the EIP-712 event hashes.
    function testFuzz_headIsHashChainOfEventHashes(uint256 seed, uint8 steps) public {
        (bytes32 id, bytes32 head) = _register(100);
        address custodian = PRODUCER;
        address offeredTo;
        uint256 n = bound(steps, 1, 8);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            bytes32 eh;
            if (r % 3 == 0) {
                eh = _inspect(id, r % 2 == 0, (r >> 8) % 2 == 0);
            } else if (offeredTo == address(0)) {
                offeredTo = custodian == WHOLESALER ? STALL : WHOLESALER;
                eh = _call(OFFERED_TYPEHASH, id, offeredTo, custodian);
            } else if (r % 3 == 1) {
                eh = _call(CANCELLED_TYPEHASH, id, offeredTo, custodian);
                offeredTo = address(0);
            } else {
                eh = _call(ACCEPTED_TYPEHASH, id, custodian, offeredTo);
                custodian = offeredTo;
                offeredTo = address(0);
            }
            head = keccak256(abi.encode(head, eh));
            assertEq(ledger.headOf(id), head, "head");
        }
        assertEq(ledger.getBatch(id).custodian, custodian, "custodian");
    }

    // ------------------------------------------------------------------------------------------------------------
    // (b) custody moves only through an accepted hand-off
    // ------------------------------------------------------------------------------------------------------------

    /// @notice Random actors try random offers, acceptances, cancellations and inspections; whatever succeeds or
    /// reverts, the custodian changes only on a successful acceptance by the receiver of the open offer.
    function testFuzz_custodyChangesOnlyByAcceptedHandOff(uint256 seed, uint8 steps) public {
        (bytes32 id,) = _register(100);
        uint256 n = bound(steps, 1, 10);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            T.Batch memory before = ledger.getBatch(id);
            // Bias the draw towards the parties that matter, so successful hand-offs are common.
            address actor = _pick(r, before);
            address party = _pick(r >> 32, before);
            uint256 action = (r >> 64) % 4;
            bool ok = _try(action, id, actor, party);
            T.Batch memory afterwards = ledger.getBatch(id);
            if (afterwards.custodian != before.custodian) {
                assertTrue(ok && action == 2, "custody moved without an accepted hand-off");
                assertEq(before.offeredTo, actor, "accepted by the offer's receiver");
                assertEq(party, before.custodian, "acceptance names the custodian");
                assertEq(afterwards.custodian, actor, "receiver holds custody");
                assertEq(afterwards.offeredTo, address(0), "offer closed");
            }
            if (ok && action == 1) assertEq(afterwards.offeredTo, party, "offer recorded");
            if (ok && action == 3) assertEq(afterwards.offeredTo, address(0), "offer cancelled");
            if (!ok) {
                assertEq(afterwards.head, before.head, "a refused event leaves the head alone");
                assertEq(afterwards.offeredTo, before.offeredTo, "a refused event leaves the offer alone");
            }
        }
    }

    function _pick(uint256 r, T.Batch memory b) internal view returns (address) {
        uint256 k = r % 8;
        if (k < 2) return b.custodian;
        if (k < 4 && b.offeredTo != address(0)) return b.offeredTo;
        return actors[(r >> 8) % 5];
    }

    function _try(uint256 action, bytes32 id, address actor, address party) internal returns (bool ok) {
        bytes memory none;
        vm.prank(actor);
        if (action == 0) {
            try ledger.recordInspection(T.Inspected(id, true, 1, bytes32(0), ++_nonce, FAR), actor, none) {
                ok = true;
            } catch {}
        } else if (action == 1) {
            try ledger.offerHandOff(T.HandOffOffered(id, party, 1, bytes32(0), ++_nonce, FAR), actor, none) {
                ok = true;
            } catch {}
        } else if (action == 2) {
            try ledger.acceptHandOff(T.HandOffAccepted(id, party, 1, bytes32(0), ++_nonce, FAR), actor, none) {
                ok = true;
            } catch {}
        } else {
            try ledger.cancelHandOff(T.HandOffCancelled(id, party, 1, bytes32(0), ++_nonce, FAR), actor, none) {
                ok = true;
            } catch {}
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // (c) split conserves quantity
    // ------------------------------------------------------------------------------------------------------------

    /// @notice A split into a random number of children with random positive quantities summing to the parent's
    /// is accepted and stores exactly those quantities; the same split with one child one unit larger is refused.
    function testFuzz_splitConservesQuantity(uint256 quantity, uint8 count, uint256 seed) public {
        uint256 n = bound(count, 2, ledger.MAX_LINEAGE());
        quantity = bound(quantity, n, type(uint128).max);
        (bytes32 id,) = _register(quantity);
        T.ChildLot[] memory kids = _partition(quantity, n, seed);

        kids[n - 1].quantity += 1;
        vm.prank(PRODUCER);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceLedger.QuantityNotConserved.selector, id, quantity, quantity + 1));
        ledger.split(T.Split(id, kids, 1, bytes32(0), ++_nonce, FAR), PRODUCER, "");
        kids[n - 1].quantity -= 1;

        vm.prank(PRODUCER);
        ledger.split(T.Split(id, kids, 1, bytes32(0), ++_nonce, FAR), PRODUCER, "");
        uint256 total;
        for (uint256 i; i < n; ++i) {
            T.Batch memory c = ledger.getBatch(keccak256(abi.encodePacked("/01/", GTIN, "/10/", kids[i].lot)));
            assertEq(c.quantity, kids[i].quantity, "child quantity");
            assertEq(c.custodian, PRODUCER, "child custodian");
            total += c.quantity;
        }
        assertEq(total, quantity, "sum of children");
        assertEq(uint256(ledger.getBatch(id).status), uint256(T.Status.Split), "parent consumed");
    }

    function _partition(uint256 quantity, uint256 n, uint256 seed) internal pure returns (T.ChildLot[] memory kids) {
        kids = new T.ChildLot[](n);
        uint256 remaining = quantity;
        for (uint256 i; i < n; ++i) {
            uint256 q = remaining;
            if (i + 1 < n) {
                // Leave at least one unit for each later child.
                uint256 max = remaining - (n - 1 - i);
                q = bound(uint256(keccak256(abi.encode(seed, i))), 1, max);
            }
            remaining -= q;
            kids[i] = T.ChildLot(GTIN, string.concat("C", Strings.toString(i)), q);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Helpers: direct calls via prank, one relayed path via vm.sign, event hashes from memory structs.
    // ------------------------------------------------------------------------------------------------------------

    function _register(uint256 quantity) internal returns (bytes32 id, bytes32 head) {
        T.Registered memory e = T.Registered({
            gtin: GTIN,
            lot: "FUZZ",
            product: "mandarin",
            originCountry: "KR",
            region: "Jeju",
            farmGln: 0,
            harvestDate: 0,
            quantity: quantity,
            unit: "kg",
            imported: false,
            occurredAt: 1,
            docHash: bytes32(0),
            nonce: ++_nonce,
            deadline: FAR
        });
        vm.prank(PRODUCER);
        id = ledger.register(e, PRODUCER, "");
        head = ledger.headOf(id);
    }

    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(ledger.domainSeparator(), structHash);
    }

    function _inspect(bytes32 id, bool passed, bool relayed) internal returns (bytes32 eh) {
        uint256 nonce = ++_nonce;
        eh = _digest(keccak256(abi.encode(INSPECTED_TYPEHASH, id, passed, uint64(1), bytes32(0), nonce, FAR)));
        T.Inspected memory e = T.Inspected(id, passed, 1, bytes32(0), nonce, FAR);
        if (relayed) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(INSPECTOR_KEY, eh);
            ledger.recordInspection(e, inspector, abi.encodePacked(r, s, v));
        } else {
            vm.prank(inspector);
            ledger.recordInspection(e, inspector, "");
        }
    }

    /// @dev A direct hand-off call of kind `typehash` naming `party`, by `actor`; returns its event hash.
    function _call(bytes32 typehash, bytes32 id, address party, address actor) internal returns (bytes32 eh) {
        uint256 nonce = ++_nonce;
        eh = _digest(keccak256(abi.encode(typehash, id, party, uint64(1), bytes32(0), nonce, FAR)));
        vm.prank(actor);
        if (typehash == OFFERED_TYPEHASH) {
            ledger.offerHandOff(T.HandOffOffered(id, party, 1, bytes32(0), nonce, FAR), actor, "");
        } else if (typehash == ACCEPTED_TYPEHASH) {
            ledger.acceptHandOff(T.HandOffAccepted(id, party, 1, bytes32(0), nonce, FAR), actor, "");
        } else {
            ledger.cancelHandOff(T.HandOffCancelled(id, party, 1, bytes32(0), nonce, FAR), actor, "");
        }
    }
}
