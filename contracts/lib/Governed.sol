// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ValidatorSet} from "../ValidatorSet.sol";

/// @title Governed
/// @notice Base for SpamLedger contracts whose roles live in the ValidatorSet hub.
/// @dev Parameter changes emit `ParameterChanged(name, oldValue, newValue)` with `name` a
///      short ASCII tag (e.g. "quorumBps") so one indexer rule follows every contract.
abstract contract Governed {
    /// @notice The roles hub every check is made against.
    ValidatorSet public immutable validatorSet;

    // Same values as the ValidatorSet constants; kept here to save an external call per check.
    bytes32 internal constant GOVERNANCE = keccak256("GOVERNANCE_ROLE");
    bytes32 internal constant ARBITER = keccak256("ARBITER_ROLE");
    bytes32 internal constant RELAYER = keccak256("RELAYER_ROLE");
    bytes32 internal constant REGULATOR = keccak256("REGULATOR_ROLE");
    bytes32 internal constant REGISTRY_WRITER = keccak256("REGISTRY_WRITER_ROLE");

    event ParameterChanged(bytes32 indexed name, uint256 oldValue, uint256 newValue);

    error ZeroAddress();
    error NotGovernance(address account);
    error NotValidator(address account);
    error InvalidParameter(bytes32 name, uint256 value);

    modifier onlyGovernance() {
        if (!validatorSet.hasRole(GOVERNANCE, msg.sender)) {
            revert NotGovernance(msg.sender);
        }
        _;
    }

    constructor(ValidatorSet validatorSet_) {
        if (address(validatorSet_) == address(0)) revert ZeroAddress();
        validatorSet = validatorSet_;
    }
}
