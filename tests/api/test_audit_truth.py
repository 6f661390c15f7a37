"""Audit verification compares what the API serves with the chain (Anvil + js-ipfs, SQLite
and PostgreSQL): a tampered record, a forged or altered event row and a tampered epoch root
each fail verification naming the fields, and ``?verify=chain`` flags the mismatch."""

from __future__ import annotations

import json

from sqlalchemy import update

from api._db import session_scope
from api._models import ChainEvent, Epoch, RegistryRecord
from tests.api.conftest import new_key
from tests.api.scenario import approved_model, run_round
from tests.api.test_end_to_end import fresh_number


def _finalized(chain_app, consortium) -> tuple[str, str]:
    _client, indexer, _store = chain_app
    number = fresh_number()
    key = consortium.hasher.key(number)
    run_round(consortium, key, "US", {"US": 9000, "IN": 8000, "BR": 7000},
              approved_model(consortium, "truth"))
    indexer.sync()
    return number, "0x" + key.hex()


def _failed(verified: dict) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in verified["checks"] if not c["ok"]}


def test_a_tampered_record_in_the_index_fails_verify_naming_the_field(chain_app, consortium,
                                                                      engine):
    client, _indexer, _store = chain_app
    number, key = _finalized(chain_app, consortium)
    regulator = new_key(engine, "regulator")
    assert client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json()["ok"]
    with session_scope(engine) as session:
        session.execute(update(RegistryRecord).where(RegistryRecord.number_key == key)
                        .values(score=100, verdict=1))
    served = client.get(f"/v1/reputation/{number}?verify=chain",
                        headers=new_key(engine, "telco")).json()
    assert served["score_bps"] == 100  # the index was changed...
    assert served["chain_mismatch"] == ["score: index 100, chain 8235",
                                        "verdict: index 1, chain 3"]  # ...and it says so
    verified = client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json()
    assert verified["ok"] is False
    assert _failed(verified) == {"served record = chain record":
                                 "score: index 100, chain 8235; verdict: index 1, chain 3"}


def test_a_forged_event_row_fails_verify_by_block_and_log_index(chain_app, consortium, engine):
    client, _indexer, _store = chain_app
    number, key = _finalized(chain_app, consortium)
    with session_scope(engine) as session:
        real = session.query(ChainEvent).filter(ChainEvent.number_key == key,
                                                ChainEvent.event == "RoundFinalized").one()
        session.add(ChainEvent(contract="Consensus", address=real.address,
                               event="RoundFinalized", block_number=real.block_number,
                               block_time=real.block_time, tx_hash=real.tx_hash,
                               log_index=real.log_index + 1000, number_key=key,
                               args=real.args))
    regulator = new_key(engine, "regulator")
    history = client.get(f"/v1/audit/numbers/{number}", headers=regulator).json()
    assert sum(e["event"] == "RoundFinalized" for e in history["events"]) == 2
    failed = _failed(client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json())
    assert failed == {"served events = chain events":
                      f"block {real.block_number} log {real.log_index + 1000}: RoundFinalized "
                      "in the index, not on the chain"}


def test_altered_event_args_fail_verify_naming_the_arg(chain_app, consortium, engine):
    client, _indexer, _store = chain_app
    number, key = _finalized(chain_app, consortium)
    with session_scope(engine) as session:
        row = session.query(ChainEvent).filter(ChainEvent.number_key == key,
                                               ChainEvent.event == "RoundFinalized").one()
        args = json.loads(row.args)
        args["score"] = 1
        row.args = json.dumps(args, sort_keys=True)
        where = (row.block_number, row.log_index)
    failed = _failed(client.get(f"/v1/audit/numbers/{number}/verify",
                                headers=new_key(engine, "regulator")).json())
    assert failed == {"served events = chain events":
                      f"block {where[0]} log {where[1]} RoundFinalized: args.score index 1, "
                      "chain 8235"}


def test_a_deleted_event_row_fails_verify_as_missing(chain_app, consortium, engine):
    client, _indexer, _store = chain_app
    number, key = _finalized(chain_app, consortium)
    with session_scope(engine) as session:
        row = session.query(ChainEvent).filter(ChainEvent.number_key == key,
                                               ChainEvent.event == "VoteCast").first()
        where = (row.block_number, row.log_index)
        session.delete(row)
    failed = _failed(client.get(f"/v1/audit/numbers/{number}/verify",
                                headers=new_key(engine, "regulator")).json())
    assert failed["served events = chain events"] == (
        f"block {where[0]} log {where[1]}: VoteCast on the chain, missing from the index")


def _committed_epoch(chain_app, consortium, engine) -> tuple[list[str], int]:
    """Three fresh numbers in a US epoch snapshot, committed, indexed and loaded."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from api import load_pending_epochs
    from api._chain import Evidence
    from node._consortium import country_bytes
    from oracle.service import MerkleTree

    _client, indexer, store = chain_app
    numbers = [fresh_number() for _ in range(3)]
    rows = [(consortium.hasher.key(n), 7000 + i, 3, 2) for i, n in enumerate(numbers)]
    buf = io.BytesIO()
    pq.write_table(pa.table({"number_key": pa.array([r[0] for r in rows], pa.binary(32)),
                             "score": [r[1] for r in rows], "verdict": [r[2] for r in rows],
                             "category": [r[3] for r in rows]}), buf)
    cid = store.put_bytes(buf.getvalue(), "application/vnd.apache.parquet")
    # Epochs are sequential per country (ledger v2): the next one on chain.
    epoch = consortium.ledger.call("SnapshotRegistry", "latestEpoch", country_bytes("US")) + 1
    consortium.ledger.transact("SnapshotRegistry", "commitEpoch", country_bytes("US"), epoch,
                               MerkleTree.build(rows).root, cid,
                               approved_model(consortium, "truth-epoch"), len(rows),
                               account=consortium.validators["US"])
    indexer.sync()
    # The session chain holds every earlier test's epochs too; one call loads at most
    # ``limit`` of them, oldest first.
    assert load_pending_epochs(engine, Evidence(store), limit=10_000) >= 1
    return numbers, epoch


def test_a_tampered_epoch_root_fails_verify(chain_app, consortium, engine):
    client, _indexer, _store = chain_app
    numbers, epoch = _committed_epoch(chain_app, consortium, engine)
    regulator = new_key(engine, "regulator")
    assert client.get(f"/v1/audit/numbers/{numbers[0]}/verify", headers=regulator).json()["ok"]
    with session_scope(engine) as session:
        row = session.query(Epoch).filter(Epoch.epoch == epoch).one()
        real_root = row.root
        row.root = "0x" + "00" * 32
    failed = _failed(client.get(f"/v1/audit/numbers/{numbers[0]}/verify",
                                headers=regulator).json())
    assert failed == {f"served epoch = chain: US epoch {epoch}":
                      f"root: index '0x{'00' * 32}', chain '{real_root}'"}


def test_a_forged_event_beyond_the_indexers_cursor_fails_verify(chain_app, consortium, engine):
    client, _indexer, _store = chain_app
    number, key = _finalized(chain_app, consortium)
    with session_scope(engine) as session:
        real = session.query(ChainEvent).filter(ChainEvent.number_key == key,
                                                ChainEvent.event == "RoundFinalized").one()
        future = real.block_number + 10_000
        session.add(ChainEvent(contract="Consensus", address=real.address,
                               event="RoundFinalized", block_number=future,
                               block_time=real.block_time, tx_hash="0x" + "ee" * 32,
                               log_index=0, number_key=key, args=real.args))
    failed = _failed(client.get(f"/v1/audit/numbers/{number}/verify",
                                headers=new_key(engine, "regulator")).json())
    detail = failed["served events = chain events"]
    assert detail.startswith(f"block {future} log 0: RoundFinalized in the index beyond its "
                             "own cursor")


# ----------------------------------------- votes, rounds, disputes, arbiter votes vs the chain


def _disputed(chain_app, consortium) -> tuple[str, str, int]:
    """A finalized spam record of a fresh number, disputed and rejected by both arbiters."""
    import os

    from web3.logs import DISCARD

    _client, indexer, store = chain_app
    number, key = _finalized(chain_app, consortium)
    evidence = store.put_json({"claim": "a pharmacy", "n": os.urandom(8).hex()})
    receipt = consortium.ledger.transact("Dispute", "openDispute", bytes.fromhex(key[2:]),
                                         os.urandom(32), evidence,
                                         account=consortium.relayer)
    dispute_id = int(consortium.ledger.contract("Dispute").events.DisputeOpened()
                     .process_receipt(receipt, errors=DISCARD)[0]["args"]["id"])
    for arbiter in consortium.arbiters.values():
        consortium.ledger.transact("Dispute", "vote", dispute_id, False, account=arbiter)
    consortium.ledger.transact("Dispute", "resolve", dispute_id)
    indexer.sync()
    return number, key, dispute_id


def test_a_forged_vote_row_fails_verify_naming_it(chain_app, consortium, engine):
    from api._models import Vote

    client, _indexer, _store = chain_app
    number, key = _finalized(chain_app, consortium)
    regulator = new_key(engine, "regulator")
    assert client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json()["ok"]
    with session_scope(engine) as session:
        real = session.query(Vote).filter(Vote.number_key == key).first()
        session.add(Vote(number_key=key, round_id=real.round_id, validator=real.validator,
                         country="GB", weight=1000, score=100, confidence=9000, category=0,
                         abstain=False, model_hash=real.model_hash, evidence_cid="",
                         block_number=real.block_number, tx_hash=real.tx_hash,
                         log_index=real.log_index + 500))
        where = (real.block_number, real.log_index + 500)
    failed = _failed(client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json())
    assert failed == {"served votes = chain events":
                      f"block {where[0]} log {where[1]}: in the index, no chain event behind it"}


def test_an_altered_vote_and_round_fail_verify_naming_the_fields(chain_app, consortium, engine):
    from api._models import Round, Vote

    client, _indexer, _store = chain_app
    number, key = _finalized(chain_app, consortium)
    with session_scope(engine) as session:
        vote = session.query(Vote).filter(Vote.number_key == key).order_by(Vote.log_index).first()
        vote.score, where = 1, (vote.block_number, vote.log_index)
        real_score = session.query(Round).filter(Round.number_key == key).one().score
        session.query(Round).filter(Round.number_key == key).update(
            {Round.status: "expired", Round.score: 42})
    failed = _failed(client.get(f"/v1/audit/numbers/{number}/verify",
                                headers=new_key(engine, "regulator")).json())
    assert failed["served votes = chain events"] == (
        f"block {where[0]} log {where[1]}: score index 1, chain 9000")
    assert failed["served rounds = chain events"] == (
        f"round 1: status index 'expired', chain 'finalized', score index 42, chain {real_score}")


def test_altered_or_forged_dispute_rows_fail_verify_naming_the_fields(chain_app, consortium,
                                                                      engine):
    from api._models import ArbiterVote, Dispute

    client, _indexer, _store = chain_app
    number, key, dispute_id = _disputed(chain_app, consortium)
    regulator = new_key(engine, "regulator")
    verified = client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json()
    assert verified["ok"], _failed(verified)
    with session_scope(engine) as session:
        row = session.get(Dispute, dispute_id)
        row.status, row.uphold_weight = "upheld", row.reject_weight
        flipped = session.query(ArbiterVote).filter(ArbiterVote.dispute_id == dispute_id).first()
        flipped.uphold = True
        where = (flipped.block_number, flipped.log_index)
        session.add(Dispute(dispute_id=dispute_id + 10_000, number_key=key, status="upheld",
                            opened_block=row.opened_block, opened_tx=row.opened_tx))
    failed = _failed(client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json())
    assert failed["served disputes = chain events"] == (
        f"dispute {dispute_id}: status index 'upheld', chain 'rejected', uphold_weight index "
        f"2000, chain 0; dispute {dispute_id + 10_000}: in the index, no chain event behind it")
    assert failed["served arbiter votes = chain events"] == (
        f"block {where[0]} log {where[1]}: uphold index True, chain False")
    assert set(failed) == {"served disputes = chain events",
                           "served arbiter votes = chain events"}
