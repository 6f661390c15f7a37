"""The reputation read model answers exactly as the SQL path, and follows the indexer.

Every number of a populated index (live, expired and never-expiring records, records at the
expiry second, records with and without their round, superseded and current epoch leaves,
open and decided disputes, unknown numbers) is answered by both paths on SQLite and
PostgreSQL; then the index moves on the way the indexer moves it and the model must follow
through each of its three signals (this process, the signal file, the poll).
"""

from __future__ import annotations

import time

import orjson
import pytest

from api._db import session_scope
from api._models import (
    ChainEvent,
    Dispute,
    Epoch,
    EpochLeaf,
    IndexCursor,
    RegistryRecord,
    Round,
    Vote,
)
from api._readmodel import ReadModel, notify, write_signal
from api._reputation import batch, batch_pairs, lookup_many
from api._schemas import BatchResponse
from spamledger import NumberHasher, normalize
from tests.api.conftest import TEST_SECRET, new_key

HASHER = NumberHasher(TEST_SECRET)
NOW = int(time.time()) + 10_000  # expiry boundaries far from the wall clock
TX = "0x" + "ab" * 32


def _number(i: int) -> str:
    return f"+1415555{i:04d}"


def _key(i: int) -> str:
    return HASHER.hex(_number(i))


def _record(session, i: int, *, expires: int, locked: int = 0, with_round: bool = True,
            block: int = 10, verdict: int = 3) -> None:
    key = _key(i)
    if with_round:
        session.add(Round(number_key=key, round_id=2, country="US", status="finalized",
                          score=8000 + i, verdict=verdict, category=3, weight=9000,
                          opened_block=block - 2, opened_tx=TX, finalized_block=block,
                          finalized_tx="0x" + f"{i:064x}"))
        for v in range(2):
            session.add(Vote(number_key=key, round_id=2, validator="0x" + f"{v + 1:040x}",
                             country=("US", "IN")[v], weight=4000 - v, score=7000 + v + i,
                             confidence=9000, category=v, abstain=v == 1,
                             model_hash="0x" + "cc" * 32, evidence_cid=f"bafy{i}",
                             block_number=block - 1, tx_hash="0x" + f"{i:062x}{v:02x}",
                             log_index=v))
    session.add(RegistryRecord(number_key=key, score=8000 + i, verdict=verdict, category=3,
                               round_id=2, finalized_at=NOW - 100, expires_at=expires,
                               locked_until=locked, block_number=block, tx_hash=TX))


def _epoch(session, epoch_id: int, number: int, block: int, keys: list[int],
           score: int, status: str = "loaded") -> None:
    session.add(Epoch(id=epoch_id, country="US", epoch=number, root="0x" + f"{number:064x}",
                      cid=f"bafyepoch{number}", model_hash=TX, leaf_count=len(keys),
                      committer="0x" + "22" * 20, leaves_status=status, block_number=block,
                      tx_hash=TX, log_index=0))
    session.flush()
    if status == "loaded":
        for i in keys:
            session.add(EpochLeaf(epoch_id=epoch_id, number_key=_key(i), score=score + i,
                                  verdict=1 + i % 3, category=i % 4,
                                  proof=",".join("0x" + f"{i * 7 + p:064x}" for p in range(3))))


def _populate(engine) -> list[int]:
    """Numbers 0..59 in every state the answers distinguish; returns all of them."""
    with session_scope(engine) as session:
        for i in range(0, 10):
            _record(session, i, expires=NOW + 86_400, locked=NOW + 50 if i % 3 == 0 else 0)
        for i in range(10, 14):
            _record(session, i, expires=NOW - 5 + (i - 10) * 3)  # around the expiry second
        _record(session, 14, expires=NOW)  # expires exactly at NOW
        _record(session, 15, expires=0)  # never expires
        _record(session, 16, expires=NOW + 9, with_round=False)
        _epoch(session, 1, 1, 20, [*range(20, 40), 1, 2], score=5000)
        _epoch(session, 2, 2, 30, list(range(30, 45)), score=6000)  # supersedes 30..39
        _epoch(session, 3, 3, 40, [], score=0, status="")  # pending: no leaves yet
        for d, (i, status) in enumerate([(3, "open"), (4, "upheld"), (4, "open"),
                                         (21, "rejected"), (50, "open")]):
            session.add(Dispute(dispute_id=d + 1, number_key=_key(i), status=status,
                                opened_block=12 + d, opened_tx=TX,
                                decided_block=None if status == "open" else 13 + d))
        session.add(IndexCursor(stream="events", last_block=50, head_block=50,
                                updated_at=time.time()))
    return list(range(60))


def _sql_single(engine, i: int, now: int, with_key: bool) -> dict:
    with session_scope(engine) as session:
        rep = lookup_many(session, HASHER, [normalize(_number(i))], with_votes=True,
                          now=now)[0]
    if not with_key:
        rep.number_key = None
    return rep.model_dump(mode="json", exclude_none=True)


def _assert_equal_everywhere(engine, model: ReadModel, numbers: list[int]) -> None:
    for now in (NOW - 1, NOW, NOW + 1, NOW + 10**6):
        for i in numbers:
            for with_key in (True, False):
                mine = orjson.loads(model.single(_number(i), _key(i), with_key, now=now))
                assert mine == _sql_single(engine, i, now, with_key), (i, now, with_key)
        raws = [_number(i) for i in numbers] + ["+1", "hello", "415 555 0001"]
        with session_scope(engine) as session:
            want = BatchResponse(results=batch(session, HASHER, raws, None, now=now))
        got = orjson.loads(model.many(batch_pairs(HASHER, raws, None), now=now))
        assert got == want.model_dump(mode="json", exclude_none=True)


def test_read_model_answers_equal_the_sql_path_for_every_number(engine):
    numbers = _populate(engine)
    model = ReadModel(engine)
    assert len(model) == 43  # 17 records, 25 leaf-only keys, the dispute of number 50
    _assert_equal_everywhere(engine, model, numbers)


def test_large_batches_hash_in_numpy_and_still_equal_the_sql_path(engine):
    numbers = _populate(engine) + list(range(1000, 5200))  # past the vectorised threshold
    model = ReadModel(engine)
    raws = [_number(i) for i in numbers] + ["+1"]
    with session_scope(engine) as session:
        want = BatchResponse(results=batch(session, HASHER, raws, None, now=NOW))
    got = orjson.loads(model.many(batch_pairs(HASHER, raws, None), now=NOW))
    assert got == want.model_dump(mode="json", exclude_none=True)
    assert got["results"][-1]["error"] == "not_a_number"
    assert sum(r.get("verdict", "unknown") != "unknown" for r in got["results"]) >= 14 + 25


def test_http_answers_come_from_the_read_model_and_equal_the_sql_path(client, engine):
    numbers = _populate(engine)
    notify(rebuild=True)
    telco, business = new_key(engine, "telco"), new_key(engine, "business")
    for i in numbers:
        now = int(time.time())
        got = client.get(f"/v1/reputation/{_number(i)}", headers=telco)
        assert got.status_code == 200 and got.headers["content-type"] == "application/json"
        assert got.json() == _sql_single(engine, i, now, True), i
        assert (client.get(f"/v1/reputation/{_number(i)}", headers=business).json()
                == _sql_single(engine, i, now, False)), i
    raws = [_number(i) for i in numbers] + ["not a number"]
    got = client.post("/v1/reputation/batch", json={"numbers": raws}, headers=telco).json()
    with session_scope(engine) as session:
        want = BatchResponse(results=batch(session, HASHER, raws, None))
    assert got == want.model_dump(mode="json", exclude_none=True)
    assert client.app.state.ctx.read_model.rebuilds >= 1


def _index_more(engine) -> None:
    """What the indexer writes for blocks 51..60: a new record, a record overturned, a
    dispute decided, and an epoch whose leaves then load."""
    with session_scope(engine) as session:
        _record(session, 55, expires=NOW + 1000, block=52)
        old = session.get(RegistryRecord, _key(5))
        old.verdict, old.category, old.block_number = 1, 0, 53
        session.get(Dispute, 1).status = "rejected"
        session.get(Dispute, 1).decided_block = 54
        for n, (i, event) in enumerate([(55, "RecordSet"), (5, "RecordOverturned")]):
            session.add(ChainEvent(contract="SpamRegistry", address="0x" + "33" * 20,
                                   event=event, block_number=52 + n, block_time=NOW,
                                   tx_hash="0x" + f"{n + 1:064x}", log_index=0,
                                   number_key=_key(i), args="{}"))
        session.merge(IndexCursor(stream="events", last_block=60, head_block=60,
                                  updated_at=time.time()))
    with session_scope(engine) as session:
        epoch = session.get(Epoch, 3)
        epoch.leaves_status = "loaded"
        session.add(EpochLeaf(epoch_id=3, number_key=_key(46), score=4444, verdict=3,
                              category=1, proof=""))
        session.add(EpochLeaf(epoch_id=3, number_key=_key(44), score=4445, verdict=2,
                              category=2, proof="0x" + "ee" * 32))


@pytest.mark.parametrize("signal", ["process", "file", "poll"])
def test_an_update_by_the_indexer_becomes_visible(engine, tmp_path, signal):
    numbers = _populate(engine)
    path = tmp_path / "index.signal"
    model = ReadModel(engine, signal=path, poll_seconds=3600.0)
    model.single(_number(0), _key(0), True)
    _index_more(engine)
    assert orjson.loads(model.single(_number(55), _key(55), True))["verdict"] == "unknown"
    if signal == "process":
        notify()
    elif signal == "file":  # what the indexer process does for the API workers
        write_signal(path)
    else:
        model.poll_seconds = 0.0
    answer = orjson.loads(model.single(_number(55), _key(55), True, now=NOW))
    assert (answer["verdict"], answer["source"]["votes"][0]["score"]) == ("spam", 7055)
    assert orjson.loads(model.single(_number(46), _key(46), True))["score_bps"] == 4444
    assert (model.rebuilds, model.updates) == (1, 1)  # touched keys only, no rebuild
    _assert_equal_everywhere(engine, model, numbers)


def test_an_epoch_that_stops_being_loaded_rebuilds_the_model(engine):
    numbers = _populate(engine)
    model = ReadModel(engine, poll_seconds=0.0)
    assert orjson.loads(model.single(_number(41), _key(41), True))["score_bps"] == 6041
    with session_scope(engine) as session:
        session.query(EpochLeaf).filter(EpochLeaf.epoch_id == 2).delete()
        session.get(Epoch, 2).leaves_status = "erased"
    assert orjson.loads(model.single(_number(41), _key(41), True))["verdict"] == "unknown"
    assert model.rebuilds == 2
    _assert_equal_everywhere(engine, model, numbers)


def test_lookups_after_chain_rounds_follow_the_indexer(chain_app, consortium, engine):
    """On Anvil: votes without a record answer unknown; once the round finalizes and the
    indexer syncs, the read model answers with the record and its votes, as SQL does."""
    from tests.api.scenario import approved_model, run_round

    client, indexer, _ = chain_app
    number = f"+1415556{int(time.time() * 1000) % 10_000:04d}"
    key = consortium.hasher.key(number)
    headers = new_key(engine, "telco", "US")
    run_round(consortium, key, "US", {"US": 9000, "IN": 8000, "BR": 7000},
              approved_model(consortium, "readmodel"), finalize=False)
    indexer.sync()
    assert client.get(f"/v1/reputation/{number}", headers=headers).json()["verdict"] == "unknown"
    consortium.ledger.transact("Consensus", "finalize", key)
    indexer.sync()
    got = client.get(f"/v1/reputation/{number}", headers=headers).json()
    assert got["verdict"] == "spam" and len(got["source"]["votes"]) == 3
    with session_scope(engine) as session:
        want = lookup_many(session, consortium.hasher, [normalize(number)], with_votes=True)
    assert got == want[0].model_dump(mode="json", exclude_none=True)
    assert client.app.state.ctx.read_model.updates >= 1


def test_lookups_off_the_fast_path_answer_as_the_documented_route(client, engine):
    """The plain ASGI lookup route hands anything unusual to the FastAPI route: both give
    the same answers and the same errors."""
    _populate(engine)
    notify(rebuild=True)
    telco = new_key(engine, "telco")
    plain = client.get(f"/v1/reputation/{_number(1)}", headers=telco)
    assert plain.status_code == 200 and plain.json()["verdict"] == "spam"
    for other in (f"/v1/reputation/{_number(1)}?unused=1",
                  "/v1/reputation/415 555 0001?country=us",
                  "/v1/reputation/4155550001?country=US&country=US"):
        assert client.get(other, headers=telco).json() == plain.json(), other
    for bad in ("?country=USA", "?verify=nope", "?country=1x", "?country="):
        response = client.get(f"/v1/reputation/{_number(1)}{bad}", headers=telco)
        assert response.status_code == 422, bad
    assert client.get("/v1/reputation/" + "1" * 65, headers=telco).status_code == 422
    business, regulator = new_key(engine, "business"), new_key(engine, "regulator")
    for path, headers in (("/v1/reputation/12", telco), ("/v1/reputation/+1 415 zz", telco),
                          (f"/v1/reputation/{_number(2)}", business),
                          (f"/v1/reputation/{_number(2)}", {}),
                          (f"/v1/reputation/{_number(2)}", regulator),
                          ("/v1/reputation/batch", telco)):
        fast = client.get(path, headers=headers)
        documented = client.get(path + "?unused=1", headers=headers)  # off the fast path
        assert (fast.status_code, fast.json()) == (documented.status_code,
                                                   documented.json()), path
    assert client.get(f"/v1/reputation/{_number(2)}", headers={}).status_code == 401
