// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {ValidatorSet} from "../ValidatorSet.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {Consensus} from "../Consensus.sol";
import {SnapshotRegistry} from "../SnapshotRegistry.sol";
import {Dispute} from "../Dispute.sol";

/// @title LedgerFixture
/// @notice Deploys and wires the whole ledger the way the migrations do, with the seed's
///         cross-border consortium: five validators (US 0.40, GB 0.25, DE 0.20, FR 0.10,
///         IN 0.05 of the weight), four arbiters, a regulator and a relayer. The test contract
///         itself is governance. Signs votes with an EIP-712 digest computed independently of
///         the contract under test.
abstract contract LedgerFixture is Test {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VOTE_TYPEHASH = keccak256(
        "ScoreVote(bytes32 numberKey,bytes2 country,uint64 round,uint16 score,uint16 confidence,uint8 category,bool abstain,bytes32 modelHash,string evidenceCid,uint64 deadline)"
    );
    bytes32 internal constant MODEL = keccak256("model-v1");
    bytes32 internal constant KEY = keccak256("hmac(+14155550123)");

    ValidatorSet internal vs;
    ModelRegistry internal models;
    SpamRegistry internal registry;
    Consensus internal consensus;
    SnapshotRegistry internal snapshots;
    Dispute internal dispute;

    uint256[5] internal vKeys = [uint256(0x1001), 0x1002, 0x1003, 0x1004, 0x1005];
    address[5] internal vAddrs;
    bytes2[5] internal vCountries = [bytes2("US"), "GB", "DE", "FR", "IN"];
    uint32[5] internal vWeights = [uint32(4000), 2500, 2000, 1000, 500];

    address[4] internal arbiters;
    bytes2[4] internal arbiterCountries = [bytes2("US"), "DE", "FR", "JP"];
    uint32[4] internal arbiterWeights = [uint32(3000), 3000, 2000, 2000];
    address internal regulator;
    address internal relayer;
    address internal stranger;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vs = new ValidatorSet(address(this));
        models = new ModelRegistry(vs, 1);
        registry = new SpamRegistry(vs);
        consensus = new Consensus(vs, models, registry);
        snapshots = new SnapshotRegistry(vs, models);
        dispute = new Dispute(vs, registry);
        vs.grantRole(vs.REGISTRY_WRITER_ROLE(), address(consensus));
        vs.grantRole(vs.REGISTRY_WRITER_ROLE(), address(dispute));
        _people();
        vm.prank(vAddrs[0]);
        models.registerModel(MODEL, "bafymetrics");
        vm.prank(vAddrs[1]);
        models.approveModel(vAddrs[0], MODEL);
        _approveForAll();
    }

    function _people() private {
        for (uint256 i; i < 5; ++i) {
            vAddrs[i] = vm.addr(vKeys[i]);
            vs.admitValidator(vAddrs[i], vCountries[i], vWeights[i]);
        }
        for (uint256 i; i < 4; ++i) {
            arbiters[i] = vm.addr(0x2001 + i);
            vs.setArbiter(arbiters[i], arbiterCountries[i], arbiterWeights[i]);
        }
        regulator = vm.addr(0x3001);
        relayer = vm.addr(0x4001);
        stranger = vm.addr(0x5001);
        vs.grantRole(vs.REGULATOR_ROLE(), regulator);
        vs.grantRole(vs.RELAYER_ROLE(), relayer);
    }

    // ------------------------------------------------------------------ votes

    function _vote(bytes32 key, uint64 round, uint16 score, uint8 category, bool abstain)
        internal
        view
        returns (Consensus.ScoreVote memory)
    {
        Consensus.Round memory r = consensus.currentRound(key);
        bytes2 country = r.id == round && r.country != bytes2(0) ? r.country : bytes2("US");
        return Consensus.ScoreVote(
            key, country, round, score, 9000, category, abstain, MODEL, "bafyevidence", uint64(block.timestamp + 1 hours)
        );
    }

    function _digest(Consensus.ScoreVote memory v, uint256 chainId, address verifying)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("SpamLedger"), keccak256("1"), chainId, verifying)
        );
        bytes32 structHash = keccak256(
            abi.encode(
                VOTE_TYPEHASH, v.numberKey, v.country, v.round, v.score, v.confidence, v.category, v.abstain,
                v.modelHash, keccak256(bytes(v.evidenceCid)), v.deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _sign(uint256 pk, Consensus.ScoreVote memory v) internal view returns (bytes memory) {
        return _signFor(pk, v, block.chainid, address(consensus));
    }

    function _signFor(uint256 pk, Consensus.ScoreVote memory v, uint256 chainId, address verifying)
        internal
        pure
        returns (bytes memory)
    {
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(pk, _digest(v, chainId, verifying));
        return abi.encodePacked(r, s, sv);
    }

    /// @dev Every validator approves its own model-v1 registration (the fixture's MODEL hash):
    ///      models are bound to their owner, so each validator registers MODEL as its own.
    function _approveForAll() internal {
        for (uint256 i = 1; i < 5; ++i) {
            vm.prank(vAddrs[i]);
            models.registerModel(MODEL, "bafymetrics");
            vm.prank(vAddrs[i == 1 ? 0 : 1]);
            models.approveModel(vAddrs[i], MODEL);
        }
    }

    function _open(bytes32 key, bytes2 country) internal returns (uint64) {
        vm.prank(vAddrs[0]);
        return consensus.openRound(key, country);
    }

    function _castAs(uint256 i, bytes32 key, uint64 round, uint16 score, uint8 category, bool abstain) internal {
        Consensus.ScoreVote memory v = _vote(key, round, score, category, abstain);
        consensus.castVote(v, _sign(vKeys[i], v));
    }

    /// @dev Seed scenario: all five vote spam-ish scores except IN, which abstains.
    function _spamRound(bytes32 key) internal returns (uint64 round) {
        round = _open(key, "US");
        _castAs(0, key, round, 9000, 3, false);
        _castAs(1, key, round, 8500, 3, false);
        _castAs(2, key, round, 8000, 1, false);
        _castAs(3, key, round, 6000, 3, false);
        _castAs(4, key, round, 0, 0, true);
        consensus.finalize(key);
    }
}
