// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReportFixture} from "./ReportFixture.sol";
import {ReportConsensus} from "../ReportConsensus.sol";
import {Consensus} from "../Consensus.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {Governed} from "../lib/Governed.sol";
import {Vm} from "./Vm.sol";

/// @notice The report path: one signature per validator for a batch of keys, checked once;
///         each key decided by the vote path's rules (TallyRules) with the vote path's events;
///         replays, forged, duplicate and foreign signatures refused; locked, disputed and
///         vote-path-open keys skipped while the others land; and a differential check that
///         the same votes give the same outcome through both paths.
abstract contract ReportDifferential is ReportFixture {
    bytes32 internal constant K1 = keccak256("hmac(+14155550001)");
    bytes32 internal constant K2 = keccak256("hmac(+14155550002)");
    bytes32 internal constant K3 = keccak256("hmac(+14155550003)");
    bytes32 internal constant NO_CONSENSUS_TOPIC = keccak256("RoundNoConsensus(bytes32,uint64,uint8)");

    uint64 internal nextSeq = 1;
    uint256 internal nextKey;

    function _one(bytes32 k) internal pure returns (bytes32[] memory keys) {
        keys = new bytes32[](1);
        keys[0] = k;
    }

    function _three() internal pure returns (bytes32[] memory keys) {
        keys = new bytes32[](3);
        (keys[0], keys[1], keys[2]) = (K1, K2, K3);
    }

    /// Every key: US, GB, DE flag spam (85% of the weight), FR and IN abstain.
    function _spamVotes(uint256 nKeys) internal view returns (uint64[] memory votes) {
        uint256[5] memory order = _ascending();
        votes = new uint64[](nKeys * 5);
        for (uint256 i; i < nKeys; ++i) {
            for (uint256 j; j < 5; ++j) {
                uint256 v = order[j];
                votes[i * 5 + j] = v == 0 ? _pv(9000, 3, false) : v == 1 ? _pv(8500, 3, false)
                    : v == 2 ? _pv(8000, 1, false) : _pv(0, 0, true);
            }
        }
    }

    function _submit(ReportConsensus.Report memory r) internal returns (uint256 finalized, uint256 expired) {
        return reports.submitReport(r, _signAll(r, _allSigners()));
    }

    function _reasonIn(Vm.Log[] memory logs, bytes32 key) internal pure returns (uint8) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics.length > 1 && logs[i].topics[0] == NO_CONSENSUS_TOPIC && logs[i].topics[1] == key) {
                return abi.decode(logs[i].data, (uint8));
            }
        }
        return 0;
    }

    // ------------------------------------------------------------------ differential

    uint8 internal lastOutcome;
    uint256 public differentialRuns;

    /// @notice Runs the votes `seed` encodes through both paths on two fresh keys; true when
    ///         they agree. Public: the invariant handler calls it.
    function differential(uint256 seed) public returns (bool) {
        ++differentialRuns;
        bytes32 kv = keccak256(abi.encode("vote", nextKey));
        bytes32 kr = keccak256(abi.encode("report", nextKey++));
        uint64[] memory votes = _votesFrom(seed);
        (bool voteClosed, uint8 voteReason) = _votePath(kv, votes);
        ReportConsensus.Report memory r = _report(nextSeq++, _one(kr), "US", _allSigners(), votes);
        vm.recordLogs();
        (uint256 finalized, uint256 expired) = _submit(r);
        uint8 reportReason = _reasonIn(vm.getRecordedLogs(), kr);
        lastOutcome = finalized == 1 ? 2 : expired == 1 ? 3 : 0;
        if (lastOutcome == 0) return false;
        if (!voteClosed) return lastOutcome == 3 && reportReason == consensus.NO_CONSENSUS_PARTICIPATION();
        if (reportReason != voteReason) return false;
        SpamRegistry.Record memory a = registry.get(kv);
        SpamRegistry.Record memory b = registry.get(kr);
        return a.score == b.score && a.verdict == b.verdict && a.category == b.category
            && a.majorityCountry == b.majorityCountry && (a.finalizedAt == 0) == (b.finalizedAt == 0);
    }

    /// @notice Moves a governance parameter or a threshold (this suite is governance; the
    ///         invariant handler is not). Public: the invariant handler calls it.
    function govern(uint256 seed) external {
        uint256 what = seed % 3;
        uint16 x = uint16(bound(seed >> 8, 1, 10000));
        if (what == 0) consensus.setQuorumBps(x);
        else if (what == 1) consensus.setMinVerdictShareBps(x);
        else consensus.setThresholds("US", x, uint16(bound(seed >> 32, 1, x)));
    }

    function _votesFrom(uint256 seed) internal pure returns (uint64[] memory votes) {
        votes = new uint64[](5);
        for (uint256 j; j < 5; ++j) {
            uint256 x = uint256(keccak256(abi.encode(seed, j)));
            if (x % 5 == 0) continue; // absent
            uint16 score = uint16(bound(x >> 8, 0, 10000));
            if ((x >> 40) % 3 == 0) score = uint16(bound(x >> 8, 3500, 4500)); // near the thresholds
            votes[j] = _pv(score, uint8((x >> 64) % 8), (x >> 72) % 4 == 0);
        }
    }

    /// @dev Opens a round on `key`, casts `votes` (signer order) and closes it early with
    ///      finalizeMany; returns whether it closed and the no-consensus reason (0: finalized).
    function _votePath(bytes32 key, uint64[] memory votes) internal returns (bool closed, uint8 reason) {
        uint256[5] memory order = _ascending();
        uint64 round = _open(key, "US");
        for (uint256 j; j < 5; ++j) {
            uint64 v = votes[j];
            if (v == 0) continue;
            _castAs(order[j], key, round, uint16(v), uint8(v >> 32), v & (uint64(1) << 40) != 0);
        }
        vm.recordLogs();
        bytes32[] memory one = _one(key);
        (uint256 f, uint256 e) = consensus.finalizeMany(one);
        return (f + e == 1, _reasonIn(vm.getRecordedLogs(), key));
    }
}

contract ReportConsensusTest is ReportDifferential {
    // ------------------------------------------------------------------ happy path

    function test_a_report_finalizes_every_key_with_the_vote_path_events() public {
        bytes32[] memory keys = _sortKeys(_three());
        ReportConsensus.Report memory r = _report(7, keys, "US", _allSigners(), _spamVotes(3));
        uint64 round = reports.roundOf(7);
        address first = r.signers[0];
        uint256 firstIdx = _allSigners()[0];
        vm.expectEmit(true, true, true, true, address(reports));
        emit ReportConsensus.RoundOpened(keys[0], round, "US", address(this), uint40(block.timestamp));
        vm.expectEmit(true, true, false, true, address(reports));
        emit ReportConsensus.RoundEligibleWeight(keys[0], round, 10000);
        vm.expectEmit(true, true, true, true, address(reports));
        emit ReportConsensus.VoteCast(
            keys[0], round, first, vCountries[firstIdx], vWeights[firstIdx], uint16(r.votes[0]), 9000,
            uint8(r.votes[0] >> 32), r.votes[0] & (uint64(1) << 40) != 0, MODEL, REPORT_CID
        );
        (uint256 finalized, uint256 expired) = _submit(r);
        assertEq(finalized, 3, "three finalized");
        assertEq(expired, 0, "none expired");
        for (uint256 i; i < 3; ++i) {
            SpamRegistry.Record memory rec = registry.get(keys[i]);
            // (9000*4000 + 8500*2500 + 8000*2000) / 8500 = 8617
            assertEq(rec.score, 8617, "weighted score");
            assertEq(rec.verdict, 3, "spam");
            assertEq(rec.category, 3, "scam: 6500 of the weight");
            assertEq(rec.round, round, "round = ROUND_BASE + seq");
            assertEq(uint16(rec.majorityCountry), uint16(bytes2("US")), "US flags most");
        }
        assertTrue(reports.seqUsed(7), "seq spent");
    }

    function test_report_events_match_the_vote_path() public pure {
        assertEq(ReportConsensus.RoundOpened.selector, Consensus.RoundOpened.selector, "RoundOpened");
        assertEq(ReportConsensus.RoundEligibleWeight.selector, Consensus.RoundEligibleWeight.selector, "eligible");
        assertEq(ReportConsensus.VoteCast.selector, Consensus.VoteCast.selector, "VoteCast");
        assertEq(ReportConsensus.RoundFinalized.selector, Consensus.RoundFinalized.selector, "RoundFinalized");
        assertEq(ReportConsensus.RoundExpired.selector, Consensus.RoundExpired.selector, "RoundExpired");
        assertEq(ReportConsensus.RoundNoConsensus.selector, Consensus.RoundNoConsensus.selector, "NoConsensus");
    }

    // ------------------------------------------------------------------ refusals

    function test_a_replayed_report_is_rejected() public {
        ReportConsensus.Report memory r = _report(3, _one(K1), "US", _allSigners(), _spamVotes(1));
        bytes[] memory sigs = _signAll(r, _allSigners());
        reports.submitReport(r, sigs);
        uint40 finalizedAt = registry.get(K1).finalizedAt;
        vm.warp(block.timestamp + 60);
        vm.expectRevert(abi.encodeWithSelector(ReportConsensus.ReportAlreadySubmitted.selector, uint64(3)));
        reports.submitReport(r, sigs);
        assertEq(registry.get(K1).finalizedAt, finalizedAt, "record not rewritten");
    }

    function test_seq_zero_and_seqs_past_the_round_space_are_refused() public {
        ReportConsensus.Report memory r = _report(0, _one(K1), "US", _allSigners(), _spamVotes(1));
        vm.expectRevert(abi.encodeWithSelector(ReportConsensus.InvalidSeq.selector, uint64(0)));
        reports.submitReport(r, _signAll(r, _allSigners()));
        r.seq = uint64(1) << 48;
        vm.expectRevert(abi.encodeWithSelector(ReportConsensus.InvalidSeq.selector, r.seq));
        reports.submitReport(r, _signAll(r, _allSigners()));
    }

    function test_a_forged_signature_is_rejected() public {
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", _allSigners(), _spamVotes(1));
        bytes[] memory sigs = _signAll(r, _allSigners());
        sigs[2] = _signReport(0xBAD, r); // someone else's key for a listed validator
        vm.expectRevert(abi.encodeWithSelector(ReportConsensus.WrongSigner.selector, 2, vm.addr(0xBAD), r.signers[2]));
        reports.submitReport(r, sigs);
    }

    function test_a_signature_over_other_contents_is_rejected() public {
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", _allSigners(), _spamVotes(1));
        bytes[] memory sigs = _signAll(r, _allSigners());
        r.votes[0] = _pv(0, 0, false); // the submitter edits a vote after signing
        vm.expectRevert();
        reports.submitReport(r, sigs);
        assertEq(registry.get(K1).finalizedAt, 0, "nothing written");
    }

    function test_a_signature_for_another_contract_is_rejected() public {
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", _allSigners(), _spamVotes(1));
        bytes[] memory sigs = _signAll(r, _allSigners());
        (uint8 sv, bytes32 rr, bytes32 s) = vm.sign(vKeys[_allSigners()[0]], _reportDigest(r, block.chainid, address(consensus)));
        sigs[0] = abi.encodePacked(rr, s, sv);
        vm.expectRevert();
        reports.submitReport(r, sigs);
    }

    function test_a_duplicate_signer_is_rejected() public {
        uint256[] memory idx = _allSigners();
        idx[1] = idx[0]; // one validator listed (and signing) twice
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", idx, _spamVotes(1));
        vm.expectRevert(abi.encodeWithSelector(ReportConsensus.SignersNotAscending.selector, 1));
        reports.submitReport(r, _signAll(r, idx));
    }

    function test_a_non_validator_signer_is_rejected() public {
        uint256[] memory none = new uint256[](1);
        uint64[] memory votes = new uint64[](1);
        votes[0] = _pv(9500, 3, false);
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", none, votes);
        uint256 strangerKey = 0x5001;
        r.signers[0] = vm.addr(strangerKey);
        bytes[] memory sigs = new bytes[](1);
        sigs[0] = _signReport(strangerKey, r);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, r.signers[0]));
        reports.submitReport(r, sigs);
    }

    function test_a_suspended_validator_cannot_sign_a_report() public {
        uint256[] memory idx = _allSigners();
        vs.deactivateValidator(vAddrs[idx[0]]);
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", idx, _spamVotes(1));
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, vAddrs[idx[0]]));
        reports.submitReport(r, _signAll(r, idx));
    }

    function test_an_expired_report_and_unsorted_keys_are_rejected() public {
        bytes32[] memory keys = _sortKeys(_three());
        ReportConsensus.Report memory r = _report(1, keys, "US", _allSigners(), _spamVotes(3));
        vm.warp(block.timestamp + 2 hours);
        vm.expectRevert(abi.encodeWithSelector(ReportConsensus.ReportExpired.selector, r.deadline));
        reports.submitReport(r, _signAll(r, _allSigners()));
        r = _report(1, keys, "US", _allSigners(), _spamVotes(3));
        (r.numberKeys[0], r.numberKeys[1]) = (r.numberKeys[1], r.numberKeys[0]);
        vm.expectRevert(abi.encodeWithSelector(ReportConsensus.KeysNotAscending.selector, 1));
        reports.submitReport(r, _signAll(r, _allSigners()));
    }

    function test_an_unapproved_model_reverts_the_report_as_it_reverts_a_bundle() public {
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", _allSigners(), _spamVotes(1));
        uint256 us;
        while (_allSigners()[us] != 0) ++us; // US scores (does not abstain)
        r.modelHashes[us] = keccak256("unregistered");
        bytes[] memory sigs = _signAll(r, _allSigners());
        vm.expectRevert(
            abi.encodeWithSelector(ReportConsensus.ModelNotApproved.selector, r.signers[us], r.modelHashes[us])
        );
        reports.submitReport(r, sigs);
    }

    function test_an_abstaining_signer_needs_no_approved_model() public {
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", _allSigners(), _spamVotes(1));
        uint256 inIdx;
        while (_allSigners()[inIdx] != 4) ++inIdx; // IN abstains
        r.modelHashes[inIdx] = keccak256("unregistered");
        (uint256 finalized,) = _submit(r);
        assertEq(finalized, 1, "lands");
    }

    function test_only_a_registry_writer_report_contract_can_land_records() public {
        vs.revokeRole(vs.REGISTRY_WRITER_ROLE(), address(reports));
        ReportConsensus.Report memory r = _report(1, _one(K1), "US", _allSigners(), _spamVotes(1));
        vm.expectRevert(abi.encodeWithSelector(SpamRegistry.NotWriter.selector, address(reports)));
        _submit(r);
    }

    // ------------------------------------------------------------------ skips and no consensus

    function test_a_locked_key_is_skipped_while_the_others_land() public {
        _spamRound(K1);
        _spamRound(K2);
        vm.prank(relayer);
        dispute.openDispute(K1, keccak256("business:acme"), "bafyclaim"); // K1: dispute pending
        vm.prank(relayer);
        uint256 id2 = dispute.openDispute(K2, keccak256("business:other"), "bafyclaim");
        vm.prank(arbiters[1]);
        dispute.vote(id2, true);
        vm.prank(arbiters[2]);
        dispute.vote(id2, true);
        dispute.resolve(id2); // K2 upheld: locked
        bytes32[] memory keys = _sortKeys(_three());
        ReportConsensus.Report memory r = _report(9, keys, "US", _allSigners(), _spamVotes(3));
        uint64 round = reports.roundOf(9);
        vm.expectEmit(true, true, false, true, address(reports));
        emit ReportConsensus.ReportKeySkipped(K2, round, reports.SKIP_LOCKED());
        (uint256 finalized, uint256 expired) = _submit(r);
        assertEq(finalized, 1, "K3 lands");
        assertEq(expired, 0, "nothing expired");
        assertEq(registry.get(K3).round, round, "K3 from the report");
        assertEq(registry.get(K2).round, 1, "K2 keeps its locked record");
        assertEq(registry.get(K2).verdict, 1, "K2 still overturned");
        assertEq(registry.get(K1).round, 1, "K1 untouched while disputed");
        assertEq(registry.get(K1).disputeStatus, 1, "K1 dispute still open");
    }

    function test_a_key_with_an_open_vote_path_round_is_skipped() public {
        _open(K1, "US");
        ReportConsensus.Report memory r = _report(4, _one(K1), "US", _allSigners(), _spamVotes(1));
        vm.expectEmit(true, true, false, true, address(reports));
        emit ReportConsensus.ReportKeySkipped(K1, reports.roundOf(4), reports.SKIP_ROUND_OPEN());
        (uint256 finalized,) = _submit(r);
        assertEq(finalized, 0, "skipped");
        assertEq(registry.get(K1).finalizedAt, 0, "no record");
    }

    /// FR and IN (15% of the weight) alone: the vote path expires the round at its deadline for
    /// participation; the report path expires it for participation at once.
    function test_too_little_weight_gives_the_vote_path_no_consensus() public {
        uint256[5] memory order = _ascending();
        uint64[] memory votes = new uint64[](5);
        for (uint256 j; j < 5; ++j) if (order[j] >= 3) votes[j] = _pv(9500, 3, false);
        uint64 round = _open(K2, "US");
        _castAs(3, K2, round, 9500, 3, false);
        _castAs(4, K2, round, 9500, 3, false);
        vm.warp(block.timestamp + 1 days + 1);
        vm.recordLogs();
        consensus.finalize(K2);
        uint8 voteReason = _reasonIn(vm.getRecordedLogs(), K2);
        ReportConsensus.Report memory r = _report(5, _one(K1), "US", _allSigners(), votes);
        vm.recordLogs();
        (uint256 finalized, uint256 expired) = _submit(r);
        uint8 reportReason = _reasonIn(vm.getRecordedLogs(), K1);
        assertEq(finalized, 0, "nothing finalized");
        assertEq(expired, 1, "expired");
        assertEq(voteReason, consensus.NO_CONSENSUS_PARTICIPATION(), "vote path: participation");
        assertEq(reportReason, voteReason, "same reason");
        assertEq(registry.get(K1).finalizedAt, 0, "no record");
    }

    /// Same five (possibly absent or abstaining) votes through both paths, in the same order:
    /// the report's outcome equals an early `finalizeMany` of the vote path when it reaches
    /// quorum; short of quorum the vote path cannot close early and the report expires for
    /// participation.
    function testFuzz_report_and_vote_path_agree(uint256 seed, uint16 quorumBps, uint16 shareBps) public {
        consensus.setQuorumBps(uint16(bound(quorumBps, 1, 10000)));
        consensus.setMinVerdictShareBps(uint16(bound(shareBps, 1, 10000)));
        assertTrue(differential(seed), "report path and vote path disagree");
    }

    function test_differential_covers_finalized_expired_and_short_outcomes() public {
        uint256 finalizedSeen;
        uint256 expiredSeen;
        for (uint256 s; s < 24; ++s) {
            assertTrue(differential(uint256(keccak256(abi.encode(s)))), "disagree");
            if (lastOutcome == 2) ++finalizedSeen;
            if (lastOutcome == 3) ++expiredSeen;
        }
        assertGe(finalizedSeen, 1, "some finalized");
        assertGe(expiredSeen, 1, "some expired");
    }

}

/// @notice Invariant: whatever the governance parameters and thresholds, the report path and
///         the vote path decide the same votes the same way.
contract ReportDifferentialHandler {
    ReportDifferential internal immutable suite;
    uint256 public mismatches;
    uint256 public calls;

    constructor(ReportDifferential suite_) {
        suite = suite_;
    }

    function compare(uint256 seed) external {
        ++calls;
        if (!suite.differential(seed)) ++mismatches;
    }

    function govern(uint256 seed) external {
        suite.govern(seed);
    }
}

contract ReportPathInvariants is ReportDifferential {
    ReportDifferentialHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new ReportDifferentialHandler(this);
        targetContract(address(handler));
    }

    function invariant_report_path_and_vote_path_agree() public view {
        assertEq(handler.mismatches(), 0, "mismatches");
    }
}
