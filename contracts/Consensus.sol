// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ValidatorSet} from "./ValidatorSet.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {SpamRegistry} from "./SpamRegistry.sol";
import {Governed} from "./lib/Governed.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";

/// @title Consensus
/// @notice Weighted cross-country voting on one number key at a time. A validator opens a round;
///         validators sign EIP-712 `ScoreVote`s that anyone submits (alone or in bundles); every
///         signature is verified here, each validator counts once per round, and the contract
///         computes the weighted score and verdict itself, then writes SpamRegistry.
/// @dev Tally rules (recomputable from `VoteCast` events):
///      score = floor(sum(weight*score) / sum(weight)) over non-abstaining votes;
///      verdict = SPAM if score >= spamBps, SUSPICIOUS if >= suspiciousBps, else NOT_SPAM, using
///      the number's country thresholds; UNKNOWN when every vote abstained;
///      category = the category with the largest summed weight among non-abstaining votes
///      (ties: lowest code), forced to NONE when the verdict is NOT_SPAM or UNKNOWN;
///      majorityCountry = the voter country with the largest summed weight among flagging
///      votes (non-abstaining, score >= suspiciousBps; ties: the country reaching it first).
///      Quorum: participating weight (abstentions included) * 10000 >= quorumBps * total active
///      weight at finalization time.
contract Consensus is Governed, EIP712 {
    /// @notice EIP-712 type hash of ScoreVote (see the type string below).
    bytes32 public constant SCORE_VOTE_TYPEHASH = keccak256(
        "ScoreVote(bytes32 numberKey,uint64 round,uint16 score,uint16 confidence,uint8 category,bool abstain,bytes32 modelHash,string evidenceCid,uint64 deadline)"
    );

    uint8 public constant ROUND_NONE = 0;
    uint8 public constant ROUND_OPEN = 1;
    uint8 public constant ROUND_FINALIZED = 2;
    uint8 public constant ROUND_EXPIRED = 3;

    /// @notice Largest number of votes in one `castVotes` bundle.
    uint256 public constant MAX_BUNDLE = 64;

    /// @notice A validator's signed vote (EIP-712 typed data, domain "SpamLedger" version "1").
    struct ScoreVote {
        bytes32 numberKey;
        uint64 round;
        uint16 score;
        uint16 confidence;
        uint8 category;
        bool abstain;
        bytes32 modelHash;
        string evidenceCid;
        uint64 deadline;
    }

    /// @notice The current round of a key. One storage slot.
    struct Round {
        uint64 id;
        uint40 openedAt;
        uint40 deadline;
        uint8 status;
        bytes2 country; // country of the number: picks the verdict thresholds
        bytes2 majorityCountry; // running leader of flagging weight
        uint16 voteCount;
    }

    /// @notice Running sums of the current round. One storage slot.
    struct Tally {
        uint64 participatingWeight; // all votes, abstentions included
        uint64 scoringWeight; // non-abstaining votes
        uint128 weightedScoreSum; // sum(weight * score) over non-abstaining votes
    }

    /// @notice Verdict thresholds of a country, basis points. One storage slot.
    struct Thresholds {
        uint16 spamBps;
        uint16 suspiciousBps;
        bool set;
    }

    ModelRegistry public immutable modelRegistry;
    SpamRegistry public immutable registry;

    /// @notice Participation (bps of total active weight) that lets anyone finalize early.
    uint16 public quorumBps = 6667;
    /// @notice Participation (bps) a round needs at its deadline to finalize instead of expire.
    uint16 public minParticipationBps = 5000;
    /// @notice Seconds a round accepts votes.
    uint40 public roundDuration = 1 days;
    /// @notice Thresholds for countries without their own.
    Thresholds public defaultThresholds = Thresholds(7000, 4000, true);

    mapping(bytes32 => Round) private _rounds;
    mapping(bytes32 => Tally) private _tallies;
    mapping(bytes2 => Thresholds) private _thresholds;
    // Keyed by keccak256(numberKey, roundId) so a new round starts clean without deletes.
    mapping(bytes32 => mapping(address => bool)) private _voted;
    // uint32 per category keeps all eight in one slot: 256 validators x MAX_WEIGHT < 2^32.
    mapping(bytes32 => uint32[8]) private _categoryWeight;
    mapping(bytes32 => mapping(bytes2 => uint64)) private _flagWeight;

    event RoundOpened(
        bytes32 indexed numberKey, uint64 indexed round, bytes2 country, address indexed opener, uint40 deadline
    );
    event VoteCast(
        bytes32 indexed numberKey,
        uint64 indexed round,
        address indexed validator,
        bytes2 country,
        uint32 weight,
        uint16 score,
        uint16 confidence,
        uint8 category,
        bool abstain,
        bytes32 modelHash,
        string evidenceCid
    );
    event RoundFinalized(
        bytes32 indexed numberKey,
        uint64 indexed round,
        uint16 score,
        uint8 verdict,
        uint8 category,
        uint64 totalWeight,
        uint16 voteCount
    );
    event RoundExpired(bytes32 indexed numberKey, uint64 indexed round, uint64 participatingWeight, uint16 voteCount);
    event ThresholdsChanged(bytes2 indexed country, uint16 spamBps, uint16 suspiciousBps);

    error InvalidCountry(bytes2 country);
    error RoundAlreadyOpen(bytes32 numberKey, uint64 round);
    error NoOpenRound(bytes32 numberKey);
    error RoundRecordLocked(bytes32 numberKey);
    error RoundDisputePending(bytes32 numberKey);
    error WrongRound(bytes32 numberKey, uint64 expected, uint64 given);
    error RoundDeadlinePassed(bytes32 numberKey, uint64 round, uint40 deadline);
    error VoteExpired(uint64 deadline);
    error ScoreOutOfRange(uint16 score);
    error ConfidenceOutOfRange(uint16 confidence);
    error InvalidCategory(uint8 category);
    error InvalidCid(uint256 length);
    error InvalidSignature();
    error AlreadyVoted(bytes32 numberKey, uint64 round, address validator);
    error ModelNotApproved(bytes32 modelHash);
    error LengthMismatch(uint256 votes, uint256 signatures);
    error EmptyBundle();
    error BundleTooLarge(uint256 length, uint256 max);
    error QuorumNotReached(bytes32 numberKey, uint64 participatingWeight, uint256 needed);
    error InvalidThresholds(uint16 spamBps, uint16 suspiciousBps);

    /// @param validatorSet_ The roles hub.
    /// @param modelRegistry_ Models votes may name.
    /// @param registry_ Where finalized records go (this contract needs REGISTRY_WRITER_ROLE).
    constructor(ValidatorSet validatorSet_, ModelRegistry modelRegistry_, SpamRegistry registry_)
        Governed(validatorSet_)
        EIP712("SpamLedger", "1")
    {
        if (address(modelRegistry_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        modelRegistry = modelRegistry_;
        registry = registry_;
    }

    // ------------------------------------------------------------------ rounds

    /// @notice Open the next round for `numberKey`; the caller must be an active validator.
    /// @param numberKey Keyed hash of the E.164 number.
    /// @param country ISO alpha-2 country of the number (selects verdict thresholds).
    /// @return round The new round id (1 for the first round of a key).
    function openRound(bytes32 numberKey, bytes2 country) external returns (uint64 round) {
        if (!validatorSet.isValidator(msg.sender)) revert NotValidator(msg.sender);
        if (!LedgerTypes.isCountry(country)) revert InvalidCountry(country);
        Round storage r = _rounds[numberKey];
        if (r.status == ROUND_OPEN) revert RoundAlreadyOpen(numberKey, r.id);
        SpamRegistry.Record memory rec = registry.get(numberKey);
        if (rec.lockedUntil > block.timestamp) revert RoundRecordLocked(numberKey);
        if (rec.disputeStatus == LedgerTypes.DISPUTE_OPEN) revert RoundDisputePending(numberKey);
        round = r.id + 1;
        uint40 deadline = uint40(block.timestamp) + roundDuration;
        _rounds[numberKey] = Round(round, uint40(block.timestamp), deadline, ROUND_OPEN, country, bytes2(0), 0);
        delete _tallies[numberKey];
        emit RoundOpened(numberKey, round, country, msg.sender, deadline);
    }

    /// @notice Count one signed vote; anyone may submit it (the signature names the validator).
    /// @param vote The ScoreVote the validator signed.
    /// @param signature 65-byte ECDSA signature over `hashVote(vote)`.
    function castVote(ScoreVote calldata vote, bytes calldata signature) external {
        _cast(vote, signature);
    }

    /// @notice Count a bundle of signed votes in one transaction; atomic (any bad vote reverts all).
    /// @param votes The votes, possibly for different keys.
    /// @param signatures One signature per vote, same order.
    function castVotes(ScoreVote[] calldata votes, bytes[] calldata signatures) external {
        uint256 n = votes.length;
        if (n == 0) revert EmptyBundle();
        if (n > MAX_BUNDLE) revert BundleTooLarge(n, MAX_BUNDLE);
        if (n != signatures.length) revert LengthMismatch(n, signatures.length);
        for (uint256 i; i < n; ++i) _cast(votes[i], signatures[i]);
    }

    /// @notice Finalize the open round of `numberKey`: early once quorum is reached, or after the
    ///         deadline if participation met the minimum (otherwise the round expires).
    /// @dev Anyone may call. A round whose record got locked by an upheld dispute expires.
    function finalize(bytes32 numberKey) external {
        Round storage r = _rounds[numberKey];
        if (r.status != ROUND_OPEN) revert NoOpenRound(numberKey);
        Tally memory t = _tallies[numberKey];
        uint256 total = validatorSet.totalActiveWeight();
        bool pastDeadline = block.timestamp > r.deadline;
        bool quorum = uint256(t.participatingWeight) * LedgerTypes.BPS >= uint256(quorumBps) * total;
        if (!pastDeadline && !quorum) {
            revert QuorumNotReached(numberKey, t.participatingWeight, _needed(quorumBps, total));
        }
        bool enough = quorum || uint256(t.participatingWeight) * LedgerTypes.BPS >= uint256(minParticipationBps) * total;
        SpamRegistry.Record memory rec = registry.get(numberKey);
        if (!enough || rec.lockedUntil > block.timestamp) {
            r.status = ROUND_EXPIRED;
            emit RoundExpired(numberKey, r.id, t.participatingWeight, r.voteCount);
            return;
        }
        if (rec.disputeStatus == LedgerTypes.DISPUTE_OPEN) revert RoundDisputePending(numberKey);
        r.status = ROUND_FINALIZED;
        _finalize(numberKey, r, t);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Set the early-finalization quorum, bps of total active weight (1..10000).
    function setQuorumBps(uint16 bps) external onlyGovernance {
        if (bps == 0 || bps > LedgerTypes.BPS) revert InvalidParameter("quorumBps", bps);
        emit ParameterChanged("quorumBps", quorumBps, bps);
        quorumBps = bps;
    }

    /// @notice Set the participation needed at the deadline, bps of total active weight (1..10000).
    function setMinParticipationBps(uint16 bps) external onlyGovernance {
        if (bps == 0 || bps > LedgerTypes.BPS) revert InvalidParameter("minParticipationBps", bps);
        emit ParameterChanged("minParticipationBps", minParticipationBps, bps);
        minParticipationBps = bps;
    }

    /// @notice Set how long new rounds accept votes (60 s .. 365 days).
    function setRoundDuration(uint40 duration) external onlyGovernance {
        if (duration < 60 || duration > 365 days) revert InvalidParameter("roundDuration", duration);
        emit ParameterChanged("roundDuration", roundDuration, duration);
        roundDuration = duration;
    }

    /// @notice Set a country's verdict thresholds (suspiciousBps <= spamBps <= 10000);
    ///         country 0x0000 sets the default used by countries without their own.
    function setThresholds(bytes2 country, uint16 spamBps, uint16 suspiciousBps) external onlyGovernance {
        if (spamBps > LedgerTypes.BPS || suspiciousBps > spamBps || suspiciousBps == 0) {
            revert InvalidThresholds(spamBps, suspiciousBps);
        }
        if (country == bytes2(0)) {
            defaultThresholds = Thresholds(spamBps, suspiciousBps, true);
        } else {
            if (!LedgerTypes.isCountry(country)) revert InvalidCountry(country);
            _thresholds[country] = Thresholds(spamBps, suspiciousBps, true);
        }
        emit ThresholdsChanged(country, spamBps, suspiciousBps);
    }

    // ------------------------------------------------------------------ views

    /// @notice The full EIP-712 digest a validator signs for `vote` (domain of this contract).
    function hashVote(ScoreVote calldata vote) public view returns (bytes32) {
        return _hashTypedDataV4(_structHash(vote));
    }

    /// @notice The EIP-712 domain separator (chain id and this contract's address bound in).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The current (latest) round of `numberKey`.
    function currentRound(bytes32 numberKey) external view returns (Round memory) {
        return _rounds[numberKey];
    }

    /// @notice The running tally of the current round of `numberKey`.
    function tallyOf(bytes32 numberKey) external view returns (Tally memory) {
        return _tallies[numberKey];
    }

    /// @notice Summed weight per category (index = category code) of a round's scoring votes.
    function categoryWeights(bytes32 numberKey, uint64 round) external view returns (uint64[8] memory out) {
        uint32[8] storage w = _categoryWeight[_roundKey(numberKey, round)];
        for (uint256 c; c < LedgerTypes.CATEGORY_COUNT; ++c) out[c] = w[c];
    }

    /// @notice True when `validator` has been counted in round `round` of `numberKey`.
    function hasVoted(bytes32 numberKey, uint64 round, address validator) external view returns (bool) {
        return _voted[_roundKey(numberKey, round)][validator];
    }

    /// @notice The thresholds applied to numbers of `country` (its own or the default).
    function thresholdsOf(bytes2 country) public view returns (uint16 spamBps, uint16 suspiciousBps) {
        Thresholds memory t = _thresholds[country];
        if (!t.set) t = defaultThresholds;
        return (t.spamBps, t.suspiciousBps);
    }

    /// @notice Verdict for `score` under `country`'s thresholds.
    function verdictFor(bytes2 country, uint16 score) public view returns (uint8) {
        (uint16 spamBps, uint16 suspiciousBps) = thresholdsOf(country);
        if (score >= spamBps) return LedgerTypes.VERDICT_SPAM;
        if (score >= suspiciousBps) return LedgerTypes.VERDICT_SUSPICIOUS;
        return LedgerTypes.VERDICT_NOT_SPAM;
    }

    // ------------------------------------------------------------------ internals

    function _cast(ScoreVote calldata vote, bytes calldata signature) private {
        _checkFields(vote);
        Round storage r = _rounds[vote.numberKey];
        if (r.status != ROUND_OPEN) revert NoOpenRound(vote.numberKey);
        if (vote.round != r.id) revert WrongRound(vote.numberKey, r.id, vote.round);
        if (block.timestamp > r.deadline) revert RoundDeadlinePassed(vote.numberKey, r.id, r.deadline);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hashVote(vote), signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        (bytes2 country, uint32 weight) = validatorSet.activeValidator(signer);
        if (weight == 0) revert NotValidator(signer);
        bytes32 rk = _roundKey(vote.numberKey, vote.round);
        if (_voted[rk][signer]) revert AlreadyVoted(vote.numberKey, vote.round, signer);
        _voted[rk][signer] = true;
        _count(vote, r, rk, country, weight);
        _emitVote(vote, signer, country, weight);
    }

    function _checkFields(ScoreVote calldata vote) private view {
        if (vote.deadline < block.timestamp) revert VoteExpired(vote.deadline);
        if (vote.score > LedgerTypes.SCORE_SCALE) revert ScoreOutOfRange(vote.score);
        if (vote.confidence > LedgerTypes.SCORE_SCALE) revert ConfidenceOutOfRange(vote.confidence);
        if (vote.category > LedgerTypes.MAX_CATEGORY) revert InvalidCategory(vote.category);
        uint256 len = bytes(vote.evidenceCid).length;
        if (len > LedgerTypes.MAX_CID_LENGTH) revert InvalidCid(len);
        // Abstaining validators score nothing, so they need not name an approved model.
        if (!vote.abstain && !modelRegistry.isApproved(vote.modelHash)) revert ModelNotApproved(vote.modelHash);
    }

    function _count(ScoreVote calldata vote, Round storage r, bytes32 rk, bytes2 country, uint32 weight) private {
        Tally storage t = _tallies[vote.numberKey];
        t.participatingWeight += weight;
        r.voteCount += 1;
        if (vote.abstain) return;
        t.scoringWeight += weight;
        t.weightedScoreSum += uint128(weight) * vote.score;
        _categoryWeight[rk][vote.category] += weight;
        (, uint16 suspiciousBps) = thresholdsOf(r.country);
        if (vote.score < suspiciousBps) return;
        uint64 w = _flagWeight[rk][country] + weight;
        _flagWeight[rk][country] = w;
        if (country != r.majorityCountry && w > _flagWeight[rk][r.majorityCountry]) r.majorityCountry = country;
    }

    function _emitVote(ScoreVote calldata vote, address signer, bytes2 country, uint32 weight) private {
        emit VoteCast(
            vote.numberKey, vote.round, signer, country, weight, vote.score, vote.confidence,
            vote.category, vote.abstain, vote.modelHash, vote.evidenceCid
        );
    }

    function _finalize(bytes32 numberKey, Round storage r, Tally memory t) private {
        uint16 score;
        uint8 verdict;
        uint8 category;
        if (t.scoringWeight > 0) {
            score = uint16(t.weightedScoreSum / t.scoringWeight);
            verdict = verdictFor(r.country, score);
            if (verdict != LedgerTypes.VERDICT_NOT_SPAM) category = _topCategory(_roundKey(numberKey, r.id));
        }
        registry.recordFinal(numberKey, r.id, score, verdict, category, r.majorityCountry);
        emit RoundFinalized(numberKey, r.id, score, verdict, category, t.participatingWeight, r.voteCount);
    }

    function _topCategory(bytes32 rk) private view returns (uint8 best) {
        uint32[8] memory w = _categoryWeight[rk];
        uint32 bestWeight;
        for (uint8 c; c < LedgerTypes.CATEGORY_COUNT; ++c) {
            uint32 x = w[c];
            if (x > bestWeight) (best, bestWeight) = (c, x);
        }
    }

    function _structHash(ScoreVote calldata vote) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                SCORE_VOTE_TYPEHASH,
                vote.numberKey,
                vote.round,
                vote.score,
                vote.confidence,
                vote.category,
                vote.abstain,
                vote.modelHash,
                keccak256(bytes(vote.evidenceCid)),
                vote.deadline
            )
        );
    }

    function _roundKey(bytes32 numberKey, uint64 round) private pure returns (bytes32) {
        return keccak256(abi.encode(numberKey, round));
    }

    function _needed(uint16 bps, uint256 total) private pure returns (uint256) {
        return (uint256(bps) * total + LedgerTypes.BPS - 1) / LedgerTypes.BPS;
    }
}
