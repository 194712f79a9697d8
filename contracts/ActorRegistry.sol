// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IActorRegistry} from "./interfaces/IActorRegistry.sol";

/**
 * @title Who may act on the ledger, and how they are shown to a shopper.
 * @notice Guarantees: every role is `keccak256` of its name and is granted and revoked only by holders of
 * DEFAULT_ADMIN_ROLE (the authority); each address has at most one profile, set only by the authority.
 *
 * Traps:
 * - A profile is display data plus one rule input: `retail` marks a market stall or shop, and an imported batch
 *   may not be handed to a retail address before customs clearance. Flipping `retail` later changes what that
 *   address may receive from then on; it does not undo past hand-offs.
 * - Revoking a role stops future acts only. Batches already in the hands of an address whose role was revoked
 *   stay there until it regains a custody role (PRODUCER, IMPORTER or HANDLER) and hands them off.
 * - The authority can grant itself any role; DEFAULT_ADMIN_ROLE should sit behind a multisig or timelock.
 */
abstract contract ActorRegistry is IActorRegistry, AccessControl {
    /// @inheritdoc IActorRegistry
    bytes32 public constant REGULATOR_ROLE = keccak256("REGULATOR_ROLE");
    /// @inheritdoc IActorRegistry
    bytes32 public constant PRODUCER_ROLE = keccak256("PRODUCER_ROLE");
    /// @inheritdoc IActorRegistry
    bytes32 public constant IMPORTER_ROLE = keccak256("IMPORTER_ROLE");
    /// @inheritdoc IActorRegistry
    bytes32 public constant INSPECTOR_ROLE = keccak256("INSPECTOR_ROLE");
    /// @inheritdoc IActorRegistry
    bytes32 public constant HANDLER_ROLE = keccak256("HANDLER_ROLE");
    /// @inheritdoc IActorRegistry
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");
    /// @inheritdoc IActorRegistry
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    mapping(address account => Profile) private _profiles;

    /// @param admin the authority: holds DEFAULT_ADMIN_ROLE, grants every other role and sets profiles.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IActorRegistry
    function setProfile(address account, Profile calldata profile) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (account == address(0)) revert ZeroAccount();
        _profiles[account] = profile;
        emit ProfileSet(account, profile.name, profile.gln, profile.country, profile.retail);
    }

    /// @inheritdoc IActorRegistry
    function profileOf(address account) external view returns (Profile memory) {
        return _profiles[account];
    }

    /// @dev Whether `account` may hold custody of a batch.
    function _isCustodyRole(address account) internal view returns (bool) {
        return hasRole(HANDLER_ROLE, account) || hasRole(PRODUCER_ROLE, account) || hasRole(IMPORTER_ROLE, account);
    }

    /// @dev Whether `account` is flagged as a retail outlet.
    function _isRetail(address account) internal view returns (bool) {
        return _profiles[account].retail;
    }
}
