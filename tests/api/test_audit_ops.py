"""Export, metrics, health, CLI keys and dispute upload limits (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
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
    rows = client.get("/v1/audit/export?from=2023-11-15&to=1700100000",
                      headers=headers).json()
    assert [r["block_number"] for r in rows] == [11]
    assert rows[0]["args"] == {"round": 2}
    text = client.get("/v1/audit/export?format=csv", headers=headers).text
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [r["block_number"] for r in parsed] == ["10", "11", "12"]


def test_export_rejects_a_bad_period(client, engine):
    response = client.get("/v1/audit/export?from=yesterday",
                          headers=new_key(engine, "regulator"))
    assert response.status_code == 422
    assert "from" in response.json()["detail"]


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
