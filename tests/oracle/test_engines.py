"""The engine check suite: every feature engine gives the same feature table.

Each engine must (1) reproduce hand-checked values on a small network, and (2) give the
DuckDB table on a simulated network: the same numbers, the same count columns exactly,
the same floats within 1e-9, and so the same scores from one model. Spark runs in local
mode, one session for the whole test run (``spark`` fixture in ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oracle
from oracle._engine import DuckDBEngine, SparkEngine, check_engine
from oracle._errors import OracleError
from oracle._features import (
    COMPLAINT_COLUMNS,
    COUNT_COLUMNS,
    FEATURES,
    ID_COLUMNS,
    RECEIVED_COLUMNS,
)
from oracle._features import build_features as features_sql
from oracle._ingest import connect, load_calls, load_reports
from oracle._pipeline import features_from_files
from tests.oracle.conftest import SCORE_UNTIL

A, B, C, D = "+14155550100", "+12125551000", "+12125551001", "+12125551002"
HEADER = "ts,caller,callee,duration_s,answered,country,attestation\n"
CALLS = (f"2026-01-05T15:00:00Z,{A},{B},2,true,US,C\n"
         f"2026-01-05T15:00:30Z,{A},{C},0,false,US,C\n"
         f"2026-01-05T15:01:00Z,{A},{D},120,true,US,A\n"
         f"2026-01-05T15:02:00Z,{A},{B},3,true,US,C\n"
         f"2026-01-05T16:00:00Z,{B},{A},30,true,US,A\n"
         f"2026-01-04T09:00:00Z,{D},{B},700,true,US,\n")
REPORTS = (f"2026-01-05T15:10:00Z,{A},spam,US,{C},user,\n"
           f"2026-01-05T15:11:00Z,{A},spam,US,+13055550000,user,\n"
           f"2026-01-05T15:12:00Z,{A},not_spam,US,{B},user,\n"
           f"2026-01-05T18:00:00Z,{D},spam,US,,ftc,robocall\n")

Build = Callable[..., pd.DataFrame]


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def build(request: pytest.FixtureRequest, tmp_path: Path) -> Build:
    """``build(con, until)``: the feature table of ``con``'s clean tables on one engine."""
    if request.param == "duckdb":
        return lambda con, until, **kw: features_sql(con, until, engine=DuckDBEngine(con),
                                                     **kw)
    session = request.getfixturevalue("spark")

    def on_spark(con, until, **kw):
        with SparkEngine.from_duckdb(con, session, tmp_path / "spark") as engine:
            return features_sql(con, until, engine=engine, **kw)

    return on_spark


def _con(tmp_path: Path) -> object:
    (tmp_path / "calls.csv").write_text(HEADER + CALLS)
    (tmp_path / "reports.csv").write_text(
        "ts,number,label,country,reporter,source,category\n" + REPORTS)
    con = connect()
    load_calls(con, tmp_path / "calls.csv")
    load_reports(con, tmp_path / "reports.csv")
    return con


def test_every_engine_computes_the_hand_checked_values(build: Build, tmp_path: Path) -> None:
    f = build(_con(tmp_path), datetime(2026, 1, 6)).set_index("number")
    assert sorted(f.index) == sorted([A, B, D])
    a, d = f.loc[A], f.loc[D]
    assert a["n_out"] == 4 and a["distinct_callees"] == 3 and a["n_in"] == 1
    assert a["answer_rate"] == pytest.approx(0.75, abs=1e-12)
    assert a["short_share"] == pytest.approx(2 / 3, abs=1e-6)
    assert a["callback_rate"] == pytest.approx(1 / 3, abs=1e-6)      # only B called back
    assert a["organic_callers"] == 0 and f.loc[B]["organic_callers"] == 2  # A, D rang B first
    assert a["strangers"] == 2 and a["strangers_answered"] == 1
    assert a["gap_median_s"] == pytest.approx(30.0) and a["gap_short_share"] == \
        pytest.approx(2 / 3, abs=1e-6)                                # gaps 30, 30, 60 s
    assert a["peak_day_calls"] == 4 and a["peak_day_out_share"] == pytest.approx(0.8)
    assert a["att_c"] == pytest.approx(0.75) and a["att_a"] == pytest.approx(0.25)
    assert a["spam_reporters"] == 1 and a["unverified_reporters"] == 1   # C was called
    assert a["not_spam_reporters"] == 1 and a["spam_share"] == pytest.approx(0.5)
    assert a["nb_active"] == 0                      # no other caller in +1415555 01xx
    # D: one call on day 4, a feed complaint (counts as it is), attestation missing
    assert d["n_out"] == 1 and d["long_share"] == 1.0 and d["spam_reporters"] == 1
    assert d["report_category"] == "robocall" and d["att_a"] == -1.0
    assert d["age_days"] == pytest.approx(1 + 15 / 24, abs=1e-6)
    assert d["spam_decayed"] == pytest.approx(2 ** (-(6 / 24) / 3), abs=1e-6)
    assert list(f.columns[-len(FEATURES):]) == list(FEATURES)


def test_every_engine_builds_without_reports(build: Build, tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text(HEADER + CALLS)
    con = connect()
    load_calls(con, tmp_path / "calls.csv")
    f = build(con, datetime(2026, 1, 6), reports=None).set_index("number")
    assert f.loc[A, "spam_reporters"] == 0 and f.loc[A, "n_out"] == 4


def _assert_same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same numbers in the same order; counts exact, floats within 1e-9, strings equal."""
    assert list(got.columns) == list(want.columns)
    assert got["number"].tolist() == want["number"].tolist()
    counts = [*COUNT_COLUMNS, "number_type", "foreign"]
    for col in want.columns:
        g, w = got[col], want[col]
        if col in ID_COLUMNS:
            assert g.fillna("").astype(str).tolist() == w.fillna("").astype(str).tolist(), col
        elif col in counts:
            assert np.array_equal(g.to_numpy(float), w.to_numpy(float), equal_nan=True), col
        else:
            gv, wv = g.to_numpy(float), w.to_numpy(float)
            assert np.array_equal(np.isnan(gv), np.isnan(wv)), col
            ok = ~np.isnan(wv)
            assert np.allclose(gv[ok], wv[ok], rtol=0, atol=1e-9), \
                (col, float(np.max(np.abs(gv[ok] - wv[ok]))))


@pytest.mark.slow
def test_spark_gives_the_duckdb_table_on_a_simulated_network(sim: dict[str, Path], spark,
                                                             tmp_path: Path) -> None:
    for until in (SCORE_UNTIL, datetime(2026, 1, 12, 7, 30)):
        want, _ = features_from_files(sim["calls"], sim["reports"], until)
        got, _ = features_from_files(sim["calls"], sim["reports"], until, engine="spark")
        assert len(want) > 500
        _assert_same_table(got, want)
    assert {*COMPLAINT_COLUMNS, *RECEIVED_COLUMNS} <= set(got.columns)


@pytest.mark.slow
def test_scores_are_identical_across_engines(sim: dict[str, Path], trained: Path, spark,
                                             tmp_path: Path) -> None:
    from spamledger._cli import main

    out = {}
    for engine in ("duckdb", "spark"):
        out[engine] = tmp_path / f"{engine}.parquet"
        assert main(["oracle", "score", "--calls", str(sim["calls"]), "--reports",
                     str(sim["reports"]), "--model-dir", str(trained), "--out",
                     str(out[engine]), "--until", SCORE_UNTIL.isoformat(),
                     "--engine", engine, "--no-reasons"]) == 0
    duck, spk = (oracle.read_scores(out[e])[0] for e in ("duckdb", "spark"))
    assert len(duck) > 500
    pd.testing.assert_frame_equal(spk.reset_index(drop=True), duck.reset_index(drop=True))


def test_unknown_engine_is_refused_with_the_choices() -> None:
    with pytest.raises(OracleError, match="duckdb, spark"):
        check_engine("presto")
    with pytest.raises(OracleError, match="unknown feature engine"):
        features_from_files("nowhere/", None, engine="bigquery")


def test_engine_setting_reaches_the_cli(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    from spamledger._cli import main

    code = main(["oracle", "score", "--calls", str(tmp_path), "--reports", str(tmp_path),
                 "--model-dir", str(tmp_path), "--out", str(tmp_path / "s.parquet"),
                 "--engine", "hadoop"])
    assert code == 1 and "unknown feature engine 'hadoop'" in capsys.readouterr().err
