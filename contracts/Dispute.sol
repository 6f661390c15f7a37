// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ValidatorSet} from "./ValidatorSet.sol";
import {SpamRegistry} from "./SpamRegistry.sol";
import {Governed} from "./lib/Governed.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";

/// @title Dispute
/// @notice Businesses dispute a spam/suspicious verdict through a relayer (the API account).
///         Arbiters from countries other than the record's flagging-majority country, and
///         regulators, vote uphold/reject within a window. Outcome by weight: upheld sets the
///         registry verdict to NOT_SPAM and locks the record against new rounds; rejected leaves
///         it; no quorum by the deadline expires the dispute. Each dispute is decided once.
/// @dev Quorum: votes' weight * 10000 >= quorumBps * eligibleWeight, where eligibleWeight is
///      fixed at opening = active arbiter weight outside the majority country + regulatorWeight.
///      Before the deadline `resolve` succeeds once one side alone reaches quorum; after it,
///      quorum of all votes decides by majority (ties reject), else the dispute expires.
///      Every regulator account shares one regulator seat per dispute (the role counts once, as
///      it does in eligibleWeight), and a decision needs at least MIN_VOTERS distinct voters:
///      one arbiter holding the whole quorum cannot decide alone.
///      Flood control: at most `maxOpenPerClaimant` open disputes per claimant and a cool-down
///      after a decision before the same number can be disputed again.
contract Dispute is Governed {
    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_OPEN = 1;
    uint8 public constant STATUS_UPHELD = 2;
    uint8 public constant STATUS_REJECTED = 3;
    uint8 public constant STATUS_EXPIRED = 4;

    /// @notice Distinct voters a decision needs.
    uint16 public constant MIN_VOTERS = 2;

    /// @notice One dispute. Four storage slots.
    struct Case {
        bytes32 numberKey;
        bytes32 claimant; // hash of the claimant's identity (never the identity itself)
        uint40 openedAt;
        uint40 deadline;
        uint8 status;
        bytes2 majorityCountry;
        uint64 recordRound;
        uint64 upholdWeight;
        uint64 rejectWeight;
        uint64 eligibleWeight;
        uint16 voteCount;
    }

    SpamRegistry public immutable registry;

    /// @notice Seconds arbiters have to vote.
    uint40 public voteWindow = 7 days;
    /// @notice Seconds an upheld record stays locked against new rounds.
    uint40 public lockPeriod = 180 days;
    /// @notice Seconds after a decision before the same number can be disputed again.
    uint40 public cooldown = 1 days;
    /// @notice Quorum, bps of the dispute's eligible weight.
    uint16 public quorumBps = 5000;
    /// @notice Open disputes allowed per claimant at once.
    uint16 public maxOpenPerClaimant = 3;
    /// @notice Weight of a regulator's vote.
    uint32 public regulatorWeight = 1000;

    uint256 public disputeCount;
    mapping(uint256 => Case) private _cases;
    mapping(uint256 => string) private _evidence;
    mapping(uint256 => mapping(address => bool)) private _voted;
    /// @notice The regulator account that took a dispute's regulator seat (0 when none).
    mapping(uint256 => address) public regulatorVoterOf;
    /// @notice The open dispute id of a number key (0 when none).
    mapping(bytes32 => uint256) public openDisputeOf;
    /// @notice Open disputes per claimant hash.
    mapping(bytes32 => uint256) public openCountOf;
    mapping(bytes32 => uint40) private _lastDecidedAt;

    event DisputeOpened(
        uint256 indexed id,
        bytes32 indexed numberKey,
        bytes32 indexed claimant,
        string evidenceCid,
        bytes2 majorityCountry,
        uint64 recordRound,
        uint40 deadline,
        uint64 eligibleWeight
    );
    event DisputeVoteCast(
        uint256 indexed id, bytes32 indexed numberKey, address indexed arbiter, bytes2 country, uint32 weight, bool uphold
    );
    event DisputeDecided(
        uint256 indexed id, bytes32 indexed numberKey, bool upheld, uint64 upholdWeight, uint64 rejectWeight, uint40 lockedUntil
    );
    event DisputeExpired(uint256 indexed id, bytes32 indexed numberKey, uint64 upholdWeight, uint64 rejectWeight);

    error NotRelayer(address account);
    error EmptyClaimant();
    error InvalidCid(uint256 length);
    error NothingToDispute(bytes32 numberKey, uint8 verdict);
    error DisputeAlreadyOpen(bytes32 numberKey, uint256 id);
    error ClaimantLimitReached(bytes32 claimant, uint256 open);
    error DisputeCooldown(bytes32 numberKey, uint40 until);
    error UnknownDispute(uint256 id);
    error DisputeClosed(uint256 id, uint8 status);
    error VotingEnded(uint256 id, uint40 deadline);
    error NotEligibleArbiter(address account);
    error ArbiterFromFlaggingCountry(address arbiter, bytes2 country);
    error AlreadyVotedOnDispute(uint256 id, address arbiter);
    error DecisionPending(uint256 id, uint40 deadline);
    error RegulatorSeatTaken(uint256 id, address regulator);

    /// @param validatorSet_ The roles hub (relayer, arbiter, regulator roles; this contract needs
    ///        REGISTRY_WRITER_ROLE there).
    /// @param registry_ The records disputes apply to.
    constructor(ValidatorSet validatorSet_, SpamRegistry registry_) Governed(validatorSet_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
    }

    /// @notice Open a dispute against a key's current SPAM or SUSPICIOUS verdict (relayer only).
    /// @param numberKey Keyed hash of the disputed number.
    /// @param claimant Hash identifying the claimant (rate limiting; no personal data on-chain).
    /// @param evidenceCid IPFS CID of the claimant's evidence (1..128 bytes).
    /// @return id The dispute id (starting at 1).
    function openDispute(bytes32 numberKey, bytes32 claimant, string calldata evidenceCid)
        external
        returns (uint256 id)
    {
        if (!validatorSet.hasRole(RELAYER, msg.sender)) revert NotRelayer(msg.sender);
        if (claimant == bytes32(0)) revert EmptyClaimant();
        uint256 len = bytes(evidenceCid).length;
        if (len == 0 || len > LedgerTypes.MAX_CID_LENGTH) revert InvalidCid(len);
        SpamRegistry.Record memory rec = _disputable(numberKey, claimant);
        id = ++disputeCount;
        uint64 eligible = _eligibleWeight(rec.majorityCountry);
        uint40 deadline = uint40(block.timestamp) + voteWindow;
        _cases[id] = Case(
            numberKey, claimant, uint40(block.timestamp), deadline, STATUS_OPEN,
            rec.majorityCountry, rec.round, 0, 0, eligible, 0
        );
        _evidence[id] = evidenceCid;
        openDisputeOf[numberKey] = id;
        openCountOf[claimant] += 1;
        registry.setDisputeStatus(numberKey, LedgerTypes.DISPUTE_OPEN);
        emit DisputeOpened(id, numberKey, claimant, evidenceCid, rec.majorityCountry, rec.round, deadline, eligible);
    }

    /// @notice Vote on an open dispute as an eligible arbiter or a regulator.
    /// @param id The dispute.
    /// @param uphold True to uphold the claim (verdict becomes NOT_SPAM), false to reject it.
    function vote(uint256 id, bool uphold) external {
        Case storage c = _open(id);
        if (block.timestamp > c.deadline) revert VotingEnded(id, c.deadline);
        if (_voted[id][msg.sender]) revert AlreadyVotedOnDispute(id, msg.sender);
        (bytes2 country, uint32 weight) = _voterWeight(msg.sender, c.majorityCountry);
        if (country == bytes2(0)) {
            address taken = regulatorVoterOf[id];
            if (taken != address(0)) revert RegulatorSeatTaken(id, taken);
            regulatorVoterOf[id] = msg.sender;
        }
        _voted[id][msg.sender] = true;
        if (uphold) c.upholdWeight += weight;
        else c.rejectWeight += weight;
        c.voteCount += 1;
        emit DisputeVoteCast(id, c.numberKey, msg.sender, country, weight, uphold);
    }

    /// @notice Decide an open dispute when one side reached quorum, or settle it after the
    ///         deadline (decided by majority with quorum, else expired). Anyone may call.
    function resolve(uint256 id) external {
        Case storage c = _open(id);
        uint256 needed = uint256(quorumBps) * c.eligibleWeight;
        bool upholdQuorum = uint256(c.upholdWeight) * LedgerTypes.BPS >= needed;
        bool rejectQuorum = uint256(c.rejectWeight) * LedgerTypes.BPS >= needed;
        bool enoughVoters = c.voteCount >= MIN_VOTERS;
        if (block.timestamp <= c.deadline) {
            if ((!upholdQuorum && !rejectQuorum) || !enoughVoters) revert DecisionPending(id, c.deadline);
            _decide(id, c, upholdQuorum && c.upholdWeight > c.rejectWeight);
            return;
        }
        if (enoughVoters && uint256(c.upholdWeight + c.rejectWeight) * LedgerTypes.BPS >= needed) {
            _decide(id, c, c.upholdWeight > c.rejectWeight);
        } else {
            _close(c, STATUS_EXPIRED);
            registry.setDisputeStatus(c.numberKey, LedgerTypes.DISPUTE_EXPIRED);
            emit DisputeExpired(id, c.numberKey, c.upholdWeight, c.rejectWeight);
        }
    }

    // ------------------------------------------------------------------ governance

    /// @notice Set the voting window for disputes opened from now on (1 hour .. 90 days).
    function setVoteWindow(uint40 window) external onlyGovernance {
        if (window < 1 hours || window > 90 days) revert InvalidParameter("voteWindow", window);
        emit ParameterChanged("voteWindow", voteWindow, window);
        voteWindow = window;
    }

    /// @notice Set the lock applied by an upheld dispute (0 .. 3650 days).
    function setLockPeriod(uint40 period) external onlyGovernance {
        if (period > 3650 days) revert InvalidParameter("lockPeriod", period);
        emit ParameterChanged("lockPeriod", lockPeriod, period);
        lockPeriod = period;
    }

    /// @notice Set the cool-down between a decision and the next dispute of a number (<= 365 days).
    function setCooldown(uint40 period) external onlyGovernance {
        if (period > 365 days) revert InvalidParameter("cooldown", period);
        emit ParameterChanged("cooldown", cooldown, period);
        cooldown = period;
    }

    /// @notice Set the quorum, bps of eligible weight (1..10000).
    function setQuorumBps(uint16 bps) external onlyGovernance {
        if (bps == 0 || bps > LedgerTypes.BPS) revert InvalidParameter("quorumBps", bps);
        emit ParameterChanged("quorumBps", quorumBps, bps);
        quorumBps = bps;
    }

    /// @notice Set how many disputes one claimant may have open at once (>= 1).
    function setMaxOpenPerClaimant(uint16 max) external onlyGovernance {
        if (max == 0) revert InvalidParameter("maxOpenPerClaimant", max);
        emit ParameterChanged("maxOpenPerClaimant", maxOpenPerClaimant, max);
        maxOpenPerClaimant = max;
    }

    /// @notice Set a regulator vote's weight (0 .. ValidatorSet.MAX_WEIGHT; 0 = regulators can't vote).
    function setRegulatorWeight(uint32 weight) external onlyGovernance {
        if (weight > 1_000_000) revert InvalidParameter("regulatorWeight", weight);
        emit ParameterChanged("regulatorWeight", regulatorWeight, weight);
        regulatorWeight = weight;
    }

    // ------------------------------------------------------------------ views

    /// @notice The stored dispute (status 0 when unknown).
    function getDispute(uint256 id) external view returns (Case memory) {
        return _cases[id];
    }

    /// @notice The evidence CID of a dispute.
    function evidenceOf(uint256 id) external view returns (string memory) {
        return _evidence[id];
    }

    /// @notice True when `account` voted on dispute `id`.
    function hasVoted(uint256 id, address account) external view returns (bool) {
        return _voted[id][account];
    }

    /// @notice When `numberKey` can next be disputed after its last decision (0 = any time).
    function cooldownEndsAt(bytes32 numberKey) public view returns (uint40) {
        uint40 last = _lastDecidedAt[numberKey];
        return last == 0 ? 0 : last + cooldown;
    }

    // ------------------------------------------------------------------ internals

    function _disputable(bytes32 numberKey, bytes32 claimant) private view returns (SpamRegistry.Record memory rec) {
        uint256 openId = openDisputeOf[numberKey];
        if (openId != 0) revert DisputeAlreadyOpen(numberKey, openId);
        rec = registry.get(numberKey);
        bool flagged = rec.verdict == LedgerTypes.VERDICT_SPAM || rec.verdict == LedgerTypes.VERDICT_SUSPICIOUS;
        if (!flagged || rec.expiresAt <= block.timestamp) revert NothingToDispute(numberKey, rec.verdict);
        uint40 until = cooldownEndsAt(numberKey);
        if (until > block.timestamp) revert DisputeCooldown(numberKey, until);
        uint256 open = openCountOf[claimant];
        if (open >= maxOpenPerClaimant) revert ClaimantLimitReached(claimant, open);
    }

    function _eligibleWeight(bytes2 majorityCountry) private view returns (uint64) {
        uint256 w = validatorSet.totalArbiterWeight() - validatorSet.arbiterWeightOf(majorityCountry);
        return uint64(w + regulatorWeight);
    }

    function _voterWeight(address account, bytes2 majorityCountry) private view returns (bytes2, uint32) {
        (bytes2 country, uint32 weight) = validatorSet.arbiterOf(account);
        if (weight != 0) {
            if (country != majorityCountry) return (country, weight);
            if (!validatorSet.hasRole(REGULATOR, account)) revert ArbiterFromFlaggingCountry(account, country);
        }
        if (regulatorWeight != 0 && validatorSet.hasRole(REGULATOR, account)) return (bytes2(0), regulatorWeight);
        revert NotEligibleArbiter(account);
    }

    function _open(uint256 id) private view returns (Case storage c) {
        c = _cases[id];
        if (c.status == STATUS_NONE) revert UnknownDispute(id);
        if (c.status != STATUS_OPEN) revert DisputeClosed(id, c.status);
    }

    function _decide(uint256 id, Case storage c, bool upheld) private {
        uint40 lockedUntil;
        if (upheld) {
            _close(c, STATUS_UPHELD);
            lockedUntil = uint40(block.timestamp) + lockPeriod;
            registry.applyUpheld(c.numberKey, lockedUntil);
        } else {
            _close(c, STATUS_REJECTED);
            registry.setDisputeStatus(c.numberKey, LedgerTypes.DISPUTE_REJECTED);
        }
        emit DisputeDecided(id, c.numberKey, upheld, c.upholdWeight, c.rejectWeight, lockedUntil);
    }

    function _close(Case storage c, uint8 status) private {
        c.status = status;
        delete openDisputeOf[c.numberKey];
        openCountOf[c.claimant] -= 1;
        _lastDecidedAt[c.numberKey] = uint40(block.timestamp);
    }
}
