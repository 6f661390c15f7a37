// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";

/// @title ValidatorSet
/// @notice The consortium's roles hub, deployed first. It holds the operator validators
///         (country, weight, active flag), the arbiters (country, weight) and every role the
///         other SpamLedger contracts check: governance, arbiter, relayer, regulator and the
///         registry writer role granted to Consensus and Dispute at deployment.
/// @dev GOVERNANCE_ROLE administers every role, itself included. The deployer passes the
///      governance account to the constructor; it is the only account with a role at first.
contract ValidatorSet is AccessControl {
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");
    bytes32 public constant REGULATOR_ROLE = keccak256("REGULATOR_ROLE");
    /// @notice Held by the contracts allowed to write SpamRegistry (Consensus, Dispute).
    bytes32 public constant REGISTRY_WRITER_ROLE = keccak256("REGISTRY_WRITER_ROLE");

    /// @notice Upper bound on a single weight; keeps every tally far from overflow.
    uint32 public constant MAX_WEIGHT = 1_000_000;
    /// @notice Upper bound on admitted validators, so listing them stays cheap and every
    ///         validator has one of 256 seats (one bit each in Consensus' per-round seat bitmap).
    uint256 public constant MAX_VALIDATORS = 256;

    /// @notice One operator. Packed into one storage slot.
    /// @dev `since` is the last change of the validator's standing (admission, re-activation,
    ///      weight change): Consensus counts a vote only from a validator whose standing has not
    ///      changed since the round opened, so a round's eligible weight is fixed at opening.
    ///      `seat` is stable while the validator is admitted (0..255) and reused after removal.
    struct Validator {
        bytes2 country;
        uint32 weight;
        bool active;
        uint40 since;
        uint8 seat;
    }

    /// @notice One arbiter (an operator's or authority's dispute voter). One storage slot.
    struct Arbiter {
        bytes2 country;
        uint32 weight;
        bool active;
    }

    mapping(address => Validator) private _validators;
    address[] private _validatorList;
    mapping(address => uint256) private _listIndex; // 1-based position in _validatorList
    mapping(bytes2 => uint256) private _activeWeightByCountry;
    uint256 private _totalActiveWeight;
    uint256 private _activeCount;
    uint256 private _seatsUsed; // bit i set = seat i taken

    mapping(address => Arbiter) private _arbiters;
    mapping(bytes2 => uint256) private _arbiterWeightByCountry;
    uint256 private _totalArbiterWeight;
    bool private _settingArbiter;

    event ValidatorAdmitted(address indexed validator, bytes2 indexed country, uint32 weight);
    event ValidatorWeightChanged(address indexed validator, uint32 oldWeight, uint32 newWeight);
    event ValidatorDeactivated(address indexed validator);
    event ValidatorReactivated(address indexed validator);
    event ValidatorRemoved(address indexed validator);
    event ArbiterSet(address indexed arbiter, bytes2 indexed country, uint32 weight);
    event ArbiterRemoved(address indexed arbiter);
    /// @notice A contract was allowed (granted) or no longer allowed to write SpamRegistry.
    /// @dev Kept on purpose: an upgrade hands the writer role to new Consensus/Dispute
    ///      contracts. Only contracts qualify (an ordinary account is refused), and every change
    ///      is logged here next to OpenZeppelin's RoleGranted/RoleRevoked for the audit trail.
    event RegistryWriterChanged(address indexed writer, bool allowed, address indexed by);

    error ZeroAddress();
    error InvalidCountry(bytes2 country);
    error InvalidWeight(uint32 weight);
    error ValidatorExists(address validator);
    error UnknownValidator(address validator);
    error ValidatorAlreadyActive(address validator);
    error ValidatorNotActive(address validator);
    error TooManyValidators(uint256 max);
    error UnknownArbiter(address arbiter);
    error UseSetArbiter();
    error IndexOutOfRange(uint256 index, uint256 length);
    error RegistryWriterNotContract(address account);

    /// @param governance The consortium governance account (multisig in production).
    constructor(address governance) {
        if (governance == address(0)) revert ZeroAddress();
        _setRoleAdmin(GOVERNANCE_ROLE, GOVERNANCE_ROLE);
        _setRoleAdmin(ARBITER_ROLE, GOVERNANCE_ROLE);
        _setRoleAdmin(RELAYER_ROLE, GOVERNANCE_ROLE);
        _setRoleAdmin(REGULATOR_ROLE, GOVERNANCE_ROLE);
        _setRoleAdmin(REGISTRY_WRITER_ROLE, GOVERNANCE_ROLE);
        _grantRole(GOVERNANCE_ROLE, governance);
    }

    // ------------------------------------------------------------------ validators

    /// @notice Admit an operator as an active validator.
    /// @param validator The operator's signing address.
    /// @param country ISO 3166-1 alpha-2 code as bytes2, e.g. "US".
    /// @param weight Voting weight, 1..MAX_WEIGHT (any unit; basis points suggested).
    function admitValidator(address validator, bytes2 country, uint32 weight)
        external
        onlyRole(GOVERNANCE_ROLE)
    {
        if (validator == address(0)) revert ZeroAddress();
        if (!LedgerTypes.isCountry(country)) revert InvalidCountry(country);
        _checkWeight(weight);
        if (_listIndex[validator] != 0) revert ValidatorExists(validator);
        if (_validatorList.length >= MAX_VALIDATORS) revert TooManyValidators(MAX_VALIDATORS);
        uint8 seat = _takeSeat();
        _validators[validator] = Validator(country, weight, true, uint40(block.timestamp), seat);
        _validatorList.push(validator);
        _listIndex[validator] = _validatorList.length;
        _addActive(country, weight);
        emit ValidatorAdmitted(validator, country, weight);
    }

    /// @notice Change a validator's weight (active or not). Its standing changes (`since`):
    ///         it cannot vote in rounds opened before the change.
    function setValidatorWeight(address validator, uint32 weight) external onlyRole(GOVERNANCE_ROLE) {
        _checkWeight(weight);
        Validator storage v = _known(validator);
        uint32 old = v.weight;
        if (v.active) {
            _removeActive(v.country, old);
            _addActive(v.country, weight);
        }
        v.weight = weight;
        v.since = uint40(block.timestamp);
        emit ValidatorWeightChanged(validator, old, weight);
    }

    /// @notice Suspend a validator: its votes are refused and its weight leaves the totals.
    function deactivateValidator(address validator) external onlyRole(GOVERNANCE_ROLE) {
        Validator storage v = _known(validator);
        if (!v.active) revert ValidatorNotActive(validator);
        v.active = false;
        _removeActive(v.country, v.weight);
        emit ValidatorDeactivated(validator);
    }

    /// @notice Re-activate a suspended validator.
    function reactivateValidator(address validator) external onlyRole(GOVERNANCE_ROLE) {
        Validator storage v = _known(validator);
        if (v.active) revert ValidatorAlreadyActive(validator);
        v.active = true;
        v.since = uint40(block.timestamp);
        _addActive(v.country, v.weight);
        emit ValidatorReactivated(validator);
    }

    /// @notice Remove a validator from the set entirely (it may be admitted again later).
    function removeValidator(address validator) external onlyRole(GOVERNANCE_ROLE) {
        Validator storage v = _known(validator);
        if (v.active) _removeActive(v.country, v.weight);
        uint256 idx = _listIndex[validator] - 1;
        address last = _validatorList[_validatorList.length - 1];
        _validatorList[idx] = last;
        _listIndex[last] = idx + 1;
        _validatorList.pop();
        delete _listIndex[validator];
        _seatsUsed &= ~(uint256(1) << v.seat);
        delete _validators[validator];
        emit ValidatorRemoved(validator);
    }

    /// @notice True when `account` is an admitted, active validator.
    function isValidator(address account) external view returns (bool) {
        return _validators[account].active;
    }

    /// @notice The stored record of `account` (all zero when never admitted).
    function getValidator(address account) external view returns (Validator memory) {
        return _validators[account];
    }

    /// @notice Country and weight of an active validator; weight 0 when not active.
    function activeValidator(address account) external view returns (bytes2 country, uint32 weight) {
        Validator storage v = _validators[account];
        if (!v.active) return (v.country, 0);
        return (v.country, v.weight);
    }

    /// @notice What Consensus needs to count a vote, in one call: country, weight (0 when not
    ///         active), the last change of standing and the validator's seat.
    function voterOf(address account) external view returns (bytes2 country, uint32 weight, uint40 since, uint8 seat) {
        Validator storage v = _validators[account];
        return (v.country, v.active ? v.weight : 0, v.since, v.seat);
    }

    /// @notice Sum of the weights of all active validators.
    function totalActiveWeight() external view returns (uint256) {
        return _totalActiveWeight;
    }

    /// @notice Sum of the weights of the active validators of `country`.
    function activeWeightOf(bytes2 country) external view returns (uint256) {
        return _activeWeightByCountry[country];
    }

    /// @notice Number of active validators.
    function activeValidatorCount() external view returns (uint256) {
        return _activeCount;
    }

    /// @notice Number of admitted validators, active or not.
    function validatorCount() external view returns (uint256) {
        return _validatorList.length;
    }

    /// @notice The admitted validator at `index` (0-based; order changes on removal).
    function validatorAt(uint256 index) external view returns (address) {
        if (index >= _validatorList.length) revert IndexOutOfRange(index, _validatorList.length);
        return _validatorList[index];
    }

    /// @notice Addresses of all active validators.
    function activeValidators() external view returns (address[] memory out) {
        out = new address[](_activeCount);
        uint256 n;
        for (uint256 i; i < _validatorList.length; ++i) {
            address a = _validatorList[i];
            if (_validators[a].active) out[n++] = a;
        }
    }

    // ------------------------------------------------------------------ arbiters

    /// @notice Make `arbiter` a dispute arbiter of `country` with `weight` (grants ARBITER_ROLE).
    /// @dev Calling it again updates country and weight.
    function setArbiter(address arbiter, bytes2 country, uint32 weight) external onlyRole(GOVERNANCE_ROLE) {
        if (arbiter == address(0)) revert ZeroAddress();
        if (!LedgerTypes.isCountry(country)) revert InvalidCountry(country);
        _checkWeight(weight);
        _dropArbiterWeight(arbiter);
        _arbiters[arbiter] = Arbiter(country, weight, true);
        _arbiterWeightByCountry[country] += weight;
        _totalArbiterWeight += weight;
        _settingArbiter = true;
        _grantRole(ARBITER_ROLE, arbiter);
        _settingArbiter = false;
        emit ArbiterSet(arbiter, country, weight);
    }

    /// @notice Remove an arbiter (revokes ARBITER_ROLE). `revokeRole` does the same.
    function removeArbiter(address arbiter) external onlyRole(GOVERNANCE_ROLE) {
        if (!_arbiters[arbiter].active) revert UnknownArbiter(arbiter);
        _revokeRole(ARBITER_ROLE, arbiter);
    }

    /// @notice Country and weight of an active arbiter; weight 0 when not an arbiter.
    function arbiterOf(address account) external view returns (bytes2 country, uint32 weight) {
        Arbiter storage a = _arbiters[account];
        if (!a.active) return (a.country, 0);
        return (a.country, a.weight);
    }

    /// @notice Sum of all active arbiters' weights.
    function totalArbiterWeight() external view returns (uint256) {
        return _totalArbiterWeight;
    }

    /// @notice Sum of the weights of the active arbiters of `country`.
    function arbiterWeightOf(bytes2 country) external view returns (uint256) {
        return _arbiterWeightByCountry[country];
    }

    // ------------------------------------------------------------------ internals

    /// @dev ARBITER_ROLE carries a country and weight, so it is granted only through setArbiter.
    ///      REGISTRY_WRITER_ROLE goes to contracts only, and each change is logged.
    function _grantRole(bytes32 role, address account) internal override returns (bool) {
        if (role == ARBITER_ROLE && !_settingArbiter) revert UseSetArbiter();
        if (role == REGISTRY_WRITER_ROLE && account.code.length == 0) revert RegistryWriterNotContract(account);
        bool granted = super._grantRole(role, account);
        if (granted && role == REGISTRY_WRITER_ROLE) emit RegistryWriterChanged(account, true, _msgSender());
        return granted;
    }

    /// @dev Revoking ARBITER_ROLE by any path also removes the arbiter's weight.
    function _revokeRole(bytes32 role, address account) internal override returns (bool) {
        bool revoked = super._revokeRole(role, account);
        if (revoked && role == REGISTRY_WRITER_ROLE) emit RegistryWriterChanged(account, false, _msgSender());
        if (revoked && role == ARBITER_ROLE) {
            _dropArbiterWeight(account);
            delete _arbiters[account];
            emit ArbiterRemoved(account);
        }
        return revoked;
    }

    function _dropArbiterWeight(address arbiter) private {
        Arbiter storage a = _arbiters[arbiter];
        if (!a.active) return;
        _arbiterWeightByCountry[a.country] -= a.weight;
        _totalArbiterWeight -= a.weight;
    }

    function _takeSeat() private returns (uint8 seat) {
        uint256 used = _seatsUsed;
        while (used & (uint256(1) << seat) != 0) ++seat; // a free seat exists: at most 255 are taken
        _seatsUsed = used | (uint256(1) << seat);
    }

    function _known(address validator) private view returns (Validator storage v) {
        if (_listIndex[validator] == 0) revert UnknownValidator(validator);
        v = _validators[validator];
    }

    function _checkWeight(uint32 weight) private pure {
        if (weight == 0 || weight > MAX_WEIGHT) revert InvalidWeight(weight);
    }

    function _addActive(bytes2 country, uint32 weight) private {
        _activeWeightByCountry[country] += weight;
        _totalActiveWeight += weight;
        ++_activeCount;
    }

    function _removeActive(bytes2 country, uint32 weight) private {
        _activeWeightByCountry[country] -= weight;
        _totalActiveWeight -= weight;
        --_activeCount;
    }
}
