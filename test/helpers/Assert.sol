// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// Minimal assertions for Solidity tests (we do not vendor forge-std). Each failure reverts with a custom error
// carrying both values, so the runner's trace shows what differed.

error AssertEqBytes32(string what, bytes32 actual, bytes32 expected);
error AssertEqUint(string what, uint256 actual, uint256 expected);
error AssertEqAddress(string what, address actual, address expected);
error AssertTrue(string what);

function assertEq(bytes32 actual, bytes32 expected, string memory what) pure {
    if (actual != expected) revert AssertEqBytes32(what, actual, expected);
}

function assertEq(uint256 actual, uint256 expected, string memory what) pure {
    if (actual != expected) revert AssertEqUint(what, actual, expected);
}

function assertEq(address actual, address expected, string memory what) pure {
    if (actual != expected) revert AssertEqAddress(what, actual, expected);
}

function assertTrue(bool condition, string memory what) pure {
    if (!condition) revert AssertTrue(what);
}

/// @dev Maps `x` into [min, max] without discarding the fuzz input (unlike vm.assume).
function bound(uint256 x, uint256 min, uint256 max) pure returns (uint256) {
    return min + (x % (max - min + 1));
}
