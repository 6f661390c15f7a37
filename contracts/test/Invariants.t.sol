// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {Vm} from "./Vm.sol";
import {ValidatorSet} from "../ValidatorSet.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {SnapshotRegistry} from "../SnapshotRegistry.sol";
import {Consensus} from "../Consensus.sol";
import {Dispute} from "../Dispute.sol";

/// @notice Drives the ledger with random honest and hostile actions and keeps ghost books of
///         what should have happened: an independent recount of every round (score, verdict,
///         category, majority country, vote count, whether it may finalize at all). Hostile
///         actions must be refused (they are made inside try/catch); an honest action that
///         reverts is counted as `unexpectedReverts`, and a handler that reverts itself fails
///         the run (`failOnRevert: true` in hardhat.config.js). `settle` ends every run
///         (afterInvariant): it closes what the fuzzer left open and then must finalize every
///         number, decide a dispute on each and keep the lock, so a run in which votes,
///         finalizations or disputes stopped working fails even if the fuzzer never got there.
contract LedgerHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant N = 5;
    uint256 internal constant POISON = 1 << 128; // a vote whose model is not approved: reverts its bundle

    struct Ghost {
        uint256 eligible;
        uint256 openedAt;
        uint256 participating;
        uint256 contest;
        uint256 scoring;
        uint256 flagging;
        uint256 scoreSum;
        uint256 votes;
        uint256[8] categories;
        bytes2 leader;
    }

    struct Signed {
        Consensus.ScoreVote vote;
        bytes sig;
        address signer;
    }

    ValidatorSet internal immutable vs;
    ModelRegistry internal immutable models;
    Consensus internal immutable consensus;
    SpamRegistry internal immutable registry;
    SnapshotRegistry internal immutable snapshots;
    Dispute internal immutable dispute;
    address internal immutable relayer;
    address[4] internal arbiters;

    bytes32[3] public keys = [keccak256("k0"), keccak256("k1"), keccak256("k2")];
    bytes2[3] internal keyCountry = [bytes2("US"), "GB", "DE"];
    uint256[N] internal pks = [uint256(0x1001), 0x1002, 0x1003, 0x1004, 0x1005];
    mapping(uint256 => bytes32) internal modelOf; // validator index -> model it votes with
    uint256 internal modelSerial;

    mapping(bytes32 => mapping(uint64 => Ghost)) internal _ghost;
    mapping(bytes32 => mapping(uint64 => mapping(bytes2 => uint256))) internal _ghostFlag;
    mapping(bytes32 => mapping(uint64 => mapping(address => bool))) internal _ghostVoted;
    Signed[] internal _accepted;
    mapping(uint256 => uint256) internal _decisions;

    // hostile actions that got through (must stay 0)
    uint256 public unauthorizedWrites;
    uint256 public doubleCounts;
    uint256 public replaysAccepted;
    uint256 public lockBreaches;
    uint256 public decidedTwice;
    uint256 public epochJumps;
    uint256 public replayChanges; // a replay that was not refused or changed the key's state
    uint256 public staleDisputes; // a dispute opened on an expired or unflagged record
    // the ledger disagreeing with the recount (must stay 0)
    uint256 public recountMismatches;
    uint256 public unexpectedReverts;
    uint256 public batchMismatches; // openRounds/finalizeMany did to a key what the single call would not
    uint256 public batchesSent;
    // progress
    uint256 public roundsOpened;
    uint256 public votesCounted;
    uint256 public contestsCounted;
    uint256 public finalized;
    uint256 public expired;
    uint256 public replaysTried;
    uint256 public bundlesSent;
    uint256 public churns;
    uint256 public resolved;
    uint256 public upheld;
    uint256 public lastDisputeId;
    uint256 public honestAttempts;
    uint256 public farWarps;
    uint256 public settles;
    uint256 public settledRounds; // rounds of `settle` that finalized with every active vote
    uint256 public settledDisputes; // disputes of `settle` upheld, with the lock then holding
    address internal immutable regulator;

    constructor(
        ValidatorSet vs_,
        ModelRegistry models_,
        Consensus consensus_,
        SpamRegistry registry_,
        SnapshotRegistry snapshots_,
        Dispute dispute_,
        address relayer_,
        address regulator_,
        address[4] memory arbiters_
    ) {
        (vs, models, consensus, registry, snapshots, dispute) = (vs_, models_, consensus_, registry_, snapshots_, dispute_);
        (relayer, regulator) = (relayer_, regulator_);
        arbiters = arbiters_;
        for (uint256 i; i < N; ++i) modelOf[i] = keccak256("model-v1");
    }

    // ------------------------------------------------------------------ rounds and votes

    function openRound(uint256 k, uint256 who) public {
        uint256 i = k % 3;
        bytes32 key = keys[i];
        address opener = vm.addr(pks[who % N]);
        bool locked = registry.isLocked(key);
        bool canOpen = vs.isValidator(opener) && consensus.currentRound(key).status != 1 && !locked
            && registry.get(key).disputeStatus != 1;
        vm.prank(opener);
        try consensus.openRound(key, keyCountry[i]) returns (uint64 round) {
            if (locked) ++lockBreaches;
            Ghost storage g = _ghost[key][round];
            g.eligible = vs.totalActiveWeight();
            g.openedAt = block.timestamp;
            ++roundsOpened;
        } catch {
            if (canOpen) ++unexpectedReverts;
        }
    }

    /// One validator's vote; `wrongCountry` signs another country than the number's.
    function vote(uint256 k, uint256 who, uint16 score, uint8 category, bool abstain, bool wrongCountry) public {
        uint256 i = k % 3;
        bytes32 key = keys[i];
        uint64 round = consensus.currentRound(key).id;
        bytes2 country = wrongCountry ? bytes2("ZZ") : keyCountry[i];
        _castSigned(key, country, round, who % N, score % 10001, category % 8, abstain);
    }

    /// Several validators at once (what an oracle's bundle does), through `castVotes`.
    function voteBundle(uint256 k, uint256 seed, uint8 mask) public {
        _bundle(k, seed, mask, type(uint256).max, false);
    }

    /// An accepted vote copied verbatim into a bundle of fresh ones (a relayer replaying what
    /// it saw): the copy is skipped and counts nothing, the fresh votes all count.
    function replayInFreshBundle(uint256 idx, uint256 k, uint256 seed, uint8 mask) external {
        if (_accepted.length == 0) return;
        uint256 i = idx % _accepted.length;
        // A vote past its own deadline is malformed and reverts any bundle (Bundle.t.sol).
        if (_accepted[i].vote.deadline < block.timestamp) return;
        ++replaysTried;
        _bundle(k, seed, mask, i, false);
    }

    /// Votes of the validators in `mask` for key `k` (random scores from `seed`, or all spam
    /// when `spam`), after a verbatim copy of accepted vote `replay` unless it is max.
    function _bundle(uint256 k, uint256 seed, uint8 mask, uint256 replay, bool spam) internal {
        bytes32 key = keys[k % 3];
        uint64 round = consensus.currentRound(key).id;
        Consensus.ScoreVote[] memory votes = new Consensus.ScoreVote[](N + 1);
        bytes[] memory sigs = new bytes[](N + 1);
        // validator index + 1 of a fresh vote, POISON for a scoring vote without an approved model
        uint256[] memory fresh = new uint256[](N + 1);
        uint256 n;
        if (replay != type(uint256).max) {
            (votes[0], sigs[0]) = (_accepted[replay].vote, _accepted[replay].sig);
            if (_unapproved(_accepted[replay].signer, votes[0])) fresh[0] = POISON;
            n = 1;
        }
        for (uint256 j; j < N; ++j) {
            if ((mask >> j) & 1 == 0) continue;
            votes[n] = _bundleVote(k, round, j, seed, spam);
            sigs[n] = _signature(j, votes[n]);
            if (_honestOk(key, round, j, votes[n])) {
                fresh[n] = j + 1;
            } else if (_unapproved(vm.addr(pks[j]), votes[n])) {
                fresh[n] = POISON;
            }
            ++n;
        }
        if (n == 0) return;
        assembly {
            mstore(votes, n)
            mstore(sigs, n)
        }
        _sendBundle(votes, sigs, fresh);
    }

    function _bundleVote(uint256 k, uint64 round, uint256 j, uint256 seed, bool spam)
        internal
        view
        returns (Consensus.ScoreVote memory)
    {
        if (spam) return _make(keys[k % 3], keyCountry[k % 3], round, j, 10000, uint8(j % 8), false);
        uint256 r = uint256(keccak256(abi.encode(seed, j)));
        return _make(keys[k % 3], keyCountry[k % 3], round, j, uint16(r % 10001), uint8(r >> 16) % 8, (r >> 24) % 6 == 0);
    }

    /// A scoring vote without an approved model that gets as far as the model check: it
    /// reverts its whole bundle (ModelNotApproved), as malformed votes do.
    function _unapproved(address signer, Consensus.ScoreVote memory v) internal view returns (bool) {
        return !v.abstain && !models.isApproved(signer, v.modelHash) && _open(v.numberKey, v.round, signer);
    }

    function _sendBundle(Consensus.ScoreVote[] memory votes, bytes[] memory sigs, uint256[] memory fresh) internal {
        bool poisoned;
        uint256 nFresh;
        for (uint256 j; j < votes.length; ++j) {
            if (fresh[j] == POISON) poisoned = true;
            else if (fresh[j] != 0) ++nFresh;
        }
        // A bundle with a vote it must refuse whole is no honest attempt for the others in it.
        if (!poisoned) honestAttempts += nFresh;
        try consensus.castVotes(votes, sigs) {
            ++bundlesSent;
            if (poisoned) ++doubleCounts; // a scoring vote without an approved model was let through
            for (uint256 j; j < votes.length; ++j) {
                if (fresh[j] == 0 || fresh[j] == POISON) continue;
                address signer = vm.addr(pks[fresh[j] - 1]);
                // Booked only when the chain says it counted: a fresh vote skipped shows in
                // afterInvariant as honest votes != counted votes.
                if (consensus.hasVoted(votes[j].numberKey, votes[j].round, signer)) _book(votes[j], sigs[j], signer);
            }
        } catch {
            if (!poisoned && nFresh != 0) ++unexpectedReverts; // poisoned: ModelNotApproved, expected
        }
    }

    /// A whole round at once: open, vote (bundle), finalize.
    function consensusRound(uint256 k, uint256 who, uint256 seed, uint8 mask) external {
        openRound(k, who);
        voteBundle(k, seed, mask | 3);
        finalize(k);
    }

    /// A validator that already voted signs another score: refused.
    function revote(uint256 k, uint256 who, uint16 score) external {
        bytes32 key = keys[k % 3];
        uint64 round = consensus.currentRound(key).id;
        uint256 j = who % N;
        if (!_ghostVoted[key][round][vm.addr(pks[j])]) return;
        Consensus.ScoreVote memory v = _make(key, keyCountry[k % 3], round, j, score % 10001, 1, false);
        _hostile(v, _signature(j, v));
    }

    /// An accepted signature resubmitted verbatim, alone: refused (any round), nothing changes.
    function replayAccepted(uint256 idx) external {
        if (_accepted.length == 0) return;
        Signed storage s = _accepted[idx % _accepted.length];
        bytes32 before = _stateOf(s.vote.numberKey, s.vote.round, s.signer);
        _hostile(s.vote, s.sig);
        if (_stateOf(s.vote.numberKey, s.vote.round, s.signer) != before) ++replayChanges;
    }

    /// An accepted signature resubmitted verbatim as a bundle of one: skipped (or refused when
    /// malformed by now, e.g. past its deadline), and nothing about the number changes.
    function replayAcceptedInBundle(uint256 idx) external {
        if (_accepted.length == 0) return;
        Signed storage s = _accepted[idx % _accepted.length];
        Consensus.ScoreVote[] memory votes = new Consensus.ScoreVote[](1);
        bytes[] memory sigs = new bytes[](1);
        votes[0] = s.vote;
        sigs[0] = s.sig;
        bytes32 before = _stateOf(s.vote.numberKey, s.vote.round, s.signer);
        ++replaysTried;
        try consensus.castVotes(votes, sigs) {} catch {}
        if (_stateOf(s.vote.numberKey, s.vote.round, s.signer) != before) ++replayChanges;
    }

    /// Everything a replay could touch for the vote's number: the round header, its running
    /// sums and category weights, the signer's seat, the stored record.
    function _stateOf(bytes32 key, uint64 round, address signer) internal view returns (bytes32) {
        Consensus.Round memory r = consensus.currentRound(key);
        return keccak256(
            abi.encode(
                r, consensus.tallyOf(key), consensus.categoryWeights(key, r.id), consensus.hasVoted(key, round, signer),
                registry.get(key)
            )
        );
    }

    function finalize(uint256 k) public {
        bytes32 key = keys[k % 3];
        Consensus.Round memory r = consensus.currentRound(key);
        if (r.status != 1) return;
        Ghost storage g = _ghost[key][r.id];
        if (r.voteCount != g.votes || consensus.tallyOf(key).participatingWeight != g.participating) {
            ++recountMismatches; // counted votes differ from the handler's book before closing
        }
        (bool allowed, bool finalizes) = _expectedOutcome(key, r);
        try consensus.finalize(key) {
            if (!allowed) ++recountMismatches;
            Consensus.Round memory after_ = consensus.currentRound(key);
            if (after_.status == 2) {
                ++finalized;
                if (!finalizes) ++recountMismatches;
                _checkRecord(key, r);
            } else {
                ++expired;
                if (finalizes) ++recountMismatches;
            }
        } catch {
            if (allowed) ++unexpectedReverts;
        }
    }

    /// Keys of a batch: bits 0..2 of `mask` pick keys, bit 3 lists key 0 once more (a duplicate).
    function _batchKeys(uint8 mask) internal view returns (bytes32[] memory ks, bytes2[] memory cs) {
        uint256 n;
        ks = new bytes32[](4);
        cs = new bytes2[](4);
        for (uint256 i; i < 3; ++i) {
            if (mask & (1 << i) != 0) (ks[n], cs[n], n) = (keys[i], keyCountry[i], n + 1);
        }
        if (mask & 8 != 0) (ks[n], cs[n], n) = (keys[0], keyCountry[0], n + 1);
        assembly {
            mstore(ks, n)
            mstore(cs, n)
        }
    }

    function _inBatch(bytes32[] memory ks, bytes32 key) internal pure returns (bool) {
        for (uint256 j; j < ks.length; ++j) if (ks[j] == key) return true;
        return false;
    }

    /// openRounds by a validator or a stranger (`who` % 6 == 5): every listed key the chain
    /// admits opens once (a duplicate is skipped), every other key keeps its round.
    function openRoundsBatch(uint256 who, uint8 mask) external {
        (bytes32[] memory ks, bytes2[] memory cs) = _batchKeys(mask);
        if (ks.length == 0) return;
        address opener = who % (N + 1) == N ? address(0xBAD) : vm.addr(pks[who % N]);
        bool validator = vs.isValidator(opener);
        uint64[3] memory before;
        bool[3] memory canOpen;
        uint256 expected;
        for (uint256 i; i < 3; ++i) {
            Consensus.Round memory r = consensus.currentRound(keys[i]);
            before[i] = r.id;
            canOpen[i] = validator && _inBatch(ks, keys[i]) && r.status != 1 && !registry.isLocked(keys[i])
                && registry.get(keys[i]).disputeStatus != 1;
            if (canOpen[i]) ++expected;
        }
        vm.prank(opener);
        try consensus.openRounds(ks, cs) returns (uint256 opened) {
            ++batchesSent;
            if (!validator || opened != expected) ++batchMismatches;
            for (uint256 i; i < 3; ++i) {
                Consensus.Round memory r = consensus.currentRound(keys[i]);
                if (!canOpen[i]) {
                    if (r.id != before[i]) ++batchMismatches;
                    if (r.id != before[i] && registry.isLocked(keys[i])) ++lockBreaches;
                    continue;
                }
                if (r.id != before[i] + 1 || r.status != 1 || r.country != keyCountry[i]) ++batchMismatches;
                Ghost storage g = _ghost[keys[i]][r.id];
                g.eligible = vs.totalActiveWeight();
                g.openedAt = block.timestamp;
                ++roundsOpened;
            }
        } catch {
            if (validator) ++unexpectedReverts;
        }
    }

    /// finalizeMany by anyone: each listed open round closes exactly as `finalize` would close
    /// it (same outcome, record equal to the recount) or, where `finalize` would revert, stays
    /// open; a duplicate or a closed key changes nothing.
    function finalizeManyBatch(uint8 mask) external {
        (bytes32[] memory ks,) = _batchKeys(mask);
        if (ks.length == 0) return;
        Consensus.Round[3] memory before;
        bool[3] memory allowed;
        bool[3] memory finalizes;
        for (uint256 i; i < 3; ++i) {
            before[i] = consensus.currentRound(keys[i]);
            if (before[i].status != 1 || !_inBatch(ks, keys[i])) continue;
            Ghost storage g = _ghost[keys[i]][before[i].id];
            if (before[i].voteCount != g.votes || consensus.tallyOf(keys[i]).participatingWeight != g.participating) {
                ++recountMismatches;
            }
            (allowed[i], finalizes[i]) = _expectedOutcome(keys[i], before[i]);
        }
        try consensus.finalizeMany(ks) {
            ++batchesSent;
            for (uint256 i; i < 3; ++i) {
                Consensus.Round memory r = consensus.currentRound(keys[i]);
                if (r.id != before[i].id) ++batchMismatches;
                if (!allowed[i]) {
                    if (r.status != before[i].status) ++batchMismatches;
                } else if (r.status == 2) {
                    ++finalized;
                    if (!finalizes[i]) ++recountMismatches;
                    _checkRecord(keys[i], before[i]);
                } else if (r.status == 3) {
                    ++expired;
                    if (finalizes[i]) ++recountMismatches;
                } else {
                    ++batchMismatches; // allowed to close but left open
                }
            }
        } catch {
            ++unexpectedReverts;
        }
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + 1 + (secs % 2 days));
    }

    /// Past record expiry (90 days) and upheld locks.
    function warpFar(uint256 secs) external {
        ++farWarps;
        vm.warp(block.timestamp + 30 days + (secs % 80 days));
    }

    // ------------------------------------------------------------------ churn mid-round

    function churnValidator(uint256 who, uint8 action, uint32 weight) external {
        address v = vm.addr(pks[who % N]);
        ++churns;
        if (action % 3 == 0) {
            if (vs.isValidator(v) && vs.activeValidatorCount() > 2) vs.deactivateValidator(v);
        } else if (action % 3 == 1) {
            if (!vs.isValidator(v)) vs.reactivateValidator(v);
        } else {
            vs.setValidatorWeight(v, 1 + (weight % 5000));
        }
    }

    function churnGovernance(uint8 which, uint16 bps) external {
        ++churns;
        uint16 b = 1 + (bps % 10000);
        if (which % 4 == 0) consensus.setQuorumBps(b);
        else if (which % 4 == 1) consensus.setMinVerdictShareBps(b);
        else if (which % 4 == 2) consensus.setThresholds(bytes2("US"), b, 1 + (b / 2));
        else consensus.setMinParticipationBps(b);
    }

    /// A validator moves to a new model mid-round: registered, approved by another country.
    function churnModel(uint256 who) public {
        uint256 j = who % N;
        address owner = vm.addr(pks[j]);
        uint256 a = (j + 1) % N;
        while (a != j && !vs.isValidator(vm.addr(pks[a]))) a = (a + 1) % N; // every country differs
        address approver = vm.addr(pks[a]);
        if (!vs.isValidator(owner) || a == j) return;
        bytes32 m = keccak256(abi.encode("model", ++modelSerial));
        vm.prank(owner);
        models.registerModel(m, "bafymodel");
        vm.prank(approver);
        models.approveModel(owner, m);
        modelOf[j] = m;
        ++churns;
    }

    /// Governance revokes the model a validator votes with, mid-round: its scoring votes are
    /// refused from then on (a bundle holding one reverts whole) until it moves to a new model.
    function revokeModel(uint256 who) external {
        uint256 j = who % N;
        address owner = vm.addr(pks[j]);
        if (!models.isApproved(owner, modelOf[j])) return;
        models.revokeModel(owner, modelOf[j]);
        ++churns;
    }

    /// Anyone commits any epoch number: only the next one is accepted.
    function commitEpoch(uint256 who, uint64 epoch) external {
        uint256 j = who % N;
        address v = vm.addr(pks[j]);
        (bytes2 country,) = vs.activeValidator(v);
        uint64 next = snapshots.latestEpoch(country) + 1;
        vm.prank(v);
        try snapshots.commitEpoch(country, epoch, keccak256(abi.encode(epoch)), "bafysnap", modelOf[j], 1) {
            if (epoch != next) ++epochJumps;
        } catch {}
    }

    // ------------------------------------------------------------------ registry and disputes

    /// Anyone but the writers tries to write the registry directly: must be refused.
    function attackerWrite(address caller, uint256 k, uint16 score, uint8 mode) external {
        if (caller == address(consensus) || caller == address(dispute)) return;
        bytes32 key = keys[k % 3];
        vm.prank(caller);
        if (mode % 3 == 0) {
            try registry.recordFinal(key, 99, score % 10001, 3, 1, "US") { ++unauthorizedWrites; } catch {}
        } else if (mode % 3 == 1) {
            try registry.applyUpheld(key, type(uint40).max) { ++unauthorizedWrites; } catch {}
        } else {
            try registry.setDisputeStatus(key, 3) { ++unauthorizedWrites; } catch {}
        }
    }

    /// Opens when the record is flagged and unexpired, with no dispute open, past its cooldown
    /// and under the claimant's limit; refused otherwise (an expired record has nothing to dispute).
    function openDispute(uint256 k, uint8 claimant) public {
        bytes32 key = keys[k % 3];
        bytes32 who = keccak256(abi.encode(claimant % 4));
        SpamRegistry.Record memory rec = registry.get(key);
        bool live = (rec.verdict == 2 || rec.verdict == 3) && rec.expiresAt > block.timestamp;
        bool disputable = live && dispute.openDisputeOf(key) == 0 && dispute.cooldownEndsAt(key) <= block.timestamp
            && dispute.openCountOf(who) < dispute.maxOpenPerClaimant();
        vm.prank(relayer);
        try dispute.openDispute(key, who, "bafyclaim") returns (uint256 id) {
            lastDisputeId = id;
            if (!live) ++staleDisputes;
        } catch {
            if (disputable) ++unexpectedReverts;
        }
    }

    /// A whole dispute at once: open, arbiters vote per `mask`, resolve.
    function disputeRound(uint256 k, uint8 claimant, uint8 mask) external {
        openDispute(k, claimant);
        uint256 id = dispute.openDisputeOf(keys[k % 3]);
        if (id == 0) return;
        for (uint256 i; i < 4; ++i) {
            vm.prank(arbiters[i]);
            try dispute.vote(id, (mask >> i) & 1 == 1) {} catch {}
        }
        resolve(lastDisputeId - id);
    }

    function arbiterVote(uint256 a, bool uphold) external {
        if (lastDisputeId == 0) return;
        vm.prank(arbiters[a % 4]);
        try dispute.vote(lastDisputeId, uphold) {} catch {}
    }

    function resolve(uint256 back) public {
        if (lastDisputeId == 0) return;
        _resolveId(lastDisputeId - (back % lastDisputeId));
    }

    function _resolveId(uint256 id) internal {
        try dispute.resolve(id) {
            if (++_decisions[id] > 1) ++decidedTwice;
            ++resolved;
            Dispute.Case memory c = dispute.getDispute(id);
            if (c.status != 4 && c.voteCount < 2) ++recountMismatches; // decided by fewer than two
            if (c.status == 2) ++upheld;
        } catch {}
    }

    // ------------------------------------------------------------------ end of a run

    /// Whatever the fuzzer left (validators suspended or re-weighted, parameters at their
    /// extremes, records expired or locked, rounds and disputes pending): once pending
    /// disputes and rounds are closed, every number must still finalize when every active
    /// validator votes, a dispute on it must be upheld, and the lock must then hold.
    /// afterInvariant runs it; the fuzzer may call it mid-run too.
    function settle() public {
        ++settles;
        _warpPastEverything();
        for (uint256 i; i < 3; ++i) {
            uint256 id = dispute.openDisputeOf(keys[i]);
            if (id != 0) _resolveId(id);
        }
        for (uint256 i; i < 3; ++i) finalize(i);
        _warpPastEverything(); // locks set by the disputes decided just now
        for (uint256 j; j < N; ++j) {
            // A validator whose model was revoked moves to a new one first.
            if (vs.isValidator(vm.addr(pks[j])) && !models.isApproved(vm.addr(pks[j]), modelOf[j])) churnModel(j);
        }
        for (uint256 i; i < 3; ++i) _settleKey(i);
    }

    function _warpPastEverything() internal {
        vm.warp(
            block.timestamp + 1 + consensus.roundDuration() + dispute.voteWindow() + dispute.lockPeriod()
                + dispute.cooldown()
        );
    }

    /// Through the handlers the fuzzer calls (a broken handler breaks the settlement too):
    /// key 0 by one bundle, key 1 by single votes, key 2 by one vote and then a bundle that
    /// starts with a verbatim copy of it.
    function _settleKey(uint256 i) internal {
        bytes32 key = keys[i];
        uint256 opener;
        uint8 active;
        for (uint256 j = N; j > 0; --j) {
            if (vs.isValidator(vm.addr(pks[j - 1]))) (opener, active) = (j - 1, active | uint8(1 << (j - 1)));
        }
        uint64 previous = consensus.currentRound(key).id;
        openRound(i, opener);
        uint64 round = consensus.currentRound(key).id;
        if (round == previous) return; // not opened: unexpectedReverts says why
        // Every active validator flags it: quorum, verdict share and spam under any parameters.
        if (i == 0) {
            _bundle(i, 0, active, type(uint256).max, true);
        } else {
            vote(i, opener, 10000, uint8(opener % 8), false, false);
            if (!_ghostVoted[key][round][vm.addr(pks[opener])]) return; // unexpectedReverts says why
            for (uint256 j; j < N && i == 1; ++j) {
                if (j != opener && (active >> j) & 1 == 1) vote(i, j, 10000, uint8(j % 8), false, false);
            }
            if (i == 2) _bundle(i, 0, active & ~uint8(1 << opener), _accepted.length - 1, true);
        }
        uint256 before = finalized;
        finalize(i);
        if (finalized != before + 1) return;
        ++settledRounds;
        openDispute(i, uint8(i));
        uint256 id = dispute.openDisputeOf(key);
        if (id == 0) return;
        // Every arbiter outside the majority country and the regulator uphold it.
        bytes2 majority = dispute.getDispute(id).majorityCountry;
        for (uint256 a; a < 4; ++a) {
            (bytes2 country,) = vs.arbiterOf(arbiters[a]);
            vm.prank(arbiters[a]);
            try dispute.vote(id, true) {} catch {
                if (country != majority) ++unexpectedReverts;
            }
        }
        vm.prank(regulator);
        try dispute.vote(id, true) {} catch {
            ++unexpectedReverts;
        }
        _resolveId(id);
        if (dispute.getDispute(id).status != 2 || !registry.isLocked(key)) return;
        openRound(i, opener); // refused: the record is locked (lockBreaches otherwise)
        if (consensus.currentRound(key).id == round) ++settledDisputes;
    }

    // ------------------------------------------------------------------ recount

    function recount(bytes32 key, uint64 round)
        public
        view
        returns (uint16 score, uint8 verdict, uint8 category, bytes2 majority)
    {
        Ghost storage g = _ghost[key][round];
        if (g.scoring == 0) return (0, 0, 0, bytes2(0));
        score = uint16(g.scoreSum / g.scoring);
        verdict = consensus.verdictFor(consensus.currentRound(key).country, score);
        if (verdict != 1) {
            uint256 best;
            for (uint8 c; c < 8; ++c) {
                if (g.categories[c] > best) (category, best) = (c, g.categories[c]);
            }
        }
        majority = g.leader;
    }

    function ghostParticipating(bytes32 key, uint64 round) external view returns (uint256) {
        return _ghost[key][round].participating;
    }

    function ghostVotes(bytes32 key, uint64 round) external view returns (uint256) {
        return _ghost[key][round].votes;
    }

    function _expectedOutcome(bytes32 key, Consensus.Round memory r) internal view returns (bool allowed, bool finalizes) {
        Ghost storage g = _ghost[key][r.id];
        uint256 shown = g.participating + g.contest;
        bool quorum = shown * 10000 >= uint256(consensus.quorumBps()) * g.eligible;
        if (block.timestamp <= r.deadline && !quorum) return (false, false);
        SpamRegistry.Record memory rec = registry.get(key);
        if (!quorum && shown * 10000 < uint256(consensus.minParticipationBps()) * g.eligible) return (true, false);
        if (rec.lockedUntil > block.timestamp) return (true, false);
        if (rec.disputeStatus == 1) return (false, false);
        if (g.contest != 0 && g.contest >= g.participating) return (true, false);
        if (g.scoring == 0) return (true, false);
        uint8 verdict = consensus.verdictFor(r.country, uint16(g.scoreSum / g.scoring));
        uint256 side = verdict == 1 ? g.scoring - g.flagging : g.flagging;
        return (true, side * 10000 >= uint256(consensus.minVerdictShareBps()) * g.eligible);
    }

    function _checkRecord(bytes32 key, Consensus.Round memory r) internal {
        (uint16 score, uint8 verdict, uint8 category, bytes2 majority) = recount(key, r.id);
        SpamRegistry.Record memory rec = registry.get(key);
        if (rec.round != r.id || rec.score != score || rec.verdict != verdict || rec.category != category
            || rec.majorityCountry != majority) ++recountMismatches;
    }

    // ------------------------------------------------------------------ signing and books

    function _make(bytes32 key, bytes2 country, uint64 round, uint256 j, uint16 score, uint8 cat, bool abstain)
        internal
        view
        returns (Consensus.ScoreVote memory)
    {
        return Consensus.ScoreVote(
            key, country, round, score, 5000, cat, abstain, modelOf[j], "bafy", uint64(block.timestamp + 1 hours)
        );
    }

    function _signature(uint256 j, Consensus.ScoreVote memory v) internal view returns (bytes memory) {
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(pks[j], consensus.hashVote(v));
        return abi.encodePacked(r, s, sv);
    }

    /// True when an honest vote must be counted (or contest) right now.
    function _honestOk(bytes32 key, uint64 round, uint256 j, Consensus.ScoreVote memory v) internal view returns (bool) {
        address signer = vm.addr(pks[j]);
        return _open(key, round, signer) && !_ghostVoted[key][round][signer]
            && (v.abstain || models.isApproved(signer, v.modelHash));
    }

    /// True when `signer` may vote in `round` of `key` right now (the round is open and the
    /// signer eligible in it): only such a vote reaches the model check.
    function _open(bytes32 key, uint64 round, address signer) internal view returns (bool) {
        Consensus.Round memory r = consensus.currentRound(key);
        ValidatorSet.Validator memory val = vs.getValidator(signer);
        return r.status == 1 && r.id == round && round != 0 && block.timestamp <= r.deadline && val.active
            && val.since <= r.openedAt;
    }

    function _castSigned(bytes32 key, bytes2 country, uint64 round, uint256 j, uint16 score, uint8 cat, bool abstain)
        internal
    {
        Consensus.ScoreVote memory v = _make(key, country, round, j, score, cat, abstain);
        bytes memory sig = _signature(j, v);
        bool ok = _honestOk(key, round, j, v);
        if (ok) ++honestAttempts;
        address signer = vm.addr(pks[j]);
        try consensus.castVote(v, sig) {
            if (!ok) ++doubleCounts;
            _book(v, sig, signer);
        } catch {
            if (ok) ++unexpectedReverts;
        }
    }

    function _hostile(Consensus.ScoreVote memory v, bytes memory sig) internal {
        ++replaysTried;
        try consensus.castVote(v, sig) {
            ++replaysAccepted;
        } catch {}
    }

    function _book(Consensus.ScoreVote memory v, bytes memory sig, address signer) internal {
        if (_ghostVoted[v.numberKey][v.round][signer]) ++doubleCounts;
        _ghostVoted[v.numberKey][v.round][signer] = true;
        _accepted.push(Signed(v, sig, signer));
        (bytes2 country, uint32 w) = vs.activeValidator(signer);
        Ghost storage g = _ghost[v.numberKey][v.round];
        Consensus.Round memory r = consensus.currentRound(v.numberKey);
        if (v.country != r.country) {
            g.contest += w;
            ++contestsCounted;
            return;
        }
        ++votesCounted;
        ++g.votes;
        g.participating += w;
        if (v.abstain) return;
        g.scoring += w;
        g.scoreSum += uint256(w) * v.score;
        g.categories[v.category] += w;
        (, uint16 suspicious) = consensus.thresholdsOf(r.country);
        if (v.score < suspicious) return;
        g.flagging += w;
        uint256 sum = _ghostFlag[v.numberKey][v.round][country] + w;
        _ghostFlag[v.numberKey][v.round][country] = sum;
        if (g.leader == bytes2(0) || (country != g.leader && sum > _ghostFlag[v.numberKey][v.round][g.leader])) {
            g.leader = country;
        }
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
        handler = new LedgerHandler(vs, models, consensus, registry, snapshots, dispute, relayer, regulator, arbiters);
        vs.grantRole(vs.GOVERNANCE_ROLE(), address(handler)); // the churn handlers govern
        targetContract(address(handler));
    }

    function invariant_no_account_without_the_role_changes_a_reputation() public view {
        assertEq(handler.unauthorizedWrites(), 0, "registry written by a non-writer");
    }

    function invariant_a_vote_counts_once_and_signatures_do_not_replay() public view {
        assertEq(handler.doubleCounts(), 0, "validator counted twice or an ineligible vote counted");
        assertEq(handler.replaysAccepted(), 0, "re-vote or replayed signature accepted");
        assertEq(handler.replayChanges(), 0, "a verbatim replay changed the number's round, tally or record");
        for (uint256 i; i < 3; ++i) {
            bytes32 key = handler.keys(i);
            Consensus.Round memory r = consensus.currentRound(key);
            if (r.id == 0) continue;
            assertEq(consensus.tallyOf(key).participatingWeight, handler.ghostParticipating(key, r.id), "participation");
            assertEq(r.voteCount, handler.ghostVotes(key, r.id), "vote count");
        }
    }

    function invariant_stored_record_equals_the_recount() public view {
        assertEq(handler.recountMismatches(), 0, "finalize outcome or record differs from the recount");
        for (uint256 i; i < 3; ++i) {
            bytes32 key = handler.keys(i);
            SpamRegistry.Record memory rec = registry.get(key);
            if (rec.finalizedAt == 0) continue;
            (uint16 score, uint8 verdict, uint8 category, bytes2 majority) = handler.recount(key, rec.round);
            assertEq(rec.score, score, "score != recount");
            assertEq(rec.majorityCountry, majority, "majority country != recount");
            // Thresholds may change after finalization: verdict and category were checked
            // against the recount at finalize (recountMismatches); here only while unchanged.
            if (rec.disputeStatus != 2 && rec.verdict == verdict) {
                assertEq(rec.category, category, "category != recount");
            }
            if (rec.disputeStatus != 2) assertTrue(rec.verdict != 0, "a finalized record has a verdict");
        }
    }

    function invariant_batches_follow_the_single_call_rules() public view {
        assertEq(handler.batchMismatches(), 0, "openRounds/finalizeMany opened or closed a key the single call would not");
    }

    function invariant_honest_actions_never_revert() public view {
        assertEq(handler.unexpectedReverts(), 0, "an honest vote, open or finalize reverted");
    }

    function invariant_a_dispute_is_decided_once() public view {
        assertEq(handler.decidedTwice(), 0, "dispute decided twice");
        assertEq(handler.staleDisputes(), 0, "a dispute opened on an expired or unflagged record");
    }

    function invariant_epochs_are_sequential() public view {
        assertEq(handler.epochJumps(), 0, "an epoch out of sequence was accepted");
    }

    function invariant_an_upheld_lock_holds() public view {
        assertEq(handler.lockBreaches(), 0, "round opened on a locked record");
        for (uint256 i; i < 3; ++i) {
            bytes32 key = handler.keys(i);
            if (!registry.isLocked(key)) continue;
            SpamRegistry.Record memory rec = registry.get(key);
            assertEq(rec.verdict, 1, "locked record must read not spam");
            assertEq(rec.disputeStatus, 2, "locked record must be upheld");
        }
    }

    /// Runs after each invariant run: `settle` closes what the run left and drives every
    ///         number through a full round and an upheld dispute. Counters must show that
    ///         happened (a run in which every vote, finalization or dispute reverted fails
    ///         here), every vote the handler expected to count was counted and nothing else,
    ///         and nothing hostile got through during the run or the settlement.
    function afterInvariant() public {
        handler.settle();
        assertGe(handler.settles(), 1, "settled");
        assertEq(handler.settledRounds(), 3 * handler.settles(), "a number did not finalize with every active vote");
        assertEq(handler.settledDisputes(), 3 * handler.settles(), "a dispute was not upheld or its lock did not hold");
        assertGe(handler.votesCounted(), 6, "votes counted");
        assertGe(handler.finalized(), 3, "rounds finalized");
        assertGe(handler.resolved(), 3, "disputes decided");
        assertEq(
            handler.votesCounted() + handler.contestsCounted(), handler.honestAttempts(), "honest votes != counted votes"
        );
        assertEq(handler.unexpectedReverts(), 0, "an honest action reverted");
        assertEq(handler.recountMismatches(), 0, "finalize outcome or record differs from the recount");
        assertEq(handler.lockBreaches(), 0, "round opened on a locked record");
        assertEq(handler.doubleCounts() + handler.replaysAccepted() + handler.replayChanges(), 0, "a vote counted twice");
        assertEq(handler.unauthorizedWrites() + handler.decidedTwice() + handler.staleDisputes(), 0, "hostile write");
    }
}

/// @notice Progress over a whole fuzzing campaign is asserted here: one deterministic sequence
///         of handler calls must count votes, finalize rounds, refuse replays and decide a dispute.
contract LedgerHandlerProgress is LedgerFixture {
    function test_the_handlers_make_progress() public {
        consensus.setRoundDuration(6 hours);
        LedgerHandler h = new LedgerHandler(vs, models, consensus, registry, snapshots, dispute, relayer, regulator, arbiters);
        vs.grantRole(vs.GOVERNANCE_ROLE(), address(h));
        for (uint256 s; s < 6; ++s) h.consensusRound(s, s, s, 31);
        h.replayAccepted(0);
        h.replayAcceptedInBundle(1);
        h.disputeRound(0, 1, 15);
        h.commitEpoch(0, type(uint64).max);
        h.commitEpoch(0, 1);
        assertGe(h.votesCounted(), 20, "votes counted");
        assertGe(h.finalized(), 4, "rounds finalized");
        assertEq(h.replaysTried(), 2, "replays tried");
        assertEq(h.replaysAccepted(), 0, "replays refused");
        assertGe(h.resolved(), 1, "dispute decided");
        assertEq(h.epochJumps(), 0, "epoch jump refused");
        assertEq(h.recountMismatches(), 0, "records equal the recount");
        assertEq(h.unexpectedReverts(), 0, "honest actions succeeded");

        // Batches: a stranger's openRounds is refused whole; a validator's opens every key the
        // chain admits (key 0 listed twice, locked by the upheld dispute above); every voter
        // votes on each; one finalizeMany (key 0 twice again) closes what finalize would close.
        uint256 sent = h.batchesSent();
        h.openRoundsBatch(5, 15);
        assertEq(h.batchesSent(), sent, "a stranger's batch is refused");
        h.openRoundsBatch(0, 15);
        for (uint256 k; k < 3; ++k) h.voteBundle(k, k + 11, 31);
        uint256 closedBefore = h.finalized() + h.expired();
        h.finalizeManyBatch(15);
        assertEq(h.batchesSent(), sent + 2, "both batches went through");
        assertGe(h.finalized() + h.expired(), closedBefore + 2, "the batch closed the opened rounds");
        assertEq(h.batchMismatches() + h.recountMismatches() + h.unexpectedReverts(), 0, "batches follow the rules");

        // A vote copied out of a pending bundle and relayed ahead of it: the copy is skipped,
        // the three fresh votes count.
        h.openRound(1, 0);
        h.vote(1, 0, 9000, 3, false, false);
        uint256 counted = h.votesCounted();
        h.replayInFreshBundle(counted + h.contestsCounted() - 1, 1, 7, 0x1c);
        assertEq(h.votesCounted(), counted + 3, "fresh votes beside a replay count");
        assertEq(h.replayChanges(), 0, "the replay changed nothing");

        // GB's model is revoked mid-round: its scoring vote is refused, nothing counts.
        h.revokeModel(1);
        counted = h.votesCounted();
        h.vote(1, 1, 9000, 3, false, false);
        assertEq(h.votesCounted(), counted, "a vote naming a revoked model is refused");

        // Churn, extreme governance and a far warp (records expire): the run still settles
        // (GB moves to a newly approved model first).
        h.churnValidator(4, 0, 0);
        h.churnGovernance(1, 9999); // verdict share 100% of the eligible weight
        h.warpFar(60 days); // 90 days on: every record so far has expired, bar an upheld lock
        for (uint256 i; i < 3; ++i) {
            if (!registry.isLocked(h.keys(i))) {
                assertLe(registry.get(h.keys(i)).expiresAt, block.timestamp, "record expired");
            }
            h.openDispute(i, 2); // nothing to dispute
        }
        h.settle();
        assertEq(h.settledRounds(), 3, "every number finalized at settlement");
        assertEq(h.settledDisputes(), 3, "every dispute upheld and locked");
        assertEq(h.staleDisputes() + h.lockBreaches() + h.replaysAccepted() + h.replayChanges(), 0, "hostile");
        assertEq(h.recountMismatches() + h.unexpectedReverts(), 0, "recount and honest actions");
        assertEq(h.votesCounted() + h.contestsCounted(), h.honestAttempts(), "honest votes == counted votes");
    }
}
