// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {Consensus} from "../Consensus.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {Governed} from "../lib/Governed.sol";

contract ConsensusTest is LedgerFixture {
    function test_type_hash_matches_the_agreed_type_string() public view {
        assertEq(consensus.SCORE_VOTE_TYPEHASH(), VOTE_TYPEHASH, "typehash");
    }

    function test_hashVote_equals_an_independent_eip712_digest() public view {
        Consensus.ScoreVote memory v = _vote(KEY, 1, 8000, 3, false);
        assertEq(consensus.hashVote(v), _digest(v, block.chainid, address(consensus)), "digest");
    }

    function test_seed_round_finalizes_as_spam_with_the_weighted_score() public {
        uint64 round = _spamRound(KEY);
        SpamRegistry.Record memory r = registry.get(KEY);
        // (4000*9000 + 2500*8500 + 2000*8000 + 1000*6000) / 9500 = 8342 (IN abstained)
        assertEq(r.score, 8342, "score");
        assertEq(r.verdict, 3, "verdict spam");
        assertEq(r.category, 3, "category scam by weight");
        assertEq(r.round, round, "round");
        assertEq(uint16(r.majorityCountry), uint16(bytes2("US")), "majority country");
        assertEq(r.expiresAt, block.timestamp + 90 days, "expiry");
        assertEq(registry.verdictOf(KEY), 3, "effective verdict");
        assertEq(consensus.currentRound(KEY).status, 2, "round finalized");
        // A closed round keeps its participation; the other sums are in its events.
        Consensus.Tally memory t = consensus.tallyOf(KEY);
        assertEq(t.participatingWeight, 10000, "participating");
        assertEq(t.round, round, "tally of that round");
        assertEq(consensus.currentRound(KEY).voteCount, 5, "final vote count kept");
    }

    function test_vote_cast_event_carries_everything_needed_to_recompute() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 7777, 2, false);
        bytes memory sig = _sign(vKeys[2], v);
        vm.expectEmit(true, true, true, true, address(consensus));
        emit Consensus.VoteCast(KEY, round, vAddrs[2], "DE", 2000, 7777, 9000, 2, false, MODEL, "bafyevidence");
        consensus.castVote(v, sig);
    }

    function test_bundle_counts_every_signature() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote[] memory votes = new Consensus.ScoreVote[](5);
        bytes[] memory sigs = new bytes[](5);
        for (uint256 i; i < 5; ++i) {
            votes[i] = _vote(KEY, round, uint16(5000 + 1000 * (i % 3)), 1, false);
            sigs[i] = _sign(vKeys[i], votes[i]);
        }
        vm.prank(stranger);
        consensus.castVotes(votes, sigs);
        assertEq(consensus.currentRound(KEY).voteCount, 5, "five counted");
        consensus.finalize(KEY);
        // US 5000, GB 6000, DE 7000, FR 5000, IN 6000
        uint256 expected = (4000 * 5000 + 2500 * 6000 + 2000 * 7000 + 1000 * 5000 + 500 * 6000) / uint256(10000);
        assertEq(registry.get(KEY).score, expected, "bundle score");
        assertEq(registry.get(KEY).verdict, 2, "suspicious");
    }

    function test_vote_twice_is_rejected() public {
        uint64 round = _open(KEY, "US");
        _castAs(1, KEY, round, 9000, 3, false);
        Consensus.ScoreVote memory v = _vote(KEY, round, 1000, 3, false);
        bytes memory sig = _sign(vKeys[1], v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.AlreadyVoted.selector, KEY, round, vAddrs[1]));
        consensus.castVote(v, sig);
    }

    function test_same_validator_twice_in_one_bundle_counts_once() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote[] memory votes = new Consensus.ScoreVote[](2);
        bytes[] memory sigs = new bytes[](2);
        votes[0] = _vote(KEY, round, 9000, 3, false);
        votes[1] = _vote(KEY, round, 100, 3, false);
        sigs[0] = _sign(vKeys[0], votes[0]);
        sigs[1] = _sign(vKeys[0], votes[1]);
        vm.expectEmit(true, true, true, true, address(consensus));
        emit Consensus.VoteSkipped(KEY, round, vAddrs[0], 1);
        consensus.castVotes(votes, sigs);
        assertEq(consensus.currentRound(KEY).voteCount, 1, "first counted, second skipped");
        assertEq(consensus.tallyOf(KEY).weightedScoreSum, uint256(4000) * 9000, "the first vote's score");
    }

    function test_signature_from_a_previous_round_is_rejected() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory old = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _sign(vKeys[0], old);
        consensus.castVote(old, sig);
        for (uint256 i = 1; i < 4; ++i) _castAs(i, KEY, round, 9000, 3, false);
        consensus.finalize(KEY);
        uint64 next = _open(KEY, "US");
        assertEq(next, round + 1, "next round id");
        vm.expectRevert(abi.encodeWithSelector(Consensus.WrongRound.selector, KEY, next, round));
        consensus.castVote(old, sig);
    }

    function test_signature_for_another_chain_is_rejected() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _signFor(vKeys[0], v, block.chainid + 1, address(consensus));
        vm.expectRevert(); // recovers to a stranger: NotValidator(<random address>)
        consensus.castVote(v, sig);
        assertFalse(consensus.hasVoted(KEY, round, vAddrs[0]), "not counted");
    }

    function test_signature_replayed_after_a_chain_fork_is_rejected() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _sign(vKeys[0], v);
        vm.chainId(block.chainid + 7);
        vm.expectRevert();
        consensus.castVote(v, sig);
    }

    function test_signature_for_another_consensus_contract_is_rejected() public {
        Consensus other = new Consensus(vs, models, registry);
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _signFor(vKeys[0], v, block.chainid, address(other));
        vm.expectRevert();
        consensus.castVote(v, sig);
        assertFalse(consensus.hasVoted(KEY, round, vAddrs[0]), "not counted");
    }

    function test_non_validator_signature_is_rejected() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _sign(0x5001, v);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, stranger));
        consensus.castVote(v, sig);
    }

    function test_deactivated_validator_cannot_vote() public {
        uint64 round = _open(KEY, "US");
        vs.deactivateValidator(vAddrs[3]);
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _sign(vKeys[3], v);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, vAddrs[3]));
        consensus.castVote(v, sig);
    }

    function test_malformed_signature_is_rejected() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        vm.expectRevert(Consensus.InvalidSignature.selector);
        consensus.castVote(v, hex"1234");
    }

    /// The (r, n - s, v ^ 1) twin of a valid signature recovers the same signer; it is refused.
    function test_malleable_twin_signature_is_rejected() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        (uint8 sv, bytes32 r, bytes32 sg) = vm.sign(vKeys[0], _digest(v, block.chainid, address(consensus)));
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        bytes memory twin = abi.encodePacked(r, bytes32(n - uint256(sg)), sv == 27 ? uint8(28) : uint8(27));
        assertEq(ecrecover(_digest(v, block.chainid, address(consensus)), sv == 27 ? 28 : 27, r, bytes32(n - uint256(sg))), vAddrs[0], "the twin recovers the signer");
        vm.expectRevert(Consensus.InvalidSignature.selector);
        consensus.castVote(v, twin);
        consensus.castVote(v, abi.encodePacked(r, sg, sv));
        assertTrue(consensus.hasVoted(KEY, round, vAddrs[0]), "the original counts");
    }

    /// Fuzz: a signature of any length but 65 bytes is refused, even with a valid prefix.
    function testFuzz_signature_of_another_length_is_rejected(uint8 extra, bool shorter) public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _sign(vKeys[0], v);
        uint256 len = shorter ? uint256(extra) % 65 : 66 + uint256(extra);
        bytes memory odd = new bytes(len);
        for (uint256 i; i < len && i < 65; ++i) odd[i] = sig[i];
        vm.expectRevert(Consensus.InvalidSignature.selector);
        consensus.castVote(v, odd);
    }

    function test_vote_past_its_own_deadline_is_rejected() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _sign(vKeys[0], v);
        vm.warp(block.timestamp + 2 hours);
        vm.expectRevert(abi.encodeWithSelector(Consensus.VoteExpired.selector, v.deadline));
        consensus.castVote(v, sig);
    }

    function test_vote_after_round_deadline_is_rejected() public {
        uint64 round = _open(KEY, "US");
        vm.warp(block.timestamp + 1 days + 1);
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _sign(vKeys[0], v);
        vm.expectRevert(
            abi.encodeWithSelector(
                Consensus.RoundDeadlinePassed.selector, KEY, round, consensus.currentRound(KEY).deadline
            )
        );
        consensus.castVote(v, sig);
    }

    function test_unapproved_model_is_rejected_but_abstain_needs_none() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        v.modelHash = keccak256("unknown");
        bytes memory sig = _sign(vKeys[0], v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.ModelNotApproved.selector, v.modelHash));
        consensus.castVote(v, sig);
        v.abstain = true;
        consensus.castVote(v, _sign(vKeys[0], v));
        assertTrue(consensus.hasVoted(KEY, round, vAddrs[0]), "abstention counted");
    }

    function test_revoked_model_is_rejected() public {
        uint64 round = _open(KEY, "US");
        models.revokeModel(vAddrs[0], MODEL);
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        bytes memory sig = _sign(vKeys[0], v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.ModelNotApproved.selector, MODEL));
        consensus.castVote(v, sig);
    }

    function test_out_of_range_fields_are_rejected() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 10001, 3, false);
        bytes memory sig = _sign(vKeys[0], v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.ScoreOutOfRange.selector, uint16(10001)));
        consensus.castVote(v, sig);
        v = _vote(KEY, round, 100, 8, false);
        sig = _sign(vKeys[0], v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.InvalidCategory.selector, uint8(8)));
        consensus.castVote(v, sig);
    }

    function test_only_a_validator_opens_a_round_and_only_one_at_a_time() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, stranger));
        consensus.openRound(KEY, "US");
        uint64 round = _open(KEY, "US");
        vm.prank(vAddrs[1]);
        vm.expectRevert(abi.encodeWithSelector(Consensus.RoundAlreadyOpen.selector, KEY, round));
        consensus.openRound(KEY, "US");
        vm.prank(vAddrs[1]);
        vm.expectRevert(abi.encodeWithSelector(Consensus.InvalidCountry.selector, bytes2("us")));
        consensus.openRound(keccak256("other"), "us");
    }

    function test_finalize_before_quorum_is_rejected() public {
        uint64 round = _open(KEY, "US");
        _castAs(0, KEY, round, 9000, 3, false);
        _castAs(1, KEY, round, 9000, 3, false); // 6500 < 6667 bps
        vm.expectRevert(abi.encodeWithSelector(Consensus.QuorumNotReached.selector, KEY, uint64(6500), uint256(6667)));
        consensus.finalize(KEY);
    }

    function test_round_finalizes_at_deadline_with_minimum_participation() public {
        uint64 round = _open(KEY, "GB");
        _castAs(0, KEY, round, 9000, 3, false);
        _castAs(3, KEY, round, 5000, 3, false); // 5000 bps: meets the 5000 minimum, not quorum
        vm.warp(block.timestamp + 1 days + 1);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).score, (4000 * 9000 + 1000 * 5000) / uint256(5000), "score");
        assertEq(consensus.currentRound(KEY).status, 2, "finalized");
    }

    function test_round_expires_at_deadline_without_minimum() public {
        uint64 round = _open(KEY, "US");
        _castAs(1, KEY, round, 9000, 3, false);
        vm.warp(block.timestamp + 1 days + 1);
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.RoundExpired(KEY, round, 2500, 1);
        consensus.finalize(KEY);
        assertEq(consensus.currentRound(KEY).status, 3, "expired");
        assertEq(registry.get(KEY).finalizedAt, 0, "registry untouched");
        _open(KEY, "US"); // a new round may open
    }

    function test_all_abstain_expires_and_keeps_the_record() public {
        _spamRound(KEY);
        vm.warp(block.timestamp + 1);
        uint64 round = _open(KEY, "US");
        for (uint256 i; i < 5; ++i) _castAs(i, KEY, round, 0, 0, true);
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.RoundNoConsensus(KEY, round, 4);
        consensus.finalize(KEY);
        assertEq(consensus.currentRound(KEY).status, 3, "expired");
        assertEq(registry.get(KEY).verdict, 3, "spam record kept");
        assertEq(registry.get(KEY).round, round - 1, "from the previous round");
    }

    function test_country_thresholds_pick_the_verdict() public {
        consensus.setThresholds("DE", 9000, 8000);
        bytes32 k2 = keccak256("k2");
        uint64 round = _open(k2, "DE");
        for (uint256 i; i < 4; ++i) _castAs(i, k2, round, 8500, 2, false);
        consensus.finalize(k2);
        assertEq(registry.get(k2).verdict, 2, "suspicious under DE thresholds");
        round = _open(KEY, "US");
        for (uint256 i; i < 4; ++i) _castAs(i, KEY, round, 8500, 2, false);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).verdict, 3, "spam under default thresholds");
    }

    function test_not_spam_verdict_has_no_category() public {
        uint64 round = _open(KEY, "US");
        for (uint256 i; i < 4; ++i) _castAs(i, KEY, round, 1000, 2, false);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).verdict, 1, "not spam");
        assertEq(registry.get(KEY).category, 0, "no category");
        assertEq(uint16(registry.get(KEY).majorityCountry), 0, "no flagging country");
    }

    function test_governance_parameters_need_governance() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotGovernance.selector, stranger));
        consensus.setQuorumBps(5000);
        vm.expectRevert(abi.encodeWithSelector(Governed.InvalidParameter.selector, bytes32("quorumBps"), uint256(0)));
        consensus.setQuorumBps(0);
        vm.expectRevert(abi.encodeWithSelector(Consensus.InvalidThresholds.selector, uint16(4000), uint16(7000)));
        consensus.setThresholds("US", 4000, 7000);
        consensus.setQuorumBps(5000);
        assertEq(consensus.quorumBps(), 5000, "quorum set");
    }

    /// Fuzz: the stored score is the weighted tally of the votes actually counted.
    function testFuzz_stored_score_equals_weighted_tally(uint16[5] memory scores, uint8 abstainMask, uint8 cats)
        public
    {
        uint64 round = _open(KEY, "US");
        uint256 sum;
        uint256 weight;
        for (uint256 i; i < 5; ++i) {
            uint16 s = uint16(bound(scores[i], 0, 10000));
            bool abstain = (abstainMask >> i) & 1 == 1;
            _castAs(i, KEY, round, s, uint8((cats >> i) % 8), abstain);
            if (!abstain) {
                sum += uint256(vWeights[i]) * s;
                weight += vWeights[i];
            }
        }
        uint256 flagging;
        for (uint256 i; i < 5; ++i) {
            if ((abstainMask >> i) & 1 == 0 && bound(scores[i], 0, 10000) >= 4000) flagging += vWeights[i];
        }
        consensus.finalize(KEY);
        SpamRegistry.Record memory r = registry.get(KEY);
        uint256 side = weight == 0 ? 0 : (sum / weight >= 4000 ? flagging : weight - flagging);
        if (weight == 0 || side * 10000 < 2500 * uint256(10000)) {
            assertEq(consensus.currentRound(KEY).status, 3, "no consensus: expired");
            assertEq(r.finalizedAt, 0, "registry untouched");
        } else {
            assertEq(r.score, sum / weight, "weighted score");
            uint8 expected = r.score >= 7000 ? 3 : r.score >= 4000 ? 2 : 1;
            assertEq(r.verdict, expected, "verdict by thresholds");
        }
    }

    /// Fuzz: a vote signed for round r is refused in any other round number.
    function testFuzz_vote_for_another_round_is_rejected(uint64 wrongRound) public {
        uint64 round = _open(KEY, "US");
        vm.assume(wrongRound != round);
        Consensus.ScoreVote memory v = _vote(KEY, wrongRound, 9000, 3, false);
        bytes memory sig = _sign(vKeys[0], v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.WrongRound.selector, KEY, round, wrongRound));
        consensus.castVote(v, sig);
    }

    /// Fuzz: a signature over any other digest never counts for the validator.
    function testFuzz_tampered_vote_does_not_count_for_the_signer(uint16 score, uint16 tampered) public {
        score = uint16(bound(score, 0, 10000));
        tampered = uint16(bound(tampered, 0, 10000));
        vm.assume(score != tampered);
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, score, 3, false);
        bytes memory sig = _sign(vKeys[0], v);
        v.score = tampered;
        vm.expectRevert();
        consensus.castVote(v, sig);
        assertFalse(consensus.hasVoted(KEY, round, vAddrs[0]), "not counted");
    }
}
