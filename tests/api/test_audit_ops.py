"""Export, metrics, health, CLI keys and dispute upload limits (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import json

from api._db import session_scope
from api._models import ChainEvent
from spamledger._cli import main
from tests.api.conftest import api_settings, new_key


def _events(engine) -> None:
    with session_scope(engine) as session:
        for i, t in enumerate((1_700_000_000, 1_700_086_400, 1_700_172_800)):
            session.add(ChainEvent(contract="Consensus", address="0x" + "12" * 20,
                                   event="RoundOpened", block_number=10 + i, block_time=t,
                                   tx_hash=f"0x{i:064x}", log_index=0,
                                   number_key="0x" + "ab" * 32,
                                   args=json.dumps({"round": i + 1})))


def test_export_streams_the_period_as_json_and_csv(client, engine):
    _events(engine)
    headers = new_key(engine, "regulator")
    body = client.get("/v1/audit/export?from=2023-11-15&to=1700100000", headers=headers).json()
    assert [r["block_number"] for r in body["events"]] == [11]
    assert body["events"][0]["args"] == {"round": 2}
    assert body["end"]["complete"] is True
    text = client.get("/v1/audit/export?format=csv", headers=headers).text
    lines = text.splitlines()
    assert lines[-1].startswith("# end complete=true count=3 from_block=10 to_block=12 ")
    parsed = list(csv.DictReader(lines[:-1]))
    assert [r["block_number"] for r in parsed] == ["10", "11", "12"]


def test_export_carries_its_block_range_and_a_digest_of_its_rows(client, engine):
    import hashlib

    _events(engine)
    headers = new_key(engine, "regulator")
    body = client.get("/v1/audit/export", headers=headers).json()
    recomputed = hashlib.sha256(b"".join(
        json.dumps(e, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        for e in body["events"])).hexdigest()
    assert body["end"] == {"complete": True, "count": 3, "from_block": 10, "to_block": 12,
                           "digest": "sha256:" + recomputed}
    text = client.get("/v1/audit/export?format=csv", headers=headers).text
    assert f'digest="sha256:{recomputed}"' in text.splitlines()[-1]


def test_export_rejects_a_bad_period(client, engine):
    headers = new_key(engine, "regulator")
    for query, name in (("from=yesterday", "from"), ("from=%C2%B2", "from"),
                        ("to=" + "9" * 40, "to"), ("from=9999-12-31T23:59:59%2B14:00x", "from"),
                        ("to=99999999999999", "to")):
        response = client.get(f"/v1/audit/export?{query}", headers=headers)
        assert response.status_code == 422, (query, response.text)
        assert response.json()["detail"].startswith(name), response.text


def test_export_cut_short_ends_with_an_explicit_error(client, engine, monkeypatch):
    from sqlalchemy import event

    from api import _routes_audit

    with session_scope(engine) as session:
        for i in range(5):
            session.add(ChainEvent(contract="Consensus", address="0x" + "12" * 20,
                                   event="RoundOpened", block_number=10 + i,
                                   block_time=1_700_000_000 + i, tx_hash=f"0x{i:064x}",
                                   log_index=0, number_key="0x" + "ab" * 32, args="{}"))
    monkeypatch.setattr(_routes_audit, "_PAGE", 2)
    pages = []

    def fail_third_page(_conn, _cursor, statement, *_args) -> None:
        if "FROM chain_events" in statement:
            pages.append(statement)
            if len(pages) == 2:
                raise RuntimeError("database went away")

    headers = new_key(engine, "regulator")
    event.listen(engine, "before_cursor_execute", fail_third_page)
    try:
        body = client.get("/v1/audit/export", headers=headers).json()
        pages.clear()
        text = client.get("/v1/audit/export?format=csv", headers=headers).text
    finally:
        event.remove(engine, "before_cursor_execute", fail_third_page)
    assert len(body["events"]) == 2
    assert body["end"] == {"complete": False, "count": 2, "error": "RuntimeError"}
    assert text.splitlines()[-1] == '# end complete=false count=2 error="RuntimeError"'


def test_country_scoped_regulator_exports_only_its_countrys_numbers(client, engine):
    from api._models import Round

    _events(engine)
    with session_scope(engine) as session:
        session.add(Round(number_key="0x" + "ab" * 32, round_id=1, country="GB", deadline=0,
                          vote_count=0, status="open", opened_block=10, opened_tx="0x" + "0" * 64))
        session.add(ChainEvent(contract="Consensus", address="0x" + "12" * 20,
                               event="RoundOpened", block_number=20, block_time=1_700_000_000,
                               tx_hash="0x" + "f" * 64, log_index=0, number_key="0x" + "cd" * 32,
                               args="{}"))
    gb = client.get("/v1/audit/export", headers=new_key(engine, "regulator", "GB")).json()
    assert [e["block_number"] for e in gb["events"]] == [10, 11, 12]
    us = client.get("/v1/audit/export", headers=new_key(engine, "regulator", "US")).json()
    assert us["events"] == [] and us["end"]["complete"] is True
    every = client.get("/v1/audit/export", headers=new_key(engine, "regulator")).json()
    assert every["end"]["count"] == 4


def test_metrics_expose_latency_and_health(client, engine):
    client.get("/v1/reputation/+14155550123", headers=new_key(engine, "telco"))
    text = client.get("/metrics").text
    assert 'spamledger_api_request_seconds_count{method="GET",route="/v1/reputation/{number}"' \
        in text
    assert "spamledger_chain_up 0.0" in text  # no chain in this test
    assert "spamledger_ipfs_up 0.0" in text


def test_healthz_reports_the_database_up_and_upstreams_down(client):
    answer = client.get("/healthz")
    assert answer.status_code == 503  # degraded is not healthy
    body = answer.json()
    assert (body["status"], body["database"], body["chain"], body["ipfs"]) == (
        "degraded", True, False, False)


def test_dispute_file_over_the_limit_is_413(tmp_path, engine):
    from fastapi.testclient import TestClient

    from api import create_app

    settings = api_settings(tmp_path, api_upload_max_bytes=1000)
    with TestClient(create_app(settings, engine=engine, run_migrations=False)) as client:
        response = client.post("/v1/disputes", headers=new_key(engine, "business"),
                               data={"number": "+14155550123", "business": "Acme"},
                               files=[("evidence", ("big.pdf", b"x" * 1001, "application/pdf"))])
        assert response.status_code == 413
        assert "limit of 1000 bytes" in response.json()["detail"]
        wrong = client.post("/v1/disputes", headers=new_key(engine, "business"),
                            data={"number": "+14155550123", "business": "Acme"},
                            files=[("evidence", ("x.exe", b"MZ", "application/x-msdownload"))])
        assert wrong.status_code == 422
        assert "not accepted" in wrong.json()["detail"]


def test_telco_may_not_file_disputes(client, engine):
    response = client.post("/v1/disputes", headers=new_key(engine, "telco"),
                           data={"number": "+14155550123", "business": "Acme"},
                           files=[("evidence", ("a.txt", b"hi", "text/plain"))])
    assert response.status_code == 403


def test_cli_creates_a_key_that_authenticates(tmp_path, db_url, capsys, monkeypatch):
    monkeypatch.setenv("SPAMLEDGER_CONSORTIUM_SECRET", "spamledger-test-consortium-secret")
    code = main(["--data-dir", str(tmp_path), "api", "keys", "create", "--role", "telco",
                 "--country", "US", "--database-url", db_url])
    key = capsys.readouterr().out.strip()
    assert code == 0 and key.startswith("slk_")
    from api import authenticate, make_engine

    engine = make_engine(db_url)
    with session_scope(engine) as session:
        assert authenticate(session, key).country == "US"
    engine.dispose()


def test_cli_serve_answers_over_http_and_stops_by_pid(tmp_path, db_url):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    from tests.conftest import free_port

    port = free_port()
    env = {**os.environ, "SPAMLEDGER_CONSORTIUM_SECRET": "spamledger-test-consortium-secret",
           "SPAMLEDGER_DATABASE_URL": db_url, "SPAMLEDGER_RPC_URL": "http://127.0.0.1:9",
           "SPAMLEDGER_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "spamledger._cli", "--data-dir",
                             str(tmp_path), "api", "serve", "--api-port", str(port)],
                            cwd=Path(__file__).resolve().parents[2], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 503  # the chain is down
        assert answer.json()["database"] is True and answer.json()["chain"] is False
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_chain_reads_with_the_chain_down_are_503_naming_it(client, engine):
    verify = client.get("/v1/audit/numbers/+14155550123/verify",
                        headers=new_key(engine, "regulator"))
    assert verify.status_code == 503
    assert "http://127.0.0.1:9" in verify.json()["detail"]
    direct = client.get("/v1/reputation/+14155550123?verify=chain",
                        headers=new_key(engine, "telco"))
    assert direct.status_code == 503 and direct.json()["error"] == "unavailable"
