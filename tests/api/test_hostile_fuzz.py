"""Hostile bodies of every shape and size against every endpoint that reads one, on the real
chain, IPFS and each database: never a 5xx, always the JSON error body, and the app keeps
answering. (Schemathesis covers well-formed requests from the OpenAPI spec in
``test_openapi_fuzz``; this drives Hypothesis at what a spec does not describe.)"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api.conftest import new_key

EXAMPLES = 200
ENDPOINTS = ("/v1/reputation/batch", "/v1/reports", "/v1/disputes")
CONTENT_TYPES = ("application/json", "text/plain", "multipart/form-data; boundary=xyz",
                 "multipart/form-data", "application/x-www-form-urlencoded", None,
                 "application/json; charset=utf-16")

_scalars = (st.none() | st.booleans() | st.integers(-(2**80), 2**80)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=200))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=8)
                     | st.dictionaries(st.text(max_size=20), inner, max_size=8), max_leaves=40)


def _deep(n: int, opener: bytes = b"[", closer: bytes = b"]", closed: bool = True) -> bytes:
    return opener * n + (closer * n if closed else b"")


_shaped = st.fixed_dictionaries({}, optional={
    "numbers": st.lists(st.text(max_size=80) | _scalars, max_size=50) | _json,
    "number": st.text(max_size=100) | _scalars,
    "country": st.text(max_size=4) | _scalars,
    "label": st.sampled_from(["spam", "not_spam", "", "SPAM"]) | _scalars,
    "reporter": st.text(max_size=200) | _scalars,
    "ts": st.sampled_from([1e300, 1e18, -1, 0, 2**64, 1.7e9]) | _scalars,
    "category": st.text(max_size=20),
})

BODIES = st.one_of(
    _json.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    _shaped.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.integers(1, 200_000).map(_deep),
    st.integers(1, 200_000).map(lambda n: _deep(n, closed=False)),
    st.integers(1, 50_000).map(lambda n: _deep(n, b'{"a":', b"}")),
    st.integers(0, 3_000_000).map(lambda n: b'{"numbers": ["' + b"9" * n + b'"]}'),
    st.integers(0, 3_000_000).map(lambda n: b'"' + b"x" * n),
    st.binary(max_size=4000),
    st.binary(max_size=2000).map(lambda b: b"--xyz\r\nContent-Disposition: form-data; "
                                           b'name="evidence"; filename="a.pdf"\r\n\r\n' + b),
    st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@pytest.mark.slow
def test_hostile_bodies_never_get_a_server_error(chain_app, engine):
    client, _indexer, _store = chain_app
    admin = new_key(engine, "admin")
    seen: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(ENDPOINTS), body=BODIES,
           ctype=st.sampled_from(CONTENT_TYPES), keyed=st.booleans())
    @example(path=ENDPOINTS[0], body=b'"' + b"x" * 3_000_000, ctype="application/json",
             keyed=True)
    @example(path=ENDPOINTS[0], body=_deep(100_000), ctype="application/json", keyed=True)
    @example(path=ENDPOINTS[0], body=_deep(100_000), ctype="application/json", keyed=False)
    @example(path=ENDPOINTS[1], body=b'{"ts": Infinity}', ctype="application/json",
             keyed=True)
    @example(path=ENDPOINTS[2], body=b"--xyz\r\n" + b"x" * 60_000_000, ctype=CONTENT_TYPES[2],
             keyed=True)
    def check(path: str, body: bytes, ctype: str | None, keyed: bool) -> None:
        headers = dict(admin) if keyed else {}
        if ctype:
            headers["content-type"] = ctype
        response = client.post(path, content=body, headers=headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (path, ctype, body[:200], response.text[:300])
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "detail"}, response.text[:300]

    check()
    assert {400, 401, 413, 422} <= set(seen), seen  # every guard was reached
    assert client.get("/livez").status_code == 200
