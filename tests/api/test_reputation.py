"""Reputation answers from the index, batch limits and bad input (SQLite and PostgreSQL).

The index rows here are written directly; the chain-fed path is tested end to end in
``test_end_to_end.py``.
"""

from __future__ import annotations

import time

import pytest

from api._db import session_scope
from api._models import RegistryRecord, Round, Vote
from api._readmodel import notify
from spamledger import NumberHasher
from tests.api.conftest import TEST_SECRET, api_settings, new_key

HASHER = NumberHasher(TEST_SECRET)
SPAMMER = "+14155550123"


def _seed_record(engine, e164: str = SPAMMER, verdict: int = 3, score: int = 8150) -> str:
    key = HASHER.hex(e164)
    with session_scope(engine) as session:
        session.add(Round(number_key=key, round_id=1, country="US", status="finalized",
                          score=score, verdict=verdict, category=3, weight=9500,
                          opened_block=5, opened_tx="0x" + "aa" * 32, finalized_block=9,
                          finalized_tx="0x" + "bb" * 32))
        session.add(Vote(number_key=key, round_id=1, validator="0x" + "11" * 20, country="US",
                         weight=4000, score=9000, confidence=8000, category=3, abstain=False,
                         model_hash="0x" + "cc" * 32, evidence_cid="bafytest", block_number=7,
                         tx_hash="0x" + "dd" * 32, log_index=0))
        session.add(RegistryRecord(number_key=key, score=score, verdict=verdict, category=3,
                                   round_id=1, finalized_at=int(time.time()),
                                   expires_at=int(time.time()) + 86400, block_number=9,
                                   tx_hash="0x" + "bb" * 32))
    notify(rebuild=True)  # rows written beside the indexer: the read model reads them again
    return key


def test_unknown_number_answers_unknown(client, engine):
    body = client.get(f"/v1/reputation/{SPAMMER}", headers=new_key(engine, "telco")).json()
    assert body["verdict"] == "unknown"
    assert body["number_key"] == HASHER.hex(SPAMMER)
    assert "source" not in body


def test_national_form_with_country_finds_the_record(client, engine):
    key = _seed_record(engine)
    response = client.get("/v1/reputation/(415) 555-0123?country=US",
                          headers=new_key(engine, "telco"))
    body = response.json()
    assert response.status_code == 200
    assert (body["number"], body["number_key"]) == (SPAMMER, key)
    assert (body["verdict"], body["score_bps"], body["category"]) == ("spam", 8150, "scam")
    assert body["source"]["kind"] == "round"
    assert body["source"]["round_id"] == 1
    assert body["source"]["votes"][0]["weight"] == 4000


@pytest.mark.parametrize(("raw", "reason"), [
    ("12", "too_short"), ("+1415555", "too_short"), ("hello", "not_a_number"),
    ("+19995550123", "invalid_for_region"),
])
def test_invalid_number_is_422_naming_the_problem(client, engine, raw, reason):
    response = client.get(f"/v1/reputation/{raw}?country=US", headers=new_key(engine, "telco"))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert reason in response.json()["detail"]


def test_batch_answers_in_order_with_errors_in_place(client, engine):
    _seed_record(engine)
    response = client.post("/v1/reputation/batch", headers=new_key(engine, "telco"),
                           json={"numbers": [SPAMMER, "nonsense", "+442079460000"],
                                 "country": "US"})
    results = response.json()["results"]
    assert response.status_code == 200
    assert [r.get("verdict") for r in results] == ["spam", None, "unknown"]
    assert results[1]["error"] == "not_a_number"


def test_batch_over_the_limit_is_413_naming_it(client, engine):
    numbers = ["+14155550123"] * 10_001
    response = client.post("/v1/reputation/batch", headers=new_key(engine, "telco"),
                           json={"numbers": numbers})
    assert response.status_code == 413
    assert "limit of 10000" in response.json()["detail"]


def test_batch_of_ten_thousand_is_answered(client, engine):
    _seed_record(engine)
    numbers = [f"+1415555{i:04d}" for i in range(10_000)]
    response = client.post("/v1/reputation/batch", headers=new_key(engine, "telco"),
                           json={"numbers": numbers})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 10_000
    assert results[123]["verdict"] == "spam"  # +14155550123


def test_unknown_field_is_rejected(client, engine):
    response = client.post("/v1/reputation/batch", headers=new_key(engine, "telco"),
                           json={"numbers": [SPAMMER], "colour": "red"})
    assert response.status_code == 422
    assert "colour" in response.json()["detail"]


def test_expired_record_answers_unknown_but_keeps_the_recorded_verdict(client, engine):
    key = _seed_record(engine)
    with session_scope(engine) as session:
        session.get(RegistryRecord, key).expires_at = int(time.time()) - 1
    notify(rebuild=True)
    body = client.get(f"/v1/reputation/{SPAMMER}", headers=new_key(engine, "telco")).json()
    assert (body["verdict"], body["recorded_verdict"], body["expired"]) == ("unknown", "spam",
                                                                            True)


def test_number_key_is_returned_only_to_roles_that_need_it(client, engine):
    telco = client.get(f"/v1/reputation/{SPAMMER}", headers=new_key(engine, "telco")).json()
    assert telco["number_key"] == HASHER.hex(SPAMMER)
    business = client.get(f"/v1/reputation/{SPAMMER}",
                          headers=new_key(engine, "business")).json()
    assert "number_key" not in business and business["number"] == SPAMMER


def test_lookups_are_bounded_per_key_and_day(tmp_path, engine):
    from fastapi.testclient import TestClient

    from api import create_app

    settings = api_settings(tmp_path, api_lookups_per_day=25, api_business_lookups_per_day=3)
    with TestClient(create_app(settings, engine=engine, run_migrations=False)) as client:
        business = new_key(engine, "business")
        codes = [client.get(f"/v1/reputation/{SPAMMER}", headers=business).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        telco = new_key(engine, "telco")
        numbers = [SPAMMER] * 10
        batches = [client.post("/v1/reputation/batch", json={"numbers": numbers},
                               headers=telco) for _ in range(3)]
        assert [b.status_code for b in batches] == [200, 200, 429]
        refused = batches[2]
        assert "daily limit of 25" in refused.json()["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 86_401
        # the refused batch spent nothing: 5 numbers still fit today
        assert client.post("/v1/reputation/batch", json={"numbers": numbers[:5]},
                           headers=telco).status_code == 200


def test_expiry_at_the_boundary_second_follows_the_registry_rule(engine):
    from api._reputation import lookup_many
    from spamledger import normalize

    _seed_record(engine)
    with session_scope(engine) as session:
        expires = session.query(RegistryRecord).one().expires_at
        answers = [lookup_many(session, HASHER, [normalize(SPAMMER)], now=now)[0]
                   for now in (expires - 1, expires, expires + 1)]
    # SpamRegistry.verdictOf: `expiresAt <= block.timestamp` is expired.
    assert [(a.verdict, a.expired) for a in answers] == [
        ("spam", False), ("unknown", True), ("unknown", True)]
    assert answers[1].recorded_verdict == "spam"
