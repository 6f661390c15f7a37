"""The role matrix, every cell, and country scope by the number's own country (SQLite and
PostgreSQL)."""

from __future__ import annotations

import pytest

from api import MATRIX, ROLES, create_app, roles_for
from tests.api.conftest import new_key

REQUESTS = {
    ("GET", "/v1/reputation/{number}"): ("GET", "/v1/reputation/+14155550123", {}),
    ("POST", "/v1/reputation/batch"): ("POST", "/v1/reputation/batch",
                                       {"json": {"numbers": ["+14155550123"]}}),
    ("POST", "/v1/reports"): ("POST", "/v1/reports",
                              {"json": {"number": "+14155550123", "country": "US",
                                        "label": "spam", "reporter": "+14155550000"}}),
    ("POST", "/v1/disputes"): ("POST", "/v1/disputes",
                               {"data": {"number": "+14155550123", "business": "Acme"},
                                "files": [("evidence", ("a.txt", b"hi", "text/plain"))]}),
    ("GET", "/v1/disputes/{dispute_id}"): ("GET", "/v1/disputes/1", {}),
    ("GET", "/v1/bundles/{country}"): ("GET", "/v1/bundles/all", {}),
    ("GET", "/v1/bundles/{country}/delta"): ("GET", "/v1/bundles/US/delta",
                                               {"params": {"since": 1}}),
    ("GET", "/v1/audit/numbers/{number}"): ("GET", "/v1/audit/numbers/+14155550123", {}),
    ("GET", "/v1/audit/numbers/{number}/verify"): ("GET",
                                                   "/v1/audit/numbers/+14155550123/verify", {}),
    ("GET", "/v1/audit/numbers/{number}/legacy"): ("GET",
                                                   "/v1/audit/numbers/+14155550123/legacy", {}),
    ("GET", "/v1/audit/export"): ("GET", "/v1/audit/export", {}),
    ("POST", "/v1/relay"): ("POST", "/v1/relay", {"json": {"body": {}, "signature": "0x"}}),
    ("GET", "/v1/relay/{seq}/{kind}"): ("GET", "/v1/relay/1/observation", {}),
}
CELLS = [(route, role) for route in MATRIX for role in ROLES]


def test_the_matrix_covers_every_keyed_route_of_the_app(settings, engine):
    spec = create_app(settings, engine=engine, run_migrations=False).openapi()
    routes = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops
              if path.startswith("/v1/")}
    assert routes == set(MATRIX) == set(REQUESTS)


@pytest.mark.parametrize(("route", "role"), CELLS, ids=[f"{r[0]} {r[1]} {role}"
                                                       for r, role in CELLS])
def test_each_role_gets_exactly_its_endpoints(client, engine, route, role):
    method, path, kwargs = REQUESTS[route]
    response = client.request(method, path, headers=new_key(engine, role), **kwargs)
    allowed = role == "admin" or role in MATRIX[route][0]
    if allowed:
        assert response.status_code not in (401, 403) or "may not do this" not in \
            response.json()["detail"], response.text
        assert response.status_code < 500 or response.status_code == 503, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["detail"].startswith(f"role {role!r} may not do this")
    assert roles_for(method, path) == MATRIX[route][0]


def test_regulator_scope_follows_the_numbers_country(client, engine):
    gb = new_key(engine, "regulator", "GB")
    national = client.get("/v1/audit/numbers/4155550123?country=US", headers=gb)
    assert national.status_code == 403
    assert national.json()["detail"] == "key is scoped to country GB, not US"
    declared = client.get("/v1/audit/numbers/+14155550123?country=GB", headers=gb)
    assert declared.status_code == 403
    own = client.get("/v1/audit/numbers/+442079460123", headers=gb)
    assert own.status_code == 200


def test_business_may_only_dispute_numbers_of_its_scope(client, engine):
    response = client.post("/v1/disputes", headers=new_key(engine, "business", "GB"),
                           data={"number": "+14155550123", "business": "Acme",
                                 "country": "GB"},
                           files=[("evidence", ("a.txt", b"hi", "text/plain"))])
    assert response.status_code == 403
    assert response.json()["detail"] == "key is scoped to country GB, not US"


def test_a_business_reads_only_the_disputes_it_filed(client, engine):
    response = client.get("/v1/disputes/7", headers=new_key(engine, "business"))
    assert response.status_code == 403
    assert response.json()["detail"] == "a business key may only read the disputes it filed"
