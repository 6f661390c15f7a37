// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {Consensus} from "../Consensus.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {Dispute} from "../Dispute.sol";

contract DisputeTest is LedgerFixture {
    bytes32 internal constant CLAIMANT = keccak256("business:acme");

    // arbiters: 0 US 3000, 1 DE 3000, 2 FR 2000, 3 JP 2000; the seed round's majority is US.

    function setUp() public override {
        super.setUp();
        _spamRound(KEY);
    }

    function _openDispute() internal returns (uint256 id) {
        vm.prank(relayer);
        id = dispute.openDispute(KEY, CLAIMANT, "bafyclaim");
    }

    function _arbiterVote(uint256 i, uint256 id, bool uphold) internal {
        vm.prank(arbiters[i]);
        dispute.vote(id, uphold);
    }

    function test_upheld_dispute_sets_not_spam_and_locks_the_record() public {
        uint256 id = _openDispute();
        Dispute.Case memory c = dispute.getDispute(id);
        // eligible: DE 3000 + FR 2000 + JP 2000 + regulator 1000 (US arbiter excluded)
        assertEq(c.eligibleWeight, 8000, "eligible weight");
        assertEq(registry.get(KEY).disputeStatus, 1, "registry shows open");
        _arbiterVote(1, id, true);
        vm.expectRevert(abi.encodeWithSelector(Dispute.DecisionPending.selector, id, c.deadline));
        dispute.resolve(id);
        _arbiterVote(2, id, true); // 5000 >= 50% of 8000
        uint40 lockedUntil = uint40(block.timestamp) + 180 days;
        vm.expectEmit(true, true, false, true, address(dispute));
        emit Dispute.DisputeDecided(id, KEY, true, 5000, 0, lockedUntil);
        dispute.resolve(id);
        SpamRegistry.Record memory r = registry.get(KEY);
        assertEq(r.verdict, 1, "not spam");
        assertEq(r.disputeStatus, 2, "upheld");
        assertEq(r.lockedUntil, lockedUntil, "locked");
        assertEq(r.score, 8342, "tally score kept for audit");
        assertTrue(registry.isLocked(KEY), "isLocked");
        assertEq(registry.verdictOf(KEY), 1, "effective verdict not spam");
    }

    function test_upheld_lock_blocks_new_rounds_until_it_ends() public {
        uint256 id = _openDispute();
        _arbiterVote(1, id, true);
        _arbiterVote(2, id, true);
        dispute.resolve(id);
        vm.prank(vAddrs[1]);
        vm.expectRevert(abi.encodeWithSelector(Consensus.RoundRecordLocked.selector, KEY));
        consensus.openRound(KEY, "US");
        vm.warp(block.timestamp + 180 days + 1);
        vm.prank(vAddrs[1]);
        assertEq(consensus.openRound(KEY, "US"), 2, "opens after the lock");
    }

    function test_dispute_is_decided_once() public {
        uint256 id = _openDispute();
        _arbiterVote(1, id, false);
        _arbiterVote(2, id, false);
        dispute.resolve(id);
        vm.expectRevert(abi.encodeWithSelector(Dispute.DisputeClosed.selector, id, uint8(3)));
        dispute.resolve(id);
        vm.prank(arbiters[3]);
        vm.expectRevert(abi.encodeWithSelector(Dispute.DisputeClosed.selector, id, uint8(3)));
        dispute.vote(id, true);
    }

    function test_rejected_dispute_leaves_the_record() public {
        uint256 id = _openDispute();
        _arbiterVote(1, id, false);
        _arbiterVote(3, id, false);
        dispute.resolve(id);
        SpamRegistry.Record memory r = registry.get(KEY);
        assertEq(r.verdict, 3, "still spam");
        assertEq(r.disputeStatus, 3, "rejected");
        assertEq(r.lockedUntil, 0, "no lock");
        assertEq(dispute.openDisputeOf(KEY), 0, "closed");
    }

    function test_no_quorum_by_deadline_expires() public {
        uint256 id = _openDispute();
        _arbiterVote(3, id, true); // 2000 < 4000
        vm.warp(block.timestamp + 7 days + 1);
        vm.expectEmit(true, true, false, true, address(dispute));
        emit Dispute.DisputeExpired(id, KEY, 2000, 0);
        dispute.resolve(id);
        assertEq(registry.get(KEY).disputeStatus, 4, "expired");
        assertEq(registry.get(KEY).verdict, 3, "unchanged");
    }

    function test_after_deadline_majority_with_quorum_decides() public {
        uint256 id = _openDispute();
        _arbiterVote(1, id, true); // 3000 uphold
        vm.prank(regulator);
        dispute.vote(id, false); // 1000 reject; total 4000 = quorum
        vm.warp(block.timestamp + 7 days + 1);
        dispute.resolve(id);
        assertEq(dispute.getDispute(id).status, 2, "upheld by majority");
    }

    function test_votes_after_the_window_are_rejected() public {
        uint256 id = _openDispute();
        uint40 deadline = dispute.getDispute(id).deadline;
        vm.warp(uint256(deadline) + 1);
        vm.prank(arbiters[1]);
        vm.expectRevert(abi.encodeWithSelector(Dispute.VotingEnded.selector, id, deadline));
        dispute.vote(id, true);
    }

    function test_arbiter_from_the_flagging_country_cannot_vote() public {
        uint256 id = _openDispute();
        vm.prank(arbiters[0]);
        vm.expectRevert(abi.encodeWithSelector(Dispute.ArbiterFromFlaggingCountry.selector, arbiters[0], bytes2("US")));
        dispute.vote(id, true);
    }

    function test_non_arbiter_cannot_vote_and_arbiter_votes_once() public {
        uint256 id = _openDispute();
        vm.prank(vAddrs[1]); // a validator is not an arbiter
        vm.expectRevert(abi.encodeWithSelector(Dispute.NotEligibleArbiter.selector, vAddrs[1]));
        dispute.vote(id, true);
        _arbiterVote(2, id, true);
        vm.prank(arbiters[2]);
        vm.expectRevert(abi.encodeWithSelector(Dispute.AlreadyVotedOnDispute.selector, id, arbiters[2]));
        dispute.vote(id, false);
    }

    function test_only_relayer_opens_and_one_open_dispute_per_number() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Dispute.NotRelayer.selector, stranger));
        dispute.openDispute(KEY, CLAIMANT, "bafyclaim");
        uint256 id = _openDispute();
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(Dispute.DisputeAlreadyOpen.selector, KEY, id));
        dispute.openDispute(KEY, keccak256("other"), "bafyclaim");
    }

    function test_not_spam_record_cannot_be_disputed() public {
        bytes32 clean = keccak256("clean");
        uint64 round = _open(clean, "US");
        for (uint256 i; i < 4; ++i) _castAs(i, clean, round, 500, 0, false);
        consensus.finalize(clean);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(Dispute.NothingToDispute.selector, clean, uint8(1)));
        dispute.openDispute(clean, CLAIMANT, "bafyclaim");
    }

    function test_claimant_flood_is_limited() public {
        for (uint256 k; k < 3; ++k) {
            bytes32 key = keccak256(abi.encode("flood", k));
            _spamRound(key);
            vm.prank(relayer);
            dispute.openDispute(key, CLAIMANT, "bafyclaim");
        }
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(Dispute.ClaimantLimitReached.selector, CLAIMANT, uint256(3)));
        dispute.openDispute(KEY, CLAIMANT, "bafyclaim");
    }

    function test_cooldown_after_a_decision() public {
        uint256 id = _openDispute();
        _arbiterVote(1, id, false);
        _arbiterVote(2, id, false);
        dispute.resolve(id);
        uint40 until = uint40(block.timestamp) + 1 days;
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(Dispute.DisputeCooldown.selector, KEY, until));
        dispute.openDispute(KEY, CLAIMANT, "bafyclaim2");
        vm.warp(uint256(until) + 1);
        _openDispute();
    }

    function test_open_dispute_blocks_new_rounds_and_pending_finalization() public {
        _openDispute();
        vm.prank(vAddrs[1]);
        vm.expectRevert(abi.encodeWithSelector(Consensus.RoundDisputePending.selector, KEY));
        consensus.openRound(KEY, "US");
    }

    function test_no_account_without_the_writer_role_changes_a_record() public {
        address[4] memory callers = [stranger, relayer, arbiters[1], address(this)];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(abi.encodeWithSelector(SpamRegistry.NotWriter.selector, callers[i]));
            registry.applyUpheld(KEY, type(uint40).max);
        }
        assertEq(registry.get(KEY).verdict, 3, "still spam");
    }

    function test_round_open_during_an_upheld_dispute_expires_instead_of_overwriting() public {
        uint64 round = _open(KEY, "US"); // round 2, opened before the dispute
        uint256 id = _openDispute();
        for (uint256 i; i < 4; ++i) _castAs(i, KEY, round, 9900, 3, false);
        vm.expectRevert(abi.encodeWithSelector(Consensus.RoundDisputePending.selector, KEY));
        consensus.finalize(KEY);
        _arbiterVote(1, id, true);
        _arbiterVote(2, id, true);
        dispute.resolve(id);
        vm.expectEmit(true, true, false, false, address(consensus));
        emit Consensus.RoundExpired(KEY, round, 0, 0);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).verdict, 1, "still not spam");
        assertEq(registry.get(KEY).round, 1, "record from round 1");
    }

    function test_rejected_dispute_lets_a_pending_round_finalize() public {
        uint64 round = _open(KEY, "US");
        uint256 id = _openDispute();
        for (uint256 i; i < 4; ++i) _castAs(i, KEY, round, 9900, 3, false);
        _arbiterVote(1, id, false);
        _arbiterVote(2, id, false);
        dispute.resolve(id);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).round, round, "new record");
        assertEq(registry.get(KEY).disputeStatus, 0, "dispute status cleared by the new record");
    }

    /// Fuzz: whatever arbiters vote, the outcome follows the weight rule and is applied once.
    function testFuzz_outcome_follows_arbiter_weight(uint8 voteMask, uint8 sideMask, bool late) public {
        uint256 id = _openDispute();
        uint256 up;
        uint256 down;
        for (uint256 i = 1; i < 4; ++i) {
            if ((voteMask >> i) & 1 == 0) continue;
            bool uphold = (sideMask >> i) & 1 == 1;
            _arbiterVote(i, id, uphold);
            if (uphold) up += arbiterWeights[i];
            else down += arbiterWeights[i];
        }
        if (late) vm.warp(block.timestamp + 7 days + 1);
        bool early = up >= 4000 || down >= 4000;
        if (!late && !early) {
            vm.expectRevert();
            dispute.resolve(id);
            return;
        }
        dispute.resolve(id);
        uint8 status = dispute.getDispute(id).status;
        uint8 expected;
        if (!late) expected = (up >= 4000 && up > down) ? 2 : 3;
        else if (up + down >= 4000) expected = up > down ? 2 : 3;
        else expected = 4;
        assertEq(status, expected, "outcome");
        assertEq(registry.get(KEY).verdict, expected == 2 ? 1 : 3, "registry verdict");
        vm.expectRevert(abi.encodeWithSelector(Dispute.DisputeClosed.selector, id, status));
        dispute.resolve(id);
    }
}
