// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {SpamRegistry} from "../SpamRegistry.sol";
import {ValidatorSet} from "../ValidatorSet.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {Governed} from "../lib/Governed.sol";

contract RegistryTest is LedgerFixture {
    function test_record_fits_one_storage_slot() public {
        _spamRound(KEY);
        // SpamRegistry storage: slot 0 recordTtl, slot 1 the records mapping.
        bytes32 slot = keccak256(abi.encode(KEY, uint256(1)));
        uint256 word = uint256(vm.load(address(registry), slot));
        assertEq(word & 0xffff, 8342, "score in the low 16 bits");
        assertEq((word >> 16) & 0xff, 3, "verdict next");
        assertEq(uint256(vm.load(address(registry), bytes32(uint256(slot) + 1))), 0, "nothing in a second slot");
    }

    function test_expired_record_reads_unknown_but_keeps_its_expiry() public {
        _spamRound(KEY);
        uint40 exp = registry.get(KEY).expiresAt;
        vm.warp(uint256(exp));
        assertEq(registry.verdictOf(KEY), 0, "unknown when expired");
        assertEq(registry.get(KEY).verdict, 3, "stored verdict kept");
        assertEq(registry.get(KEY).expiresAt, exp, "expiry carried");
    }

    function test_batch_reads_in_order() public {
        _spamRound(KEY);
        bytes32[] memory keys = new bytes32[](3);
        keys[0] = keccak256("none");
        keys[1] = KEY;
        keys[2] = KEY;
        SpamRegistry.Record[] memory rs = registry.getBatch(keys);
        assertEq(rs.length, 3, "len");
        assertEq(rs[0].verdict, 0, "absent key is empty");
        assertEq(rs[1].score, 8342, "score");
        uint8[] memory vs_ = registry.verdictsOf(keys);
        assertEq(vs_[2], 3, "verdict");
    }

    function test_ttl_is_governed() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotGovernance.selector, stranger));
        registry.setRecordTtl(30 days);
        registry.setRecordTtl(30 days);
        _spamRound(KEY);
        assertEq(registry.get(KEY).expiresAt, block.timestamp + 30 days, "new ttl");
    }

    /// Fuzz: no account without the writer role can write any record.
    function testFuzz_no_account_without_the_role_changes_a_reputation(address caller, bytes32 key, uint16 score)
        public
    {
        vm.assume(caller != address(consensus) && caller != address(dispute));
        vm.startPrank(caller);
        vm.expectRevert(abi.encodeWithSelector(SpamRegistry.NotWriter.selector, caller));
        registry.recordFinal(key, 1, score % 10001, 3, 1, "US");
        vm.expectRevert(abi.encodeWithSelector(SpamRegistry.NotWriter.selector, caller));
        registry.setDisputeStatus(key, 1);
        vm.stopPrank();
        assertEq(registry.get(key).finalizedAt, 0, "untouched");
    }
}

contract ValidatorSetTest is LedgerFixture {
    function test_seed_weights_add_up() public view {
        assertEq(vs.totalActiveWeight(), 10000, "total");
        assertEq(vs.activeWeightOf("US"), 4000, "US");
        assertEq(vs.activeValidatorCount(), 5, "count");
        assertEq(vs.activeValidators().length, 5, "list");
    }

    function test_only_governance_admits() public {
        bytes32 gov = vs.GOVERNANCE_ROLE();
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(bytes4(keccak256("AccessControlUnauthorizedAccount(address,bytes32)")), stranger, gov)
        );
        vs.admitValidator(stranger, "US", 1);
    }

    function test_admit_rejects_bad_input() public {
        vm.expectRevert(abi.encodeWithSelector(ValidatorSet.ValidatorExists.selector, vAddrs[0]));
        vs.admitValidator(vAddrs[0], "US", 1);
        vm.expectRevert(abi.encodeWithSelector(ValidatorSet.InvalidWeight.selector, uint32(0)));
        vs.admitValidator(stranger, "US", 0);
        vm.expectRevert(abi.encodeWithSelector(ValidatorSet.InvalidCountry.selector, bytes2(0x3132)));
        vs.admitValidator(stranger, bytes2("12"), 1);
        vm.expectRevert(ValidatorSet.ZeroAddress.selector);
        vs.admitValidator(address(0), "US", 1);
    }

    function test_reweight_deactivate_remove_keep_totals() public {
        vm.expectEmit(true, false, false, true, address(vs));
        emit ValidatorSet.ValidatorWeightChanged(vAddrs[0], 4000, 1000);
        vs.setValidatorWeight(vAddrs[0], 1000);
        assertEq(vs.totalActiveWeight(), 7000, "reweighted");
        vs.deactivateValidator(vAddrs[1]);
        assertEq(vs.totalActiveWeight(), 4500, "deactivated");
        assertFalse(vs.isValidator(vAddrs[1]), "inactive");
        vs.reactivateValidator(vAddrs[1]);
        vs.removeValidator(vAddrs[2]);
        assertEq(vs.totalActiveWeight(), 5000, "removed");
        assertEq(vs.validatorCount(), 4, "list shrank");
        vm.expectRevert(abi.encodeWithSelector(ValidatorSet.UnknownValidator.selector, vAddrs[2]));
        vs.setValidatorWeight(vAddrs[2], 10);
        vs.admitValidator(vAddrs[2], "DE", 10);
        assertEq(vs.activeWeightOf("DE"), 10, "readmitted");
    }

    function test_arbiter_role_only_through_setArbiter() public {
        bytes32 role = vs.ARBITER_ROLE();
        vm.expectRevert(ValidatorSet.UseSetArbiter.selector);
        vs.grantRole(role, stranger);
        assertEq(vs.totalArbiterWeight(), 10000, "arbiters");
        vs.revokeRole(role, arbiters[1]);
        assertEq(vs.totalArbiterWeight(), 7000, "revoke drops weight");
        (, uint32 w) = vs.arbiterOf(arbiters[1]);
        assertEq(w, 0, "gone");
        vs.setArbiter(arbiters[2], "JP", 500);
        assertEq(vs.arbiterWeightOf("FR"), 0, "moved country");
        assertEq(vs.arbiterWeightOf("JP"), 2500, "JP");
    }

    /// Fuzz: totals always equal the sum over the active validators.
    function testFuzz_totals_track_admissions(uint32[6] memory weights, uint8 deactivateMask) public {
        uint256 expected = vs.totalActiveWeight();
        for (uint256 i; i < 6; ++i) {
            uint32 w = uint32(bound(weights[i], 1, vs.MAX_WEIGHT()));
            address a = vm.addr(0x9000 + i);
            vs.admitValidator(a, "BR", w);
            expected += w;
            if ((deactivateMask >> i) & 1 == 1) {
                vs.deactivateValidator(a);
                expected -= w;
            }
        }
        assertEq(vs.totalActiveWeight(), expected, "total");
        uint256 sum;
        address[] memory active = vs.activeValidators();
        for (uint256 i; i < active.length; ++i) sum += vs.getValidator(active[i]).weight;
        assertEq(sum, expected, "sum over list");
    }
}

contract ModelRegistryTest is LedgerFixture {
    bytes32 internal constant M2 = keccak256("model-v2");

    function test_approval_needs_another_country() public {
        vm.prank(vAddrs[2]);
        models.registerModel(M2, "bafym2");
        assertFalse(models.isApproved(vAddrs[2], M2), "pending");
        vm.prank(vAddrs[2]);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.SameCountryApproval.selector, M2, bytes2("DE")));
        models.approveModel(vAddrs[2], M2);
        vm.prank(vAddrs[3]);
        models.approveModel(vAddrs[2], M2);
        assertTrue(models.isApproved(vAddrs[2], M2), "approved");
        vm.prank(vAddrs[3]);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AlreadyApprovedBy.selector, M2, vAddrs[3]));
        models.approveModel(vAddrs[2], M2);
    }

    function test_required_approvals_is_configurable() public {
        models.setRequiredApprovals(2);
        vm.prank(vAddrs[2]);
        models.registerModel(M2, "bafym2");
        vm.prank(vAddrs[3]);
        models.approveModel(vAddrs[2], M2);
        assertFalse(models.isApproved(vAddrs[2], M2), "one of two");
        vm.prank(vAddrs[1]);
        models.approveModel(vAddrs[2], M2);
        assertTrue(models.isApproved(vAddrs[2], M2), "two of two");
    }

    function test_revocation_by_owner_or_governance_only() public {
        vm.prank(vAddrs[1]);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwnerOrGovernance.selector, MODEL, vAddrs[1]));
        models.revokeModel(vAddrs[0], MODEL);
        vm.prank(vAddrs[0]);
        models.revokeModel(vAddrs[0], MODEL);
        assertFalse(models.isApproved(vAddrs[0], MODEL), "revoked");
        vm.prank(vAddrs[2]);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelIsRevoked.selector, MODEL));
        models.approveModel(vAddrs[0], MODEL);
    }

    function test_only_validators_register() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Governed.NotValidator.selector, stranger));
        models.registerModel(M2, "bafym2");
        vm.prank(vAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelAlreadyRegistered.selector, MODEL));
        models.registerModel(MODEL, "bafy");
    }
}
