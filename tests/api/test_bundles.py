"""Bundle distribution on a real ledger: what the API serves is what `edge build` writes,
with ETag, Range, deltas and country scope (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import random

from spamledger.edge import Bundle, Header, apply_delta, check_root
from tests.api.conftest import TEST_SECRET, new_key
from tests.api.scenario import approved_model, run_round

_numbers = itertools.count(random.randrange(100, 900) * 10)


def sync(indexer, engine, store) -> None:
    """Index the chain and load every epoch snapshot (earlier tests on this session's chain
    committed some: a bundle is refused while an epoch it would hold is still loading)."""
    from api import load_pending_epochs
    from api._chain import Evidence

    indexer.sync()
    load_pending_epochs(engine, Evidence(store), limit=1000)


def fresh() -> str:
    return f"+1628556{next(_numbers) % 10_000:04d}"


def test_bundles_and_deltas_with_etag_range_and_scope(chain_app, consortium, engine,
                                                      tmp_path):
    client, indexer, store = chain_app
    model = approved_model(consortium, "dist")
    first, second = fresh(), fresh()
    run_round(consortium, consortium.hasher.key(first), "US",
              {"US": 9000, "IN": 9000, "BR": 9000}, model)
    sync(indexer, engine, store)
    telco = new_key(engine, "telco")

    got = client.get("/v1/bundles/all", headers=telco)
    assert got.status_code == 200, got.text
    base = got.content
    header = check_root(base)
    assert got.headers["etag"] == f'"{header.root.hex()}"'
    assert got.headers["x-bundle-block"] == str(header.block)
    (tmp_path / "b").write_bytes(base)
    assert Bundle.open(tmp_path / "b", TEST_SECRET).lookup(first).score_bps == 9000

    same = client.get("/v1/bundles/all", headers={**telco, "If-None-Match": got.headers["etag"]})
    assert same.status_code == 304 and same.content == b""
    part = client.get("/v1/bundles/all", headers={**telco, "Range": "bytes=0-127"})
    assert part.status_code == 206 and part.content == base[:128]
    assert part.headers["content-range"] == f"bytes 0-127/{len(base)}"
    assert client.get("/v1/bundles/all", headers={**telco, "Range": f"bytes={len(base) + 5}-"}
                      ).status_code == 416

    run_round(consortium, consortium.hasher.key(second), "US",
              {"US": 8000, "IN": 8000, "BR": 8000}, model)
    sync(indexer, engine, store)
    delta = client.get(f"/v1/bundles/all/delta?since={header.block}", headers=telco)
    assert delta.status_code == 200, delta.text
    full = client.get("/v1/bundles/all", headers=telco)
    assert full.headers["etag"] != got.headers["etag"]
    assert apply_delta(base, delta.content) == full.content
    assert Header.unpack(delta.content).count == 1
    ahead = client.get(f"/v1/bundles/all/delta?since={10**9}", headers=telco)
    assert ahead.status_code == 422 and "after the indexed block" in ahead.json()["detail"]

    us = new_key(engine, "telco", "US")
    assert client.get("/v1/bundles/us", headers=us).status_code == 200
    denied = client.get("/v1/bundles/GB", headers=us)
    assert denied.status_code == 403 and "scoped to country US" in denied.json()["detail"]
    assert client.get("/v1/bundles/all", headers=us).status_code == 403
    assert client.get("/v1/bundles/U1", headers=telco).status_code == 422
    assert client.get("/v1/bundles/US", headers=new_key(engine, "business")).status_code == 403
