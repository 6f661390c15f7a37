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
