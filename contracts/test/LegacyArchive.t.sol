// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {ValidatorSet} from "../ValidatorSet.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {LegacyArchive} from "../LegacyArchive.sol";
import {Governed} from "../lib/Governed.sol";

/// @notice LegacyArchive: one v1 log and one v1 record in a two-leaf tree, committed by
///         governance (this test contract) once.
contract LegacyArchiveTest is Test {
    ValidatorSet internal vs;
    LegacyArchive internal archive;
    address internal constant EMITTER = address(0xC0FFEE);
    bytes32 internal constant TX = keccak256("tx");
    bytes32 internal constant KEY = keccak256("number");
    bytes32[] internal topics;
    bytes internal data = abi.encode(uint16(8235), uint8(3));
    SpamRegistry.Record internal record;
    bytes32 internal logLeaf;
    bytes32 internal recordLeaf;

    function setUp() public {
        vs = new ValidatorSet(address(this));
        archive = new LegacyArchive(vs);
        topics.push(keccak256("RecordFinalized(bytes32,uint64,uint16,uint8,uint8,bytes2,uint40)"));
        topics.push(KEY);
        record = SpamRegistry.Record(8235, 3, 2, 1000, 2000, 1, 0, 3000, "US");
        logLeaf = archive.logLeaf(31337, EMITTER, 42, 7, TX, topics, data);
        recordLeaf = archive.recordLeaf(31337, KEY, record);
    }

    function _commit() internal {
        bytes32 root = logLeaf < recordLeaf
            ? keccak256(abi.encode(logLeaf, recordLeaf))
            : keccak256(abi.encode(recordLeaf, logLeaf));
        string[] memory names = new string[](1);
        names[0] = "SpamRegistry";
        address[] memory sources = new address[](1);
        sources[0] = EMITTER;
        archive.commitArchive(31337, names, sources, 1, 42, root, 2, keccak256("file"));
    }

    function _proof(bytes32 sibling) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](1);
        p[0] = sibling;
    }

    function test_nothingVerifiesBeforeTheCommit() public view {
        assertFalse(archive.verifyLog(EMITTER, 42, 7, TX, topics, data, _proof(recordLeaf)), "log before commit");
        assertFalse(archive.isSealed(), "sealed before commit");
    }

    function test_theArchivedLogAndRecordVerify() public {
        _commit();
        assertTrue(archive.isSealed(), "sealed");
        assertTrue(archive.verifyLog(EMITTER, 42, 7, TX, topics, data, _proof(recordLeaf)), "log");
        assertTrue(archive.verifyRecord(KEY, record, _proof(logLeaf)), "record");
        assertEq(archive.archive().leafCount, 2, "leaf count");
    }

    function test_anAlteredLogOrRecordDoesNotVerify() public {
        _commit();
        bytes memory forged = abi.encode(uint16(100), uint8(3));
        assertFalse(archive.verifyLog(EMITTER, 42, 7, TX, topics, forged, _proof(recordLeaf)), "forged data");
        assertFalse(archive.verifyLog(EMITTER, 42, 8, TX, topics, data, _proof(recordLeaf)), "moved log");
        SpamRegistry.Record memory changed = record;
        changed.lockedUntil = 0; // a lock dropped
        assertFalse(archive.verifyRecord(KEY, changed, _proof(logLeaf)), "unlocked record");
        assertFalse(archive.verifyRecord(keccak256("other"), record, _proof(logLeaf)), "other number");
    }

    function test_onlyGovernanceCommits() public {
        address stranger = address(0xBEEF);
        string[] memory names = new string[](1);
        address[] memory sources = new address[](1);
        names[0] = "SpamRegistry";
        sources[0] = EMITTER;
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotGovernance.selector, stranger));
        archive.commitArchive(31337, names, sources, 1, 2, keccak256("r"), 1, bytes32(0));
        assertFalse(archive.isSealed(), "a refused commit seals nothing");
    }

    function test_aSecondCommitIsRefused() public {
        _commit();
        bytes32 root = archive.archive().root;
        vm.expectRevert(abi.encodeWithSelector(LegacyArchive.ArchiveSealed.selector, root));
        _commit();
    }
}
