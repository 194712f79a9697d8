// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Smoke} from "./Smoke.sol";
import {vm} from "./test/Vm.sol";
contract SmokeTest { function testFuzz_inc(uint8 n) public { Smoke s = new Smoke(); for (uint i; i<n; i++) s.inc(); require(s.x() == n, "count"); vm.assume(true);} }
