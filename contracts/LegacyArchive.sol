// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ValidatorSet} from "./ValidatorSet.sol";
import {SpamRegistry} from "./SpamRegistry.sol";
import {Governed} from "./lib/Governed.sol";

/// @title LegacyArchive
/// @notice Makes the history of a previous deployment (v1) provable from this one: governance
///         commits, once, the Merkle root of every log the v1 contracts emitted up to a block and
///         of every v1 registry record as it stood at that block. Anyone then proves a v1 vote,
///         finalization, lock, dispute outcome or epoch root against this root with a Merkle proof,
///         without access to the v1 chain; anyone with that access recomputes the leaves from
///         the v1 chain's own receipts and state.
/// @dev Leaves use OpenZeppelin's StandardMerkleTree layout (double keccak of `abi.encode`,
///      commutative pair hashing), so `MerkleProof` verifies them. A leaf names its kind, so a
///      log leaf can never verify as a record leaf or the other way round. Once committed the
///      archive is sealed: there is no function that changes it.
contract LegacyArchive is Governed {
    /// @notice Kind tag of a leaf that is one v1 log.
    bytes32 public constant LOG_LEAF = keccak256("spamledger.legacy.log");
    /// @notice Kind tag of a leaf that is one v1 registry record at the last migrated block.
    bytes32 public constant RECORD_LEAF = keccak256("spamledger.legacy.record");

    /// @notice What was archived.
    struct Archive {
        uint64 sourceChainId; // chain of the v1 deployment
        uint64 firstBlock; // first block of the v1 deployment
        uint64 lastBlock; // last block whose logs and state the root covers
        uint64 leafCount; // log leaves + record leaves
        bytes32 root; // Merkle root of the leaves
        bytes32 manifestHash; // sha256 of the archive file listing every leaf
        uint40 committedAt;
        address committedBy;
    }

    Archive private _archive;
    address[] private _sourceContracts;
    string[] private _sourceNames;

    event LegacyArchiveCommitted(
        uint64 indexed sourceChainId,
        uint64 firstBlock,
        uint64 lastBlock,
        bytes32 root,
        uint64 leafCount,
        bytes32 manifestHash,
        address indexed by
    );
    event LegacySourceContract(string name, address indexed source);

    error ArchiveSealed(bytes32 root);
    error EmptyRoot();
    error NoLeaves();
    error InvalidBlockRange(uint64 firstBlock, uint64 lastBlock);
    error SourceListMismatch(uint256 names, uint256 addresses);
    error NoSourceContracts();

    /// @param validatorSet_ The roles hub of this (v2) deployment: only its governance commits.
    constructor(ValidatorSet validatorSet_) Governed(validatorSet_) {}

    /// @notice Commit the v1 history root; callable once, by governance.
    /// @param names Contract names of the v1 deployment ("Consensus", ...), same order as `sources`.
    /// @param sources Their v1 addresses: only their logs are leaves.
    function commitArchive(
        uint64 sourceChainId,
        string[] calldata names,
        address[] calldata sources,
        uint64 firstBlock,
        uint64 lastBlock,
        bytes32 root,
        uint64 leafCount,
        bytes32 manifestHash
    ) external onlyGovernance {
        if (_archive.root != bytes32(0)) revert ArchiveSealed(_archive.root);
        if (root == bytes32(0)) revert EmptyRoot();
        if (leafCount == 0) revert NoLeaves();
        if (lastBlock < firstBlock) revert InvalidBlockRange(firstBlock, lastBlock);
        if (names.length != sources.length) revert SourceListMismatch(names.length, sources.length);
        if (sources.length == 0) revert NoSourceContracts();
        _archive = Archive(
            sourceChainId, firstBlock, lastBlock, leafCount, root, manifestHash, uint40(block.timestamp), msg.sender
        );
        for (uint256 i = 0; i < sources.length; ++i) {
            if (sources[i] == address(0)) revert ZeroAddress();
            _sourceContracts.push(sources[i]);
            _sourceNames.push(names[i]);
            emit LegacySourceContract(names[i], sources[i]);
        }
        emit LegacyArchiveCommitted(sourceChainId, firstBlock, lastBlock, root, leafCount, manifestHash, msg.sender);
    }

    // ------------------------------------------------------------------------ reads

    /// @notice The committed archive (root 0 before the commit).
    function archive() external view returns (Archive memory) {
        return _archive;
    }

    /// @notice True once the root is committed (it can never change afterwards).
    function isSealed() external view returns (bool) {
        return _archive.root != bytes32(0);
    }

    /// @notice The v1 contracts the archive covers, with their names.
    function sourceContracts() external view returns (string[] memory names, address[] memory sources) {
        return (_sourceNames, _sourceContracts);
    }

    /// @notice True when the v1 log is in the archive.
    function verifyLog(
        address emitter,
        uint64 blockNumber,
        uint32 logIndex,
        bytes32 txHash,
        bytes32[] calldata topics,
        bytes calldata data,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (_archive.root == bytes32(0)) return false;
        bytes32 leaf = logLeaf(_archive.sourceChainId, emitter, blockNumber, logIndex, txHash, topics, data);
        return MerkleProof.verifyCalldata(proof, _archive.root, leaf);
    }

    /// @notice True when `record` was the v1 registry record of `numberKey` at the last block.
    function verifyRecord(bytes32 numberKey, SpamRegistry.Record calldata record, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (_archive.root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, _archive.root, recordLeaf(_archive.sourceChainId, numberKey, record));
    }

    /// @notice Leaf hash of one v1 log (its emitter, position, topics and data as in the receipt).
    function logLeaf(
        uint64 sourceChainId,
        address emitter,
        uint64 blockNumber,
        uint32 logIndex,
        bytes32 txHash,
        bytes32[] calldata topics,
        bytes calldata data
    ) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(abi.encode(LOG_LEAF, sourceChainId, emitter, blockNumber, logIndex, txHash, topics, data))
            )
        );
    }

    /// @notice Leaf hash of one v1 registry record.
    function recordLeaf(uint64 sourceChainId, bytes32 numberKey, SpamRegistry.Record calldata record)
        public
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(RECORD_LEAF, sourceChainId, numberKey, record))));
    }
}
