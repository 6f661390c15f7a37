"""Numbers decided by a signed report (``ReportConsensus``) reach the API like numbers
decided by the vote path: the indexer projects the report contract's round and vote events
into the same tables, and the regulator's chain verification recovers each report vote's
signer from the report in the calldata (Anvil + js-ipfs, SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from api import Indexer
from api._db import session_scope
from api._models import ChainEvent, RegistryRecord, Round, Vote
from node import ROUND_BASE
from tests.api.conftest import new_key
from tests.api.scenario import approved_model, run_report
from tests.api.test_end_to_end import fresh_number

SCORES = {"US": 9000, "IN": 8000, "BR": 7000, "FR": None}


def test_report_rounds_are_indexed_like_vote_rounds(consortium, engine):
    keys = [(consortium.hasher.key(fresh_number()), "US") for _ in range(2)]
    round_id = run_report(consortium, keys, SCORES, approved_model(consortium, "report-index"))
    assert round_id > ROUND_BASE
    Indexer(consortium.w3, consortium.deployment, engine).sync()
    with session_scope(engine) as session:
        for key, _country in keys:
            hex_key = "0x" + key.hex()
            row = session.get(Round, (hex_key, round_id))
            assert row is not None and row.status == "finalized"
            assert row.vote_count == 4 and row.weight == 4000 + 2500 + 2000 + 500
            assert row.score == (4000 * 9000 + 2500 * 8000 + 2000 * 7000) // 8500
            votes = session.execute(select(Vote).where(Vote.number_key == hex_key)).scalars()
            assert sorted(v.weight for v in votes) == [500, 2000, 2500, 4000]
            record = session.get(RegistryRecord, hex_key)
            assert record is not None and record.round_id == round_id and record.verdict == 3
            contracts = session.execute(select(ChainEvent.contract).where(
                ChainEvent.number_key == hex_key, ChainEvent.event == "VoteCast")).scalars()
            assert set(contracts) == {"ReportConsensus"}


def test_regulator_verification_passes_for_a_report_decided_number(chain_app, consortium,
                                                                   engine):
    client, indexer, _store = chain_app
    number = fresh_number()
    key = consortium.hasher.key(number)
    round_id = run_report(consortium, [(key, "US")], SCORES,
                          approved_model(consortium, "report-audit"))
    indexer.sync()
    verified = client.get(f"/v1/audit/numbers/{number}/verify",
                          headers=new_key(engine, "regulator")).json()
    checks = {c["name"]: c for c in verified["checks"]}
    assert verified["ok"] is True, [c for c in verified["checks"] if not c["ok"]]
    us = consortium.validators["US"].address
    assert checks[f"signature: {us} round {round_id}"]["ok"]
    assert checks[f"tally: round {round_id}"]["ok"]
    assert checks["registry record"]["ok"]
