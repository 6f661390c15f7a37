"""Feed import: the real FTC-derived sample and the FTC export format."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from oracle import import_feed
from oracle._ingest import connect, load_reports
from tests.oracle.conftest import SHARED_DATA

SAMPLE = SHARED_DATA / "ftc_dnc_sample.csv"


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared data not beside the checkout")
def test_real_ftc_sample_counts_valid_and_invalid_by_reason(tmp_path: Path) -> None:
    out = tmp_path / "ftc.parquet"
    result = import_feed(SAMPLE, out)
    assert result.entries == 12113
    assert result.valid == 11965 and result.distinct_valid == 11201
    assert result.invalid == {"invalid_for_region": 68, "too_long": 41, "too_short": 36,
                              "not_a_number": 3}
    reports = pd.read_parquet(out)
    assert len(reports) == result.valid
    assert set(reports["label"]) == {"spam"} and set(reports["source"]) == {"ftc"}
    assert reports["number"].str.match(r"^\+1\d{10}$").all()
    quarantine = pd.read_parquet(result.quarantine)
    assert len(quarantine) == 148 and quarantine["line"].min() >= 2


def test_ftc_export_columns_map_to_reports_that_load(tmp_path: Path) -> None:
    feed = tmp_path / "dnc.csv"
    feed.write_text(
        "Company_Phone_Number,Created_Date,Violation_Date,Consumer_State,Subject,"
        "Recorded_Message_Or_Robocall\n"
        "4155550123,2025-10-01 10:00:00,2025-09-30 09:00:00,CA,Reducing your debt,N\n"
        "(212) 555-0187,2025-10-01 11:00:00,2025-09-30 10:00:00,NY,Other,Y\n"
        "248864XXXX,2025-10-01 12:00:00,,MI,Other,Y\n")
    out = tmp_path / "reports.parquet"
    result = import_feed(feed, out)
    assert result.format == "ftc_dnc_export"
    assert result.valid == 2 and result.invalid == {"wildcard_pattern": 1}
    reports = pd.read_parquet(out).sort_values("number")
    assert list(reports["category"]) == ["robocall", "debt_collection"]
    assert str(reports["ts"].iloc[0]) == "2025-10-01 11:00:00"
    con = connect()
    assert load_reports(con, out).clean == 2


def test_headerless_number_list_reads_first_line_as_data(tmp_path: Path) -> None:
    feed = tmp_path / "list.txt"
    feed.write_text("4155550123\n2125550187\n12\n")
    result = import_feed(feed, None)
    assert result.format == "list (no header)"
    assert result.valid == 2 and result.invalid == {"too_short": 1}


def test_a_feed_country_that_is_not_an_iso_code_stops_the_import(tmp_path: Path) -> None:
    from oracle._errors import IngestError

    feed = tmp_path / "list.csv"
    feed.write_text("number\n+14155550123\n")
    with pytest.raises(IngestError, match="country code: 'ZZ'"):
        import_feed(feed, tmp_path / "out.parquet", country="ZZ")
    assert not (tmp_path / "out.parquet").exists()
