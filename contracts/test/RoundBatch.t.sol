// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {Consensus} from "../Consensus.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {Governed} from "../lib/Governed.sol";
import {Vm} from "./Vm.sol";

/// @notice `openRounds` and `finalizeMany`: one transaction for many numbers, the same rules
///         and events as `openRound`/`finalize` per key, and a key the chain no longer admits
///         (opened or closed first by someone else, listed twice, locked, disputed, short of
///         quorum) skipped with an event instead of reverting the batch.
contract RoundBatchTest is LedgerFixture {
    bytes32 internal constant K1 = keccak256("hmac(+14155550001)");
    bytes32 internal constant K2 = keccak256("hmac(+14155550002)");
    bytes32 internal constant K3 = keccak256("hmac(+14155550003)");
    bytes32 internal constant CLAIMANT = keccak256("business:acme");

    function _keys(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory k) {
        k = new bytes32[](2);
        (k[0], k[1]) = (a, b);
    }

    function _keys(bytes32 a, bytes32 b, bytes32 c) internal pure returns (bytes32[] memory k) {
        k = new bytes32[](3);
        (k[0], k[1], k[2]) = (a, b, c);
    }

    function _countries(uint256 n, bytes2 c) internal pure returns (bytes2[] memory out) {
        out = new bytes2[](n);
        for (uint256 i; i < n; ++i) out[i] = c;
    }

    function _openMany(uint256 validator, bytes32[] memory keys, bytes2[] memory countries)
        internal
        returns (uint256)
    {
        vm.prank(vAddrs[validator]);
        return consensus.openRounds(keys, countries);
    }

    /// US 4000, GB 2500, DE 2000 flag spam: 85% of the weight, quorum and verdict share met.
    function _spamVotes(bytes32 key, uint64 round) internal {
        _castAs(0, key, round, 9000, 3, false);
        _castAs(1, key, round, 8500, 3, false);
        _castAs(2, key, round, 8000, 1, false);
    }

    // ------------------------------------------------------------------ openRounds

    function test_openRounds_opens_each_key_as_openRound_does() public {
        bytes2[] memory countries = new bytes2[](3);
        (countries[0], countries[1], countries[2]) = (bytes2("US"), bytes2("GB"), bytes2("IN"));
        uint40 deadline = uint40(block.timestamp) + consensus.roundDuration();
        vm.expectEmit(true, true, true, true, address(consensus));
        emit Consensus.RoundOpened(K1, 1, "US", vAddrs[1], deadline);
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.RoundEligibleWeight(K1, 1, 10000);
        vm.expectEmit(true, false, false, true, address(consensus));
        emit Consensus.RoundsOpened(vAddrs[1], 3, 0);
        assertEq(_openMany(1, _keys(K1, K2, K3), countries), 3, "opened");
        bytes32[3] memory keys = [K1, K2, K3];
        for (uint256 i; i < 3; ++i) {
            Consensus.Round memory r = consensus.currentRound(keys[i]);
            assertEq(r.id, 1, "round 1");
            assertEq(r.status, consensus.ROUND_OPEN(), "open");
            assertEq(r.country, countries[i], "country of its own item");
            assertEq(r.eligibleWeight, 10000, "eligible weight fixed at opening");
            assertEq(r.deadline, deadline, "deadline");
        }
        // Rounds opened in a batch take votes and finalize like any other.
        _spamVotes(K2, 1);
        consensus.finalize(K2);
        assertEq(registry.get(K2).verdict, 3, "spam");
    }

    function test_openRounds_refuses_callers_that_are_not_active_validators() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, stranger));
        consensus.openRounds(_keys(K1, K2), _countries(2, "US"));
        vs.deactivateValidator(vAddrs[3]);
        vm.prank(vAddrs[3]);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, vAddrs[3]));
        consensus.openRounds(_keys(K1, K2), _countries(2, "US"));
        assertEq(consensus.currentRound(K1).status, 0, "nothing opened");
    }

    function test_openRounds_malformed_batches_revert_whole() public {
        vm.startPrank(vAddrs[0]);
        vm.expectRevert(Consensus.EmptyBundle.selector);
        consensus.openRounds(new bytes32[](0), new bytes2[](0));
        vm.expectRevert(abi.encodeWithSelector(Consensus.BundleTooLarge.selector, 65, 64));
        consensus.openRounds(new bytes32[](65), new bytes2[](65));
        vm.expectRevert(abi.encodeWithSelector(Consensus.LengthMismatch.selector, 2, 1));
        consensus.openRounds(_keys(K1, K2), _countries(1, "US"));
        bytes2[] memory bad = _countries(2, "US");
        bad[1] = "us";
        vm.expectRevert(abi.encodeWithSelector(Consensus.InvalidCountry.selector, bytes2("us")));
        consensus.openRounds(_keys(K1, K2), bad);
        vm.stopPrank();
        assertEq(consensus.currentRound(K1).status, 0, "the valid first item did not open either");
    }

    /// Hostile: another validator sees the batch in the mempool and opens one of its keys first
    /// under another country. The batch still opens the rest; the copied key keeps the first
    /// opening (no second round, no country change).
    function test_openRounds_front_run_key_is_skipped_not_reopened() public {
        vm.prank(vAddrs[4]);
        consensus.openRound(K2, "IN");
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.OpenSkipped(K2, 1, consensus.OPEN_SKIP_ALREADY_OPEN());
        vm.expectEmit(true, false, false, true, address(consensus));
        emit Consensus.RoundsOpened(vAddrs[0], 2, 1);
        assertEq(_openMany(0, _keys(K1, K2, K3), _countries(3, "US")), 2, "two opened");
        assertEq(consensus.currentRound(K2).id, 1, "not reopened");
        assertEq(consensus.currentRound(K2).country, bytes2("IN"), "the first opening stands");
        assertEq(consensus.currentRound(K1).status, consensus.ROUND_OPEN(), "K1 opened");
        assertEq(consensus.currentRound(K3).status, consensus.ROUND_OPEN(), "K3 opened");
    }

    /// Hostile: a key listed twice (with another country the second time) opens once.
    function test_openRounds_duplicate_key_opens_once() public {
        bytes2[] memory countries = _countries(3, "US");
        countries[1] = "GB";
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.OpenSkipped(K1, 1, consensus.OPEN_SKIP_ALREADY_OPEN());
        assertEq(_openMany(0, _keys(K1, K1, K2), countries), 2, "K1 once, K2");
        Consensus.Round memory r = consensus.currentRound(K1);
        assertEq(r.id, 1, "one round");
        assertEq(r.country, bytes2("US"), "first item's country");
        // The same batch replayed later opens nothing while the rounds are open.
        assertEq(_openMany(0, _keys(K1, K1, K2), countries), 0, "replay opens nothing");
        assertEq(consensus.currentRound(K1).id, 1, "still round 1");
    }

    function test_openRounds_skips_locked_and_disputed_keys() public {
        _spamRound(K1); // round 1 of K1 spam, US majority
        _spamRound(K2);
        vm.prank(relayer);
        uint256 id1 = dispute.openDispute(K1, CLAIMANT, "bafyclaim");
        vm.prank(relayer);
        uint256 id2 = dispute.openDispute(K2, keccak256("business:other"), "bafyclaim");
        vm.prank(arbiters[1]);
        dispute.vote(id2, true);
        vm.prank(arbiters[2]);
        dispute.vote(id2, true);
        dispute.resolve(id2); // K2 upheld: locked
        assertEq(id1 + 1, id2, "two disputes");
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.OpenSkipped(K1, 1, consensus.OPEN_SKIP_DISPUTE_PENDING());
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.OpenSkipped(K2, 1, consensus.OPEN_SKIP_LOCKED());
        assertEq(_openMany(0, _keys(K1, K2, K3), _countries(3, "US")), 1, "only K3");
        assertEq(consensus.currentRound(K1).status, consensus.ROUND_FINALIZED(), "K1 not reopened");
        assertEq(consensus.currentRound(K2).status, consensus.ROUND_FINALIZED(), "K2 not reopened");
        assertEq(consensus.currentRound(K3).status, consensus.ROUND_OPEN(), "K3 open");
    }

    // ------------------------------------------------------------------ finalizeMany

    function test_finalizeMany_writes_the_same_records_as_finalize() public {
        _openMany(0, _keys(K1, K2, K3), _countries(3, "US"));
        _spamVotes(K1, 1);
        _spamVotes(K2, 1);
        _spamVotes(K3, 1);
        consensus.finalize(K3); // the reference: one key alone
        vm.expectEmit(true, true, false, false, address(consensus));
        emit Consensus.RoundFinalized(K1, 1, 0, 0, 0, 0, 0);
        vm.expectEmit(true, true, false, false, address(consensus));
        emit Consensus.RoundFinalized(K2, 1, 0, 0, 0, 0, 0);
        vm.expectEmit(true, false, false, true, address(consensus));
        emit Consensus.RoundsClosed(address(this), 2, 0, 0);
        (uint256 finalized, uint256 expired) = consensus.finalizeMany(_keys(K1, K2));
        assertEq(finalized, 2, "finalized");
        assertEq(expired, 0, "expired");
        SpamRegistry.Record memory ref = registry.get(K3);
        assertEq(ref.verdict, 3, "reference is spam");
        bytes32[2] memory keys = [K1, K2];
        for (uint256 i; i < 2; ++i) {
            SpamRegistry.Record memory r = registry.get(keys[i]);
            assertEq(r.score, ref.score, "score");
            assertEq(r.verdict, ref.verdict, "verdict");
            assertEq(r.category, ref.category, "category");
            assertEq(r.majorityCountry, ref.majorityCountry, "majority country");
            assertEq(r.round, 1, "round");
            assertEq(consensus.currentRound(keys[i]).status, consensus.ROUND_FINALIZED(), "closed");
            assertEq(consensus.currentRound(keys[i]).voteCount, 3, "vote count kept");
        }
    }

    /// Rounds without consensus expire in a batch exactly as `finalize` expires them.
    function test_finalizeMany_applies_every_no_consensus_rule() public {
        _openMany(0, _keys(K1, K2), _countries(2, "US"));
        // K1: US and GB abstain, IN (5%) alone flags: quorum (70%) but verdict share 5% < 25%.
        _castAs(0, K1, 1, 0, 0, true);
        _castAs(1, K1, 1, 0, 0, true);
        _castAs(4, K1, 1, 9500, 3, false);
        // K2: only FR (10%) votes; at the deadline participation is below 50%.
        _castAs(3, K2, 1, 9000, 3, false);
        vm.warp(block.timestamp + 1 days + 1);
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.RoundNoConsensus(K1, 1, consensus.NO_CONSENSUS_VERDICT_SHARE());
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.RoundNoConsensus(K2, 1, consensus.NO_CONSENSUS_PARTICIPATION());
        vm.expectEmit(true, false, false, true, address(consensus));
        emit Consensus.RoundsClosed(address(this), 0, 2, 0);
        (uint256 finalized, uint256 expired) = consensus.finalizeMany(_keys(K1, K2));
        assertEq(finalized, 0, "none finalized");
        assertEq(expired, 2, "both expired");
        assertEq(registry.get(K1).verdict, 0, "K1 untouched");
        assertEq(registry.get(K2).verdict, 0, "K2 untouched");
        assertEq(consensus.currentRound(K1).status, consensus.ROUND_EXPIRED(), "K1 expired");
    }

    /// Keys `finalize` would refuse are skipped; the others close.
    function test_finalizeMany_skips_what_finalize_refuses() public {
        _openMany(0, _keys(K1, K2), _countries(2, "US"));
        _spamVotes(K1, 1);
        _castAs(3, K2, 1, 9000, 3, false); // 10%: no quorum, deadline not passed
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.FinalizeSkipped(K2, 1, consensus.FINALIZE_SKIP_QUORUM_NOT_REACHED());
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.FinalizeSkipped(K3, 0, consensus.FINALIZE_SKIP_NO_OPEN_ROUND());
        vm.expectEmit(true, false, false, true, address(consensus));
        emit Consensus.RoundsClosed(address(this), 1, 0, 2);
        (uint256 finalized,) = consensus.finalizeMany(_keys(K1, K2, K3));
        assertEq(finalized, 1, "K1 only");
        assertEq(consensus.currentRound(K2).status, consensus.ROUND_OPEN(), "K2 still open");
        assertEq(consensus.tallyOf(K2).participatingWeight, 1000, "K2's tally intact");
        _spamVotes(K2, 1);
        consensus.finalize(K2);
        assertEq(registry.get(K2).verdict, 3, "K2 finalizes later");
    }

    /// Hostile: one key of a pending batch is finalized first by someone else, and the batch
    /// lists another key twice; nothing is written twice and the rest closes.
    function test_finalizeMany_front_run_and_duplicates_close_once() public {
        _openMany(0, _keys(K1, K2), _countries(2, "US"));
        _spamVotes(K1, 1);
        _spamVotes(K2, 1);
        vm.prank(stranger);
        consensus.finalize(K1);
        uint40 firstAt = registry.get(K1).finalizedAt;
        // Past the deadline too: a closed round must not be closed (or expired) again.
        vm.warp(block.timestamp + 1 days + 1);
        vm.recordLogs();
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.FinalizeSkipped(K1, 1, consensus.FINALIZE_SKIP_NO_OPEN_ROUND());
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.FinalizeSkipped(K2, 1, consensus.FINALIZE_SKIP_NO_OPEN_ROUND());
        (uint256 finalized, uint256 expired) = consensus.finalizeMany(_keys(K1, K2, K2));
        assertEq(finalized, 1, "K2 once");
        assertEq(expired, 0, "none expired");
        assertEq(registry.get(K1).finalizedAt, firstAt, "K1's record not rewritten");
        assertEq(registry.get(K2).round, 1, "K2 recorded");
        // Logs: exactly one RoundFinalized (K2) and two FinalizeSkipped (K1, second K2).
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 fin;
        uint256 skipped;
        uint256 closedAgain;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(consensus)) continue;
            if (logs[i].topics[0] == Consensus.RoundFinalized.selector) ++fin;
            if (logs[i].topics[0] == Consensus.FinalizeSkipped.selector) ++skipped;
            if (logs[i].topics[0] == Consensus.RoundExpired.selector) ++closedAgain;
        }
        assertEq(fin, 1, "one RoundFinalized");
        assertEq(closedAgain, 0, "no RoundExpired");
        assertEq(consensus.currentRound(K1).status, consensus.ROUND_FINALIZED(), "K1 stays finalized");
        assertEq(skipped, 2, "two FinalizeSkipped");
    }

    function test_finalizeMany_skips_a_round_blocked_by_a_pending_dispute() public {
        _spamRound(K1);
        uint64 round = _open(K1, "US");
        vm.prank(relayer);
        dispute.openDispute(K1, CLAIMANT, "bafyclaim");
        _spamVotes(K1, round);
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.FinalizeSkipped(K1, round, consensus.FINALIZE_SKIP_DISPUTE_PENDING());
        (uint256 finalized,) = consensus.finalizeMany(_keys(K1, K1));
        assertEq(finalized, 0, "blocked");
        assertEq(consensus.currentRound(K1).status, consensus.ROUND_OPEN(), "still open");
        assertEq(registry.get(K1).round, 1, "record from round 1");
    }

    function test_finalizeMany_malformed_batches_revert() public {
        vm.expectRevert(Consensus.EmptyBundle.selector);
        consensus.finalizeMany(new bytes32[](0));
        vm.expectRevert(abi.encodeWithSelector(Consensus.BundleTooLarge.selector, 65, 64));
        consensus.finalizeMany(new bytes32[](65));
    }
}
