"""Features: values on a hand-made network, and no leakage past --until."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from oracle._features import FEATURES
from oracle._features import build_features as features_sql
from oracle._ingest import connect, load_calls, load_reports

A, B, C, D = "+14155550100", "+12125551000", "+12125551001", "+12125551002"
HEADER = "ts,caller,callee,duration_s,answered,country,attestation\n"


def _con(tmp_path: Path, calls: str, reports: str = "") -> object:
    (tmp_path / "calls.csv").write_text(HEADER + calls)
    (tmp_path / "reports.csv").write_text("ts,number,label,country,reporter,source\n" + reports)
    con = connect()
    load_calls(con, tmp_path / "calls.csv")
    load_reports(con, tmp_path / "reports.csv")
    return con


CALLS = (f"2026-01-05T15:00:00Z,{A},{B},2,true,US,C\n"
         f"2026-01-05T15:00:30Z,{A},{C},0,false,US,C\n"
         f"2026-01-05T15:01:00Z,{A},{D},120,true,US,A\n"
         f"2026-01-05T15:02:00Z,{A},{B},3,true,US,C\n"
         f"2026-01-05T16:00:00Z,{B},{A},30,true,US,A\n")


def test_counts_ratios_and_callbacks_on_a_small_network(tmp_path: Path) -> None:
    con = _con(tmp_path, CALLS, f"2026-01-05T15:10:00Z,{A},spam,US,{C},user\n"
                                f"2026-01-05T15:11:00Z,{A},spam,US,+13055550000,user\n")
    f = features_sql(con, datetime(2026, 1, 6)).set_index("number")
    a = f.loc[A]
    assert a["n_out"] == 4 and a["distinct_callees"] == 3
    assert a["distinct_ratio"] == pytest.approx(0.75)
    assert a["answer_rate"] == pytest.approx(0.75)
    assert a["short_share"] == pytest.approx(2 / 3)
    assert a["callback_rate"] == pytest.approx(1 / 3)        # only B called back
    assert a["organic_callers"] == 0                         # B only called back
    b = f.loc[B]                                             # A rang B before B rang A
    assert b["organic_callers"] == 1 and b["organic_share"] == pytest.approx(0.5)
    assert a["outgoing_share"] == pytest.approx(4 / 5)
    assert a["att_c"] == pytest.approx(0.75)
    assert a["gap_short_share"] == pytest.approx(2 / 3)      # gaps 30 s, 30 s, 60 s
    assert a["spam_reporters"] == 1 and a["unverified_reporters"] == 1
    assert a["foreign"] == 0
    assert list(f.columns[-len(FEATURES):]) == list(FEATURES)


def test_nothing_at_or_after_until_changes_the_features(tmp_path: Path) -> None:
    until = datetime(2026, 1, 6)
    (tmp_path / "a").mkdir()
    before = features_sql(_con(tmp_path / "a", CALLS), until)
    later = CALLS + "".join(f"2026-01-06T0{i}:00:00Z,{A},+1212555{2000 + i},1,false,US,C\n"
                            for i in range(5))
    (tmp_path / "b").mkdir()
    con = _con(tmp_path / "b", later, f"2026-01-06T00:00:00Z,{A},spam,US,{B},user\n")
    after = features_sql(con, until)
    assert before.equals(after)


def test_short_window_sees_only_the_last_24_hours(tmp_path: Path) -> None:
    calls = CALLS + f"2026-01-07T12:00:00Z,{A},{C},1,false,US,C\n"
    f = features_sql(_con(tmp_path, calls), datetime(2026, 1, 7, 13)).set_index("number")
    assert f.loc[A, "n_out_24h"] == 1 and f.loc[A, "n_out"] == 5
    # no call in or out from B's call at 2026-01-05 16:00 to the window's start 01-06 13:00
    assert f.loc[A, "quiet_days_before_24h"] == pytest.approx(21 / 24, abs=1e-3)


def test_strangers_busiest_day_and_median_gap(tmp_path: Path) -> None:
    f = features_sql(_con(tmp_path, CALLS), datetime(2026, 1, 6)).set_index("number")
    a = f.loc[A]
    # B called A back: C and D are strangers; only D answered among them.
    assert a["strangers"] == 2 and a["strangers_answered"] == 1
    assert a["stranger_share"] == pytest.approx(2 / 3)
    assert a["peak_day_calls"] == 4 and a["peak_day_out_share"] == pytest.approx(4 / 5)
    assert a["peak_day_answer_rate"] == pytest.approx(0.75)
    assert a["gap_median_s"] == pytest.approx(30.0)          # gaps 30 s, 30 s, 60 s


def test_own_complaints_and_calls_received_are_not_model_inputs() -> None:
    # Labels are made of complaints: a model that saw them would learn the labelling rule.
    from oracle._features import COMPLAINT_COLUMNS, COUNT_COLUMNS, RECEIVED_COLUMNS
    assert not set(FEATURES) & {*COMPLAINT_COLUMNS, *COUNT_COLUMNS, *RECEIVED_COLUMNS}
