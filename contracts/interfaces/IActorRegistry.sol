// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/**
 * @title Who may act on the ledger, and how they are shown to a shopper.
 * @notice Roles are OpenZeppelin AccessControl roles, each `keccak256` of its name, granted and revoked by holders of
 * DEFAULT_ADMIN_ROLE (the authority). Each address has at most one profile, set only by the authority.
 */
interface IActorRegistry is IAccessControl {
    /// @notice How an actor is shown, and whether it sells to shoppers.
    /// @param name display name, e.g. "Jeju Hallabong Cooperative"
    /// @param gln GS1 Global Location Number (13 digits), 0 when none
    /// @param country ISO 3166-1 alpha-2 code as two ASCII bytes, e.g. "KR"
    /// @param retail true for a market stall or shop
    struct Profile {
        string name;
        uint64 gln;
        bytes2 country;
        bool retail;
    }

    /// @notice The profile of `account` was set or replaced.
    event ProfileSet(address indexed account, string name, uint64 gln, bytes2 country, bool retail);

    /// @notice The admin address given to the constructor was zero.
    error ZeroAdmin();
    /// @notice A profile was set for the zero address.
    error ZeroAccount();

    /// @notice Recalls batches.
    function REGULATOR_ROLE() external view returns (bytes32);
    /// @notice Registers domestic batches and records pesticide applications; may hold custody.
    function PRODUCER_ROLE() external view returns (bytes32);
    /// @notice Customs-linked importer: registers imported batches and records their clearance; may hold custody.
    function IMPORTER_ROLE() external view returns (bytes32);
    /// @notice Records inspection / lab results.
    function INSPECTOR_ROLE() external view returns (bytes32);
    /// @notice Wholesaler, transporter or market stall: holds custody, splits and merges.
    function HANDLER_ROLE() external view returns (bytes32);
    /// @notice Submits events signed by other actors (EIP-712), paying their gas.
    function RELAYER_ROLE() external view returns (bytes32);
    /// @notice Commits Merkle roots of the off-chain log (used by LogAnchor).
    function ANCHORER_ROLE() external view returns (bytes32);

    /// @notice Sets or replaces the profile of `account`. Only the authority.
    /// @dev Emits {ProfileSet}. Reverts with AccessControlUnauthorizedAccount for anyone else, ZeroAccount for the
    /// zero address.
    function setProfile(address account, Profile calldata profile) external;

    /// @notice The profile of `account`; all fields zero when none was set.
    function profileOf(address account) external view returns (Profile memory);
}
