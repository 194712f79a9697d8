// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
contract Smoke is AccessControl { uint256 public x; function inc() external { x++; } }
