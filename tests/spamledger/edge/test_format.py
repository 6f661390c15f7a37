"""The bundle file: layout, root, hostile files, deltas."""

from __future__ import annotations

import hmac

import numpy as np
import pytest

from spamledger.edge import BundleFormatError, Header, apply_delta, check_root, encode
from spamledger.edge._format import (
    DELTA,
    HEADER_SIZE,
    delta_entries,
    leaf_hash,
    page_bytes,
    proof_of,
    split,
    tree_levels,
    verify_proof,
)
from spamledger.edge._sha256 import BatchHmac
from tests.spamledger.edge.helpers import SECRET, SNAP, SPAM, bundle_bytes, entries, numbers


def test_a_bundle_takes_16_bytes_a_number_plus_its_header():
    data = bundle_bytes(numbers(1000))
    assert len(data) == HEADER_SIZE + 16 * 1000
    header, keys, _ = split(data)
    assert header.count == 1000 and bool((keys[1:] > keys[:-1]).all())


def test_two_builds_of_the_same_state_are_byte_identical_whatever_the_row_order():
    from spamledger.edge import make_entries

    rng = np.random.default_rng(3)
    keys = rng.integers(0, 256, size=(500, 32), dtype=np.uint8)
    cols = [rng.integers(0, 4, 500) for _ in range(4)] + [rng.random(500) < 0.5]
    order = rng.permutation(500)
    header = Header(0, 31337, 10, 0, 0, "US", SPAM, SNAP)
    assert encode(header, make_entries(keys, *cols)) == encode(
        header, make_entries(keys[order], *(c[order] for c in cols)))


@pytest.mark.parametrize("offset", [0, 9, 40, 100, HEADER_SIZE + 3, HEADER_SIZE + 8 * 600 + 5,
                                    -1])
def test_any_flipped_byte_is_detected(offset: int):
    data = bytearray(bundle_bytes(numbers(700)))
    data[offset] ^= 0x04
    with pytest.raises(BundleFormatError):
        check_root(bytes(data))


@pytest.mark.parametrize("cut", [0, 10, HEADER_SIZE, HEADER_SIZE + 7, -1])
def test_truncated_or_padded_files_are_refused_naming_the_size(cut: int):
    data = bundle_bytes(numbers(50))
    with pytest.raises(BundleFormatError, match=r"bundle|header"):
        split(data[:cut] if cut >= 0 else data + b"\x00")


def test_unsorted_keys_are_refused_even_with_a_matching_root():
    data = bytearray(bundle_bytes(numbers(20)))
    a, b = HEADER_SIZE, HEADER_SIZE + 8
    data[a:a + 8], data[b:b + 8] = data[b:b + 8], data[a:a + 8]
    with pytest.raises(BundleFormatError, match="ascending"):
        split(bytes(data))


def test_every_page_proves_against_the_root():
    data = bundle_bytes(numbers(1000))
    header, keys, recs = split(data)
    leaves = [leaf_hash(i, page_bytes(header, keys.view(np.uint8), recs.view(np.uint8), i))
              for i in range(header.page_count)]
    levels = tree_levels(leaves)
    assert levels[-1][0] == header.root and header.page_count == 5
    for i, leaf in enumerate(leaves):
        assert verify_proof(header.root, leaf, proof_of(levels, i))
        assert not verify_proof(header.root, leaf, proof_of(levels, (i + 1) % len(leaves)))


def test_bad_values_are_refused_naming_the_column():
    from spamledger.edge import make_entries

    keys = np.zeros((2, 32), dtype=np.uint8)
    keys[1, 0] = 1
    with pytest.raises(BundleFormatError, match="score"):
        make_entries(keys, [0, 10_001], [0, 0], [0, 0], [0, 0], [False, False])
    with pytest.raises(BundleFormatError, match="share the key prefix"):
        make_entries(np.zeros((2, 32), dtype=np.uint8), [1, 2], [0, 0], [0, 0], [0, 0],
                     [False, False])


@pytest.mark.parametrize("seed", range(4))
def test_deltas_applied_in_order_give_the_full_build_bytes(seed: int):
    rng = np.random.default_rng(seed)
    states = []
    pool = numbers(3000)
    for step in range(3):
        picked = sorted(rng.choice(len(pool), size=1500 + 200 * step, replace=False))
        states.append(entries([pool[i] for i in picked], seed=seed * 10 + step))
    fulls = [encode(Header(0, 31337, 10 * (i + 1), 0, 0, "US", SPAM, SNAP), e)
             for i, e in enumerate(states)]
    data = fulls[0]
    for i in range(1, 3):
        root = Header.unpack(fulls[i]).root
        delta = encode(Header(DELTA, 31337, 10 * (i + 1), 10 * i, 0, "US", SPAM, SNAP, root),
                       delta_entries(states[i - 1], states[i]))
        data = apply_delta(data, delta)
        assert data == fulls[i]


def test_a_delta_out_of_order_or_tampered_is_refused():
    a, b = entries(numbers(100)), entries(numbers(120), seed=2)
    base = encode(Header(0, 31337, 10, 0, 0, "US", SPAM, SNAP), a)
    root = Header.unpack(encode(Header(0, 31337, 20, 0, 0, "US", SPAM, SNAP), b)).root
    delta = encode(Header(DELTA, 31337, 20, 10, 0, "US", SPAM, SNAP, root), delta_entries(a, b))
    skipped = encode(Header(DELTA, 31337, 20, 15, 0, "US", SPAM, SNAP, root),
                     delta_entries(a, b))
    with pytest.raises(BundleFormatError, match="apply deltas in order"):
        apply_delta(base, skipped)
    bad = bytearray(delta)
    bad[-2] ^= 0x10
    with pytest.raises(BundleFormatError, match="altered"):
        apply_delta(base, bytes(bad))
    other = encode(Header(DELTA, 31337, 20, 10, 0, "GB", SPAM, SNAP, root), delta_entries(a, b))
    with pytest.raises(BundleFormatError, match="scope"):
        apply_delta(base, other)


@pytest.mark.parametrize("length", range(0, 17))
def test_vectorised_hmac_equals_hmac_sha256_for_every_e164_length(length: int):
    msgs = ["+" + "1234567890123456"[:max(length - 1, 0)] if length else "",
            "9" * length]
    got = BatchHmac(SECRET.encode()).digests(np.array(msgs, dtype="S16"))
    for row, msg in zip(got, msgs, strict=True):
        assert row.astype(">u4").tobytes() == hmac.digest(SECRET.encode(), msg.encode(),
                                                          "sha256")
