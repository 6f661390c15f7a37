"""Keys, roles, country scope and rate limits (on SQLite and PostgreSQL)."""

from __future__ import annotations

from api import create_app
from api._db import session_scope
from api._models import ApiKey
from tests.api.conftest import api_settings, new_key


def test_missing_key_is_401_naming_the_header(client):
    response = client.get("/v1/reputation/+14155550123")
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized",
                               "detail": "missing API key: send it in the X-API-Key header"}


def test_unknown_key_is_401(client):
    response = client.get("/v1/reputation/+14155550123", headers={"X-API-Key": "slk_nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown API key"


def test_revoked_key_is_401(client, engine):
    headers = new_key(engine, "telco")
    with session_scope(engine) as session:
        session.query(ApiKey).update({ApiKey.revoked: True})
    response = client.get("/v1/reputation/+14155550123", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "API key revoked"


def test_keys_are_stored_hashed(engine):
    headers = new_key(engine, "telco", "US")
    with session_scope(engine) as session:
        row = session.query(ApiKey).one()
        assert headers["X-API-Key"] not in (row.key_hash, row.prefix)
        assert len(row.key_hash) == 64 and row.country == "US"


def test_telco_may_not_audit(client, engine):
    response = client.get("/v1/audit/numbers/+14155550123", headers=new_key(engine, "telco"))
    assert response.status_code == 403
    assert "role 'telco' may not" in response.json()["detail"]


def test_regulator_scope_limits_countries(client, engine):
    response = client.get("/v1/audit/numbers/+14155550123",
                          headers=new_key(engine, "regulator", "GB"))
    assert response.status_code == 403
    assert response.json()["detail"] == "key is scoped to country GB, not US"


def test_rate_limit_answers_429_with_retry_after(tmp_path, engine):
    settings = api_settings(tmp_path, api_rate_per_minute=60, api_rate_burst=3)
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, engine=engine, run_migrations=False)) as client:
        headers = new_key(engine, "telco")
        codes = [client.get("/v1/reputation/+14155550123", headers=headers).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        last = client.get("/v1/reputation/+14155550123", headers=headers)
        assert last.status_code == 429
        assert int(last.headers["Retry-After"]) >= 1
        other = new_key(engine, "telco")
        assert client.get("/v1/reputation/+14155550123", headers=other).status_code == 200
