// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ValidatorSet} from "./ValidatorSet.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {Governed} from "./lib/Governed.sol";
import {LedgerTypes} from "./lib/LedgerTypes.sol";

/// @title SnapshotRegistry
/// @notice Epoch snapshots for scale: per country and epoch, a validator of that country commits
///         the Merkle root of its whole score table (the table itself is in IPFS under the CID).
///         Any number's entry is then verifiable on-chain with a proof. Epochs of a country are
///         sequential (1, 2, 3, ...): nobody can jump ahead and pin a country's latest epoch.
/// @dev Leaf (OpenZeppelin StandardMerkleTree style, double-hashed against second preimages):
///      keccak256(bytes.concat(keccak256(abi.encode(bytes32 numberKey, uint16 score,
///      uint8 verdict, uint8 category)))); inner nodes hash the sorted pair (MerkleProof.verify).
///      Edge bundles (the compact files telcos map into their switches, `spamledger edge`) are
///      committed here too: a validator attests the bundle root of its country (or of every
///      country, scope 0x0000) as of a past block. Bundle leaves are pages of the file:
///      keccak256(bytes.concat(keccak256(abi.encodePacked(uint64 index, bytes page)))).
contract SnapshotRegistry is Governed {
    /// @notice One committed epoch. Root and model hash take a slot each; the rest packs in one.
    struct Epoch {
        bytes32 root;
        bytes32 modelHash;
        uint64 leafCount;
        uint40 committedAt;
        address committer;
    }

    ModelRegistry public immutable modelRegistry;

    mapping(bytes2 => mapping(uint64 => Epoch)) private _epochs;
    mapping(bytes2 => mapping(uint64 => string)) private _cids;
    /// @notice Highest epoch committed per country (0 when none).
    mapping(bytes2 => uint64) public latestEpoch;

    /// @notice One attested edge bundle root; packs in two slots.
    struct BundleRoot {
        bytes32 root;
        uint64 pageCount;
        uint40 committedAt;
    }

    /// @notice Scope of a bundle that holds every country.
    bytes2 public constant ALL_COUNTRIES = 0x0000;

    mapping(bytes2 => mapping(uint64 => mapping(address => BundleRoot))) private _bundles;

    event EpochCommitted(
        bytes2 indexed country,
        uint64 indexed epoch,
        bytes32 root,
        string snapshotCid,
        bytes32 modelHash,
        uint64 leafCount,
        address indexed committer
    );

    /// @notice A validator attested the root of an edge bundle of `scope` as of block `atBlock`.
    event BundleCommitted(
        bytes2 indexed scope,
        uint64 indexed atBlock,
        address indexed committer,
        bytes32 root,
        uint64 pageCount
    );

    error InvalidCountry(bytes2 country);
    error BundleBlockNotPast(uint64 atBlock, uint256 currentBlock);
    error BundleAlreadyCommitted(bytes2 scope, uint64 atBlock, address committer);
    error WrongCountry(address validator, bytes2 validatorCountry, bytes2 country);
    error EpochAlreadyCommitted(bytes2 country, uint64 epoch);
    error InvalidEpoch(uint64 epoch);
    error EpochNotNext(bytes2 country, uint64 expected, uint64 given);
    error EmptyRoot();
    error EmptySnapshot();
    error InvalidCid(uint256 length);
    error ModelNotApproved(bytes32 modelHash);

    /// @param validatorSet_ The roles hub.
    /// @param modelRegistry_ The snapshot's model must be approved there.
    constructor(ValidatorSet validatorSet_, ModelRegistry modelRegistry_) Governed(validatorSet_) {
        if (address(modelRegistry_) == address(0)) revert ZeroAddress();
        modelRegistry = modelRegistry_;
    }

    /// @notice Commit `country`'s score table for `epoch`; once per (country, epoch).
    /// @param country ISO alpha-2; must be the calling validator's country.
    /// @param epoch The country's next epoch: latestEpoch(country) + 1.
    /// @param root Merkle root over the leaves described above.
    /// @param snapshotCid IPFS CID of the table (1..128 bytes).
    /// @param modelHash Model that produced the scores; must be approved for the caller.
    /// @param leafCount Number of leaves (>= 1).
    function commitEpoch(
        bytes2 country,
        uint64 epoch,
        bytes32 root,
        string calldata snapshotCid,
        bytes32 modelHash,
        uint64 leafCount
    ) external {
        (bytes2 own, uint32 weight) = validatorSet.activeValidator(msg.sender);
        if (weight == 0) revert NotValidator(msg.sender);
        if (!LedgerTypes.isCountry(country)) revert InvalidCountry(country);
        if (own != country) revert WrongCountry(msg.sender, own, country);
        if (epoch == 0) revert InvalidEpoch(epoch);
        uint64 next = latestEpoch[country] + 1;
        if (epoch < next) revert EpochAlreadyCommitted(country, epoch);
        if (epoch > next) revert EpochNotNext(country, next, epoch);
        if (root == bytes32(0)) revert EmptyRoot();
        if (leafCount == 0) revert EmptySnapshot();
        uint256 len = bytes(snapshotCid).length;
        if (len == 0 || len > LedgerTypes.MAX_CID_LENGTH) revert InvalidCid(len);
        if (!modelRegistry.isApproved(msg.sender, modelHash)) revert ModelNotApproved(modelHash);
        _epochs[country][epoch] = Epoch(root, modelHash, leafCount, uint40(block.timestamp), msg.sender);
        _cids[country][epoch] = snapshotCid;
        latestEpoch[country] = epoch;
        emit EpochCommitted(country, epoch, root, snapshotCid, modelHash, leafCount, msg.sender);
    }

    /// @notice True when the leaf is in the committed snapshot of (country, epoch).
    /// @dev False (not a revert) when the epoch was never committed.
    function verifyLeaf(
        bytes2 country,
        uint64 epoch,
        bytes32 numberKey,
        uint16 score,
        uint8 verdict,
        uint8 category,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _epochs[country][epoch].root;
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, leafHash(numberKey, score, verdict, category));
    }

    /// @notice The leaf hash of one score-table row.
    function leafHash(bytes32 numberKey, uint16 score, uint8 verdict, uint8 category) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(numberKey, score, verdict, category))));
    }

    /// @notice The committed epoch (root 0 when none).
    function getEpoch(bytes2 country, uint64 epoch) external view returns (Epoch memory) {
        return _epochs[country][epoch];
    }

    /// @notice The snapshot CID of a committed epoch ("" when none).
    function snapshotCidOf(bytes2 country, uint64 epoch) external view returns (string memory) {
        return _cids[country][epoch];
    }

    /// @notice Attest the root of an edge bundle of `scope` as of the past block `atBlock`.
    /// @dev Once per (scope, block, committer): a second attester never overwrites the first,
    ///      so one validator cannot squat a block with a wrong root. Readers choose whose
    ///      attestation they trust (any active validator, or a named one).
    /// @param scope The caller's own country, or ALL_COUNTRIES (0x0000) for every country.
    /// @param atBlock Block whose ledger state the bundle holds; must be before this block.
    /// @param root Merkle root over the bundle's header and pages.
    /// @param pageCount Leaves under the root (header included), for readers' sanity checks.
    function commitBundle(bytes2 scope, uint64 atBlock, bytes32 root, uint64 pageCount) external {
        (bytes2 own, uint32 weight) = validatorSet.activeValidator(msg.sender);
        if (weight == 0) revert NotValidator(msg.sender);
        if (scope != ALL_COUNTRIES) {
            if (!LedgerTypes.isCountry(scope)) revert InvalidCountry(scope);
            if (own != scope) revert WrongCountry(msg.sender, own, scope);
        }
        if (atBlock >= block.number) revert BundleBlockNotPast(atBlock, block.number);
        if (root == bytes32(0)) revert EmptyRoot();
        if (pageCount == 0) revert EmptySnapshot();
        if (_bundles[scope][atBlock][msg.sender].root != bytes32(0)) {
            revert BundleAlreadyCommitted(scope, atBlock, msg.sender);
        }
        _bundles[scope][atBlock][msg.sender] = BundleRoot(root, pageCount, uint40(block.timestamp));
        emit BundleCommitted(scope, atBlock, msg.sender, root, pageCount);
    }

    /// @notice The bundle root `committer` attested for (scope, atBlock) (root 0 when none).
    function getBundle(bytes2 scope, uint64 atBlock, address committer) external view returns (BundleRoot memory) {
        return _bundles[scope][atBlock][committer];
    }

    /// @notice True when `page` is leaf `index` of the bundle `committer` attested.
    function verifyBundlePage(
        bytes2 scope,
        uint64 atBlock,
        address committer,
        uint64 index,
        bytes calldata page,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _bundles[scope][atBlock][committer].root;
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, bundleLeaf(index, page));
    }

    /// @notice The leaf hash of bundle page `index` (index 0 is the header).
    function bundleLeaf(uint64 index, bytes calldata page) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encodePacked(index, page))));
    }
}
