// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {SnapshotRegistry} from "../SnapshotRegistry.sol";
import {Governed} from "../lib/Governed.sol";

/// @notice Edge bundle roots: attested per (scope, block, committer); pages verify by proof.
contract BundleTest is LedgerFixture {
    bytes[] internal pages;
    bytes32[] internal leaves;
    bytes32 internal root;

    function setUp() public override {
        super.setUp();
        vm.roll(100);
        for (uint256 i; i < 5; ++i) {
            pages.push(abi.encodePacked("page", i, keccak256(abi.encode(i))));
            leaves.push(keccak256(bytes.concat(keccak256(abi.encodePacked(uint64(i), pages[i])))));
        }
        root = _root(leaves);
        vm.prank(vAddrs[0]);
        snapshots.commitBundle("US", 90, root, uint64(leaves.length));
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

    function test_bundle_leaf_is_the_agreed_double_hash() public view {
        assertEq(snapshots.bundleLeaf(3, pages[3]), leaves[3], "leaf");
    }

    function test_every_page_verifies_and_the_root_is_stored() public view {
        for (uint256 i; i < pages.length; ++i) {
            assertTrue(snapshots.verifyBundlePage("US", 90, vAddrs[0], uint64(i), pages[i], _proof(leaves, i)), "page");
        }
        SnapshotRegistry.BundleRoot memory b = snapshots.getBundle("US", 90, vAddrs[0]);
        assertEq(b.root, root, "root");
        assertEq(b.pageCount, 5, "pages");
    }

    function test_pages_of_another_block_scope_or_committer_do_not_verify() public view {
        bytes32[] memory proof = _proof(leaves, 1);
        assertFalse(snapshots.verifyBundlePage("US", 91, vAddrs[0], 1, pages[1], proof), "block");
        assertFalse(snapshots.verifyBundlePage("GB", 90, vAddrs[0], 1, pages[1], proof), "scope");
        assertFalse(snapshots.verifyBundlePage("US", 90, vAddrs[1], 1, pages[1], proof), "committer");
        assertFalse(snapshots.verifyBundlePage("US", 90, vAddrs[0], 2, pages[1], proof), "index");
    }

    /// Fuzz: any byte changed in a page makes it fail.
    function testFuzz_tampered_page_fails(uint256 i, uint256 at, bytes1 flip) public view {
        i = bound(i, 0, pages.length - 1);
        vm.assume(flip != 0);
        bytes memory page = bytes.concat(pages[i]);
        at = bound(at, 0, page.length - 1);
        page[at] = page[at] ^ flip;
        assertFalse(snapshots.verifyBundlePage("US", 90, vAddrs[0], uint64(i), page, _proof(leaves, i)), "tampered");
    }

    function test_each_committer_attests_once_and_cannot_overwrite_another() public {
        vm.prank(vAddrs[0]);
        vm.expectRevert(
            abi.encodeWithSelector(SnapshotRegistry.BundleAlreadyCommitted.selector, bytes2("US"), uint64(90), vAddrs[0])
        );
        snapshots.commitBundle("US", 90, keccak256("other"), 5);
        // An all-countries bundle may be attested by any validator, each under its own name.
        vm.prank(vAddrs[1]);
        snapshots.commitBundle(0x0000, 90, keccak256("gb view"), 5);
        vm.prank(vAddrs[0]);
        snapshots.commitBundle(0x0000, 90, root, 5);
        assertEq(snapshots.getBundle(0x0000, 90, vAddrs[0]).root, root, "own attestation kept");
        assertEq(snapshots.getBundle(0x0000, 90, vAddrs[1]).root, keccak256("gb view"), "other kept");
    }

    function test_commit_rules() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, stranger));
        snapshots.commitBundle("US", 90, root, 5);
        vm.prank(vAddrs[1]);
        vm.expectRevert(
            abi.encodeWithSelector(SnapshotRegistry.WrongCountry.selector, vAddrs[1], bytes2("GB"), bytes2("US"))
        );
        snapshots.commitBundle("US", 91, root, 5);
        vm.prank(vAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(SnapshotRegistry.BundleBlockNotPast.selector, uint64(100), uint256(100)));
        snapshots.commitBundle("US", 100, root, 5);
        vm.prank(vAddrs[0]);
        vm.expectRevert(SnapshotRegistry.EmptyRoot.selector);
        snapshots.commitBundle("US", 91, bytes32(0), 5);
        vm.prank(vAddrs[0]);
        vm.expectRevert(SnapshotRegistry.EmptySnapshot.selector);
        snapshots.commitBundle("US", 91, root, 0);
        vm.prank(vAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(SnapshotRegistry.InvalidCountry.selector, bytes2("u1")));
        snapshots.commitBundle("u1", 91, root, 5);
    }

    function test_commit_emits_the_attestation() public {
        vm.expectEmit(true, true, true, true, address(snapshots));
        emit SnapshotRegistry.BundleCommitted("US", 95, vAddrs[0], root, 5);
        vm.prank(vAddrs[0]);
        snapshots.commitBundle("US", 95, root, 5);
    }
}
