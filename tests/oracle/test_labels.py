"""Labels derived from complaints: distinct, confirmed reporters; ambiguity left out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from oracle import LabelPolicy, derive_labels, read_labels
from oracle._ingest import connect, load_calls, load_reports

SPAMMER = "+14155550100"
BUSY = "+14155550101"
VICTIMS = [f"+1212555{1000 + i:04d}" for i in range(30)]


@pytest.fixture
def con(tmp_path: Path):
    calls = ["ts,caller,callee,duration_s,answered,country"]
    for i, v in enumerate(VICTIMS):
        calls.append(f"2026-01-05T10:{i:02d}:00Z,{SPAMMER},{v},3,true,US")
        calls.append(f"2026-01-05T11:{i:02d}:00Z,{BUSY},{v},60,true,US")
    (tmp_path / "calls.csv").write_text("\n".join(calls) + "\n")
    con = connect()
    load_calls(con, tmp_path / "calls.csv")
    return con, tmp_path


NO_TENURE = LabelPolicy(min_tenure_days=0)


def _reports(con_tmp, rows: list[str], policy: LabelPolicy = NO_TENURE):
    con, tmp = con_tmp
    (tmp / "reports.csv").write_text("ts,number,label,country,reporter,source\n"
                                     + "\n".join(rows) + "\n")
    load_reports(con, tmp / "reports.csv")
    # These numbers are a day old: judge silence regardless of tenure (tested below).
    return derive_labels(con, datetime(2026, 1, 6), policy,
                         numbers=[SPAMMER, BUSY, VICTIMS[0]])


def _label(labels, number: str):
    hit = labels.loc[labels["number"] == number, "label"]
    return None if hit.empty else int(hit.item())


def test_two_confirmed_reporters_make_spam_and_silence_makes_not_spam(con) -> None:
    labels = _reports(con, [f"2026-01-05T12:00:00Z,{SPAMMER},spam,US,{VICTIMS[0]},user",
                            f"2026-01-05T12:05:00Z,{SPAMMER},spam,US,{VICTIMS[1]},user"])
    assert _label(labels, SPAMMER) == 1
    assert _label(labels, VICTIMS[0]) == 0


def test_one_reporter_flooding_never_makes_spam(con) -> None:
    rows = [f"2026-01-05T12:{i:02d}:00Z,{SPAMMER},spam,US,{VICTIMS[0]},user" for i in range(20)]
    assert _label(_reports(con, rows), SPAMMER) == 0  # one complaint, counted once
    young = LabelPolicy(min_tenure_days=5, exposure_callees=1000)
    assert _label(_reports(con, rows, young), SPAMMER) is None  # young: wait and see


def test_complaints_from_people_it_never_called_do_not_count(con) -> None:
    rows = [f"2026-01-05T12:0{i}:00Z,{BUSY},spam,US,+1305555{2000 + i:04d},user"
            for i in range(5)]
    assert _label(_reports(con, rows), BUSY) == 0


def test_complaints_after_the_cutoff_are_ignored(con) -> None:
    labels = _reports(con, [f"2026-01-07T12:00:00Z,{SPAMMER},spam,US,{VICTIMS[0]},user",
                            f"2026-01-07T12:05:00Z,{SPAMMER},spam,US,{VICTIMS[1]},user"])
    assert _label(labels, SPAMMER) == 0


def test_mostly_not_spam_votes_make_not_spam_and_mixed_is_left_out(con) -> None:
    votes = [f"2026-01-05T12:0{i}:00Z,{BUSY},not_spam,US,{VICTIMS[i]},user" for i in range(8)]
    mixed = [f"2026-01-05T13:0{i}:00Z,{SPAMMER},{lab},US,{VICTIMS[i]},user"
             for i, lab in enumerate(["spam", "spam", "not_spam", "not_spam"])]
    lone = f"2026-01-05T12:30:00Z,{BUSY},spam,US,{VICTIMS[9]},user"
    labels = _reports(con, [*votes, lone, *mixed])
    assert _label(labels, BUSY) == 0
    assert _label(labels, SPAMMER) is None


def test_low_complaint_rate_of_a_busy_caller_is_left_out(con) -> None:
    rows = [f"2026-01-05T12:0{i}:00Z,{BUSY},spam,US,{VICTIMS[i]},user" for i in range(2)]
    con_, tmp = con
    strict = LabelPolicy(min_rate=0.2)  # 2 of 30 callees complained: below 20%
    (tmp / "reports.csv").write_text("ts,number,label,country,reporter,source\n"
                                     + "\n".join(rows) + "\n")
    load_reports(con_, tmp / "reports.csv")
    labels = derive_labels(con_, datetime(2026, 1, 6), strict, numbers=[BUSY])
    assert labels.empty


def test_labels_file_overrides_with_numbers_normalized(tmp_path: Path) -> None:
    f = tmp_path / "labels.csv"
    f.write_text("number,label,country\n(415) 555-0100,spam,US\n+14155550101,0,US\n")
    labels = read_labels(f)
    assert dict(zip(labels["number"], labels["label"], strict=True)) == {
        SPAMMER: 1, BUSY: 0}


def test_a_young_busy_number_without_complaints_yet_is_left_out(con) -> None:
    labels = _reports(con, [], LabelPolicy(min_tenure_days=5, exposure_callees=20))
    assert _label(labels, BUSY) is None and _label(labels, SPAMMER) is None
    assert _label(labels, VICTIMS[0]) == 0        # placed no calls: nothing to wait for
    quiet = _reports(con, [], LabelPolicy(min_tenure_days=5, exposure_callees=50))
    assert _label(quiet, BUSY) == 0               # 30 callees: below the exposure bar
