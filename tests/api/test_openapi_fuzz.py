"""Schemathesis against the OpenAPI spec, on the real chain, IPFS and each database.

Generated requests (valid and invalid) must never produce a 5xx; rejected ones get a 4xx
with the JSON error body. (Schemathesis' own pytest plugin does not run under pytest 9, so
each operation's case strategy is driven by Hypothesis directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import new_key

EXAMPLES = 25


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error(chain_app, engine):
    client, _indexer, _store = chain_app
    headers = new_key(engine, "admin")
    operations = _operations(client.app)
    assert len(operations) >= 10
    seen: dict[str, set[int]] = {}
    for operation in operations:
        _fuzz(operation, headers, seen)
    # The fuzzing reached the handlers, not just the validation layer.
    assert any(200 in codes for codes in seen.values()), seen
    assert any(422 in codes for codes in seen.values()), seen


def _fuzz(operation, headers, seen: dict[str, set[int]]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case):
        response = case.call(headers=headers)
        where = f"{case.method} {case.formatted_path}"
        seen.setdefault(f"{case.method} {operation.path}", set()).add(response.status_code)
        assert response.status_code < 500, (where, response.text[:500])
        if 400 <= response.status_code != 429 and "json" in response.headers.get(
                "content-type", ""):
            assert set(response.json()) == {"error", "detail"}, (where, response.text[:300])

    check()
