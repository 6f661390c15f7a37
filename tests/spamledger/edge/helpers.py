"""Synthetic bundles for unit tests (the chain tests build them from a real ledger)."""

from __future__ import annotations

import numpy as np

from spamledger import NumberHasher
from spamledger.edge import Header, encode, make_entries

SECRET = "spamledger-test-consortium-secret"
SPAM, SNAP = "0x" + "11" * 20, "0x" + "22" * 20


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+1415{i:07d}" for i in range(start, start + n)]


def entries(nums: list[str], seed: int = 1):
    rng = np.random.default_rng(seed)
    n = len(nums)
    keys = np.frombuffer(NumberHasher(SECRET).keys_many(nums), dtype=np.uint8).reshape(n, 32)
    return make_entries(keys, rng.integers(0, 10_001, n), rng.integers(0, 4, n),
                        rng.integers(0, 8, n), np.where(rng.random(n) < 0.5, 4_000_000_000, 0),
                        rng.random(n) < 0.3)


def bundle_bytes(nums: list[str], block: int = 10, seed: int = 1, scope: str = "US") -> bytes:
    return encode(Header(0, 31337, block, 0, 0, scope, SPAM, SNAP), entries(nums, seed))
