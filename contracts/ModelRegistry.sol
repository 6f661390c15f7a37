// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ValidatorSet} from "./ValidatorSet.sol";
import {Governed} from "./lib/Governed.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";

/// @title ModelRegistry
/// @notice Scoring models that validators may vote with. A validator registers a model hash
///         with its country and a metrics CID; once validators of OTHER countries have approved
///         it `requiredApprovals` times it is usable. Governance or the registering validator
///         can revoke it; votes naming an unapproved or revoked model are refused by Consensus.
contract ModelRegistry is Governed {
    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_PENDING = 1;
    uint8 public constant STATUS_APPROVED = 2;
    uint8 public constant STATUS_REVOKED = 3;

    /// @notice One model. Packed into one storage slot; the metrics CID is kept apart.
    struct Model {
        address owner;
        bytes2 country;
        uint8 status;
        uint16 approvals;
        uint40 registeredAt;
    }

    /// @notice Approvals from other countries' validators needed before a model is usable.
    uint16 public requiredApprovals;

    mapping(bytes32 => Model) private _models;
    mapping(bytes32 => string) private _metricsCid;
    mapping(bytes32 => mapping(address => bool)) private _approvedBy;

    event ModelRegistered(bytes32 indexed modelHash, address indexed owner, bytes2 indexed country, string metricsCid);
    event ModelApprovalAdded(bytes32 indexed modelHash, address indexed approver, bytes2 country, uint16 approvals);
    event ModelApproved(bytes32 indexed modelHash, uint16 approvals);
    event ModelRevoked(bytes32 indexed modelHash, address indexed by);

    error EmptyModelHash();
    error InvalidCid(uint256 length);
    error ModelAlreadyRegistered(bytes32 modelHash);
    error UnknownModel(bytes32 modelHash);
    error ModelIsRevoked(bytes32 modelHash);
    error SameCountryApproval(bytes32 modelHash, bytes2 country);
    error AlreadyApprovedBy(bytes32 modelHash, address approver);
    error NotModelOwnerOrGovernance(bytes32 modelHash, address account);

    /// @param validatorSet_ The roles hub.
    /// @param requiredApprovals_ Approvals from other countries needed (0 = usable at once).
    constructor(ValidatorSet validatorSet_, uint16 requiredApprovals_) Governed(validatorSet_) {
        requiredApprovals = requiredApprovals_;
    }

    /// @notice Register a model; the caller must be an active validator, whose country it takes.
    /// @param modelHash The model's content hash (e.g. keccak/sha256 of the serialized model).
    /// @param metricsCid IPFS CID of the model card / evaluation metrics (1..128 bytes).
    function registerModel(bytes32 modelHash, string calldata metricsCid) external {
        if (modelHash == bytes32(0)) revert EmptyModelHash();
        uint256 len = bytes(metricsCid).length;
        if (len == 0 || len > LedgerTypes.MAX_CID_LENGTH) revert InvalidCid(len);
        (bytes2 country, uint32 weight) = validatorSet.activeValidator(msg.sender);
        if (weight == 0) revert NotValidator(msg.sender);
        if (_models[modelHash].status != STATUS_NONE) revert ModelAlreadyRegistered(modelHash);
        uint8 status = requiredApprovals == 0 ? STATUS_APPROVED : STATUS_PENDING;
        _models[modelHash] = Model(msg.sender, country, status, 0, uint40(block.timestamp));
        _metricsCid[modelHash] = metricsCid;
        emit ModelRegistered(modelHash, msg.sender, country, metricsCid);
        if (status == STATUS_APPROVED) emit ModelApproved(modelHash, 0);
    }

    /// @notice Approve a model as a validator of a country other than the model's.
    /// @dev Approvals keep counting after the model is usable (they are an audit signal).
    function approveModel(bytes32 modelHash) external {
        Model storage m = _existing(modelHash);
        if (m.status == STATUS_REVOKED) revert ModelIsRevoked(modelHash);
        (bytes2 country, uint32 weight) = validatorSet.activeValidator(msg.sender);
        if (weight == 0) revert NotValidator(msg.sender);
        if (country == m.country) revert SameCountryApproval(modelHash, country);
        if (_approvedBy[modelHash][msg.sender]) revert AlreadyApprovedBy(modelHash, msg.sender);
        _approvedBy[modelHash][msg.sender] = true;
        uint16 approvals = m.approvals + 1;
        m.approvals = approvals;
        emit ModelApprovalAdded(modelHash, msg.sender, country, approvals);
        if (m.status == STATUS_PENDING && approvals >= requiredApprovals) {
            m.status = STATUS_APPROVED;
            emit ModelApproved(modelHash, approvals);
        }
    }

    /// @notice Revoke a model for good; callable by governance or the registering validator.
    function revokeModel(bytes32 modelHash) external {
        Model storage m = _existing(modelHash);
        if (m.status == STATUS_REVOKED) revert ModelIsRevoked(modelHash);
        if (msg.sender != m.owner && !validatorSet.hasRole(GOVERNANCE, msg.sender)) {
            revert NotModelOwnerOrGovernance(modelHash, msg.sender);
        }
        m.status = STATUS_REVOKED;
        emit ModelRevoked(modelHash, msg.sender);
    }

    /// @notice Change the number of approvals needed (affects models still pending).
    function setRequiredApprovals(uint16 required) external onlyGovernance {
        emit ParameterChanged("requiredApprovals", requiredApprovals, required);
        requiredApprovals = required;
    }

    /// @notice True when votes may name `modelHash`.
    /// @dev A pending model whose approvals already meet a lowered requirement counts too.
    function isApproved(bytes32 modelHash) external view returns (bool) {
        Model storage m = _models[modelHash];
        uint8 status = m.status;
        return status == STATUS_APPROVED || (status == STATUS_PENDING && m.approvals >= requiredApprovals);
    }

    /// @notice The stored model record (status 0 when unknown).
    function getModel(bytes32 modelHash) external view returns (Model memory) {
        return _models[modelHash];
    }

    /// @notice The model's metrics CID ("" when unknown).
    function metricsCidOf(bytes32 modelHash) external view returns (string memory) {
        return _metricsCid[modelHash];
    }

    /// @notice True when `approver` has approved `modelHash`.
    function hasApproved(bytes32 modelHash, address approver) external view returns (bool) {
        return _approvedBy[modelHash][approver];
    }

    function _existing(bytes32 modelHash) private view returns (Model storage m) {
        m = _models[modelHash];
        if (m.status == STATUS_NONE) revert UnknownModel(modelHash);
    }
}
