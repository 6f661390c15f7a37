// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {SnapshotRegistry} from "../SnapshotRegistry.sol";
import {Governed} from "../lib/Governed.sol";

/// @notice Builds sorted-pair Merkle trees in Solidity (same hashing as OZ MerkleProof).
contract SnapshotTest is LedgerFixture {
    uint256 internal constant N = 7;
    bytes32[] internal leaves;
    bytes32 internal root;

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < N; ++i) {
            leaves.push(snapshots.leafHash(_key(i), uint16(i * 1000), uint8(i % 4), uint8(i % 8)));
        }
        root = _root(leaves);
        vm.prank(vAddrs[0]);
        snapshots.commitEpoch("US", 1, root, "bafysnapshot", MODEL, uint64(N));
    }

    function _key(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("number", i));
    }

    function _hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _next(bytes32[] memory level) internal pure returns (bytes32[] memory up) {
        up = new bytes32[]((level.length + 1) / 2);
        for (uint256 i; i < up.length; ++i) {
            up[i] = 2 * i + 1 < level.length ? _hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
        }
    }

    function _root(bytes32[] memory level) internal pure returns (bytes32) {
        while (level.length > 1) level = _next(level);
        return level[0];
    }

    function _proof(bytes32[] memory level, uint256 index) internal pure returns (bytes32[] memory proof) {
        bytes32[] memory buf = new bytes32[](64);
        uint256 n;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) buf[n++] = level[sibling];
            level = _next(level);
            index /= 2;
        }
        proof = new bytes32[](n);
        for (uint256 i; i < n; ++i) proof[i] = buf[i];
    }

    function test_leaf_hash_is_the_agreed_double_hash() public view {
        bytes32 expected = keccak256(bytes.concat(keccak256(abi.encode(KEY, uint16(8342), uint8(3), uint8(3)))));
        assertEq(snapshots.leafHash(KEY, 8342, 3, 3), expected, "leaf");
    }

    function test_every_leaf_in_the_snapshot_verifies() public view {
        for (uint256 i; i < N; ++i) {
            bool ok = snapshots.verifyLeaf("US", 1, _key(i), uint16(i * 1000), uint8(i % 4), uint8(i % 8), _proof(leaves, i));
            assertTrue(ok, "leaf verifies");
        }
        SnapshotRegistry.Epoch memory e = snapshots.getEpoch("US", 1);
        assertEq(e.root, root, "root");
        assertEq(e.leafCount, N, "count");
        assertEq(snapshots.snapshotCidOf("US", 1), "bafysnapshot", "cid");
        assertEq(snapshots.latestEpoch("US"), 1, "latest");
    }

    function test_uncommitted_epoch_verifies_nothing() public view {
        assertFalse(snapshots.verifyLeaf("US", 2, _key(0), 0, 0, 0, _proof(leaves, 0)), "other epoch");
        assertFalse(snapshots.verifyLeaf("GB", 1, _key(0), 0, 0, 0, _proof(leaves, 0)), "other country");
    }

    function test_one_commit_per_country_and_epoch() public {
        vm.prank(vAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(SnapshotRegistry.EpochAlreadyCommitted.selector, bytes2("US"), uint64(1)));
        snapshots.commitEpoch("US", 1, keccak256("x"), "bafy2", MODEL, 1);
    }

    function test_only_a_validator_of_that_country_commits() public {
        vm.prank(vAddrs[1]);
        vm.expectRevert(
            abi.encodeWithSelector(SnapshotRegistry.WrongCountry.selector, vAddrs[1], bytes2("GB"), bytes2("US"))
        );
        snapshots.commitEpoch("US", 2, root, "bafy", MODEL, 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, stranger));
        snapshots.commitEpoch("US", 2, root, "bafy", MODEL, 1);
        vm.prank(vAddrs[1]);
        vm.expectRevert(abi.encodeWithSelector(SnapshotRegistry.ModelNotApproved.selector, keccak256("nope")));
        snapshots.commitEpoch("GB", 1, root, "bafy", keccak256("nope"), 1);
    }

    /// Fuzz: a leaf whose fields differ from the committed row never verifies.
    function testFuzz_proof_for_a_leaf_not_in_the_snapshot_fails(uint256 index, uint16 score, uint8 verdict, uint8 category)
        public
        view
    {
        index = bound(index, 0, N - 1);
        vm.assume(score != uint16(index * 1000) || verdict != uint8(index % 4) || category != uint8(index % 8));
        bytes32[] memory proof = _proof(leaves, index);
        assertFalse(snapshots.verifyLeaf("US", 1, _key(index), score, verdict, category, proof), "tampered row");
    }

    /// Fuzz: an unknown key with any proof taken from the tree never verifies.
    function testFuzz_unknown_key_fails(bytes32 key, uint256 index) public view {
        index = bound(index, 0, N - 1);
        vm.assume(key != _key(index));
        bytes32[] memory proof = _proof(leaves, index);
        assertFalse(
            snapshots.verifyLeaf("US", 1, key, uint16(index * 1000), uint8(index % 4), uint8(index % 8), proof),
            "unknown key"
        );
    }

    /// An inner node presented as a leaf (second-preimage attempt) does not verify as a row.
    function test_inner_node_is_not_a_leaf() public view {
        bytes32 inner = _hashPair(leaves[0], leaves[1]);
        bytes32[] memory level = _next(leaves);
        bytes32[] memory proof = _proof(level, 0);
        // The node itself is in the tree, but no row (key, score, verdict, category) hashes to it.
        assertTrue(root != bytes32(0) && inner != bytes32(0), "setup");
        assertFalse(snapshots.verifyLeaf("US", 1, inner, 0, 0, 0, proof), "inner node as key");
    }
}
