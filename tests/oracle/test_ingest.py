"""Ingest: number formats, bad rows quarantined with reasons, time zones, schema errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oracle._errors import IngestError, SchemaError
from oracle._ingest import connect, load_calls, load_reports

HEADER = "ts,caller,callee,duration_s,answered,country\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _calls(con) -> pd.DataFrame:
    return con.execute("SELECT * FROM calls ORDER BY ts").df()


def test_e164_international_and_national_forms_become_one_number(tmp_path: Path) -> None:
    f = _write(tmp_path / "calls.csv", HEADER
               + "2026-01-05T10:00:00Z,+14155550123,+12125551234,30,true,US\n"
               + "2026-01-05T10:01:00Z,+1 415-555-0123,(212) 555-1234,0,false,US\n"
               + "2026-01-05T10:02:00Z,(415) 555-0123,212.555.1234,5,1,US\n"
               + "2026-01-05T10:03:00Z,07912 345678,+44 7912 345679,5,yes,GB\n")
    con = connect()
    stats = load_calls(con, f)
    calls = _calls(con)
    assert stats.clean == 4 and stats.bad == 0
    assert set(calls["caller"][:3]) == {"+14155550123"}
    assert set(calls["callee"][:3]) == {"+12125551234"}
    assert calls["caller"][3] == "+447912345678"
    assert calls["caller_region"][3] == "GB" and calls["caller_type"][3] == "mobile"


def test_bad_rows_go_to_quarantine_with_file_line_and_reason(tmp_path: Path) -> None:
    f = _write(tmp_path / "calls.csv", HEADER
               + "2026-01-05T10:00:00Z,+14155550123,+12125551234,30,true,US\n"   # line 2 ok
               + "2026-01-05T10:00:00Z,12,+12125551234,30,true,US\n"             # 3 too short
               + "2026-01-05T10:00:00Z,+14155550123,+12125551234,-4,true,US\n"   # 4 negative
               + ",+14155550123,+12125551234,3,true,US\n"                        # 5 no time
               + "yesterday,+14155550123,+12125551234,3,true,US\n"               # 6 bad time
               + "2026-01-05T10:00:00Z,+14155550123,call me,3,true,US\n"         # 7 letters
               + "2026-01-05T10:00:00Z,+14155550123,+12125551234,3,maybe,US\n")  # 8 answered
    q = tmp_path / "out" / "quarantine.parquet"
    con = connect()
    stats = load_calls(con, f, quarantine=q)
    assert stats.clean == 1
    assert stats.quarantined == {"caller:too_short": 1, "negative_duration": 1,
                                 "missing_timestamp": 1, "bad_timestamp": 1,
                                 "callee:not_a_number": 1, "bad_answered": 1}
    bad = pd.read_parquet(q)
    assert list(bad["line"]) == [3, 4, 5, 6, 7, 8]
    assert set(bad["source_file"]) == {str(f)}
    assert "call me" in bad.loc[bad["line"] == 7, "row"].item()


def test_timestamps_with_offsets_naive_and_epoch_all_become_utc(tmp_path: Path) -> None:
    f = _write(tmp_path / "calls.csv", HEADER
               + "2026-01-05T15:30:00+05:30,+14155550123,+12125551234,1,true,US\n"
               + "2026-01-05 10:00:00,+14155550123,+12125551234,1,true,US\n"
               + "1767607200,+14155550123,+12125551234,1,true,US\n"
               + "1767607200000,+14155550123,+12125551234,1,true,US\n"
               + "2026-01-05T05:00:00-05:00,+14155550123,+12125551234,1,true,US\n")
    con = connect()
    load_calls(con, f)
    assert list(_calls(con)["ts"]) == [pd.Timestamp("2026-01-05 10:00:00")] * 5


def test_parquet_timestamps_with_zone_and_epoch_integers(tmp_path: Path) -> None:
    utc = pa.array([datetime(2026, 1, 5, 10)], pa.timestamp("us", "UTC"))
    base = {"caller": ["+14155550123"], "callee": ["+12125551234"], "duration_s": [3],
            "answered": [True], "country": ["US"]}
    pq.write_table(pa.table({"ts": utc, **base}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"ts": [1767607200], **base}), tmp_path / "b.parquet")
    con = connect()
    stats = load_calls(con, tmp_path)
    assert stats.clean == 2 and len(stats.files) == 2
    assert set(_calls(con)["ts"]) == {pd.Timestamp("2026-01-05 10:00:00")}


def test_until_keeps_only_earlier_rows(tmp_path: Path) -> None:
    f = _write(tmp_path / "calls.csv", HEADER
               + "2026-01-05T09:59:59Z,+14155550123,+12125551234,1,true,US\n"
               + "2026-01-05T10:00:00Z,+14155550123,+12125551234,1,true,US\n")
    con = connect()
    stats = load_calls(con, f, until=datetime(2026, 1, 5, 10))
    assert stats.clean == 1


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    f = _write(tmp_path / "calls.csv", "ts,caller,duration_s,answered,country\n"
               "2026-01-05T10:00:00Z,+14155550123,1,true,US\n")
    with pytest.raises(SchemaError) as err:
        load_calls(connect(), f)
    assert err.value.column == "callee" and str(f) in str(err.value)


def test_wrong_column_type_in_parquet_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    pq.write_table(pa.table({"ts": ["2026-01-05T10:00:00Z"], "caller": ["+14155550123"],
                             "callee": ["+12125551234"], "duration_s": [True],
                             "answered": [True], "country": ["US"]}), path)
    with pytest.raises(SchemaError, match="duration_s") as err:
        load_calls(connect(), path)
    assert str(path) in str(err.value)


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        load_calls(connect(), tmp_path / "nope.csv")


def test_reports_unknown_label_is_quarantined_and_reporters_normalized(tmp_path: Path) -> None:
    f = _write(tmp_path / "reports.csv", "ts,number,label,country,reporter,source\n"
               "2026-01-05T10:00:00Z,(415) 555-0123,spam,US,(212) 555-1234,user\n"
               "2026-01-05T11:00:00Z,+14155550123,SPAM,US,+12125551234,user\n"
               "2026-01-05T12:00:00Z,+14155550123,junk,US,+12125551234,user\n"
               "2026-01-05T13:00:00Z,+14155550123,not spam,US,,ftc\n")
    con = connect()
    stats = load_reports(con, f)
    assert stats.clean == 3 and stats.quarantined == {"unknown_label": 1}
    rows = con.execute("SELECT label, reporter_key FROM reports ORDER BY ts").fetchall()
    assert rows[0] == ("spam", "+12125551234") and rows[1] == ("spam", "+12125551234")
    assert rows[2][0] == "not_spam" and rows[2][1].startswith("ftc:")


def test_a_row_whose_country_is_not_an_iso_code_is_quarantined(tmp_path: Path) -> None:
    calls = _write(tmp_path / "calls.csv", HEADER
                   + "2026-01-05T10:00:00Z,+14155550123,+12125551234,30,true,US\n"
                   + "2026-01-05T10:01:00Z,+14155550123,+12125551234,30,true,XX\n")
    reports = _write(tmp_path / "reports.csv", "ts,number,label,country\n"
                     + "2026-01-05T10:00:00Z,+14155550123,spam,ZZ\n"
                     + "2026-01-05T10:00:00Z,+14155550123,spam,us\n")
    con = connect()
    stats = load_calls(con, calls, quarantine=tmp_path / "q_calls.csv")
    assert stats.clean == 1 and stats.quarantined == {"unknown_country": 1}
    stats = load_reports(con, reports, quarantine=tmp_path / "q_reports.csv")
    assert stats.clean == 1 and stats.quarantined == {"unknown_country": 1}


def test_exact_duplicate_rows_are_quarantined_once_counted(tmp_path: Path) -> None:
    row = "2026-01-05T10:00:00Z,+14155550123,+12125551234,30,true,US\n"
    calls = _write(tmp_path / "calls.csv", HEADER + row + row
                   + "2026-01-05T10:00:00Z,+14155550123,+12125551234,31,true,US\n")
    reports = _write(tmp_path / "reports.csv", "ts,number,label,country,reporter\n"
                     + "2026-01-05T10:00:00Z,+14155550123,spam,US,+12125551234\n" * 2
                     + "2026-01-05T10:00:00Z,+14155550123,spam,US,\n" * 2)
    con = connect()
    stats = load_calls(con, calls, quarantine=tmp_path / "q_calls.csv")
    assert stats.clean == 2 and stats.quarantined == {"duplicate": 1}
    stats = load_reports(con, reports, quarantine=tmp_path / "q_reports.csv")
    # The same subscriber twice is one complaint; two anonymous feed lines are two.
    assert stats.clean == 3 and stats.quarantined == {"duplicate": 1}


def test_copies_across_files_and_file_types_are_found_and_keep_earlier_reasons(
        tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    ts = pa.array([datetime(2026, 1, 5, 10)] * 3, pa.timestamp("us", "UTC"))
    rows = {"ts": ts, "caller": ["+14155550123", "+14155550123", "12"],
            "callee": ["+12125551234"] * 3, "duration_s": [30, -4, 30],
            "answered": [True, True, True], "country": ["US"] * 3}
    pq.write_table(pa.table(rows), src / "a.parquet")
    pq.write_table(pa.table(rows), src / "b.parquet")      # the same three rows again
    con = connect()
    stats = load_calls(con, src, quarantine=tmp_path / "q" / "calls.parquet")
    # A copy of a row kept for a later reason (negative duration) is a duplicate; a copy
    # of a row with a bad number keeps the number's reason.
    assert stats.clean == 1
    assert stats.quarantined == {"duplicate": 2, "negative_duration": 1,
                                 "caller:too_short": 2}
    bad = pd.read_parquet(tmp_path / "q" / "calls.parquet")
    dup = bad[bad["reason"] == "duplicate"]
    assert set(dup["source_file"]) == {str(src / "b.parquet")}
    assert sorted(dup["line"]) == [1, 2]
    # The same call as text in a CSV (the text the Parquet values read as) is a copy too.
    text = con.execute("SELECT ts::VARCHAR FROM read_parquet(?) LIMIT 1",
                       [str(src / "a.parquet")]).fetchone()[0]
    _write(src / "c.csv", HEADER + f"{text},+14155550123,+12125551234,30,true,US\n"
           + f"{text},+14155550123,+12125551234,31,true,US\n")
    stats = load_calls(connect(), src)
    assert stats.clean == 2 and stats.quarantined["duplicate"] == 3
