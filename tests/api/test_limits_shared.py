"""Limits that hold when Redis is down (strict per-worker shares, reported in /healthz and
/metrics) and a failed-authentication throttle that works behind a reverse proxy without
letting a client pick its own address (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from api._db import session_scope
from api._models import ApiKey
from spamledger._settings import SettingsError
from tests.api.conftest import api_settings, new_key
from tests.api.served import cli, served
from tests.conftest import free_port

NUMBER = "/v1/reputation/+14155550123"
BAD = {"X-API-Key": "slk_not-a-key"}


def _app(tmp_path: Path, engine, peer: tuple[str, int] = ("127.0.0.1", 40000),
         **overrides) -> TestClient:
    settings = api_settings(tmp_path, **overrides)
    return TestClient(create_app(settings, engine=engine, run_migrations=False,
                                 redis_prefix="spamledger-test:" + uuid.uuid4().hex[:12]),
                      client=peer)


def _codes(client: TestClient, n: int, headers: dict[str, str]) -> list[int]:
    return [client.get(NUMBER, headers=headers).status_code for _ in range(n)]


# ------------------------------------------------------------------ Redis down: fail closed


def test_a_dead_redis_port_gives_strict_local_limits_reported_in_health_and_metrics(
        tmp_path, engine, caplog):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    caplog.set_level(logging.WARNING, logger="api._throttle")
    with _app(tmp_path, engine, redis_url=dead, api_workers=2, api_rate_per_minute=60,
              api_rate_burst=4, api_auth_failures_per_minute=4) as client:
        good = new_key(engine, "telco")
        # burst 4 shared by 2 workers: this worker alone may use 2 (never "unlimited"), the
        # other worker 2 more: together no more than the shared limit.
        assert _codes(client, 3, good) == [200, 200, 429]
        second = _app(tmp_path, engine, redis_url=dead, api_workers=2, api_rate_per_minute=60,
                      api_rate_burst=4)
        with second:
            assert _codes(second, 3, good) == [200, 200, 429]
        other = _app(tmp_path, engine, peer=("10.1.1.1", 1), redis_url=dead, api_workers=2,
                     api_auth_failures_per_minute=4)
        with other:
            assert _codes(other, 3, BAD) == [401, 401, 429]  # 4 failures / 2 workers
        health = client.get("/healthz")
        assert health.status_code == 503
        assert (health.json()["redis"], health.json()["status"]) == (False, "degraded")
        metrics = client.get("/metrics").text
        assert "spamledger_redis_up 0.0" in metrics
        assert _metric(metrics, "spamledger_limit_local_decisions") >= 3
    assert any("Redis failed" in r.getMessage() and "1/2" in r.getMessage()
               for r in caplog.records)


def test_a_revoked_key_stops_within_a_second_while_redis_is_down(tmp_path, engine):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    one = _app(tmp_path, engine, redis_url=dead)
    two = _app(tmp_path, engine, redis_url=dead)
    with one, two:
        headers = new_key(engine, "telco")
        assert [c.get(NUMBER, headers=headers).status_code for c in (one, two)] == [200, 200]
        with session_scope(engine) as session:
            session.query(ApiKey).update({ApiKey.revoked: True})
        time.sleep(1.05)
        assert [c.get(NUMBER, headers=headers).status_code for c in (one, two)] == [401, 401]


@contextmanager
def _redis_server(port: int, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A throw-away redis-server on ``port`` (no persistence), stopped by PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(data_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _wait_port(port: int) -> None:
    import redis

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_connect_timeout=0.2).ping():
                return
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not start")


def test_a_redis_that_goes_away_mid_run_falls_back_strictly_then_recovers(
        tmp_path, engine, caplog):
    from api._throttle import REDIS_RETRY_SECONDS

    port = free_port()
    caplog.set_level(logging.WARNING, logger="api._throttle")
    url = f"redis://127.0.0.1:{port}/0"
    with _redis_server(port, tmp_path) as redis_proc, \
            _app(tmp_path, engine, redis_url=url, api_workers=2, api_rate_per_minute=6,
                 api_rate_burst=6) as client:
        good = new_key(engine, "telco")
        assert _codes(client, 2, good) == [200, 200]  # shared bucket: 4 tokens left
        assert client.get("/healthz").json()["redis"] is True
        redis_proc.kill()
        redis_proc.wait(10)
        # Redis gone: this worker's strict share (6 / 2 workers = 3), not "unlimited".
        assert _codes(client, 4, good) == [200, 200, 200, 429]
        assert client.get("/healthz").json()["redis"] is False
        with _redis_server(port, tmp_path):
            time.sleep(REDIS_RETRY_SECONDS + 0.2)
            # Redis back (empty): the shared bucket decides again.
            assert _codes(client, 1, good) == [200]
            assert client.get("/healthz").json()["redis"] is True
            assert "spamledger_redis_up 1.0" in client.get("/metrics").text
    messages = [r.getMessage() for r in caplog.records]
    assert any("Redis failed" in m for m in messages)
    assert any("Redis answers again" in m for m in messages)


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


# ------------------------------------------------------------- behind a reverse proxy


def test_behind_a_trusted_proxy_each_forwarded_client_is_throttled_on_its_own(tmp_path,
                                                                              engine):
    with _app(tmp_path, engine, peer=("10.0.0.2", 5000), api_trusted_proxies="10.0.0.0/24",
              api_auth_failures_per_minute=3) as proxy:
        good = new_key(engine, "telco")
        attacker = {**BAD, "X-Forwarded-For": "203.0.113.5"}
        assert _codes(proxy, 4, attacker) == [401, 401, 401, 429]
        # Another client behind the same proxy is not punished for the attacker's failures.
        assert _codes(proxy, 1, {**good, "X-Forwarded-For": "203.0.113.6"}) == [200]
        # RFC 7239 Forwarded works too (IPv6 with a port), and is its own address.
        v6 = {**BAD, "Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https'}
        assert _codes(proxy, 4, v6) == [401, 401, 401, 429]
        # The attacker writes its own X-Forwarded-For; the proxy appends the real address:
        # only the proxy's entry counts, so rotating the left part changes nothing.
        spoofed = [proxy.get(NUMBER, headers={**BAD, "X-Forwarded-For":
                                              f"198.51.100.{i}, 203.0.113.5"}).status_code
                   for i in range(5)]
        assert spoofed == [429] * 5


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(tmp_path, engine):
    with _app(tmp_path, engine, peer=("198.51.100.7", 5000), api_trusted_proxies="10.0.0.0/8",
              api_auth_failures_per_minute=3) as direct:
        codes = [direct.get(NUMBER, headers={**BAD, "X-Forwarded-For": f"203.0.113.{i}",
                                             "Forwarded": f"for=192.0.2.{i}"}).status_code
                 for i in range(6)]
        assert codes == [401, 401, 401, 429, 429, 429]


def test_a_bad_trusted_proxy_entry_is_refused_naming_it(tmp_path, engine):
    with pytest.raises(SettingsError, match=r"'10\.0\.0\.300'"):
        create_app(api_settings(tmp_path, api_trusted_proxies="10.0.0.1, 10.0.0.300"),
                   engine=engine, run_migrations=False)


@pytest.mark.slow
def test_the_served_api_ignores_x_forwarded_for_unless_told_to_trust_the_peer(tmp_path):
    """`api serve` as deployed: uvicorn itself would believe X-Forwarded-For from loopback;
    only api_trusted_proxies may make the API believe it (here: not set, then set)."""
    cli(tmp_path, "api", "keys", "create", "--role", "telco", "--country", "US")
    env = {"SPAMLEDGER_API_AUTH_FAILURES_PER_MINUTE": "3"}
    with served(tmp_path, "--workers", "1", "--no-indexer", env=env) as (base, _proc):
        codes = [httpx.get(base + NUMBER, headers={**BAD, "X-Forwarded-For":
                                                   f"203.0.113.{i}"}).status_code
                 for i in range(5)]
        assert codes == [401, 401, 401, 429, 429]
    trusted = {**env, "SPAMLEDGER_API_TRUSTED_PROXIES": "127.0.0.1"}
    with served(tmp_path, "--workers", "1", "--no-indexer", env=trusted) as (base, _proc):
        codes = [httpx.get(base + NUMBER, headers={**BAD, "X-Forwarded-For":
                                                   "203.0.113.77"}).status_code
                 for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        other = httpx.get(base + NUMBER, headers={**BAD, "X-Forwarded-For": "203.0.113.78"})
        assert other.status_code == 401  # a different client behind the proxy
