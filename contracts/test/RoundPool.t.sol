// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {Consensus} from "../Consensus.sol";
import {SpamRegistry} from "../SpamRegistry.sol";

/// @notice The round pool: a closed round's storage entry is reused by the next round opened
///         (any key). Nothing of the earlier round may leak into the next one: seats,
///         category weights, flagging weights, majority country, sums.
contract RoundPoolTest is LedgerFixture {
    bytes32 internal constant A = keccak256("key-a");
    bytes32 internal constant B = keccak256("key-b");

    function _castWith(uint256 pk, bytes32 key, uint64 round, uint16 score, uint8 cat, bool abstain) internal {
        Consensus.ScoreVote memory v = _vote(key, round, score, cat, abstain);
        consensus.castVote(v, _sign(pk, v));
    }

    function test_reused_entry_starts_clean() public {
        // Round on A: US and GB flag it as scam (category 3); DE says robocall.
        uint64 ra = _open(A, "US");
        _castAs(0, A, ra, 9000, 3, false);
        _castAs(1, A, ra, 9000, 3, false);
        _castAs(2, A, ra, 9000, 1, false);
        consensus.finalize(A);
        assertEq(uint16(registry.get(A).majorityCountry), uint16(bytes2("US")), "A: US leads");
        assertEq(registry.get(A).category, 3, "A: scam");
        // B takes A's freed entry: every view of B starts empty.
        uint64 rb = _open(B, "US");
        Consensus.Tally memory t = consensus.tallyOf(B);
        assertEq(t.participatingWeight + t.scoringWeight + t.flaggingWeight + t.contestWeight, 0, "no sums");
        assertEq(t.weightedScoreSum, 0, "no score sum");
        uint64[8] memory cats = consensus.categoryWeights(B, rb);
        for (uint256 i; i < 8; ++i) assertEq(cats[i], 0, "no category weight");
        assertEq(consensus.flaggingWeightOf(B, "US"), 0, "no US flagging weight");
        for (uint256 i; i < 5; ++i) assertFalse(consensus.hasVoted(B, rb, vAddrs[i]), "no seat taken");
        assertEq(consensus.currentRound(B).voteCount, 0, "no votes");
        // B: GB and DE flag robocall, US abstains. A leaked US weight or scam weight would
        // change the majority country or the category.
        _castAs(0, B, rb, 0, 0, true);
        _castAs(1, B, rb, 9000, 1, false);
        _castAs(2, B, rb, 8000, 1, false);
        consensus.finalize(B);
        SpamRegistry.Record memory r = registry.get(B);
        assertEq(r.score, (2500 * 9000 + 2000 * 8000) / uint256(4500), "score of B's votes only");
        assertEq(r.category, 1, "robocall");
        assertEq(uint16(r.majorityCountry), uint16(bytes2("GB")), "GB leads B");
        assertEq(consensus.currentRound(B).voteCount, 3, "three votes in B");
    }

    function test_closed_round_keeps_its_figures_while_the_entry_is_reused() public {
        uint64 ra = _open(A, "US");
        _castAs(0, A, ra, 9000, 3, false);
        _castAs(1, A, ra, 9000, 3, false);
        _castAs(2, A, ra, 9000, 3, false);
        consensus.finalize(A);
        uint64 rb = _open(B, "US");
        _castAs(4, B, rb, 9000, 3, false);
        Consensus.Round memory a = consensus.currentRound(A);
        assertEq(a.status, 2, "A finalized");
        assertEq(a.voteCount, 3, "A's final vote count");
        assertEq(uint16(a.majorityCountry), uint16(bytes2("US")), "A's majority country");
        assertEq(consensus.tallyOf(A).participatingWeight, 8500, "A's participation");
        assertFalse(consensus.hasVoted(A, ra, vAddrs[0]), "closed round: seats not kept");
        assertEq(consensus.currentRound(B).voteCount, 1, "B counts its own vote only");
    }

    function test_expired_round_frees_its_entry_and_keeps_its_figures() public {
        uint64 ra = _open(A, "US");
        _castAs(4, A, ra, 9000, 3, false); // IN alone: 5% participation
        vm.warp(block.timestamp + 2 days);
        consensus.finalize(A);
        assertEq(consensus.currentRound(A).status, 3, "expired");
        assertEq(consensus.currentRound(A).voteCount, 1, "its vote count");
        assertEq(consensus.tallyOf(A).participatingWeight, 500, "its participation");
        uint64 rb = _open(B, "US");
        _castAs(4, B, rb, 9000, 3, false);
        assertTrue(consensus.hasVoted(B, rb, vAddrs[4]), "IN's seat in B");
        ra = _open(A, "US");
        assertEq(ra, 2, "A's next round");
        assertFalse(consensus.hasVoted(A, ra, vAddrs[4]), "A's new round has a new entry");
    }

    /// Validators beyond seat 31 keep their seat bits in a second slot of the entry.
    function test_high_seats_count_once_and_start_clean_in_the_next_round() public {
        uint256 pk;
        for (uint256 i; i < 40; ++i) {
            pk = 0x9000 + i;
            vs.admitValidator(vm.addr(pk), "BR", 10);
        }
        (,,, uint8 seat) = vs.voterOf(vm.addr(pk));
        assertGe(seat, 32, "a high seat");
        vm.warp(block.timestamp + 1);
        uint64 ra = _open(A, "US");
        _castWith(pk, A, ra, 0, 0, true);
        assertTrue(consensus.hasVoted(A, ra, vm.addr(pk)), "high seat taken");
        Consensus.ScoreVote memory v = _vote(A, ra, 0, 0, true);
        bytes memory sig = _sign(pk, v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.AlreadyVoted.selector, A, ra, vm.addr(pk)));
        consensus.castVote(v, sig);
        Consensus.ScoreVote[] memory vs_ = new Consensus.ScoreVote[](1);
        bytes[] memory sigs = new bytes[](1);
        (vs_[0], sigs[0]) = (v, sig);
        vm.expectEmit(true, true, true, true, address(consensus));
        emit Consensus.VoteSkipped(A, ra, vm.addr(pk), consensus.SKIP_ALREADY_COUNTED());
        consensus.castVotes(vs_, sigs);
        for (uint256 i; i < 4; ++i) _castAs(i, A, ra, 9000, 3, false);
        consensus.finalize(A);
        uint64 rb = _open(B, "US");
        assertFalse(consensus.hasVoted(B, rb, vm.addr(pk)), "reused entry: high seat free");
        _castWith(pk, B, rb, 0, 0, true);
        assertTrue(consensus.hasVoted(B, rb, vm.addr(pk)), "counted in B");
        assertEq(consensus.currentRound(B).voteCount, 1, "once");
    }

    // ------------------------------------------------------------------ fuzz: recount

    struct Count {
        uint256 sum;
        uint256 scoring;
        uint256 flagging;
        uint256[8] cats;
        bytes2 leader;
        uint256 leaderWeight;
    }

    /// Fuzz: rounds on three keys, several open at once and closed in random order, so pool
    /// entries pass between keys; every outcome equals an independent recount of its votes.
    function testFuzz_outcomes_equal_the_recount_while_entries_move_between_keys(uint256 seed) public {
        bytes32[3] memory keys = [keccak256("p0"), keccak256("p1"), keccak256("p2")];
        for (uint256 cycle; cycle < 4; ++cycle) {
            Count[3] memory counts;
            uint64[3] memory rounds;
            for (uint256 k; k < 3; ++k) rounds[k] = _open(keys[k], "US");
            // Votes interleave across the open rounds.
            for (uint256 i; i < 5; ++i) {
                for (uint256 k; k < 3; ++k) {
                    seed = uint256(keccak256(abi.encode(seed, cycle, i, k)));
                    _fuzzVote(counts[k], i, keys[k], rounds[k], seed);
                }
            }
            uint256 order = seed % 6;
            for (uint256 j; j < 3; ++j) {
                uint256 k = (order + j * (order % 2 == 0 ? 1 : 2)) % 3;
                _finalizeAndCheck(keys[k], rounds[k], counts[k]);
            }
        }
    }

    function _fuzzVote(Count memory c, uint256 i, bytes32 key, uint64 round, uint256 seed) internal {
        bool abstain = seed % 4 == 0;
        uint16 score = uint16((seed >> 8) % 10001);
        uint8 cat = uint8((seed >> 24) % 8);
        _castAs(i, key, round, score, cat, abstain);
        if (abstain) return;
        uint256 w = vWeights[i];
        c.sum += w * score;
        c.scoring += w;
        c.cats[cat] += w;
        if (score < 4000) return;
        c.flagging += w;
        // One validator per country here: its weight is its country's flagging weight.
        if (c.leader == bytes2(0) || w > c.leaderWeight) (c.leader, c.leaderWeight) = (vCountries[i], w);
    }

    function _finalizeAndCheck(bytes32 key, uint64 round, Count memory c) internal {
        assertEq(consensus.tallyOf(key).scoringWeight, c.scoring, "open round: scoring weight");
        assertEq(consensus.tallyOf(key).flaggingWeight, c.flagging, "open round: flagging weight");
        SpamRegistry.Record memory before = registry.get(key);
        consensus.finalize(key);
        SpamRegistry.Record memory r = registry.get(key);
        if (c.scoring == 0) {
            assertEq(consensus.currentRound(key).status, 3, "no scores: expired");
            return;
        }
        uint256 score = c.sum / c.scoring;
        uint8 verdict = score >= 7000 ? 3 : score >= 4000 ? 2 : 1;
        uint256 side = verdict == 1 ? c.scoring - c.flagging : c.flagging;
        if (side * 10000 < 2500 * uint256(10000)) {
            assertEq(consensus.currentRound(key).status, 3, "verdict share: expired");
            assertEq(r.round, before.round, "registry untouched");
            return;
        }
        assertEq(r.round, round, "this round's record");
        assertEq(r.score, score, "score");
        assertEq(r.verdict, verdict, "verdict");
        assertEq(r.category, verdict == 1 ? 0 : _top(c.cats), "category");
        assertEq(uint16(r.majorityCountry), uint16(c.leader), "majority country");
    }

    function _top(uint256[8] memory cats) internal pure returns (uint8 best) {
        uint256 bestWeight;
        for (uint8 i; i < 8; ++i) {
            if (cats[i] > bestWeight) (best, bestWeight) = (i, cats[i]);
        }
    }
}
