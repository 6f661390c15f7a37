// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {Vm} from "./Vm.sol";
import {ValidatorSet} from "../ValidatorSet.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {Consensus} from "../Consensus.sol";
import {Dispute} from "../Dispute.sol";

/// @notice Drives the ledger with random honest and hostile actions and keeps ghost books
///         of what should have happened. Every call swallows reverts: a revert is a refusal,
///         which is what hostile actions must get.
contract LedgerHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    bytes32 internal constant MODEL = keccak256("model-v1");

    ValidatorSet internal immutable vs;
    Consensus internal immutable consensus;
    SpamRegistry internal immutable registry;
    Dispute internal immutable dispute;
    address internal immutable relayer;
    address[4] internal arbiters;

    bytes32[2] public keys = [keccak256("k0"), keccak256("k1")];

    // ghost books, per (key, round)
    mapping(bytes32 => mapping(uint64 => uint256)) public ghostScoreSum;
    mapping(bytes32 => mapping(uint64 => uint256)) public ghostScoringWeight;
    mapping(bytes32 => mapping(uint64 => uint256)) public ghostParticipating;
    mapping(bytes32 => mapping(uint64 => mapping(address => bool))) internal _ghostVoted;
    mapping(uint256 => uint256) public decisions;

    uint256 public unauthorizedWrites;
    uint256 public doubleCounts;
    uint256 public replaysAccepted;
    uint256 public lockBreaches;
    uint256 public decidedTwice;
    uint256 public finalized;
    uint256 public votesCounted;
    uint256 public lastDisputeId;
    uint256 public resolved;
    uint256 public upheld;

    constructor(
        ValidatorSet vs_,
        Consensus consensus_,
        SpamRegistry registry_,
        Dispute dispute_,
        address relayer_,
        address[4] memory arbiters_
    ) {
        vs = vs_;
        consensus = consensus_;
        registry = registry_;
        dispute = dispute_;
        relayer = relayer_;
        arbiters = arbiters_;
    }

    function _validator(uint256 seed) internal pure returns (uint256 pk) {
        return 0x1001 + (seed % 5);
    }

    function _key(uint256 seed) internal view returns (bytes32) {
        return keys[seed % 2];
    }

    function openRound(uint256 k, uint256 who) external {
        bytes32 key = _key(k);
        bool locked = registry.isLocked(key);
        vm.prank(vm.addr(_validator(who)));
        try consensus.openRound(key, "US") {
            if (locked) ++lockBreaches;
        } catch {}
    }

    function vote(uint256 k, uint256 who, uint16 score, uint8 category, bool abstain) external {
        bytes32 key = _key(k);
        uint64 round = consensus.currentRound(key).id;
        _castSigned(key, round, _validator(who), score % 10001, category % 8, abstain, false);
    }

    /// Several validators vote at once (what an oracle's bundle does), seeded scores.
    function voteMany(uint256 k, uint256 seed, uint8 mask) external {
        bytes32 key = _key(k);
        uint64 round = consensus.currentRound(key).id;
        for (uint256 i; i < 5; ++i) {
            if ((mask >> i) & 1 == 0) continue;
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            _castSigned(key, round, 0x1001 + i, uint16(r % 10001), uint8(r >> 16) % 8, (r >> 24) % 8 == 0, false);
        }
    }

    /// A whole round at once: open, vote (bundle-like), finalize.
    function consensusRound(uint256 k, uint256 who, uint256 seed, uint8 mask) external {
        this.openRound(k, who);
        this.voteMany(k, seed, mask | 3); // US + GB at least: 65% of the weight
        this.finalize(k);
    }

    /// A validator that already voted tries again with another score: must be refused.
    function revote(uint256 k, uint256 who, uint16 score) external {
        bytes32 key = _key(k);
        uint64 round = consensus.currentRound(key).id;
        address signer = vm.addr(_validator(who));
        if (!_ghostVoted[key][round][signer]) return;
        _castSigned(key, round, _validator(who), score % 10001, 1, false, true);
    }

    /// A vote signed for an earlier round of the key is submitted now: must be refused.
    function replayOldRound(uint256 k, uint256 who, uint64 back) external {
        bytes32 key = _key(k);
        uint64 round = consensus.currentRound(key).id;
        if (round < 2) return;
        uint64 old = round - 1 - (back % (round - 1));
        _castSigned(key, old, _validator(who), 9000, 3, false, true);
    }

    function _castSigned(bytes32 key, uint64 round, uint256 pk, uint16 score, uint8 cat, bool abstain, bool hostile)
        internal
    {
        Consensus.ScoreVote memory v = Consensus.ScoreVote(
            key, "US", round, score, 5000, cat, abstain, MODEL, "bafy", uint64(block.timestamp + 1 hours)
        );
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(pk, consensus.hashVote(v));
        address signer = vm.addr(pk);
        try consensus.castVote(v, abi.encodePacked(r, s, sv)) {
            if (hostile) ++replaysAccepted;
            if (_ghostVoted[key][round][signer]) ++doubleCounts;
            _ghostVoted[key][round][signer] = true;
            (, uint32 w) = vs.activeValidator(signer);
            ghostParticipating[key][round] += w;
            if (!abstain) {
                ghostScoreSum[key][round] += uint256(w) * score;
                ghostScoringWeight[key][round] += w;
            }
            ++votesCounted;
        } catch {}
    }

    function finalize(uint256 k) external {
        bytes32 key = _key(k);
        try consensus.finalize(key) {
            if (consensus.currentRound(key).status == 2) ++finalized;
        } catch {}
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + 1 + (secs % 2 days));
    }

    /// Anyone but the writers tries to write the registry directly: must be refused.
    function attackerWrite(address caller, uint256 k, uint16 score, uint8 mode) external {
        if (caller == address(consensus) || caller == address(dispute)) return;
        bytes32 key = _key(k);
        vm.prank(caller);
        if (mode % 3 == 0) {
            try registry.recordFinal(key, 99, score % 10001, 3, 1, "US") { ++unauthorizedWrites; } catch {}
        } else if (mode % 3 == 1) {
            try registry.applyUpheld(key, type(uint40).max) { ++unauthorizedWrites; } catch {}
        } else {
            try registry.setDisputeStatus(key, 3) { ++unauthorizedWrites; } catch {}
        }
    }

    function openDispute(uint256 k, uint8 claimant) external {
        vm.prank(relayer);
        try dispute.openDispute(_key(k), keccak256(abi.encode(claimant % 4)), "bafyclaim") returns (uint256 id) {
            lastDisputeId = id;
        } catch {}
    }

    /// A whole dispute at once: open, arbiters of every country vote per `mask`, resolve.
    function disputeRound(uint256 k, uint8 claimant, uint8 mask) external {
        this.openDispute(k, claimant);
        uint256 id = dispute.openDisputeOf(_key(k));
        if (id == 0) return;
        for (uint256 i; i < 4; ++i) {
            vm.prank(arbiters[i]);
            try dispute.vote(id, (mask >> i) & 1 == 1) {} catch {}
        }
        this.resolve(lastDisputeId - id);
    }

    function arbiterVote(uint256 a, bool uphold) external {
        if (lastDisputeId == 0) return;
        vm.prank(arbiters[a % 4]);
        try dispute.vote(lastDisputeId, uphold) {} catch {}
    }

    function resolve(uint256 back) external {
        if (lastDisputeId == 0) return;
        uint256 id = lastDisputeId - (back % lastDisputeId);
        try dispute.resolve(id) {
            if (++decisions[id] > 1) ++decidedTwice;
            ++resolved;
            if (dispute.getDispute(id).status == 2) ++upheld;
        } catch {}
    }
}

contract LedgerInvariants is LedgerFixture {
    LedgerHandler internal handler;

    function setUp() public override {
        super.setUp();
        consensus.setRoundDuration(6 hours);
        dispute.setVoteWindow(12 hours);
        dispute.setLockPeriod(1 days);
        dispute.setCooldown(1 hours);
        handler = new LedgerHandler(vs, consensus, registry, dispute, relayer, arbiters);
        targetContract(address(handler));
    }

    function invariant_no_account_without_the_role_changes_a_reputation() public view {
        assertEq(handler.unauthorizedWrites(), 0, "registry written by a non-writer");
    }

    function invariant_a_vote_counts_once_and_signatures_do_not_replay() public view {
        assertEq(handler.doubleCounts(), 0, "validator counted twice");
        assertEq(handler.replaysAccepted(), 0, "re-vote or old-round signature accepted");
        for (uint256 i; i < 2; ++i) {
            bytes32 key = handler.keys(i);
            Consensus.Round memory r = consensus.currentRound(key);
            if (r.id == 0) continue;
            assertEq(consensus.tallyOf(key).participatingWeight, handler.ghostParticipating(key, r.id), "participation");
        }
    }

    function invariant_stored_score_equals_the_weighted_tally() public view {
        for (uint256 i; i < 2; ++i) {
            bytes32 key = handler.keys(i);
            SpamRegistry.Record memory rec = registry.get(key);
            if (rec.finalizedAt == 0) continue;
            uint256 w = handler.ghostScoringWeight(key, rec.round);
            uint256 expected = w == 0 ? 0 : handler.ghostScoreSum(key, rec.round) / w;
            assertEq(rec.score, expected, "score != recomputed tally");
            if (w == 0) assertEq(rec.verdict, 0, "all-abstain round is unknown");
        }
    }

    function invariant_a_dispute_is_decided_once() public view {
        assertEq(handler.decidedTwice(), 0, "dispute decided twice");
    }

    function invariant_an_upheld_lock_holds() public view {
        assertEq(handler.lockBreaches(), 0, "round opened on a locked record");
        for (uint256 i; i < 2; ++i) {
            bytes32 key = handler.keys(i);
            if (!registry.isLocked(key)) continue;
            SpamRegistry.Record memory rec = registry.get(key);
            assertEq(rec.verdict, 1, "locked record must read not spam");
            assertEq(rec.disputeStatus, 2, "locked record must be upheld");
        }
    }
}
