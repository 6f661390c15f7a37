"""The telco edge story: a bundle of the whole ledger, attested on-chain and verified, whose
answer for every number of the demo equals the API's and the chain's."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from node import Ledger, read_records
from spamledger.edge import ALL, Bundle, SourceError, encode, write_atomic
from spamledger.edge._verify import commit, verify


def _build(state: Any, deadline: float) -> bytes:
    from api._bundles import Target, build
    from api._db import database_url, make_engine

    engine = make_engine(database_url(state.settings))
    target = Target.from_deployment(state.data["consortium"].deployment)
    try:
        while True:
            try:
                return encode(*build(engine, target, ALL))
            except SourceError:  # epochs still loading into the API's index
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
    finally:
        engine.dispose()


def _api_fields(answer: dict[str, Any]) -> tuple:
    source = (answer.get("source") or {}).get("kind")
    return (answer.get("verdict"), answer.get("score_bps"), answer.get("category"),
            answer.get("expires_at"), answer.get("expired", False), source)


def edge_story(state: Any) -> dict[str, Any]:
    """Build, attest (as the US operator), verify, then compare every number."""
    consortium, settings = state.data["consortium"], state.settings
    data = _build(state, time.monotonic() + 120)
    path = settings.data_dir / "edge" / "all.bundle"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    us = consortium.operator("US")
    commit(Ledger(consortium.w3, consortium.deployment, us), data)
    bundle = Bundle.open(path, settings.consortium_secret)
    report = verify(consortium.ledger, bundle, committer=us.address)
    numbers = sorted(set(pd.read_parquet(state.data["sim"]["truth"])["number"]))
    mine = bundle.lookup_many(numbers)
    api = state.data["users"].lookup_batch(numbers)
    keys = [bundle.key(n) for n in numbers]
    chain = read_records(consortium.ledger, keys)
    api_diff, chain_diff = [], []
    for i, number in enumerate(numbers):
        a = mine.answer(i)
        if "error" in api[i]:  # the API refused it as no valid number: the bundle knows none
            if mine.found[i]:
                api_diff.append(number)
            continue
        if (a.verdict, a.score_bps, a.category, a.expires_at, a.expired, a.source) != \
                _api_fields(api[i]):
            api_diff.append(number)
        rec = chain[i]
        if a.source == "round":
            same = (a.score_bps, a.recorded_verdict, a.category, a.expires_at) == (
                rec.score, rec.verdict.name.lower(), rec.category.name.lower(),
                rec.expires_at)
        else:
            same = rec.finalized_at == 0
        if not same:
            chain_diff.append(number)
    return {"path": str(path), "bytes": len(data), "block": report.block, "root": report.root,
            "entries": report.entries, "committers": report.committers,
            "numbers": len(numbers), "found": int(mine.found.sum()),
            "api_mismatches": api_diff, "chain_mismatches": chain_diff}
