// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ValidatorSet} from "./ValidatorSet.sol";
import {Governed} from "./lib/Governed.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";

/// @title SpamRegistry
/// @notice The finalized reputation of each number key (HMAC-SHA256 keyed hash of the E.164
///         number), one storage slot per number. Only contracts holding REGISTRY_WRITER_ROLE in
///         the ValidatorSet (Consensus and Dispute) write it; anyone reads it.
/// @dev Expiry: `get`/`getBatch` return the stored record unchanged, carrying `expiresAt`;
///      callers compare it with the block time. `verdictOf`/`verdictsOf` give the effective
///      verdict: UNKNOWN when never finalized or expired.
contract SpamRegistry is Governed {
    /// @notice A finalized record: 240 bits, one storage slot.
    struct Record {
        uint16 score; // weighted score, basis points
        uint8 verdict; // LedgerTypes.VERDICT_*
        uint8 category; // LedgerTypes category code
        uint40 finalizedAt;
        uint40 expiresAt;
        uint64 round; // Consensus round that produced the record
        uint8 disputeStatus; // LedgerTypes.DISPUTE_*
        uint40 lockedUntil; // upheld dispute: no new round before this time
        bytes2 majorityCountry; // country that contributed most flagging weight ("" if none)
    }

    /// @notice Default time-to-live of a finalized record, in seconds (90 days).
    uint40 public recordTtl = 90 days;

    mapping(bytes32 => Record) private _records;

    event RecordFinalized(
        bytes32 indexed numberKey,
        uint64 indexed round,
        uint16 score,
        uint8 verdict,
        uint8 category,
        bytes2 majorityCountry,
        uint40 expiresAt
    );
    event DisputeStatusChanged(bytes32 indexed numberKey, uint8 status);
    event RecordOverturned(bytes32 indexed numberKey, uint8 previousVerdict, uint40 lockedUntil);

    error NotWriter(address account);
    error RecordLocked(bytes32 numberKey, uint40 lockedUntil);
    error DisputePending(bytes32 numberKey);
    error NoRecord(bytes32 numberKey);
    error InvalidVerdict(uint8 verdict);
    error InvalidCategory(uint8 category);
    error ScoreOutOfRange(uint16 score);
    error InvalidDisputeStatus(uint8 status);
    error BatchTooLarge(uint256 length, uint256 max);

    /// @notice Largest `getBatch`/`verdictsOf` request.
    uint256 public constant MAX_BATCH = 1000;

    modifier onlyWriter() {
        if (!validatorSet.hasRole(REGISTRY_WRITER, msg.sender)) revert NotWriter(msg.sender);
        _;
    }

    /// @param validatorSet_ The roles hub (governance and REGISTRY_WRITER_ROLE live there).
    constructor(ValidatorSet validatorSet_) Governed(validatorSet_) {}

    // ------------------------------------------------------------------ writes (writers only)

    /// @notice Store the outcome of a finalized round (Consensus).
    /// @dev Clears the dispute status of the previous record; refused while a dispute is open
    ///      or an upheld dispute's lock holds.
    function recordFinal(
        bytes32 numberKey,
        uint64 round,
        uint16 score,
        uint8 verdict,
        uint8 category,
        bytes2 majorityCountry
    ) external onlyWriter {
        if (score > LedgerTypes.SCORE_SCALE) revert ScoreOutOfRange(score);
        if (verdict > LedgerTypes.VERDICT_SPAM) revert InvalidVerdict(verdict);
        if (category > LedgerTypes.MAX_CATEGORY) revert InvalidCategory(category);
        Record storage r = _records[numberKey];
        if (r.lockedUntil > block.timestamp) revert RecordLocked(numberKey, r.lockedUntil);
        if (r.disputeStatus == LedgerTypes.DISPUTE_OPEN) revert DisputePending(numberKey);
        uint40 expiresAt = uint40(block.timestamp) + recordTtl;
        _records[numberKey] = Record(
            score, verdict, category, uint40(block.timestamp), expiresAt, round,
            LedgerTypes.DISPUTE_NONE, r.lockedUntil, majorityCountry
        );
        emit RecordFinalized(numberKey, round, score, verdict, category, majorityCountry, expiresAt);
    }

    /// @notice Set the dispute status of a record (Dispute): open, rejected or expired.
    function setDisputeStatus(bytes32 numberKey, uint8 status) external onlyWriter {
        if (status == LedgerTypes.DISPUTE_UPHELD || status > LedgerTypes.DISPUTE_EXPIRED) {
            revert InvalidDisputeStatus(status);
        }
        Record storage r = _records[numberKey];
        if (r.finalizedAt == 0) revert NoRecord(numberKey);
        r.disputeStatus = status;
        emit DisputeStatusChanged(numberKey, status);
    }

    /// @notice Apply an upheld dispute (Dispute): verdict NOT_SPAM, locked until `lockedUntil`.
    /// @dev The tally's score is kept for audit; the verdict is what callers act on. The record
    ///      does not expire before its lock ends.
    function applyUpheld(bytes32 numberKey, uint40 lockedUntil) external onlyWriter {
        Record storage r = _records[numberKey];
        if (r.finalizedAt == 0) revert NoRecord(numberKey);
        uint8 previous = r.verdict;
        r.verdict = LedgerTypes.VERDICT_NOT_SPAM;
        r.category = 0;
        r.disputeStatus = LedgerTypes.DISPUTE_UPHELD;
        r.lockedUntil = lockedUntil;
        if (r.expiresAt < lockedUntil) r.expiresAt = lockedUntil;
        emit DisputeStatusChanged(numberKey, LedgerTypes.DISPUTE_UPHELD);
        emit RecordOverturned(numberKey, previous, lockedUntil);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Set the time-to-live applied to records finalized from now on (1 day..10 years).
    function setRecordTtl(uint40 ttl) external onlyGovernance {
        if (ttl < 1 days || ttl > 3650 days) revert InvalidParameter("recordTtl", ttl);
        emit ParameterChanged("recordTtl", recordTtl, ttl);
        recordTtl = ttl;
    }

    // ------------------------------------------------------------------ reads

    /// @notice The stored record of `numberKey` (all zero when never finalized), expiry included.
    function get(bytes32 numberKey) external view returns (Record memory) {
        return _records[numberKey];
    }

    /// @notice The stored records of many keys, in order (at most MAX_BATCH).
    function getBatch(bytes32[] calldata numberKeys) external view returns (Record[] memory out) {
        uint256 n = numberKeys.length;
        if (n > MAX_BATCH) revert BatchTooLarge(n, MAX_BATCH);
        out = new Record[](n);
        for (uint256 i; i < n; ++i) out[i] = _records[numberKeys[i]];
    }

    /// @notice Effective verdict: UNKNOWN when never finalized or expired.
    function verdictOf(bytes32 numberKey) public view returns (uint8) {
        Record storage r = _records[numberKey];
        if (r.expiresAt <= block.timestamp) return LedgerTypes.VERDICT_UNKNOWN;
        return r.verdict;
    }

    /// @notice Effective verdicts of many keys, in order (at most MAX_BATCH).
    function verdictsOf(bytes32[] calldata numberKeys) external view returns (uint8[] memory out) {
        uint256 n = numberKeys.length;
        if (n > MAX_BATCH) revert BatchTooLarge(n, MAX_BATCH);
        out = new uint8[](n);
        for (uint256 i; i < n; ++i) out[i] = verdictOf(numberKeys[i]);
    }

    /// @notice True while an upheld dispute's lock holds: no new consensus round may open.
    function isLocked(bytes32 numberKey) external view returns (bool) {
        return _records[numberKey].lockedUntil > block.timestamp;
    }
}
