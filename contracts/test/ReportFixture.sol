// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./LedgerFixture.sol";
import {ReportConsensus} from "../ReportConsensus.sol";

/// @title ReportFixture
/// @notice The ledger of LedgerFixture plus ReportConsensus, wired as the migrations wire it
///         (governance grants it REGISTRY_WRITER_ROLE). Builds and signs reports with an
///         EIP-712 digest computed independently of the contract under test.
abstract contract ReportFixture is LedgerFixture {
    bytes32 internal constant REPORT_TYPEHASH = keccak256(
        "Report(uint64 seq,uint64 deadline,bytes32[] numberKeys,bytes2[] countries,address[] signers,bytes32[] modelHashes,uint64[] votes,string evidenceCid)"
    );
    string internal constant REPORT_CID = "bafyreportevidence";

    ReportConsensus internal reports;

    function setUp() public virtual override {
        super.setUp();
        reports = new ReportConsensus(vs, models, registry, consensus);
        vs.grantRole(vs.REGISTRY_WRITER_ROLE(), address(reports));
    }

    /// @dev A packed vote: cast, with score, confidence 9000, category and abstain flag.
    function _pv(uint16 score, uint8 category, bool abstain) internal pure returns (uint64 v) {
        v = uint64(score) | (uint64(9000) << 16) | (uint64(category) << 32) | (uint64(1) << 41);
        if (abstain) v |= uint64(1) << 40;
    }

    /// @dev The fixture's validator indices in ascending address order (a report's signer order).
    function _ascending() internal view returns (uint256[5] memory idx) {
        idx = [uint256(0), 1, 2, 3, 4];
        for (uint256 i = 1; i < 5; ++i) {
            for (uint256 j = i; j > 0 && vAddrs[idx[j]] < vAddrs[idx[j - 1]]; --j) {
                (idx[j], idx[j - 1]) = (idx[j - 1], idx[j]);
            }
        }
    }

    /// @dev Sorts keys ascending in place.
    function _sortKeys(bytes32[] memory keys) internal pure returns (bytes32[] memory) {
        for (uint256 i = 1; i < keys.length; ++i) {
            for (uint256 j = i; j > 0 && keys[j] < keys[j - 1]; --j) (keys[j], keys[j - 1]) = (keys[j - 1], keys[j]);
        }
        return keys;
    }

    /// @dev A report over `keys` (ascending) of country `country`, signed by validators
    ///      `signerIdx` (ascending by address); `votes[i * signers + j]` as in the contract.
    function _report(uint64 seq, bytes32[] memory keys, bytes2 country, uint256[] memory signerIdx, uint64[] memory votes)
        internal
        view
        returns (ReportConsensus.Report memory r)
    {
        r.seq = seq;
        r.deadline = uint64(block.timestamp + 1 hours);
        r.numberKeys = keys;
        r.countries = new bytes2[](keys.length);
        for (uint256 i; i < keys.length; ++i) r.countries[i] = country;
        r.signers = new address[](signerIdx.length);
        r.modelHashes = new bytes32[](signerIdx.length);
        for (uint256 j; j < signerIdx.length; ++j) (r.signers[j], r.modelHashes[j]) = (vAddrs[signerIdx[j]], MODEL);
        r.votes = votes;
        r.evidenceCid = REPORT_CID;
    }

    function _reportDigest(ReportConsensus.Report memory r, uint256 chainId, address verifying)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("SpamLedger"), keccak256("1"), chainId, verifying)
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, _reportStructHash(r)));
    }

    /// @dev EIP-712 encodeData, arrays hashed element by element as 32-byte words.
    function _reportStructHash(ReportConsensus.Report memory r) internal pure returns (bytes32) {
        bytes memory countries;
        for (uint256 i; i < r.countries.length; ++i) countries = bytes.concat(countries, bytes32(r.countries[i]));
        bytes memory signers;
        for (uint256 i; i < r.signers.length; ++i) signers = bytes.concat(signers, abi.encode(r.signers[i]));
        bytes memory votes;
        for (uint256 i; i < r.votes.length; ++i) votes = bytes.concat(votes, abi.encode(r.votes[i]));
        bytes memory head = abi.encode(REPORT_TYPEHASH, r.seq, r.deadline, keccak256(abi.encodePacked(r.numberKeys)));
        bytes memory tail = abi.encode(
            keccak256(countries), keccak256(signers), keccak256(abi.encodePacked(r.modelHashes)), keccak256(votes),
            keccak256(bytes(r.evidenceCid))
        );
        return keccak256(bytes.concat(head, tail));
    }

    function _signReport(uint256 pk, ReportConsensus.Report memory r) internal view returns (bytes memory) {
        (uint8 sv, bytes32 rr, bytes32 s) = vm.sign(pk, _reportDigest(r, block.chainid, address(reports)));
        return abi.encodePacked(rr, s, sv);
    }

    /// @dev Each listed signer's signature, signed with the fixture key of validator `signerIdx[j]`.
    function _signAll(ReportConsensus.Report memory r, uint256[] memory signerIdx)
        internal
        view
        returns (bytes[] memory sigs)
    {
        sigs = new bytes[](signerIdx.length);
        for (uint256 j; j < signerIdx.length; ++j) sigs[j] = _signReport(vKeys[signerIdx[j]], r);
    }

    /// @dev All five validators, ascending.
    function _allSigners() internal view returns (uint256[] memory out) {
        uint256[5] memory a = _ascending();
        out = new uint256[](5);
        for (uint256 j; j < 5; ++j) out[j] = a[j];
    }
}
