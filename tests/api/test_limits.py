"""Hostile clients: the key is checked before the body, bodies are bounded while they stream,
JSON depth is capped before parsing, stalled bodies time out, failed keys are throttled per
address, and the API keeps serving (SQLite and PostgreSQL where SQL is touched)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import event

from api import BodyRejected, JsonDepth, create_app, max_depth
from api._db import session_scope
from api._models import ApiKey
from tests.api.conftest import api_settings, new_key
from tests.api.served import cli, raw_request, served, wait_alive

DEEP = 100_000
BATCH = "/v1/reputation/batch"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _deep(levels: int = DEEP) -> bytes:
    return b"[" * levels + b"]" * levels


# ------------------------------------------------------------------------- JSON depth


def _depth(limit: int, *chunks: bytes) -> JsonDepth:
    depth = JsonDepth(limit)
    for chunk in chunks:
        depth.feed(chunk)
    depth.finish()
    return depth


def test_json_depth_counts_nesting_outside_strings_only():
    assert max_depth(b'{"a": "[[[[[[{{{{", "b": [[1]], "c": "\\"[[[["}') == 3
    assert max_depth(b'["unterminated [[[[[[') == 1
    with pytest.raises(BodyRejected) as raised:
        _depth(3, b'{"a": [[["deep"]]]}')
    assert raised.value.status_code == 400
    assert "deeper than 3 levels (api_json_max_depth)" in raised.value.detail


def test_json_depth_follows_strings_and_escapes_across_chunks():
    _depth(2, b'["ab\\', b'"[[[[", "', b'[[[\\\\', b'"', b", [1]", b"]")
    with pytest.raises(BodyRejected):
        _depth(2, b"[", b"[", b"[")
    shallow = _depth(2, b"[" + b",".join([b"[1]"] * 100_000) + b"]")
    assert shallow.depth == 2


# ------------------------------------------------------- in-process app (both databases)


def test_deep_body_without_a_key_is_401_and_never_parsed(client):
    response = client.post(BATCH, content=_deep(), headers={"content-type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_deep_body_with_a_key_is_400_naming_the_depth_limit(client, engine):
    response = client.post(BATCH, content=_deep(),
                           headers={"content-type": "application/json",
                                    **new_key(engine, "telco")})
    assert response.status_code == 400
    assert response.json() == {"error": "bad_request", "detail": "JSON nested deeper than 32 "
                               "levels (api_json_max_depth)"}


def test_body_over_the_limit_is_413_naming_the_setting(tmp_path, engine):
    settings = api_settings(tmp_path, api_body_max_bytes=1000)
    with TestClient(create_app(settings, engine=engine, run_migrations=False)) as client:
        headers = new_key(engine, "telco")
        big = json.dumps({"numbers": ["+14155550123"] * 100})
        declared = client.post(BATCH, content=big, headers={"content-type": "application/json",
                                                             **headers})
        assert declared.status_code == 413
        assert "exceeds 1000 bytes (api_body_max_bytes)" in declared.json()["detail"]

        def chunks():  # no Content-Length: counted while it streams
            yield big[:600].encode()
            yield big[600:].encode()

        streamed = client.post(BATCH, content=chunks(),
                               headers={"content-type": "application/json", **headers})
        assert streamed.status_code == 413
        assert streamed.json()["error"] == "too_large"
        small = client.post(BATCH, json={"numbers": ["+14155550123"]}, headers=headers)
        assert small.status_code == 200


def test_recursion_limit_is_sane_once_the_app_is_built(client):
    assert sys.getrecursionlimit() <= 4000


def test_failed_keys_are_throttled_per_address_without_database_lookups(tmp_path, engine):
    settings = api_settings(tmp_path, api_auth_failures_per_minute=5)
    lookups = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if "api_keys" in statement:
            lookups.append(statement)

    with TestClient(create_app(settings, engine=engine, run_migrations=False)) as client:
        good = new_key(engine, "telco")
        event.listen(engine, "before_cursor_execute", count)
        try:
            codes = [client.get("/v1/reputation/+14155550123",
                                headers={"X-API-Key": f"slk_random{i}"}).status_code
                     for i in range(300)]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
        assert len(lookups) == 5
        throttled = client.get("/v1/reputation/+14155550123", headers=good)
        assert throttled.status_code == 429  # the address, not the key, is throttled
        assert int(throttled.headers["Retry-After"]) >= 1
    other = TestClient(create_app(settings, engine=engine, run_migrations=False),
                       client=("10.9.9.9", 4000))
    with other:
        assert other.get("/v1/reputation/+14155550123", headers=good).status_code == 200


# ---------------------------------------------------------- Redis: limits across workers


def _worker(tmp_path, engine, prefix: str, **overrides) -> TestClient:
    settings = api_settings(tmp_path, redis_url=REDIS_URL, **overrides)
    return TestClient(create_app(settings, engine=engine, run_migrations=False,
                                 redis_prefix=prefix))


def _clear(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for name in client.scan_iter(f"{prefix}:*"):
        client.delete(name)
    client.close()


def test_rate_limit_and_auth_throttle_hold_across_workers_through_redis(tmp_path, engine):
    prefix = "spamledger-test:" + uuid.uuid4().hex[:12]
    try:
        one = _worker(tmp_path, engine, prefix, api_rate_per_minute=60, api_rate_burst=4,
                      api_auth_failures_per_minute=3)
        two = _worker(tmp_path, engine, prefix, api_rate_per_minute=60, api_rate_burst=4,
                      api_auth_failures_per_minute=3)
        with one, two:
            headers = new_key(engine, "telco")
            codes = [c.get("/v1/reputation/+14155550123", headers=headers).status_code
                     for c in (one, two, one, two, one)]
            assert codes == [200, 200, 200, 200, 429]
            bad = {"X-API-Key": "slk_not-a-key"}
            fails = [c.get("/v1/reputation/+14155550123", headers=bad).status_code
                     for c in (one, two, one, two)]
            assert fails == [401, 401, 401, 429]
    finally:
        _clear(prefix)


def test_revoked_key_stops_working_within_a_second_on_every_worker(tmp_path, engine):
    prefix = "spamledger-test:" + uuid.uuid4().hex[:12]
    try:
        one, two = _worker(tmp_path, engine, prefix), _worker(tmp_path, engine, prefix)
        with one, two:
            headers = new_key(engine, "telco")
            for c in (one, two):
                assert c.get("/v1/reputation/+14155550123", headers=headers).status_code == 200
            with session_scope(engine) as session:
                session.query(ApiKey).update({ApiKey.revoked: True})
            time.sleep(1.05)
            for c in (one, two):
                answer = c.get("/v1/reputation/+14155550123", headers=headers)
                assert (answer.status_code, answer.json()["detail"]) == (401, "API key revoked")
    finally:
        _clear(prefix)


# ------------------------------------------------------------------ the real server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``spamledger api serve`` with two workers on SQLite, a telco key and a business key
    (one server for the module: a cold start takes ~20 s on this machine)."""
    tmp_path = tmp_path_factory.mktemp("served")
    telco = cli(tmp_path, "api", "keys", "create", "--role", "telco", "--country", "US")
    business = cli(tmp_path, "api", "keys", "create", "--role", "business", "--country", "US")
    with served(tmp_path, "--workers", "2", "--no-indexer",
                env={"SPAMLEDGER_API_READ_TIMEOUT": "1.5"}) as (base, proc):
        yield base, proc, telco, business


def _post_head(base: str, path: str, length: int | None, key: str | None,
               ctype: str = "application/json") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {base.removeprefix('http://')}",
             f"Content-Type: {ctype}"]
    lines.append(f"Content-Length: {length}" if length is not None
                 else "Transfer-Encoding: chunked")
    if key:
        lines.append(f"X-API-Key: {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunked(data: bytes, size: int = 65536) -> list[bytes]:
    parts = [b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
             for i in range(0, len(data), size)]
    return [*parts, b"0\r\n\r\n"]


def test_a_100000_deep_body_gets_a_4xx_and_the_server_survives(server):
    base, proc, telco, _business = server
    body = _deep()
    for key in (None, telco):
        answer = httpx.post(base + BATCH, content=body,
                            headers={"content-type": "application/json",
                                     **({"X-API-Key": key} if key else {})}, timeout=30)
        assert answer.status_code in (400, 401), answer.text
        status, _data, _took = raw_request(base, _post_head(base, BATCH, None, key),
                                           _chunked(body))
        assert status in (400, 401)
    assert proc.poll() is None
    ok = httpx.post(base + BATCH, json={"numbers": ["+14155550123"]},
                    headers={"X-API-Key": telco}, timeout=10)
    assert ok.status_code == 200 and ok.json()["results"][0]["verdict"] == "unknown"


def _workers(parent: int) -> set[int]:
    """Pids of the uvicorn worker processes under ``parent`` (from /proc)."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"multiprocessing.spawn" in cmdline:
            out.add(int(entry))
    return out


def test_a_killed_worker_is_replaced_and_the_api_keeps_answering(server):
    base, proc, telco, _business = server
    spawned = _workers(proc.pid)
    assert len(spawned) == 2
    victim = min(spawned)
    os.kill(victim, signal.SIGKILL)
    answers = [httpx.get(base + "/v1/reputation/+14155550123", headers={"X-API-Key": telco},
                         timeout=10).status_code for _ in range(20)]
    assert answers == [200] * 20
    deadline = time.monotonic() + 90
    alive = _workers(proc.pid)
    while time.monotonic() < deadline and (len(alive) != 2 or victim in alive):
        time.sleep(0.5)
        alive = _workers(proc.pid)
    assert len(alive) == 2 and victim not in alive
    wait_alive(base, proc)


def test_an_upload_without_a_key_is_refused_before_its_body(server):
    base, _proc, _telco, _business = server
    head = _post_head(base, "/v1/disputes", 40_000_000, None, "multipart/form-data; boundary=x")
    status, data, took = raw_request(base, head, [])  # not one byte of the 40 MB sent
    assert status == 401 and b"missing API key" in data
    assert took < 10


def test_a_telco_upload_is_refused_by_role_before_its_body(server):
    base, _proc, telco, _business = server
    head = _post_head(base, "/v1/disputes", 40_000_000, telco, "multipart/form-data; boundary=x")
    status, data, took = raw_request(base, head, [])
    assert status == 403 and b"needs business" in data
    assert took < 10


def test_a_40mb_evidence_file_is_cut_off_at_the_limit_while_it_streams(server):
    base, proc, _telco, business = server
    boundary = "spamledgerboundary"
    start = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"number\"\r\n\r\n"
             f"+14155550123\r\n--{boundary}\r\nContent-Disposition: form-data; "
             f"name=\"business\"\r\n\r\nAcme\r\n--{boundary}\r\nContent-Disposition: "
             f"form-data; name=\"evidence\"; filename=\"big.pdf\"\r\n"
             f"Content-Type: application/pdf\r\n\r\n").encode()
    head = _post_head(base, "/v1/disputes", None, business,
                      f"multipart/form-data; boundary={boundary}")
    sent = [0]

    def parts():
        yield from _chunked(start)[:-1]
        for _ in range(40 * 16):  # 40 MB in 64 KB chunks
            sent[0] += 65536
            yield b"10000\r\n" + b"x" * 65536 + b"\r\n"

    status, data, _took = raw_request(base, head, parts())
    assert status == 413, data[:300]
    assert b"exceeds the limit of 5000000 bytes (api_upload_max_bytes)" in data
    assert sent[0] < 40 * 1024 * 1024  # the server stopped reading long before the end
    assert proc.poll() is None


def test_a_stalled_body_is_cut_off_by_the_read_timeout(server):
    base, _proc, telco, _business = server
    head = _post_head(base, BATCH, 1000, telco)
    status, data, took = raw_request(base, head, [b'{"numbers": ['], read_timeout=20)
    assert status == 408 and b"api_read_timeout" in data
    assert 1.0 <= took < 15


def test_a_big_json_body_without_a_key_is_401_unread(server):
    base, _proc, _telco, _business = server
    head = _post_head(base, BATCH, 19_000_000, None)
    status, _data, took = raw_request(base, head, [])
    assert status == 401 and took < 10
