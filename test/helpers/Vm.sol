// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title The cheatcodes of Hardhat 3's Solidity test runner that our tests use.
/// @dev Hardhat (EDR) serves Foundry-compatible cheatcodes at a fixed address. We declare only what we call rather
/// than vendoring forge-std, which is not published on the npm registry in a current version.
interface Vm {
    function assume(bool condition) external pure;
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function warp(uint256 timestamp) external;
    function chainId(uint256 newChainId) external;
    function expectRevert() external;
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata revertData) external;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function label(address account, string calldata newLabel) external;
}

/// @dev The cheatcode address: address(uint160(uint256(keccak256("hevm cheat code")))).
Vm constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
