// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ValidatorSet} from "./ValidatorSet.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {SpamRegistry} from "./SpamRegistry.sol";
import {Governed} from "./lib/Governed.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";
import {TallyRules} from "./lib/TallyRules.sol";

/// @title Consensus
/// @notice Weighted cross-country voting on one number key at a time. A validator opens a round
///         naming the number's country; validators sign EIP-712 `ScoreVote`s (the number's
///         country inside) that anyone submits, alone or in bundles; every signature is verified
///         here, each validator counts once per round (one seat bit), and the contract computes
///         the weighted score and verdict itself, then writes SpamRegistry.
/// @dev Tally rules (recomputable from `RoundOpened`, `VoteCast` and `VoteContested` events):
///      eligible weight = total active weight when the round opened (in `RoundOpened`); only a
///      validator whose standing (`ValidatorSet.since`) has not changed since the opening votes;
///      a vote signing another country than the round's is not counted but contests it
///      (`VoteContested`); score = floor(sum(weight*score) / sum(weight)) over counted
///      non-abstaining votes; verdict = SPAM if score >= spamBps, SUSPICIOUS if >= suspiciousBps,
///      else NOT_SPAM, by the round country's thresholds; flagging votes = non-abstaining with
///      score >= suspiciousBps (thresholds when counted); category = the category with the largest
///      summed weight among non-abstaining votes (ties: lowest code), NONE for NOT_SPAM;
///      majorityCountry = the voter country with the largest summed flagging weight (ties: the
///      country reaching it first).
///      Quorum: (counted + contesting weight) * 10000 >= quorumBps * eligible weight.
///      A round expires instead of finalizing (`RoundNoConsensus` says why) when participation
///      at the deadline is below minParticipationBps, the record got locked, contesting weight
///      is at least the counted weight, no vote scored, or the weight on the verdict's side
///      (flagging for SPAM/SUSPICIOUS, non-flagging for NOT_SPAM) is below minVerdictShareBps
///      of the eligible weight: abstentions never hand a verdict to a minority.
///      Every decision from the sums is taken in `lib/TallyRules.sol`, shared with the report
///      path (`ReportConsensus`), which reads this contract's parameters and thresholds.
///      Storage: a key keeps one header slot; an open round's sums, seats, categories and flags
///      live in a pool entry that closing hands to the next round opened (see the storage notes
///      below and contracts/README.md), so only the open round's seats and sums are readable.
contract Consensus is Governed, EIP712 {
    /// @notice EIP-712 type hash of ScoreVote (see the type string below).
    bytes32 public constant SCORE_VOTE_TYPEHASH = keccak256(
        "ScoreVote(bytes32 numberKey,bytes2 country,uint64 round,uint16 score,uint16 confidence,uint8 category,bool abstain,bytes32 modelHash,string evidenceCid,uint64 deadline)"
    );

    uint8 public constant ROUND_NONE = 0;
    uint8 public constant ROUND_OPEN = 1;
    uint8 public constant ROUND_FINALIZED = 2;
    uint8 public constant ROUND_EXPIRED = 3;

    /// Why a round expired (`RoundNoConsensus.reason`).
    uint8 public constant NO_CONSENSUS_PARTICIPATION = TallyRules.NO_CONSENSUS_PARTICIPATION;
    uint8 public constant NO_CONSENSUS_LOCKED = TallyRules.NO_CONSENSUS_LOCKED;
    uint8 public constant NO_CONSENSUS_COUNTRY_CONTESTED = TallyRules.NO_CONSENSUS_COUNTRY_CONTESTED;
    uint8 public constant NO_CONSENSUS_NO_SCORES = TallyRules.NO_CONSENSUS_NO_SCORES;
    uint8 public constant NO_CONSENSUS_VERDICT_SHARE = TallyRules.NO_CONSENSUS_VERDICT_SHARE;

    /// Why a bundle skipped a vote (`VoteSkipped.reason`); a single `castVote` reverts instead.
    uint8 public constant SKIP_ALREADY_COUNTED = 1;
    uint8 public constant SKIP_ROUND_CLOSED = 2;
    uint8 public constant SKIP_NOT_ELIGIBLE = 3;

    /// Why `openRounds` skipped a key (`OpenSkipped.reason`); `openRound` reverts instead.
    uint8 public constant OPEN_SKIP_ALREADY_OPEN = 1;
    uint8 public constant OPEN_SKIP_LOCKED = 2;
    uint8 public constant OPEN_SKIP_DISPUTE_PENDING = 3;

    /// Why `finalizeMany` skipped a key (`FinalizeSkipped.reason`); `finalize` reverts instead.
    uint8 public constant FINALIZE_SKIP_NO_OPEN_ROUND = 1;
    uint8 public constant FINALIZE_SKIP_QUORUM_NOT_REACHED = 2;
    uint8 public constant FINALIZE_SKIP_DISPUTE_PENDING = 3;

    /// @notice Largest number of votes in one `castVotes` bundle, and of keys in one
    ///         `openRounds` or `finalizeMany` batch.
    uint256 public constant MAX_BUNDLE = 64;

    /// @notice A validator's signed vote (EIP-712 typed data, domain "SpamLedger" version "1").
    struct ScoreVote {
        bytes32 numberKey;
        bytes2 country; // the number's country as the signer knows it
        uint64 round;
        uint16 score;
        uint16 confidence;
        uint8 category;
        bool abstain;
        bytes32 modelHash;
        string evidenceCid;
        uint64 deadline;
    }

    /// @notice The current round of a key, as `currentRound` returns it.
    struct Round {
        uint64 id;
        uint40 openedAt;
        uint40 deadline;
        uint8 status;
        bytes2 country; // country of the number: picks the verdict thresholds
        bytes2 majorityCountry; // running leader of flagging weight
        uint16 voteCount; // counted votes (contesting ones excluded)
        uint32 eligibleWeight; // total active weight at opening: the quorum's denominator
    }

    /// @notice Running sums of a round, as `tallyOf` returns them.
    struct Tally {
        uint32 participatingWeight; // counted votes, abstentions included
        uint32 scoringWeight; // non-abstaining votes
        uint32 flaggingWeight; // non-abstaining votes with score >= suspiciousBps
        uint32 contestWeight; // votes that signed another country than the round's
        uint64 weightedScoreSum; // sum(weight * score) over non-abstaining votes
        uint64 round; // the round these sums belong to
    }

    /// @notice Verdict thresholds of a country, basis points. One storage slot.
    struct Thresholds {
        uint16 spamBps;
        uint16 suspiciousBps;
        bool set;
    }

    ModelRegistry public immutable modelRegistry;
    SpamRegistry public immutable registry;

    /// @notice Participation (bps of the round's eligible weight) that lets anyone finalize early.
    uint16 public quorumBps = 6667;
    /// @notice Participation (bps) a round needs at its deadline to finalize instead of expire.
    uint16 public minParticipationBps = 5000;
    /// @notice Weight on the verdict's side a verdict needs, bps of the round's eligible weight.
    uint16 public minVerdictShareBps = 2500;
    /// @notice Seconds a round accepts votes.
    uint40 public roundDuration = 1 days;
    // Round pool bookkeeping, packed beside the parameters above (one slot, read anyway): the
    // first free entry (0: none; each free entry's Live slot names the next) and entries created.
    uint24 private _freeHead;
    uint24 private _poolSize;
    /// @notice Thresholds for countries without their own.
    Thresholds public defaultThresholds = Thresholds(7000, 4000, true);

    /// @dev A key's round header: one slot, written at opening and at closing, only read by
    ///      votes. While the round is open `aux` names its pool entry and the live vote count
    ///      and majority country are in that entry; once closed, `aux` keeps the round's
    ///      participating weight and `voteCount`/`majorityCountry` its final figures.
    struct RoundSlot {
        uint48 id;
        uint40 openedAt;
        uint40 deadline;
        uint8 status;
        bytes2 country;
        bytes2 majorityCountry;
        uint16 voteCount;
        uint32 eligibleWeight;
        uint32 aux;
    }

    /// @dev Running sums of an open round, in its pool entry. One slot.
    struct Live {
        uint32 participatingWeight;
        uint32 scoringWeight;
        uint32 flaggingWeight;
        uint32 contestWeight;
        uint64 weightedScoreSum;
        uint16 voteCount;
        bytes2 majorityCountry;
        uint8 bits; // LIVE_OPEN always (never zero); LIVE_* once a scratch slot holds this round
        uint24 nextFree; // while the entry is free: the next free entry (0: none)
    }

    mapping(bytes32 => RoundSlot) private _rounds;
    mapping(bytes2 => Thresholds) private _thresholds;
    // The round pool. An open round holds one entry (four slots); closing it puts the entry at
    // the head of the free list and the next opening takes it back. Its slots are therefore rewritten
    // nonzero-to-nonzero (5,000 gas) instead of created (22,100 gas) for every round, and a
    // scratch slot left over from an earlier round reads as zero until this round's first write
    // (its LIVE_* bit), so opening a round resets only the Live slot.
    mapping(uint256 => Live) private _live;
    // Entry's eight 28-bit category weights (256 x MAX_WEIGHT < 2^28) in bits 0..223 and the
    // seat bits of seats 0..31 in bits 224..255: a consortium of up to 32 validators touches
    // one slot for its seat and its category.
    mapping(uint256 => uint256) private _catSeats;
    // Entry's seat bits of seats 32..255 (bit = seat).
    mapping(uint256 => uint256) private _seatsHigh;
    // Entry's up to five (country, 32-bit flagging weight) pairs, 48 bits each; a sixth flagging
    // country goes to _flagOverflow, keyed by (numberKey, round) so it is never stale.
    mapping(uint256 => uint256) private _flags;
    mapping(bytes32 => mapping(bytes2 => uint64)) private _flagOverflow;

    event RoundOpened(
        bytes32 indexed numberKey, uint64 indexed round, bytes2 country, address indexed opener, uint40 deadline
    );
    /// @notice The weight that could vote in a round (its quorum denominator), fixed at opening.
    event RoundEligibleWeight(bytes32 indexed numberKey, uint64 indexed round, uint32 eligibleWeight);
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
    /// @notice A vote signed for another country than the round's: not counted, it contests
    ///         the round's country with the signer's weight.
    event VoteContested(
        bytes32 indexed numberKey, uint64 indexed round, address indexed validator, bytes2 signedCountry, uint32 weight
    );
    /// @notice A bundle left out a vote the chain's state no longer admits (see SKIP_*).
    event VoteSkipped(bytes32 indexed numberKey, uint64 indexed round, address indexed validator, uint8 reason);
    /// @notice Outcome of one `castVotes` bundle.
    event BundleCounted(address indexed submitter, uint16 counted, uint16 skipped);
    /// @notice `openRounds` left out a key (OPEN_SKIP_*); `round` is the key's current round.
    event OpenSkipped(bytes32 indexed numberKey, uint64 indexed round, uint8 reason);
    /// @notice Outcome of one `openRounds` batch.
    event RoundsOpened(address indexed opener, uint16 opened, uint16 skipped);
    /// @notice `finalizeMany` left out a key (FINALIZE_SKIP_*); `round` is the key's current round.
    event FinalizeSkipped(bytes32 indexed numberKey, uint64 indexed round, uint8 reason);
    /// @notice Outcome of one `finalizeMany` batch.
    event RoundsClosed(address indexed submitter, uint16 finalized, uint16 expired, uint16 skipped);
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
    /// @notice Emitted with `RoundExpired`: why the round reached no verdict (NO_CONSENSUS_*).
    event RoundNoConsensus(bytes32 indexed numberKey, uint64 indexed round, uint8 reason);
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
    error NotEligibleInRound(bytes32 numberKey, uint64 round, address validator);
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
    /// @dev The country is the opener's claim only: votes sign the country they know, and votes
    ///      for another country contest the round (a contested round expires and can reopen).
    /// @param numberKey Keyed hash of the E.164 number.
    /// @param country ISO alpha-2 country of the number (selects verdict thresholds).
    /// @return round The new round id (1 for the first round of a key).
    function openRound(bytes32 numberKey, bytes2 country) external returns (uint64 round) {
        if (!validatorSet.isValidator(msg.sender)) revert NotValidator(msg.sender);
        if (!LedgerTypes.isCountry(country)) revert InvalidCountry(country);
        uint8 refused;
        (round, refused) = _open(numberKey, country, uint32(validatorSet.totalActiveWeight()), roundDuration);
        if (refused == OPEN_SKIP_ALREADY_OPEN) revert RoundAlreadyOpen(numberKey, round);
        if (refused == OPEN_SKIP_LOCKED) revert RoundRecordLocked(numberKey);
        if (refused == OPEN_SKIP_DISPUTE_PENDING) revert RoundDisputePending(numberKey);
    }

    /// @notice Open the next round of each of `numberKeys` in one transaction (one transaction
    ///         base for the batch instead of one per number); the caller must be an active
    ///         validator. A malformed country reverts the whole batch; a key the chain's state
    ///         does not admit (a round open already, e.g. opened first by someone else or twice
    ///         in this batch; record locked; dispute pending) is skipped with `OpenSkipped`, and
    ///         `RoundsOpened` reports the outcome. Each opened round emits `RoundOpened` and
    ///         `RoundEligibleWeight` exactly as `openRound` does.
    /// @param numberKeys Keyed hashes of the E.164 numbers (at most `MAX_BUNDLE`).
    /// @param countries ISO alpha-2 country of each number, same order.
    /// @return opened How many rounds were opened (the rest were skipped).
    function openRounds(bytes32[] calldata numberKeys, bytes2[] calldata countries)
        external
        returns (uint256 opened)
    {
        if (!validatorSet.isValidator(msg.sender)) revert NotValidator(msg.sender);
        uint256 n = numberKeys.length;
        if (n == 0) revert EmptyBundle();
        if (n > MAX_BUNDLE) revert BundleTooLarge(n, MAX_BUNDLE);
        if (n != countries.length) revert LengthMismatch(n, countries.length);
        // Read once: nothing in this transaction changes the active weight or the duration.
        uint32 eligible = uint32(validatorSet.totalActiveWeight());
        uint40 duration = roundDuration;
        for (uint256 i; i < n; ++i) {
            if (!LedgerTypes.isCountry(countries[i])) revert InvalidCountry(countries[i]);
            (uint64 round, uint8 refused) = _open(numberKeys[i], countries[i], eligible, duration);
            if (refused == 0) ++opened;
            else emit OpenSkipped(numberKeys[i], round, refused);
        }
        emit RoundsOpened(msg.sender, uint16(opened), uint16(n - opened));
    }

    /// @notice Count one signed vote; anyone may submit it (the signature names the validator).
    /// @param vote The ScoreVote the validator signed.
    /// @param signature 65-byte ECDSA signature over `hashVote(vote)`.
    function castVote(ScoreVote calldata vote, bytes calldata signature) external {
        Voter memory cache;
        _cast(vote, signature, false, cache);
    }

    /// @notice Count a bundle of signed votes in one transaction. A malformed vote or signature
    ///         reverts the whole bundle; a vote the chain's state no longer admits (counted
    ///         already, e.g. relayed first by someone else; round closed; signer not eligible)
    ///         is skipped with `VoteSkipped`, and `BundleCounted` reports the outcome.
    /// @param votes The votes, possibly for different keys.
    /// @param signatures One signature per vote, same order.
    function castVotes(ScoreVote[] calldata votes, bytes[] calldata signatures) external {
        uint256 n = votes.length;
        if (n == 0) revert EmptyBundle();
        if (n > MAX_BUNDLE) revert BundleTooLarge(n, MAX_BUNDLE);
        if (n != signatures.length) revert LengthMismatch(n, signatures.length);
        uint256 counted;
        // A bundle is usually one validator's votes: its standing and model approval are read
        // once (nothing in this transaction can change them between two votes).
        Voter memory cache;
        for (uint256 i; i < n; ++i) {
            if (_cast(votes[i], signatures[i], true, cache)) ++counted;
        }
        emit BundleCounted(msg.sender, uint16(counted), uint16(n - counted));
    }

    /// @notice Finalize the open round of `numberKey`: early once quorum is reached, or after the
    ///         deadline; it expires instead when it reached no consensus (see the contract notes).
    /// @dev Anyone may call.
    function finalize(bytes32 numberKey) external {
        _settle(numberKey, false);
    }

    /// @notice Close the open round of each of `numberKeys` in one transaction, by the same
    ///         rules as `finalize` (each round finalizes, or expires with `RoundExpired` and
    ///         `RoundNoConsensus`). A key `finalize` would refuse (no open round, e.g. closed
    ///         first by someone else or listed twice; quorum not reached before the deadline;
    ///         dispute pending) is skipped with `FinalizeSkipped` instead of reverting the
    ///         batch, and `RoundsClosed` reports the outcome.
    /// @dev Anyone may call, as `finalize`.
    /// @param numberKeys The keys (at most `MAX_BUNDLE`).
    /// @return finalized Rounds finalized (registry written).
    /// @return expired Rounds expired without consensus.
    function finalizeMany(bytes32[] calldata numberKeys) external returns (uint256 finalized, uint256 expired) {
        uint256 n = numberKeys.length;
        if (n == 0) revert EmptyBundle();
        if (n > MAX_BUNDLE) revert BundleTooLarge(n, MAX_BUNDLE);
        for (uint256 i; i < n; ++i) {
            uint8 outcome = _settle(numberKeys[i], true);
            if (outcome == ROUND_FINALIZED) ++finalized;
            else if (outcome == ROUND_EXPIRED) ++expired;
        }
        emit RoundsClosed(msg.sender, uint16(finalized), uint16(expired), uint16(n - finalized - expired));
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

    /// @notice Set the weight a verdict's side needs, bps of the round's eligible weight
    ///         (1..10000): with 2500 no validator group under a quarter of the weight sets a
    ///         verdict while the others abstain.
    function setMinVerdictShareBps(uint16 bps) external onlyGovernance {
        if (bps == 0 || bps > LedgerTypes.BPS) revert InvalidParameter("minVerdictShareBps", bps);
        emit ParameterChanged("minVerdictShareBps", minVerdictShareBps, bps);
        minVerdictShareBps = bps;
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
    function currentRound(bytes32 numberKey) external view returns (Round memory out) {
        RoundSlot memory r = _rounds[numberKey];
        out = Round(r.id, r.openedAt, r.deadline, r.status, r.country, r.majorityCountry, r.voteCount, r.eligibleWeight);
        if (r.status == ROUND_OPEN) {
            Live memory l = _live[r.aux];
            (out.majorityCountry, out.voteCount) = (l.majorityCountry, l.voteCount);
        }
    }

    /// @notice The running tally of the current round of `numberKey`. Once the round closed
    ///         only `participatingWeight` and `round` are kept (the other sums are in its
    ///         `VoteCast`/`VoteContested` events and in `RoundFinalized`/`RoundExpired`).
    function tallyOf(bytes32 numberKey) external view returns (Tally memory t) {
        RoundSlot memory r = _rounds[numberKey];
        t.round = r.id;
        if (r.status == ROUND_OPEN) {
            Live memory l = _live[r.aux];
            (t.participatingWeight, t.scoringWeight, t.flaggingWeight) =
                (l.participatingWeight, l.scoringWeight, l.flaggingWeight);
            (t.contestWeight, t.weightedScoreSum) = (l.contestWeight, l.weightedScoreSum);
        } else if (r.status != ROUND_NONE) {
            t.participatingWeight = r.aux;
        }
    }

    /// @notice Summed weight per category (index = category code) of the scoring votes of the
    ///         key's open round (all zero for any other round: they are in the events).
    function categoryWeights(bytes32 numberKey, uint64 round) external view returns (uint64[8] memory out) {
        RoundSlot memory r = _rounds[numberKey];
        if (round == 0 || r.id != round || r.status != ROUND_OPEN) return out;
        if (_live[r.aux].bits & LIVE_CATS == 0) return out;
        uint256 c = _catSeats[r.aux];
        for (uint256 i; i < LedgerTypes.CATEGORY_COUNT; ++i) out[i] = uint64((c >> (28 * i)) & CAT_MASK);
    }

    /// @notice Summed flagging weight of voters from `country` in the key's open round (0 when
    ///         no round is open).
    function flaggingWeightOf(bytes32 numberKey, bytes2 country) external view returns (uint64) {
        RoundSlot memory r = _rounds[numberKey];
        if (r.status != ROUND_OPEN) return 0;
        uint256 f = _live[r.aux].bits & LIVE_FLAGS != 0 ? _flags[r.aux] : 0;
        return _flagWeight(f, numberKey, r.id, country);
    }

    /// @notice True when `validator` has been counted (or has contested) in round `round` of
    ///         `numberKey` while that round is open (its seat bit; a seat is reused only after
    ///         the validator's removal). Seats of closed rounds are not kept: false for them
    ///         (the round's `VoteCast`/`VoteContested` events say who voted).
    function hasVoted(bytes32 numberKey, uint64 round, address validator) external view returns (bool) {
        RoundSlot memory r = _rounds[numberKey];
        if (r.status != ROUND_OPEN || r.id != round) return false;
        (bytes2 country,,, uint8 seat) = validatorSet.voterOf(validator);
        if (country == bytes2(0)) return false;
        Live memory l = _live[r.aux];
        if (seat < LOW_SEATS) return l.bits & LIVE_CATS != 0 && _catSeats[r.aux] & (uint256(1) << (224 + seat)) != 0;
        return l.bits & LIVE_SEATS_HIGH != 0 && _seatsHigh[r.aux] & (uint256(1) << seat) != 0;
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
        return TallyRules.verdict(score, spamBps, suspiciousBps);
    }

    // ------------------------------------------------------------------ internals

    uint256 private constant CAT_MASK = TallyRules.CAT_MASK;
    uint256 private constant FLAG_SLOTS = 5;
    uint256 private constant LOW_SEATS = 32; // seats kept in the category slot's top bits
    uint8 private constant LIVE_OPEN = 1;
    uint8 private constant LIVE_CATS = 2; // _catSeats holds this round's categories and low seats
    uint8 private constant LIVE_SEATS_HIGH = 4; // _seatsHigh holds this round's seats >= 32
    uint8 private constant LIVE_FLAGS = 8; // _flags holds this round's flagging weights

    /// @dev A signer's standing and its last model check, cached for the rest of a bundle.
    struct Voter {
        address signer;
        bytes2 country;
        uint32 weight;
        uint40 since;
        uint8 seat;
        bytes32 model;
        bool modelChecked;
        bool modelApproved;
        bytes2 thresholdsOf; // country whose suspiciousBps is cached below (0: none yet)
        uint16 suspiciousBps;
    }

    /// @dev Opens the next round of `numberKey` (country already checked), or returns the
    ///      OPEN_SKIP_* reason it cannot (with the key's current round id) and changes nothing.
    function _open(bytes32 numberKey, bytes2 country, uint32 eligible, uint40 duration)
        private
        returns (uint64 round, uint8 refused)
    {
        RoundSlot storage r = _rounds[numberKey];
        round = r.id;
        if (r.status == ROUND_OPEN) return (round, OPEN_SKIP_ALREADY_OPEN);
        SpamRegistry.Record memory rec = registry.get(numberKey);
        if (rec.lockedUntil > block.timestamp) return (round, OPEN_SKIP_LOCKED);
        if (rec.disputeStatus == LedgerTypes.DISPUTE_OPEN) return (round, OPEN_SKIP_DISPUTE_PENDING);
        ++round;
        // Unreachable (2^48 rounds of one key), checked so the header's uint48 never wraps.
        if (round > type(uint48).max) revert InvalidParameter("round", round);
        uint40 deadline = uint40(block.timestamp) + duration;
        uint24 entry = _takeEntry();
        _rounds[numberKey] = RoundSlot(
            uint48(round), uint40(block.timestamp), deadline, ROUND_OPEN, country, bytes2(0), 0, eligible, entry
        );
        _live[entry] = Live(0, 0, 0, 0, 0, 0, bytes2(0), LIVE_OPEN, 0);
        emit RoundOpened(numberKey, round, country, msg.sender, deadline);
        emit RoundEligibleWeight(numberKey, round, eligible);
    }

    /// @dev Closes the open round of `numberKey` (finalized or expired; returns the new status).
    ///      A round `finalize` refuses reverts, or with `skip` emits `FinalizeSkipped` and returns 0.
    function _settle(bytes32 numberKey, bool skip) private returns (uint8) {
        RoundSlot memory r = _rounds[numberKey];
        if (r.status != ROUND_OPEN) {
            if (skip) return _skipFinalize(numberKey, r.id, FINALIZE_SKIP_NO_OPEN_ROUND);
            revert NoOpenRound(numberKey);
        }
        Live memory t = _live[r.aux];
        uint256 total = r.eligibleWeight;
        uint256 shown = uint256(t.participatingWeight) + t.contestWeight;
        bool quorum = TallyRules.meets(shown, total, quorumBps);
        if (block.timestamp <= r.deadline && !quorum) {
            if (skip) return _skipFinalize(numberKey, r.id, FINALIZE_SKIP_QUORUM_NOT_REACHED);
            revert QuorumNotReached(numberKey, t.participatingWeight, _needed(quorumBps, total));
        }
        SpamRegistry.Record memory rec = registry.get(numberKey);
        uint8 reason;
        if (!quorum && !TallyRules.meets(shown, total, minParticipationBps)) {
            reason = NO_CONSENSUS_PARTICIPATION;
        } else if (rec.lockedUntil > block.timestamp) {
            reason = NO_CONSENSUS_LOCKED;
        } else if (rec.disputeStatus == LedgerTypes.DISPUTE_OPEN) {
            if (skip) return _skipFinalize(numberKey, r.id, FINALIZE_SKIP_DISPUTE_PENDING);
            revert RoundDisputePending(numberKey);
        } else {
            reason = _noConsensus(r, t);
        }
        _close(numberKey, r, t, reason == 0 ? ROUND_FINALIZED : ROUND_EXPIRED);
        if (reason != 0) {
            emit RoundExpired(numberKey, r.id, t.participatingWeight, t.voteCount);
            emit RoundNoConsensus(numberKey, r.id, reason);
            return ROUND_EXPIRED;
        }
        _finalize(numberKey, r, t);
        return ROUND_FINALIZED;
    }

    function _skipFinalize(bytes32 numberKey, uint64 round, uint8 reason) private returns (uint8) {
        emit FinalizeSkipped(numberKey, round, reason);
        return 0;
    }

    /// @dev Counts one vote. In a bundle (`skip`), state-dependent refusals are skipped and
    ///      reported; alone they revert. Returns true when the vote was counted or contested.
    function _cast(ScoreVote calldata vote, bytes calldata signature, bool skip, Voter memory c)
        private
        returns (bool)
    {
        _checkFields(vote);
        address signer = _recover(hashVote(vote), signature);
        RoundSlot memory r = _rounds[vote.numberKey];
        uint8 closed = _roundClosed(vote, r, skip);
        if (closed != 0) return _skip(vote, signer, closed);
        return _countSigned(vote, signer, r, skip, c);
    }

    function _countSigned(ScoreVote calldata vote, address signer, RoundSlot memory r, bool skip, Voter memory c)
        private
        returns (bool)
    {
        _loadVoter(c, signer);
        if (c.weight == 0) {
            // A suspended validator's vote is skipped; a never-admitted signer (a forged or
            // foreign-domain signature) reverts the bundle like any malformed vote.
            if (skip && c.country != bytes2(0)) return _skip(vote, signer, SKIP_NOT_ELIGIBLE);
            revert NotValidator(signer);
        }
        if (c.since > r.openedAt) {
            if (skip) return _skip(vote, signer, SKIP_NOT_ELIGIBLE);
            revert NotEligibleInRound(vote.numberKey, vote.round, signer);
        }
        // Abstaining validators score nothing, so they need not name an approved model.
        if (!vote.abstain && !_approved(c, vote.modelHash)) revert ModelNotApproved(vote.modelHash);
        uint256 entry = r.aux;
        Live memory l = _live[entry];
        // The category slot (seats 0..31 on top) is read at most once and written once per vote.
        bool low = c.seat < LOW_SEATS;
        uint256 cs = (low || !vote.abstain) && l.bits & LIVE_CATS != 0 ? _catSeats[entry] : 0;
        if (!_takeSeat(entry, l, c.seat, cs)) {
            if (skip) return _skip(vote, signer, SKIP_ALREADY_COUNTED);
            revert AlreadyVoted(vote.numberKey, vote.round, signer);
        }
        if (low) cs |= uint256(1) << (224 + c.seat);
        if (vote.country != r.country) {
            l.contestWeight += c.weight;
            if (low) _storeCats(entry, l, cs);
            _live[entry] = l;
            emit VoteContested(vote.numberKey, vote.round, signer, vote.country, c.weight);
            return true;
        }
        cs = _count(vote, r, entry, l, c, cs);
        if (low || !vote.abstain) _storeCats(entry, l, cs);
        _live[entry] = l;
        _emitVote(vote, signer, c.country, c.weight);
        return true;
    }

    /// @dev The signer of `digest`: 65-byte (r, s, v) signatures only, read straight from
    ///      calldata; OpenZeppelin's tryRecover refuses high-s (malleable) and invalid ones.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address signer) {
        if (signature.length != 65) revert InvalidSignature();
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(
            digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
        );
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
    }

    function _loadVoter(Voter memory c, address signer) private view {
        if (c.signer == signer) return;
        (c.country, c.weight, c.since, c.seat) = validatorSet.voterOf(signer);
        (c.signer, c.modelChecked) = (signer, false);
    }

    function _approved(Voter memory c, bytes32 modelHash) private view returns (bool) {
        if (!c.modelChecked || c.model != modelHash) {
            (c.model, c.modelChecked) = (modelHash, true);
            c.modelApproved = modelRegistry.isApproved(c.signer, modelHash);
        }
        return c.modelApproved;
    }

    /// @dev False when the seat was taken already in this round. A high seat's bit is written
    ///      here; a low seat's bit goes into `cs` (this round's category slot), written by the caller.
    function _takeSeat(uint256 entry, Live memory l, uint8 seat, uint256 cs) private returns (bool) {
        if (seat < LOW_SEATS) return cs & (uint256(1) << (224 + seat)) == 0;
        uint256 hs = l.bits & LIVE_SEATS_HIGH != 0 ? _seatsHigh[entry] : 0;
        uint256 high = uint256(1) << seat;
        if (hs & high != 0) return false;
        _seatsHigh[entry] = hs | high;
        l.bits |= LIVE_SEATS_HIGH;
        return true;
    }

    /// @dev 0 when the vote's round is open, else the skip reason (or a revert when alone).
    function _roundClosed(ScoreVote calldata vote, RoundSlot memory r, bool skip) private view returns (uint8) {
        if (r.status != ROUND_OPEN) {
            if (skip) return SKIP_ROUND_CLOSED;
            revert NoOpenRound(vote.numberKey);
        }
        if (vote.round != r.id) {
            if (skip) return SKIP_ROUND_CLOSED;
            revert WrongRound(vote.numberKey, r.id, vote.round);
        }
        if (block.timestamp > r.deadline) {
            if (skip) return SKIP_ROUND_CLOSED;
            revert RoundDeadlinePassed(vote.numberKey, r.id, r.deadline);
        }
        return 0;
    }

    function _skip(ScoreVote calldata vote, address signer, uint8 reason) private returns (bool) {
        emit VoteSkipped(vote.numberKey, vote.round, signer, reason);
        return false;
    }

    function _checkFields(ScoreVote calldata vote) private view {
        if (vote.deadline < block.timestamp) revert VoteExpired(vote.deadline);
        if (vote.score > LedgerTypes.SCORE_SCALE) revert ScoreOutOfRange(vote.score);
        if (vote.confidence > LedgerTypes.SCORE_SCALE) revert ConfidenceOutOfRange(vote.confidence);
        if (vote.category > LedgerTypes.MAX_CATEGORY) revert InvalidCategory(vote.category);
        if (!LedgerTypes.isCountry(vote.country)) revert InvalidCountry(vote.country);
        uint256 len = bytes(vote.evidenceCid).length;
        if (len > LedgerTypes.MAX_CID_LENGTH) revert InvalidCid(len);
    }

    function _storeCats(uint256 entry, Live memory l, uint256 cs) private {
        _catSeats[entry] = cs;
        l.bits |= LIVE_CATS;
    }

    /// @dev Adds a counted vote to the sums; returns `cs` with its category weight added.
    function _count(
        ScoreVote calldata vote,
        RoundSlot memory r,
        uint256 entry,
        Live memory l,
        Voter memory c,
        uint256 cs
    ) private returns (uint256) {
        uint32 weight = c.weight;
        // No sum can overflow: at most MAX_VALIDATORS (256) seats of MAX_WEIGHT (10^6) count
        // once each, so weights stay < 2^28, score sums < 2^42 and the vote count <= 256.
        unchecked {
            l.participatingWeight += weight;
            l.voteCount += 1;
            if (vote.abstain) return cs;
            l.scoringWeight += weight;
            l.weightedScoreSum += uint64(weight) * vote.score;
            cs += uint256(weight) << (28 * uint256(vote.category));
        }
        // Thresholds cannot change inside a transaction: read once per country in a bundle.
        if (c.thresholdsOf != r.country) {
            c.thresholdsOf = r.country;
            (, c.suspiciousBps) = thresholdsOf(r.country);
        }
        if (!TallyRules.flags(vote.score, c.suspiciousBps)) return cs;
        unchecked {
            l.flaggingWeight += weight;
        }
        _flagVote(entry, l, vote, c.country, weight);
        return cs;
    }

    /// @dev Adds a flagging vote's weight to its country's and moves the majority country
    ///      (TallyRules.takesLead, spelled out so the leader's weight is read only when needed).
    function _flagVote(uint256 entry, Live memory l, ScoreVote calldata vote, bytes2 country, uint32 weight) private {
        uint256 f = l.bits & LIVE_FLAGS != 0 ? _flags[entry] : 0;
        l.bits |= LIVE_FLAGS;
        uint64 w;
        (f, w) = _addFlag(entry, f, vote, country, weight);
        bytes2 leader = l.majorityCountry;
        if (
            country != leader
                && (leader == bytes2(0) || TallyRules.outweighs(w, _flagWeight(f, vote.numberKey, vote.round, leader)))
        ) l.majorityCountry = country;
    }

    /// @dev Adds flagging weight to `country`'s packed entry in `f` (or the overflow map) and
    ///      stores it; returns the packed word and the country's new sum.
    function _addFlag(uint256 entry, uint256 f, ScoreVote calldata vote, bytes2 country, uint32 weight)
        private
        returns (uint256, uint64 sum)
    {
        for (uint256 i; i < FLAG_SLOTS; ++i) {
            uint256 shift = 48 * i;
            bytes2 c = bytes2(uint16(f >> (shift + 32)));
            if (c == country || c == bytes2(0)) {
                uint256 w = ((f >> shift) & 0xffffffff) + weight;
                f &= ~(uint256(0xffffffffffff) << shift);
                f |= ((uint256(uint16(country)) << 32) | w) << shift;
                _flags[entry] = f;
                return (f, uint64(w));
            }
        }
        bytes32 rk = _roundKey(vote.numberKey, vote.round);
        sum = _flagOverflow[rk][country] + weight;
        _flagOverflow[rk][country] = sum;
        return (f, sum);
    }

    function _flagWeight(uint256 f, bytes32 numberKey, uint64 round, bytes2 country) private view returns (uint64) {
        for (uint256 i; i < FLAG_SLOTS; ++i) {
            uint256 shift = 48 * i;
            bytes2 c = bytes2(uint16(f >> (shift + 32)));
            if (c == country) return uint64((f >> shift) & 0xffffffff);
            if (c == bytes2(0)) return 0;
        }
        return _flagOverflow[_roundKey(numberKey, round)][country];
    }

    function _emitVote(ScoreVote calldata vote, address signer, bytes2 country, uint32 weight) private {
        emit VoteCast(
            vote.numberKey, vote.round, signer, country, weight, vote.score, vote.confidence,
            vote.category, vote.abstain, vote.modelHash, vote.evidenceCid
        );
    }

    /// @dev 0 when the round's votes carry a verdict, else the NO_CONSENSUS_* reason.
    function _noConsensus(RoundSlot memory r, Live memory t) private view returns (uint8) {
        (uint16 spamBps, uint16 suspiciousBps) = thresholdsOf(r.country);
        TallyRules.Sums memory sums = TallyRules.Sums(
            t.participatingWeight, t.scoringWeight, t.flaggingWeight, t.contestWeight, t.weightedScoreSum
        );
        return TallyRules.noConsensus(sums, r.eligibleWeight, minVerdictShareBps, spamBps, suspiciousBps);
    }

    /// @dev Closes the round: its header keeps the final figures and its pool entry goes to the
    ///      head of the free list (the entry's slots stay as they are until a later round reuses them).
    function _close(bytes32 numberKey, RoundSlot memory r, Live memory t, uint8 status) private {
        _rounds[numberKey] = RoundSlot(
            r.id, r.openedAt, r.deadline, status, r.country, t.majorityCountry, t.voteCount, r.eligibleWeight,
            t.participatingWeight
        );
        uint24 entry = uint24(r.aux);
        _live[entry].nextFree = _freeHead;
        _freeHead = entry;
    }

    /// @dev A pool entry for a new round: the last one freed, or a new one. Entries are only
    ///      created while more rounds are open at once than ever before (2^24 - 1 at most).
    function _takeEntry() private returns (uint24 entry) {
        entry = _freeHead;
        if (entry != 0) {
            _freeHead = _live[entry].nextFree;
        } else {
            entry = _poolSize + 1; // checked: reverts past 2^24 - 1 open rounds
            _poolSize = entry;
        }
    }

    function _finalize(bytes32 numberKey, RoundSlot memory r, Live memory t) private {
        uint16 score = TallyRules.weightedScore(t.weightedScoreSum, t.scoringWeight);
        uint8 verdict = verdictFor(r.country, score);
        uint8 category;
        // Scoring weight > 0, so a scoring vote wrote this round's categories (LIVE_CATS).
        if (verdict != LedgerTypes.VERDICT_NOT_SPAM) category = TallyRules.topCategory(_catSeats[r.aux]);
        registry.recordFinal(numberKey, r.id, score, verdict, category, t.majorityCountry);
        emit RoundFinalized(numberKey, r.id, score, verdict, category, t.participatingWeight, t.voteCount);
    }

    function _structHash(ScoreVote calldata vote) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                SCORE_VOTE_TYPEHASH,
                vote.numberKey,
                vote.country,
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
