"""Subscriber reports: validated, stored for the oracle, limited per reporter."""

from __future__ import annotations

from api._db import session_scope
from api._models import Report
from tests.api.conftest import api_settings, new_key


def _report(**changes):
    body = {"number": "(415) 555-0123", "country": "US", "label": "spam",
            "category": "robocall", "reporter": "+14155550000"}
    body.update(changes)
    return body


def test_report_is_stored_with_the_reporter_hashed(client, engine):
    response = client.post("/v1/reports", json=_report(), headers=new_key(engine, "telco", "US"))
    assert response.status_code == 201
    assert response.json()["number"] == "+14155550123"
    with session_scope(engine) as session:
        row = session.query(Report).one()
        assert (row.number, row.label, row.category) == ("+14155550123", "spam", "robocall")
        assert "4155550000" not in row.reporter_hash


def test_report_outside_the_key_country_is_403(client, engine):
    response = client.post("/v1/reports", json=_report(), headers=new_key(engine, "telco", "GB"))
    assert response.status_code == 403


def test_bad_label_and_unknown_fields_are_422(client, engine):
    headers = new_key(engine, "telco")
    assert client.post("/v1/reports", json=_report(label="maybe"),
                       headers=headers).status_code == 422
    response = client.post("/v1/reports", json=_report(extra=1), headers=headers)
    assert response.status_code == 422
    assert "extra" in response.json()["detail"]


def test_one_reporter_is_limited_per_day(tmp_path, engine):
    from fastapi.testclient import TestClient

    from api import create_app

    settings = api_settings(tmp_path, api_reports_per_day=2)
    with TestClient(create_app(settings, engine=engine, run_migrations=False)) as client:
        headers = new_key(engine, "telco")
        codes = [client.post("/v1/reports", json=_report(), headers=headers).status_code
                 for _ in range(3)]
        assert codes == [201, 201, 429]
        other = client.post("/v1/reports", json=_report(reporter="+14155550001"),
                            headers=headers)
        assert other.status_code == 201


def test_reports_export_in_the_oracle_reports_format(client, engine, tmp_path):
    import csv

    from api._reports import COLUMNS, export_reports

    headers = new_key(engine, "telco")
    client.post("/v1/reports", json=_report(), headers=headers)
    client.post("/v1/reports", json=_report(label="not_spam", category=""), headers=headers)
    out = tmp_path / "feed" / "reports.csv"
    assert export_reports(engine, out) == 2
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert [(r["number"], r["label"], r["country"]) for r in rows] == [
        ("+14155550123", "spam", "US"), ("+14155550123", "not_spam", "US")]
    assert rows[0]["ts"].startswith("20")


def test_exported_reports_load_cleanly_into_the_oracle(client, engine, tmp_path):
    from api._reports import export_reports
    from oracle._ingest import connect, load_reports

    client.post("/v1/reports", json=_report(), headers=new_key(engine, "telco"))
    out = tmp_path / "reports.csv"
    export_reports(engine, out)
    con = connect()
    stats = load_reports(con, out, quarantine=tmp_path / "q.csv")
    assert stats.clean == 1
    assert con.execute("SELECT number, label FROM reports").fetchall() == [
        ("+14155550123", "spam")]


def test_scope_follows_the_numbers_own_country_not_the_declared_one(client, engine):
    us = new_key(engine, "telco", "US")
    gb_number = client.post("/v1/reports", json=_report(number="+442079460123", country="US"),
                            headers=us)
    assert gb_number.status_code == 403
    assert gb_number.json()["detail"] == "key is scoped to country US, not GB"
    gb = client.post("/v1/reports", json=_report(number="+442079460123", country="US"),
                     headers=new_key(engine, "telco", "GB"))
    assert gb.status_code == 201
    with session_scope(engine) as session:
        assert session.query(Report.country).one() == ("GB",)


def test_non_finite_or_absurd_timestamps_are_422(client, engine):
    headers = {"content-type": "application/json", **new_key(engine, "telco")}
    base = '{"number": "+14155550123", "country": "US", "label": "spam", ' \
           '"reporter": "+14155550000", "ts": %s}'
    for ts in ("1e300", "1e18", "Infinity", "-Infinity", "NaN", "-5", "12"):
        response = client.post("/v1/reports", content=base % ts, headers=headers)
        assert response.status_code == 422, (ts, response.text)
        assert response.json()["detail"].startswith("ts:"), response.text
    ok = client.post("/v1/reports", content=base % "1700000000.5", headers=headers)
    assert ok.status_code == 201


def test_export_quarantines_stored_rows_with_unreadable_timestamps(engine, tmp_path):
    import csv
    import time

    from api._reports import export_reports, quarantine_path

    now = time.time()
    with session_scope(engine) as session:
        for i, ts in enumerate((1_700_000_000.0, 1e300, 1e18, float("inf"))):
            session.add(Report(number=f"+1415555012{i}", country="US", label="spam",
                               category="", source="user", reporter_hash="0x" + "1" * 64,
                               ts=ts, api_key_id=1, created_at=now))
    out = tmp_path / "reports.csv"
    assert export_reports(engine, out) == 1
    bad = list(csv.DictReader(quarantine_path(out).read_text().splitlines()))
    assert [r["number"] for r in bad] == ["+14155550121", "+14155550122", "+14155550123"]
    assert "not finite" in bad[2]["reason"] and "not a date" in bad[0]["reason"]
