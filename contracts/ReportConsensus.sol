// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ValidatorSet} from "./ValidatorSet.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {SpamRegistry} from "./SpamRegistry.sol";
import {Consensus} from "./Consensus.sol";
import {Governed} from "./lib/Governed.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";
import {TallyRules} from "./lib/TallyRules.sol";

/// @title ReportConsensus
/// @notice The report path (issue #12): validators sign ONE EIP-712 `Report` carrying their
///         votes on a batch of number keys (OCR-style aggregated report), and anyone submits it
///         with the signatures. Every signature is checked once per report; then each key gets a
///         round that opens, counts the report's votes and closes in this transaction, by the
///         same rules as `Consensus` (`TallyRules`, `Consensus`'s governance parameters and
///         thresholds), and its record goes to SpamRegistry (this contract needs
///         REGISTRY_WRITER_ROLE, granted by governance like Consensus' and Dispute's).
/// @dev Events per key are those of the vote path, with the same signatures: `RoundOpened`,
///      `RoundEligibleWeight`, one `VoteCast` per counted vote, then `RoundFinalized` or
///      `RoundExpired` + `RoundNoConsensus`; an indexer recomputes the tally from them exactly
///      as for `Consensus`. Round ids of the report path are `ROUND_BASE + seq` (above every id
///      Consensus can issue, which are uint48), so a (key, round) pair names one round whichever
///      contract ran it, and a record's round says which report produced it.
///      Differences from the vote path, all from the report being complete when it lands:
///      - a report closes its rounds at once, so a key needs the quorum an early `finalize`
///        needs (`quorumBps` of the eligible weight); short of it the round expires with
///        NO_CONSENSUS_PARTICIPATION (there is no deadline to wait for);
///      - every signer signs each key's country, so no vote contests it (a validator that
///        knows another country does not sign; the report is rebuilt without it);
///      - a key with a vote-path round open in Consensus, a locked record or a pending dispute
///        is skipped with `ReportKeySkipped` (no round opened), the other keys land.
contract ReportConsensus is Governed, EIP712 {
    /// @notice EIP-712 type hash of Report (see the type string below).
    bytes32 public constant REPORT_TYPEHASH = keccak256(
        "Report(uint64 seq,uint64 deadline,bytes32[] numberKeys,bytes2[] countries,address[] signers,bytes32[] modelHashes,uint64[] votes,string evidenceCid)"
    );

    /// @notice Report rounds are numbered `ROUND_BASE + seq`.
    uint64 public constant ROUND_BASE = uint64(1) << 48;
    /// @notice Largest number of keys in one report.
    uint256 public constant MAX_KEYS = 128;

    /// Packed vote (`Report.votes`, one uint64 per key and signer): score in bits 0..15,
    /// confidence in 16..31, category in 32..39, abstain bit 40, cast bit 41 (clear: the signer
    /// did not vote on this key). Any other bit set is malformed.
    uint64 public constant VOTE_ABSTAIN = uint64(1) << 40;
    uint64 public constant VOTE_CAST = uint64(1) << 41;

    /// Round status codes, as Consensus numbers them (`Consensus.ROUND_*`).
    uint8 private constant ROUND_OPEN = 1;
    uint8 private constant ROUND_FINALIZED = 2;
    uint8 private constant ROUND_EXPIRED = 3;

    /// Why a report skipped a key (`ReportKeySkipped.reason`).
    uint8 public constant SKIP_ROUND_OPEN = 1;
    uint8 public constant SKIP_LOCKED = 2;
    uint8 public constant SKIP_DISPUTE_PENDING = 3;

    /// @notice A batch of votes signed once by each listed validator.
    /// @dev `votes[i * signers.length + j]` is signer j's vote on key i. `numberKeys` strictly
    ///      ascending (no key twice), `signers` strictly ascending (no signer twice).
    struct Report {
        uint64 seq; // 1 .. 2^48 - 1, each usable once
        uint64 deadline; // last timestamp the report may land
        bytes32[] numberKeys;
        bytes2[] countries; // each key's country: picks the verdict thresholds
        address[] signers;
        bytes32[] modelHashes; // one per signer: the model its non-abstaining votes come from
        uint64[] votes;
        string evidenceCid; // one evidence bundle for the whole report
    }

    Consensus public immutable consensus;
    ModelRegistry public immutable modelRegistry;
    SpamRegistry public immutable registry;

    // Bit (seq & 255) of word (seq >> 8) set once report `seq` landed.
    mapping(uint256 => uint256) private _usedSeqs;

    // Same signatures as Consensus' events (checked by test_report_events_match_the_vote_path).
    event RoundOpened(
        bytes32 indexed numberKey, uint64 indexed round, bytes2 country, address indexed opener, uint40 deadline
    );
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
    event RoundNoConsensus(bytes32 indexed numberKey, uint64 indexed round, uint8 reason);
    /// @notice The report left out a key (SKIP_*); no round was opened for it.
    event ReportKeySkipped(bytes32 indexed numberKey, uint64 indexed round, uint8 reason);
    /// @notice Outcome of one report (`digest`: what its signers signed).
    event ReportSubmitted(
        uint64 indexed seq, address indexed submitter, bytes32 digest, uint16 finalized, uint16 expired, uint16 skipped
    );

    error InvalidSeq(uint64 seq);
    error ReportAlreadySubmitted(uint64 seq);
    error ReportExpired(uint64 deadline);
    error EmptyReport();
    error ReportTooLarge(uint256 keys, uint256 max);
    error LengthMismatch(string field, uint256 length, uint256 expected);
    error KeysNotAscending(uint256 index);
    error SignersNotAscending(uint256 index);
    error InvalidCountry(bytes2 country);
    error InvalidCid(uint256 length);
    error InvalidSignature(uint256 index);
    error WrongSigner(uint256 index, address recovered, address listed);
    error InvalidVote(uint256 index, uint64 vote);
    error ModelNotApproved(address validator, bytes32 modelHash);

    /// @dev A signer's standing, read once per report.
    struct Signer {
        address account;
        bytes2 country;
        uint32 weight;
        uint8 model; // 0 unchecked, 1 approved, 2 not approved
    }

    /// @dev What every key of a report shares.
    struct Ctx {
        uint64 round;
        uint32 eligible;
        uint16 quorumBps;
        uint16 minVerdictShareBps;
        bytes2 thresholdsOf; // country whose thresholds are cached below (0: none yet)
        uint16 spamBps;
        uint16 suspiciousBps;
    }

    /// @dev One key's sums; the flag arrays are allocated once per report and reused.
    struct Tally {
        TallyRules.Sums sums;
        uint256 cats; // 28-bit category weights, TallyRules layout
        uint16 voteCount;
        bytes2 majority;
        uint256 flagCountries; // entries used in the two arrays below
        bytes2[] flagCountry;
        uint256[] flagWeight;
    }

    /// @param validatorSet_ The roles hub.
    /// @param modelRegistry_ Models non-abstaining votes must name.
    /// @param registry_ Where records go (this contract needs REGISTRY_WRITER_ROLE).
    /// @param consensus_ The vote path: its governance parameters and thresholds apply here,
    ///        and a key with a round open there is skipped.
    constructor(ValidatorSet validatorSet_, ModelRegistry modelRegistry_, SpamRegistry registry_, Consensus consensus_)
        Governed(validatorSet_)
        EIP712("SpamLedger", "1")
    {
        if (
            address(modelRegistry_) == address(0) || address(registry_) == address(0)
                || address(consensus_) == address(0)
        ) revert ZeroAddress();
        modelRegistry = modelRegistry_;
        registry = registry_;
        consensus = consensus_;
    }

    // ------------------------------------------------------------------ submission

    /// @notice Count a signed report; anyone may submit it. A malformed report, a bad or
    ///         missing signature, a signer that is not an active validator, a used `seq` or a
    ///         passed deadline reverts; a key the chain's state does not admit is skipped with
    ///         `ReportKeySkipped`; every other key finalizes or expires (see the contract notes).
    /// @param report The report every listed signer signed.
    /// @param signatures One 65-byte signature over `hashReport(report)` per signer, same order.
    /// @return finalized Keys finalized (registry written).
    /// @return expired Keys whose round expired without consensus.
    function submitReport(Report calldata report, bytes[] calldata signatures)
        external
        returns (uint256 finalized, uint256 expired)
    {
        _checkShape(report, signatures.length);
        _useSeq(report.seq);
        bytes32 digest = hashReport(report);
        Signer[] memory signers = _signers(report, signatures, digest);
        Ctx memory ctx = _context(report.seq);
        Tally memory t;
        t.flagCountry = new bytes2[](signers.length);
        t.flagWeight = new uint256[](signers.length);
        uint256 n = report.numberKeys.length;
        for (uint256 i; i < n; ++i) {
            uint8 status = _settleKey(report, i, signers, ctx, t);
            if (status == ROUND_FINALIZED) ++finalized;
            else if (status == ROUND_EXPIRED) ++expired;
        }
        emit ReportSubmitted(
            report.seq, msg.sender, digest, uint16(finalized), uint16(expired), uint16(n - finalized - expired)
        );
    }

    // ------------------------------------------------------------------ views

    /// @notice The full EIP-712 digest each signer signs (domain of this contract).
    function hashReport(Report calldata report) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    REPORT_TYPEHASH,
                    report.seq,
                    report.deadline,
                    keccak256(abi.encodePacked(report.numberKeys)),
                    keccak256(abi.encodePacked(report.countries)),
                    keccak256(abi.encodePacked(report.signers)),
                    keccak256(abi.encodePacked(report.modelHashes)),
                    keccak256(abi.encodePacked(report.votes)),
                    keccak256(bytes(report.evidenceCid))
                )
            )
        );
    }

    /// @notice The EIP-712 domain separator (chain id and this contract's address bound in).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice True once report `seq` landed (it can never land again).
    function seqUsed(uint64 seq) public view returns (bool) {
        return _usedSeqs[seq >> 8] & (uint256(1) << (seq & 255)) != 0;
    }

    /// @notice The round id a report with sequence `seq` gives its keys.
    function roundOf(uint64 seq) public pure returns (uint64) {
        return ROUND_BASE + seq;
    }

    // ------------------------------------------------------------------ internals

    function _checkShape(Report calldata report, uint256 signatureCount) private view {
        if (report.deadline < block.timestamp) revert ReportExpired(report.deadline);
        uint256 n = report.numberKeys.length;
        uint256 m = report.signers.length;
        if (n == 0 || m == 0) revert EmptyReport();
        if (n > MAX_KEYS) revert ReportTooLarge(n, MAX_KEYS);
        if (report.countries.length != n) revert LengthMismatch("countries", report.countries.length, n);
        if (report.modelHashes.length != m) revert LengthMismatch("modelHashes", report.modelHashes.length, m);
        if (report.votes.length != n * m) revert LengthMismatch("votes", report.votes.length, n * m);
        if (signatureCount != m) revert LengthMismatch("signatures", signatureCount, m);
        uint256 len = bytes(report.evidenceCid).length;
        if (len > LedgerTypes.MAX_CID_LENGTH) revert InvalidCid(len);
        for (uint256 i; i < n; ++i) {
            if (i != 0 && report.numberKeys[i] <= report.numberKeys[i - 1]) revert KeysNotAscending(i);
            if (!LedgerTypes.isCountry(report.countries[i])) revert InvalidCountry(report.countries[i]);
        }
    }

    function _useSeq(uint64 seq) private {
        if (seq == 0 || seq >= ROUND_BASE) revert InvalidSeq(seq);
        uint256 word = _usedSeqs[seq >> 8];
        uint256 bit = uint256(1) << (seq & 255);
        if (word & bit != 0) revert ReportAlreadySubmitted(seq);
        _usedSeqs[seq >> 8] = word | bit;
    }

    /// @dev Each signature recovers to its listed signer; signers ascend and are active
    ///      validators (their standing cannot change inside this transaction).
    function _signers(Report calldata report, bytes[] calldata signatures, bytes32 digest)
        private
        view
        returns (Signer[] memory out)
    {
        uint256 m = report.signers.length;
        out = new Signer[](m);
        for (uint256 j; j < m; ++j) {
            address listed = report.signers[j];
            if (j != 0 && listed <= report.signers[j - 1]) revert SignersNotAscending(j);
            address recovered = _recover(digest, signatures[j], j);
            if (recovered != listed) revert WrongSigner(j, recovered, listed);
            (bytes2 country, uint32 weight,,) = validatorSet.voterOf(listed);
            if (weight == 0) revert NotValidator(listed);
            out[j] = Signer(listed, country, weight, 0);
        }
    }

    /// @dev The signer of `digest`: 65-byte (r, s, v) signatures only; OpenZeppelin's
    ///      tryRecover refuses high-s (malleable) and invalid ones.
    function _recover(bytes32 digest, bytes calldata signature, uint256 index) private pure returns (address signer) {
        if (signature.length != 65) revert InvalidSignature(index);
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(
            digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
        );
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(index);
    }

    /// @dev The vote path's parameters, read once per report (nothing here changes them).
    function _context(uint64 seq) private view returns (Ctx memory ctx) {
        ctx.round = ROUND_BASE + seq;
        ctx.eligible = uint32(validatorSet.totalActiveWeight());
        ctx.quorumBps = consensus.quorumBps();
        ctx.minVerdictShareBps = consensus.minVerdictShareBps();
    }

    /// @dev Opens, counts and closes key `i`'s round; returns its status (0: skipped).
    function _settleKey(Report calldata report, uint256 i, Signer[] memory signers, Ctx memory ctx, Tally memory t)
        private
        returns (uint8)
    {
        bytes32 key = report.numberKeys[i];
        uint8 refused = _refusal(key);
        if (refused != 0) {
            emit ReportKeySkipped(key, ctx.round, refused);
            return 0;
        }
        bytes2 country = report.countries[i];
        emit RoundOpened(key, ctx.round, country, msg.sender, uint40(block.timestamp));
        emit RoundEligibleWeight(key, ctx.round, ctx.eligible);
        if (ctx.thresholdsOf != country) {
            ctx.thresholdsOf = country;
            (ctx.spamBps, ctx.suspiciousBps) = consensus.thresholdsOf(country);
        }
        _reset(t);
        uint256 m = signers.length;
        for (uint256 j; j < m; ++j) _count(report, i, j, signers[j], ctx, t);
        return _close(key, ctx, t);
    }

    /// @dev SKIP_* when the key cannot take a round now, else 0.
    function _refusal(bytes32 key) private view returns (uint8) {
        if (consensus.currentRound(key).status == ROUND_OPEN) return SKIP_ROUND_OPEN;
        SpamRegistry.Record memory rec = registry.get(key);
        if (rec.lockedUntil > block.timestamp) return SKIP_LOCKED;
        if (rec.disputeStatus == LedgerTypes.DISPUTE_OPEN) return SKIP_DISPUTE_PENDING;
        return 0;
    }

    function _reset(Tally memory t) private pure {
        t.sums = TallyRules.Sums(0, 0, 0, 0, 0);
        (t.cats, t.voteCount, t.majority, t.flagCountries) = (0, 0, bytes2(0), 0);
    }

    /// @dev Counts signer `j`'s vote on key `i` as Consensus counts a vote, and emits its
    ///      `VoteCast`. A malformed vote or an unapproved model reverts the report.
    function _count(Report calldata report, uint256 i, uint256 j, Signer memory s, Ctx memory ctx, Tally memory t)
        private
    {
        uint256 at = i * report.signers.length + j;
        uint64 vote = report.votes[at];
        if (vote & VOTE_CAST == 0) {
            if (vote != 0) revert InvalidVote(at, vote);
            return;
        }
        if (
            vote >> 42 != 0 || uint16(vote) > LedgerTypes.SCORE_SCALE || uint16(vote >> 16) > LedgerTypes.SCORE_SCALE
                || uint8(vote >> 32) > LedgerTypes.MAX_CATEGORY
        ) revert InvalidVote(at, vote);
        bool abstain = vote & VOTE_ABSTAIN != 0;
        // Abstaining validators score nothing, so they need not name an approved model.
        if (!abstain && !_approved(s, report.modelHashes[j])) revert ModelNotApproved(s.account, report.modelHashes[j]);
        _add(t, s, vote, abstain, ctx.suspiciousBps);
        _emitVote(report.numberKeys[i], ctx.round, s, vote, report.modelHashes[j], report.evidenceCid);
    }

    function _add(Tally memory t, Signer memory s, uint64 vote, bool abstain, uint16 suspiciousBps) private pure {
        uint16 score = uint16(vote);
        // No sum overflows: at most 256 signers of MAX_WEIGHT (10^6), each once per key.
        unchecked {
            t.sums.participating += s.weight;
            t.voteCount += 1;
            if (abstain) return;
            t.sums.scoring += s.weight;
            t.sums.weightedScoreSum += uint256(s.weight) * score;
            t.cats += uint256(s.weight) << (28 * uint256(uint8(vote >> 32)));
        }
        if (TallyRules.flags(score, suspiciousBps)) _flag(t, s);
    }

    function _emitVote(bytes32 key, uint64 round, Signer memory s, uint64 vote, bytes32 modelHash, string calldata cid)
        private
    {
        emit VoteCast(
            key, round, s.account, s.country, s.weight, uint16(vote), uint16(vote >> 16), uint8(vote >> 32),
            vote & VOTE_ABSTAIN != 0, modelHash, cid
        );
    }

    function _approved(Signer memory s, bytes32 modelHash) private view returns (bool) {
        if (s.model == 0) s.model = modelRegistry.isApproved(s.account, modelHash) ? 1 : 2;
        return s.model == 1;
    }

    /// @dev Adds `s`'s weight to the flagging sums and moves the majority as Consensus does.
    function _flag(Tally memory t, Signer memory s) private pure {
        t.sums.flagging += s.weight;
        uint256 w;
        uint256 leaderWeight;
        bool found;
        for (uint256 k; k < t.flagCountries; ++k) {
            if (t.flagCountry[k] == s.country) {
                t.flagWeight[k] += s.weight;
                (w, found) = (t.flagWeight[k], true);
            }
            if (t.flagCountry[k] == t.majority) leaderWeight = t.flagWeight[k];
        }
        if (!found) {
            (t.flagCountry[t.flagCountries], t.flagWeight[t.flagCountries]) = (s.country, s.weight);
            ++t.flagCountries;
            w = s.weight;
        }
        if (t.majority == s.country) return;
        if (TallyRules.takesLead(s.country, w, t.majority, leaderWeight)) t.majority = s.country;
    }

    /// @dev Closes the key's round as an early `finalize` would: quorum, then TallyRules.
    function _close(bytes32 key, Ctx memory ctx, Tally memory t) private returns (uint8) {
        uint8 reason = TallyRules.meets(t.sums.participating, ctx.eligible, ctx.quorumBps)
            ? TallyRules.noConsensus(t.sums, ctx.eligible, ctx.minVerdictShareBps, ctx.spamBps, ctx.suspiciousBps)
            : TallyRules.NO_CONSENSUS_PARTICIPATION;
        if (reason != 0) {
            emit RoundExpired(key, ctx.round, uint64(t.sums.participating), t.voteCount);
            emit RoundNoConsensus(key, ctx.round, reason);
            return ROUND_EXPIRED;
        }
        uint16 score = TallyRules.weightedScore(t.sums.weightedScoreSum, t.sums.scoring);
        uint8 verdict = TallyRules.verdict(score, ctx.spamBps, ctx.suspiciousBps);
        uint8 category = verdict == LedgerTypes.VERDICT_NOT_SPAM ? 0 : TallyRules.topCategory(t.cats);
        registry.recordFinal(key, ctx.round, score, verdict, category, t.majority);
        emit RoundFinalized(key, ctx.round, score, verdict, category, uint64(t.sums.participating), t.voteCount);
        return ROUND_FINALIZED;
    }
}
