"""Complaints filed through the API (reporter = keyed hash) are confirmed against the CDRs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from oracle._pipeline import features_from_files
from spamledger import NumberHasher

SECRET = "test-consortium-secret-0123456789"
SPAMMER = "+14155550100"
VICTIMS = [f"+1212555{1000 + i:04d}" for i in range(6)]
STRANGER = "+12125559999"   # never called by the spammer
UNTIL = datetime(2026, 1, 6)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    calls = ["ts,caller,callee,duration_s,answered,country"]
    calls += [f"2026-01-05T10:{i:02d}:00Z,{SPAMMER},{v},3,true,US" for i, v in enumerate(VICTIMS)]
    calls.append(f"2026-01-05T11:00:00Z,{STRANGER},{VICTIMS[0]},60,true,US")
    (tmp_path / "calls.csv").write_text("\n".join(calls) + "\n")
    hasher = NumberHasher(SECRET)
    # What `spamledger api reports export` writes: the reporter is the stored keyed hash.
    rows = ["ts,number,label,country,reporter,category,source"]
    rows += [f"2026-01-05T12:0{i}:00Z,{SPAMMER},spam,US,{hasher.hex(v)},robocall,user"
             for i, v in enumerate(VICTIMS[:3])]
    rows.append(f"2026-01-05T12:09:00Z,{SPAMMER},spam,US,{hasher.hex(STRANGER)},,user")
    (tmp_path / "reports.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "calls.csv", tmp_path / "reports.csv"


def _spammer(frame):
    return frame.set_index("number").loc[SPAMMER]


def test_api_complaints_are_confirmed_with_the_consortium_hasher(files) -> None:
    calls, reports = files
    feats, _ = features_from_files(calls, reports, UNTIL, hasher=NumberHasher(SECRET))
    row = _spammer(feats)
    assert row["spam_reporters"] == 3           # the three victims it really called
    assert row["unverified_reporters"] == 1     # the keyed stranger it never called


def test_without_the_hasher_api_complaints_stay_unconfirmed(files) -> None:
    calls, reports = files
    feats, _ = features_from_files(calls, reports, UNTIL)
    row = _spammer(feats)
    assert row["spam_reporters"] == 0 and row["unverified_reporters"] == 4


def test_another_consortiums_secret_confirms_nothing(files) -> None:
    calls, reports = files
    feats, _ = features_from_files(calls, reports, UNTIL,
                                   hasher=NumberHasher("another-consortium-secret-xyz"))
    assert _spammer(feats)["spam_reporters"] == 0
