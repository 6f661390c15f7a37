// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ValidatorSet} from "./ValidatorSet.sol";
import {Governed} from "./lib/Governed.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";

/// @title ModelRegistry
/// @notice Scoring models that validators may vote with. A validator registers a model hash
///         with its country and a metrics CID; the registration is its own (models are keyed by
///         owner and hash, so nobody can take or burn another validator's hash). Once validators
///         of `requiredApprovals` distinct OTHER countries have approved it, it is usable by its
///         owner. Governance or the owner can revoke it; Consensus refuses votes naming a model
///         the signer has not got approved.
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
        uint16 approvals; // distinct approving countries
        uint40 registeredAt;
    }

    /// @notice Approving countries (other than the model's) needed before a model is usable (>= 1).
    uint16 public requiredApprovals;

    mapping(bytes32 => Model) private _models; // by modelIdOf(owner, modelHash)
    mapping(bytes32 => string) private _metricsCid;
    mapping(bytes32 => mapping(address => bool)) private _approvedBy;
    mapping(bytes32 => mapping(bytes2 => bool)) private _approvedFrom;

    event ModelRegistered(bytes32 indexed modelHash, address indexed owner, bytes2 indexed country, string metricsCid);
    event ModelApprovalAdded(
        bytes32 indexed modelHash, address indexed approver, bytes2 country, uint16 approvals, address owner
    );
    event ModelApproved(bytes32 indexed modelHash, uint16 approvals, address owner);
    event ModelRevoked(bytes32 indexed modelHash, address indexed by, address owner);

    error EmptyModelHash();
    error InvalidCid(uint256 length);
    error ModelAlreadyRegistered(bytes32 modelHash);
    error UnknownModel(bytes32 modelHash);
    error ModelIsRevoked(bytes32 modelHash);
    error SameCountryApproval(bytes32 modelHash, bytes2 country);
    error AlreadyApprovedBy(bytes32 modelHash, address approver);
    error CountryAlreadyApproved(bytes32 modelHash, bytes2 country);
    error NotModelOwnerOrGovernance(bytes32 modelHash, address account);

    /// @param validatorSet_ The roles hub.
    /// @param requiredApprovals_ Approving countries needed (>= 1: no model is usable unreviewed).
    constructor(ValidatorSet validatorSet_, uint16 requiredApprovals_) Governed(validatorSet_) {
        if (requiredApprovals_ == 0) revert InvalidParameter("requiredApprovals", 0);
        requiredApprovals = requiredApprovals_;
    }

    /// @notice Register a model as the caller's; the caller must be an active validator, whose
    ///         country it takes.
    /// @param modelHash The model's content hash (e.g. keccak/sha256 of the serialized model).
    /// @param metricsCid IPFS CID of the model card / evaluation metrics (1..128 bytes).
    function registerModel(bytes32 modelHash, string calldata metricsCid) external {
        if (modelHash == bytes32(0)) revert EmptyModelHash();
        uint256 len = bytes(metricsCid).length;
        if (len == 0 || len > LedgerTypes.MAX_CID_LENGTH) revert InvalidCid(len);
        (bytes2 country, uint32 weight) = validatorSet.activeValidator(msg.sender);
        if (weight == 0) revert NotValidator(msg.sender);
        bytes32 id = modelIdOf(msg.sender, modelHash);
        if (_models[id].status != STATUS_NONE) revert ModelAlreadyRegistered(modelHash);
        _models[id] = Model(msg.sender, country, STATUS_PENDING, 0, uint40(block.timestamp));
        _metricsCid[id] = metricsCid;
        emit ModelRegistered(modelHash, msg.sender, country, metricsCid);
    }

    /// @notice Approve `owner`'s model as a validator of a country other than the model's and
    ///         other than every earlier approver's.
    /// @dev Approvals keep counting after the model is usable (they are an audit signal).
    function approveModel(address owner, bytes32 modelHash) external {
        bytes32 id = modelIdOf(owner, modelHash);
        Model storage m = _existing(id, modelHash);
        if (m.status == STATUS_REVOKED) revert ModelIsRevoked(modelHash);
        (bytes2 country, uint32 weight) = validatorSet.activeValidator(msg.sender);
        if (weight == 0) revert NotValidator(msg.sender);
        if (country == m.country) revert SameCountryApproval(modelHash, country);
        if (_approvedBy[id][msg.sender]) revert AlreadyApprovedBy(modelHash, msg.sender);
        if (_approvedFrom[id][country]) revert CountryAlreadyApproved(modelHash, country);
        _approvedBy[id][msg.sender] = true;
        _approvedFrom[id][country] = true;
        uint16 approvals = m.approvals + 1;
        m.approvals = approvals;
        emit ModelApprovalAdded(modelHash, msg.sender, country, approvals, owner);
        if (m.status == STATUS_PENDING && approvals >= requiredApprovals) {
            m.status = STATUS_APPROVED;
            emit ModelApproved(modelHash, approvals, owner);
        }
    }

    /// @notice Revoke `owner`'s model for good; callable by governance or the owner.
    function revokeModel(address owner, bytes32 modelHash) external {
        Model storage m = _existing(modelIdOf(owner, modelHash), modelHash);
        if (m.status == STATUS_REVOKED) revert ModelIsRevoked(modelHash);
        if (msg.sender != m.owner && !validatorSet.hasRole(GOVERNANCE, msg.sender)) {
            revert NotModelOwnerOrGovernance(modelHash, msg.sender);
        }
        m.status = STATUS_REVOKED;
        emit ModelRevoked(modelHash, msg.sender, owner);
    }

    /// @notice Change the number of approving countries needed (>= 1; affects pending models).
    function setRequiredApprovals(uint16 required) external onlyGovernance {
        if (required == 0) revert InvalidParameter("requiredApprovals", required);
        emit ParameterChanged("requiredApprovals", requiredApprovals, required);
        requiredApprovals = required;
    }

    /// @notice True when `owner` may name `modelHash` in votes and snapshots.
    /// @dev A pending model whose approvals already meet a lowered requirement counts too.
    function isApproved(address owner, bytes32 modelHash) external view returns (bool) {
        Model storage m = _models[modelIdOf(owner, modelHash)];
        uint8 status = m.status;
        return status == STATUS_APPROVED || (status == STATUS_PENDING && m.approvals >= requiredApprovals);
    }

    /// @notice The stored record of `owner`'s model (status 0 when unknown).
    function getModel(address owner, bytes32 modelHash) external view returns (Model memory) {
        return _models[modelIdOf(owner, modelHash)];
    }

    /// @notice The model's metrics CID ("" when unknown).
    function metricsCidOf(address owner, bytes32 modelHash) external view returns (string memory) {
        return _metricsCid[modelIdOf(owner, modelHash)];
    }

    /// @notice True when `approver` has approved `owner`'s `modelHash`.
    function hasApproved(address owner, bytes32 modelHash, address approver) external view returns (bool) {
        return _approvedBy[modelIdOf(owner, modelHash)][approver];
    }

    /// @notice True when a validator of `country` has approved `owner`'s `modelHash`.
    function hasCountryApproved(address owner, bytes32 modelHash, bytes2 country) external view returns (bool) {
        return _approvedFrom[modelIdOf(owner, modelHash)][country];
    }

    /// @notice Storage identity of a registration: the owner's address bound to the hash.
    function modelIdOf(address owner, bytes32 modelHash) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, modelHash));
    }

    function _existing(bytes32 id, bytes32 modelHash) private view returns (Model storage m) {
        m = _models[id];
        if (m.status == STATUS_NONE) revert UnknownModel(modelHash);
    }
}
