"""The epoch Merkle tree equals OpenZeppelin's StandardMerkleTree and its proofs verify."""

from __future__ import annotations

import os

import numpy as np
import pytest
from eth_abi import encode
from eth_hash.auto import keccak as reference_keccak

from oracle.service import MerkleError, MerkleTree, leaf_hash, verify
from oracle.service._merkle import _build_nodes, keccak


def _rows(n: int, seed: int = 1) -> list[tuple[bytes, int, int, int]]:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    return [(keys[i].tobytes(), int(rng.integers(0, 10_001)), int(rng.integers(0, 4)),
             int(rng.integers(0, 8))) for i in range(n)]


def test_fast_keccak_equals_eth_hash():
    for size in (0, 1, 32, 64, 128, 135, 136, 137, 500):
        data = os.urandom(size)
        assert keccak(data) == reference_keccak(data)


def test_root_equals_openzeppelin_readme_example():
    # @openzeppelin/merkle-tree README: values (address, uint256) and the root it prints.
    values = [("0x1111111111111111111111111111111111111111", 5_000_000_000_000_000_000),
              ("0x2222222222222222222222222222222222222222", 2_500_000_000_000_000_000)]
    leaves = sorted(keccak(keccak(encode(["address", "uint256"], list(v)))) for v in values)
    root = _build_nodes(leaves)[0]
    assert root.hex() == "d4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"


def test_leaf_is_double_hashed_abi_encoding():
    key, score, verdict, category = os.urandom(32), 9_100, 3, 3
    inner = reference_keccak(encode(["bytes32", "uint16", "uint8", "uint8"],
                                    [key, score, verdict, category]))
    assert leaf_hash(key, score, verdict, category) == reference_keccak(inner)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 100])
def test_every_leaf_proves_against_the_root(n):
    rows = _rows(n, seed=n)
    tree = MerkleTree.build(rows)
    assert tree.count == n
    for row in rows:
        proof = tree.proof(row[0])
        assert verify(tree.root, leaf_hash(*row), proof)
        assert len(proof) <= max(1, (2 * n - 1).bit_length())


def test_altered_leaf_does_not_prove():
    rows = _rows(20)
    tree = MerkleTree.build(rows)
    key, score, verdict, category = rows[7]
    proof = tree.proof(key)
    assert not verify(tree.root, leaf_hash(key, score + 1, verdict, category), proof)
    assert not verify(tree.root, leaf_hash(key, score, 1, category), proof)


def test_root_does_not_depend_on_input_order():
    rows = _rows(50)
    assert MerkleTree.build(rows).root == MerkleTree.build(rows[::-1]).root


def test_single_leaf_tree_root_is_the_leaf():
    row = _rows(1)[0]
    tree = MerkleTree.build([row])
    assert tree.root == leaf_hash(*row)
    assert tree.proof(row[0]) == []


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(MerkleError, match="no leaves"):
        MerkleTree.build([])
    with pytest.raises(MerkleError, match="score"):
        MerkleTree.build([(os.urandom(32), 10_001, 3, 3)])
    key = os.urandom(32)
    with pytest.raises(MerkleError, match="unique"):
        MerkleTree.build([(key, 1, 1, 0), (key, 2, 1, 0)])
    with pytest.raises(MerkleError, match="not in this snapshot"):
        MerkleTree.build(_rows(3)).proof(os.urandom(32))
