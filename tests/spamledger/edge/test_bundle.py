"""Lookups in a mapped bundle: single, many, national forms, expiry, hostile files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spamledger import NumberHasher, SecretError
from spamledger.edge import Bundle, BundleFormatError, Header, encode, make_entries
from spamledger.edge._format import DELTA
from tests.spamledger.edge.helpers import SECRET, SNAP, SPAM, bundle_bytes, numbers


def write(tmp_path: Path, data: bytes, name: str = "b.bundle") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def one(number: str, score: int, verdict: int, category: int, expires: int, epoch: bool,
        tmp_path: Path) -> Bundle:
    key = np.frombuffer(NumberHasher(SECRET).key(number), dtype=np.uint8).reshape(1, 32)
    data = encode(Header(0, 31337, 7, 0, 0, "US", SPAM, SNAP),
                  make_entries(key, [score], [verdict], [category], [expires], [epoch]))
    return Bundle.open(write(tmp_path, data), SECRET, verify_root=True)


def test_lookup_and_lookup_many_agree_on_present_absent_and_invalid_numbers(tmp_path: Path):
    present = numbers(2000)
    bundle = Bundle.open(write(tmp_path, bundle_bytes(present)), SECRET, verify_root=True)
    asked = present[::7] + numbers(300, start=50_000) + ["bogus", "+0123", "", "+1" * 40]
    many = bundle.lookup_many(asked)
    assert list(many.found) == [n in set(present) for n in asked]
    assert list(many.valid[-4:]) == [False] * 4
    for i, number in enumerate(asked):
        assert bundle.lookup(number) == many.answer(i)
    assert sum(a.verdict != "unknown" for a in many) > 0


def test_a_national_form_is_normalized_with_the_country(tmp_path: Path):
    bundle = one("+14155550123", 9100, 3, 3, 0, False, tmp_path)
    assert bundle.lookup("(415) 555-0123", "US").verdict == "spam"
    assert bundle.lookup_many(["415-555-0123"], "US").answer(0).score_bps == 9100
    assert bundle.lookup("(415) 555-0123").verdict == "unknown"  # no region: not a number


def test_an_expired_record_says_unknown_but_keeps_its_recorded_verdict(tmp_path: Path):
    bundle = one("+14155550123", 9100, 3, 3, 1_000, False, tmp_path)
    got = bundle.lookup("+14155550123")
    assert (got.verdict, got.recorded_verdict, got.expired, got.source) == (
        "unknown", "spam", True, "round")
    assert list(bundle.lookup_many(["+14155550123"]).verdicts()) == [0]
    assert list(bundle.lookup_many(["+14155550123"]).verdicts(now=999)) == [3]


def test_an_epoch_leaf_answers_without_expiry(tmp_path: Path):
    got = one("+14155550123", 7002, 3, 2, 0, True, tmp_path).lookup("+14155550123")
    assert (got.verdict, got.score_bps, got.category, got.source, got.recorded_verdict) == (
        "spam", 7002, "telemarketing", "epoch", None)


def test_large_batches_hash_in_numpy_and_equal_the_per_number_path(tmp_path: Path):
    present = numbers(5000)
    bundle = Bundle.open(write(tmp_path, bundle_bytes(present)), SECRET)
    asked = present[::3] + numbers(2000, start=80_000)
    assert len(asked) > 512
    fast = bundle.lookup_many(asked)
    slow = [bundle.lookup(n) for n in asked]
    assert [fast.answer(i) for i in range(len(asked))] == slow


def test_an_empty_bundle_answers_unknown(tmp_path: Path):
    data = encode(Header(0, 31337, 7, 0, 0, "**", SPAM, SNAP),
                  make_entries(np.zeros((0, 32), np.uint8), [], [], [], [], []))
    bundle = Bundle.open(write(tmp_path, data), SECRET, verify_root=True)
    assert bundle.lookup("+14155550123").verdict == "unknown"
    assert not bundle.lookup_many(["+14155550123"] * 600).found.any()


def test_hostile_files_are_refused_with_a_reason(tmp_path: Path):
    with pytest.raises(BundleFormatError, match="bad magic"):
        Bundle.open(write(tmp_path, b"PK\x03\x04" + b"\x00" * 200), SECRET)
    with pytest.raises(BundleFormatError, match="shorter than a bundle header"):
        Bundle.open(write(tmp_path, b""), SECRET)
    with pytest.raises(BundleFormatError, match="cannot open"):
        Bundle.open(tmp_path / "missing.bundle", SECRET)
    data = bytearray(bundle_bytes(numbers(10)))
    data[8] = DELTA
    with pytest.raises(BundleFormatError, match="delta"):
        Bundle.open(write(tmp_path, bytes(data)), SECRET)
    data = bytearray(bundle_bytes(numbers(10)))
    data[-1] ^= 1
    with pytest.raises(BundleFormatError, match="altered"):
        Bundle.open(write(tmp_path, bytes(data)), SECRET, verify_root=True)


def test_a_missing_or_short_secret_is_refused(tmp_path: Path, monkeypatch):
    path = write(tmp_path, bundle_bytes(numbers(3)))
    monkeypatch.delenv("SPAMLEDGER_CONSORTIUM_SECRET", raising=False)
    with pytest.raises(SecretError):
        Bundle.open(path)
    monkeypatch.setenv("SPAMLEDGER_CONSORTIUM_SECRET", SECRET)
    assert len(Bundle.open(path)) == 3


def test_vectorised_e164_check_agrees_with_the_per_number_pattern():
    """``lookup_many``'s all-at-once E.164 check accepts exactly what the per-number path's
    pattern accepts (anything else takes the libphonenumber path)."""
    import random

    from spamledger.edge._bundle import _E164, e164_array

    rng = random.Random(3)
    cases = ["+14155550123", "+1234567", "+123456", "+123456789012345", "+1234567890123456",
             "+04155550123", "14155550123", "+1415 5550123", "+14155550123\x00",
             "+1415\x005550123", "+١٤١٥٥٥٥٠١٢٣", "", "+", "++14155550123", "+1415555012é"]
    cases += ["".join(rng.choice("+0123456789 a\x00-") for _ in range(rng.randint(0, 18)))
              for _ in range(5000)]
    cases += [f"+{rng.randint(1, 9)}{rng.randrange(10 ** rng.randint(5, 15))}"
              for _ in range(5000)]
    for case in cases:
        assert (e164_array([case]) is not None) == bool(_E164.fullmatch(case)), repr(case)
    good = [c for c in cases if _E164.fullmatch(c)]
    assert e164_array(good).tolist() == [c.encode() for c in good]
    assert e164_array([*good, "+1 415"]) is None
