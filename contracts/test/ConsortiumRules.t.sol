// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {Consensus} from "../Consensus.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {Dispute} from "../Dispute.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {SnapshotRegistry} from "../SnapshotRegistry.sol";
import {ValidatorSet} from "../ValidatorSet.sol";
import {Governed} from "../lib/Governed.sol";

/// @notice The consortium-level attacks of issue 12, one test each: what a single validator,
///         one extra role holder or a mempool watcher could do, and what the contracts do now.
///         Validators: 0 US 4000, 1 GB 2500, 2 DE 2000, 3 FR 1000, 4 IN 500.
contract ConsortiumRulesTest is LedgerFixture {
    bytes32 internal constant CLAIMANT = keccak256("business:acme");

    function _signedAs(uint256 i, bytes32 key, bytes2 country, uint64 round, uint16 score)
        internal
        view
        returns (Consensus.ScoreVote memory v, bytes memory sig)
    {
        v = _vote(key, round, score, 3, false);
        v.country = country;
        sig = _sign(vKeys[i], v);
    }

    // ------------------------------------------------------------------ 1. country

    /// A DE validator opens a US number as DE (lenient thresholds); the US, GB and FR validators
    /// sign the number's real country: their votes contest the round, which expires, and the
    /// number reopened as US gets the US verdict.
    function test_opener_cannot_choose_the_country_of_a_number() public {
        consensus.setThresholds("DE", 5000, 3000);
        vm.prank(vAddrs[2]);
        uint64 round = consensus.openRound(KEY, "DE");
        (Consensus.ScoreVote memory v, bytes memory sig) = _signedAs(2, KEY, "DE", round, 6000);
        consensus.castVote(v, sig);
        for (uint256 i; i < 4; ++i) {
            if (i == 2) continue;
            (v, sig) = _signedAs(i, KEY, "US", round, 6000);
            consensus.castVote(v, sig);
        }
        assertEq(consensus.tallyOf(KEY).contestWeight, 7500, "US, GB, FR contest");
        assertEq(consensus.currentRound(KEY).voteCount, 1, "only the DE vote counted");
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.RoundNoConsensus(KEY, round, 3);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).finalizedAt, 0, "no DE-threshold verdict");
        round = _open(KEY, "US");
        for (uint256 i; i < 4; ++i) _castAs(i, KEY, round, 6000, 3, false);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).verdict, 2, "suspicious under US thresholds");
    }

    // ------------------------------------------------------------------ 2. quorum snapshot

    function test_deactivating_validators_mid_round_does_not_shrink_the_quorum() public {
        uint64 round = _open(KEY, "US");
        _castAs(0, KEY, round, 9000, 3, false);
        _castAs(1, KEY, round, 9000, 3, false); // 6500 of 10000
        vs.deactivateValidator(vAddrs[2]);
        vs.deactivateValidator(vAddrs[3]);
        vs.deactivateValidator(vAddrs[4]);
        assertEq(vs.totalActiveWeight(), 6500, "active weight shrank");
        vm.expectRevert(abi.encodeWithSelector(Consensus.QuorumNotReached.selector, KEY, uint64(6500), uint256(6667)));
        consensus.finalize(KEY);
        assertEq(consensus.currentRound(KEY).eligibleWeight, 10000, "eligible weight fixed at opening");
    }

    function test_an_empty_round_never_overwrites_a_record() public {
        _spamRound(KEY);
        vm.warp(block.timestamp + 1);
        uint64 round = _open(KEY, "US");
        for (uint256 i; i < 5; ++i) vs.deactivateValidator(vAddrs[i]);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Consensus.QuorumNotReached.selector, KEY, uint64(0), uint256(6667)));
        consensus.finalize(KEY);
        vm.warp(block.timestamp + 1 days + 1);
        vm.prank(stranger);
        consensus.finalize(KEY);
        assertEq(consensus.currentRound(KEY).status, 3, "expired");
        assertEq(registry.get(KEY).verdict, 3, "spam kept");
        assertEq(registry.get(KEY).round, round - 1, "record of the previous round");
    }

    function test_validator_admitted_or_reweighted_mid_round_does_not_vote_in_it() public {
        uint64 round = _open(KEY, "US");
        address late = vm.addr(0x1010);
        vm.warp(block.timestamp + 1);
        vs.admitValidator(late, "BR", 9000);
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        vm.prank(late);
        models.registerModel(MODEL, "bafy");
        vm.prank(vAddrs[0]);
        models.approveModel(late, MODEL);
        bytes memory sig = _sign(0x1010, v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.NotEligibleInRound.selector, KEY, round, late));
        consensus.castVote(v, sig);
        vs.setValidatorWeight(vAddrs[3], 900_000);
        sig = _sign(vKeys[3], v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.NotEligibleInRound.selector, KEY, round, vAddrs[3]));
        consensus.castVote(v, sig);
    }

    // ------------------------------------------------------------------ 3. abstentions

    /// US and GB (65%) abstain; FR and IN (15%) flag: quorum is met, but no verdict.
    function test_abstentions_do_not_hand_the_verdict_to_a_minority() public {
        uint64 round = _open(KEY, "US");
        _castAs(0, KEY, round, 0, 0, true);
        _castAs(1, KEY, round, 0, 0, true);
        _castAs(3, KEY, round, 9500, 3, false);
        _castAs(4, KEY, round, 9500, 3, false);
        vm.expectEmit(true, true, false, true, address(consensus));
        emit Consensus.RoundNoConsensus(KEY, round, 5);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).finalizedAt, 0, "no spam record from 15% of the weight");
    }

    function test_verdict_share_is_governable() public {
        vm.expectRevert(abi.encodeWithSelector(Governed.InvalidParameter.selector, bytes32("minVerdictShareBps"), 0));
        consensus.setMinVerdictShareBps(0);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotGovernance.selector, stranger));
        consensus.setMinVerdictShareBps(1000);
        consensus.setMinVerdictShareBps(1000);
        uint64 round = _open(KEY, "US");
        _castAs(0, KEY, round, 0, 0, true);
        _castAs(1, KEY, round, 0, 0, true);
        _castAs(3, KEY, round, 9500, 3, false);
        _castAs(4, KEY, round, 9500, 3, false);
        consensus.finalize(KEY);
        assertEq(registry.get(KEY).verdict, 3, "15% >= 10%: spam");
    }

    // ------------------------------------------------------------------ 4. griefing

    /// A mempool watcher copies GB's vote out of a pending bundle and submits it first: the
    /// bundle still counts the other votes and reports the skipped one.
    function test_front_running_one_vote_does_not_cancel_a_bundle() public {
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote[] memory votes = new Consensus.ScoreVote[](3);
        bytes[] memory sigs = new bytes[](3);
        for (uint256 i; i < 3; ++i) {
            votes[i] = _vote(KEY, round, 9000, 3, false);
            sigs[i] = _sign(vKeys[i], votes[i]);
        }
        vm.prank(stranger);
        consensus.castVote(votes[1], sigs[1]);
        vm.expectEmit(true, true, true, true, address(consensus));
        emit Consensus.VoteSkipped(KEY, round, vAddrs[1], 1);
        vm.expectEmit(true, false, false, true, address(consensus));
        emit Consensus.BundleCounted(address(this), 2, 1);
        consensus.castVotes(votes, sigs);
        assertEq(consensus.currentRound(KEY).voteCount, 3, "three validators counted once each");
        assertEq(consensus.tallyOf(KEY).participatingWeight, 8500, "4000 + 2500 + 2000");
    }

    function test_a_bundle_skips_votes_of_a_round_closed_meanwhile() public {
        uint64 round = _open(KEY, "US");
        bytes32 k2 = keccak256("k2");
        uint64 r2 = _open(k2, "US");
        for (uint256 i; i < 4; ++i) _castAs(i, KEY, round, 9000, 3, false);
        Consensus.ScoreVote[] memory votes = new Consensus.ScoreVote[](2);
        bytes[] memory sigs = new bytes[](2);
        votes[0] = _vote(KEY, round, 9000, 3, false);
        votes[1] = _vote(k2, r2, 9000, 3, false);
        sigs[0] = _sign(vKeys[4], votes[0]);
        sigs[1] = _sign(vKeys[4], votes[1]);
        vm.prank(stranger);
        consensus.finalize(KEY);
        consensus.castVotes(votes, sigs);
        assertTrue(consensus.hasVoted(k2, r2, vAddrs[4]), "the open round's vote counted");
        assertEq(consensus.currentRound(KEY).voteCount, 4, "closed round unchanged");
    }

    // ------------------------------------------------------------------ 5. disputes

    function test_regulator_role_counts_once_per_dispute() public {
        _spamRound(KEY);
        address reg2 = vm.addr(0x3002);
        address reg3 = vm.addr(0x3003);
        vs.grantRole(vs.REGULATOR_ROLE(), reg2);
        vs.grantRole(vs.REGULATOR_ROLE(), reg3);
        dispute.setQuorumBps(3000); // 2400 of 8000: three regulator accounts would reach it
        vm.prank(relayer);
        uint256 id = dispute.openDispute(KEY, CLAIMANT, "bafyclaim");
        vm.prank(regulator);
        dispute.vote(id, true);
        vm.prank(reg2);
        vm.expectRevert(abi.encodeWithSelector(Dispute.RegulatorSeatTaken.selector, id, regulator));
        dispute.vote(id, true);
        vm.prank(reg3);
        vm.expectRevert(abi.encodeWithSelector(Dispute.RegulatorSeatTaken.selector, id, regulator));
        dispute.vote(id, true);
        assertEq(dispute.getDispute(id).upholdWeight, 1000, "one regulator weight");
        vm.expectRevert(abi.encodeWithSelector(Dispute.DecisionPending.selector, id, dispute.getDispute(id).deadline));
        dispute.resolve(id);
        vm.warp(block.timestamp + 8 days);
        dispute.resolve(id);
        assertEq(dispute.getDispute(id).status, 4, "expired");
        assertEq(registry.get(KEY).verdict, 3, "no decision without an arbiter");
    }

    /// JP's arbiter alone holds more than the quorum: one voter never decides.
    function test_one_arbiter_alone_does_not_decide() public {
        _spamRound(KEY);
        vs.setArbiter(arbiters[3], "JP", 20000);
        vm.prank(relayer);
        uint256 id = dispute.openDispute(KEY, CLAIMANT, "bafyclaim");
        vm.prank(arbiters[3]);
        dispute.vote(id, true);
        uint40 deadline = dispute.getDispute(id).deadline;
        vm.expectRevert(abi.encodeWithSelector(Dispute.DecisionPending.selector, id, deadline));
        dispute.resolve(id);
        vm.warp(uint256(deadline) + 1);
        dispute.resolve(id);
        assertEq(dispute.getDispute(id).status, 4, "expired: a single voter");
        assertEq(registry.get(KEY).verdict, 3, "verdict unchanged");
    }

    // ------------------------------------------------------------------ 6. models

    function test_model_approvals_come_from_distinct_countries() public {
        address us2 = vm.addr(0x1011);
        vs.admitValidator(us2, "US", 100);
        bytes32 m2 = keccak256("model-v2");
        models.setRequiredApprovals(2);
        vm.prank(vAddrs[2]);
        models.registerModel(m2, "bafym2");
        vm.prank(vAddrs[0]);
        models.approveModel(vAddrs[2], m2);
        vm.prank(us2);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CountryAlreadyApproved.selector, m2, bytes2("US")));
        models.approveModel(vAddrs[2], m2);
        assertFalse(models.isApproved(vAddrs[2], m2), "one country of two");
        vm.prank(vAddrs[1]);
        models.approveModel(vAddrs[2], m2);
        assertTrue(models.isApproved(vAddrs[2], m2), "US and GB");
    }

    /// DE registers (and revokes) the hash US is about to register: US's model is unaffected.
    function test_registering_another_validators_hash_does_not_take_or_burn_it() public {
        bytes32 m3 = keccak256("us-model-v3");
        vm.startPrank(vAddrs[2]);
        models.registerModel(m3, "bafysquat");
        models.revokeModel(vAddrs[2], m3);
        vm.stopPrank();
        vm.prank(vAddrs[0]);
        models.registerModel(m3, "bafyus");
        vm.prank(vAddrs[1]);
        models.approveModel(vAddrs[0], m3);
        assertTrue(models.isApproved(vAddrs[0], m3), "US model usable");
        assertEq(models.getModel(vAddrs[0], m3).owner, vAddrs[0], "owned by US");
        assertFalse(models.isApproved(vAddrs[2], m3), "the squatter's copy is revoked");
        uint64 round = _open(KEY, "US");
        Consensus.ScoreVote memory v = _vote(KEY, round, 9000, 3, false);
        v.modelHash = m3;
        consensus.castVote(v, _sign(vKeys[0], v));
        v.modelHash = m3;
        bytes memory sig = _sign(vKeys[2], v);
        vm.expectRevert(abi.encodeWithSelector(Consensus.ModelNotApproved.selector, m3));
        consensus.castVote(v, sig);
    }

    function test_required_approvals_has_a_floor_of_one() public {
        vm.expectRevert(abi.encodeWithSelector(Governed.InvalidParameter.selector, bytes32("requiredApprovals"), 0));
        models.setRequiredApprovals(0);
        vm.expectRevert(abi.encodeWithSelector(Governed.InvalidParameter.selector, bytes32("requiredApprovals"), 0));
        new ModelRegistry(vs, 0);
        bytes32 m4 = keccak256("unreviewed");
        vm.prank(vAddrs[1]);
        models.registerModel(m4, "bafym4");
        assertFalse(models.isApproved(vAddrs[1], m4), "no model is usable unreviewed");
    }

    // ------------------------------------------------------------------ 7. epochs

    function test_epochs_are_sequential() public {
        vm.startPrank(vAddrs[0]);
        vm.expectRevert(
            abi.encodeWithSelector(SnapshotRegistry.EpochNotNext.selector, bytes2("US"), uint64(1), type(uint64).max)
        );
        snapshots.commitEpoch("US", type(uint64).max, keccak256("r"), "bafy", MODEL, 1);
        snapshots.commitEpoch("US", 1, keccak256("r1"), "bafy1", MODEL, 1);
        vm.expectRevert(abi.encodeWithSelector(SnapshotRegistry.EpochNotNext.selector, bytes2("US"), uint64(2), uint64(3)));
        snapshots.commitEpoch("US", 3, keccak256("r3"), "bafy3", MODEL, 1);
        snapshots.commitEpoch("US", 2, keccak256("r2"), "bafy2", MODEL, 1);
        vm.stopPrank();
        assertEq(snapshots.latestEpoch("US"), 2, "latest follows the sequence");
    }

    // ------------------------------------------------------------------ 8. registry writers

    function test_registry_writer_must_be_a_contract_and_is_logged() public {
        bytes32 role = vs.REGISTRY_WRITER_ROLE();
        vm.expectRevert(abi.encodeWithSelector(ValidatorSet.RegistryWriterNotContract.selector, stranger));
        vs.grantRole(role, stranger);
        SpamRegistry other = new SpamRegistry(vs);
        vm.expectEmit(true, true, false, true, address(vs));
        emit ValidatorSet.RegistryWriterChanged(address(other), true, address(this));
        vs.grantRole(role, address(other));
        vm.expectEmit(true, true, false, true, address(vs));
        emit ValidatorSet.RegistryWriterChanged(address(other), false, address(this));
        vs.revokeRole(role, address(other));
    }

    // ------------------------------------------------------------------ fuzzed rules

    /// Fuzz: however many validators of whichever countries approve, a model's approvals are
    ///       the distinct countries other than its own.
    function testFuzz_approvals_count_distinct_countries(uint8[8] memory picks) public {
        bytes2[4] memory pool = [bytes2("US"), "GB", "BR", "MX"];
        bytes32 m = keccak256("fuzzed-model");
        vm.prank(vAddrs[2]);
        models.registerModel(m, "bafym");
        bool[4] memory seen;
        uint256 distinct;
        for (uint256 i; i < 8; ++i) {
            uint256 c = picks[i] % 4;
            address a = vm.addr(0x7000 + i);
            vs.admitValidator(a, pool[c], 100);
            vm.prank(a);
            try models.approveModel(vAddrs[2], m) {
                assertFalse(seen[c], "a country approved twice");
                seen[c] = true;
                ++distinct;
            } catch {}
        }
        assertEq(models.getModel(vAddrs[2], m).approvals, distinct, "approvals = distinct countries");
    }

    /// Fuzz: any number of regulator accounts adds the regulator weight at most once.
    function testFuzz_regulator_weight_counts_once(uint8 accounts, uint8 upholdMask) public {
        _spamRound(KEY);
        uint256 n = 1 + (accounts % 6);
        vm.prank(relayer);
        uint256 id = dispute.openDispute(KEY, CLAIMANT, "bafyclaim");
        for (uint256 i; i < n; ++i) {
            address reg = vm.addr(0x3100 + i);
            vs.grantRole(vs.REGULATOR_ROLE(), reg);
            vm.prank(reg);
            try dispute.vote(id, (upholdMask >> i) & 1 == 1) {} catch {}
        }
        Dispute.Case memory c = dispute.getDispute(id);
        assertEq(uint256(c.upholdWeight) + c.rejectWeight, 1000, "one regulator seat");
        assertEq(c.voteCount, 1, "one regulator vote");
    }
}
