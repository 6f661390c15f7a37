"""The operator's votes pending and drift pages against a seeded index (SQLite and
PostgreSQL), with no chain and no IPFS reachable: roles, country scope, the split between
rounds the validator still has to vote on and those it voted on, and drift's honest notes.
The same pages on the real chain and IPFS are in ``test_console_chain.py``."""

from __future__ import annotations

import json
import re
import time

from eth_account import Account

from api import create_key, session_scope
from api._models import ChainEvent, Epoch, EpochLeaf, Model, Round, Vote
from tests.api.console import sign_in, write_keystore

ME = Account.from_key("0x" + "11" * 32)
OTHER = Account.from_key("0x" + "22" * 32)
NOW = int(time.time())


def key_of(engine, role: str, country: str = "*", signer: str = "") -> str:
    with session_scope(engine) as session:
        return create_key(session, role=role, country=country, name=f"{role}-{country}",
                          signer=signer)


def _nk(i: int) -> str:
    return "0x" + f"{i:064x}"


def _tx(i: int) -> str:
    return "0x" + f"{i:064x}".replace("0", "e")


def _event(session, block: int, event: str, key: str | None = None,
           when: int = NOW, **args) -> None:
    session.add(ChainEvent(contract="Consensus", address="0x" + "00" * 20, event=event,
                           block_number=block, block_time=when, tx_hash=_tx(block * 100 + 7),
                           log_index=len(args), number_key=key, args=json.dumps(args)))


def _round(session, i: int, country: str, status: str = "open",
           deadline: int = NOW + 3600) -> str:
    session.add(Round(number_key=_nk(i), round_id=1, country=country, deadline=deadline,
                      vote_count=1, status=status, opened_block=10 + i, opened_tx=_tx(i)))
    return _nk(i)


def _vote(session, i: int, who: Account, country: str, score: int) -> None:
    session.add(Vote(number_key=_nk(i), round_id=1, validator=who.address, country=country,
                     weight=1000, score=score, confidence=8000, category=3, abstain=False,
                     model_hash="0x" + "ab" * 32, evidence_cid="", block_number=50 + i,
                     # The address's own digits: str hash() changes per process
                     # (PYTHONHASHSEED) and made two voters collide once in 100 runs.
                     tx_hash=_tx(1000 + i), log_index=int(who.address, 16) % 100))


def _seed_rounds(engine) -> dict[str, str]:
    with session_scope(engine) as session:
        keys = {"pending": _round(session, 1, "US"),            # another validator voted
                "voted": _round(session, 2, "US"),              # I voted
                "contested": _round(session, 3, "US"),          # I signed another country
                "late": _round(session, 4, "US", deadline=NOW - 60),
                "finalized": _round(session, 5, "US", status="finalized"),
                "other_country": _round(session, 6, "GB")}
        _vote(session, 1, OTHER, "IN", 9000)
        _vote(session, 2, ME, "US", 8100)
        _vote(session, 2, OTHER, "IN", 9000)
        _event(session, 60, "VoteContested", keys["contested"], numberKey=keys["contested"],
               round=1, validator=ME.address, signedCountry="MX", weight=1000)
        _event(session, 61, "VoteContested", keys["pending"], numberKey=keys["pending"],
               round=1, validator=OTHER.address, signedCountry="MX", weight=1000)
    return keys


def _rows(html: str, table: str) -> list[str]:
    body = html.split(f'<table id="{table}"')[1].split("</table>")[0]
    return re.findall(r'<code title="(0x[0-9a-f]{64})">', body)


def test_regulator_and_business_keys_cannot_open_the_operator_pages(client, engine):
    for role in ("regulator", "business"):
        client.cookies.clear()
        sign_in(client, key_of(engine, role))
        for path in ("/console/operator", "/console/operator/drift",
                     "/console/operator/drift?inline=1", "/console/operator/drift/charts"):
            response = client.get(path)
            assert response.status_code == 403, (role, path)
            assert f"role &#39;{role}&#39; may not open this page" in response.text
        assert 'href="/console/operator/drift"' not in client.get("/console/").text


def test_votes_pending_are_the_open_rounds_the_validator_has_not_voted_on(client, engine,
                                                                          settings):
    keys = _seed_rounds(engine)
    write_keystore(settings.data_dir, "op-us", ME)
    sign_in(client, key_of(engine, "telco", "US", signer="op-us"))
    page = client.get("/console/operator").text
    assert _rows(page, "pending") == [keys["late"], keys["pending"]]  # soonest deadline first
    assert 'id="pending-count">2<' in page
    assert "(passed: the round can no longer take votes)" in page
    voted = _rows(page, "voted")
    assert sorted(voted) == sorted([keys["voted"], keys["contested"]])
    assert "score 8100" in page and "signed for MX: contests the round's country" in page
    assert keys["finalized"] not in page and keys["other_country"] not in page  # US scope
    # no chain here: the signer's validator seat cannot be read, and the page says so
    assert "is not an active validator (or the chain is unreachable)" in page


def test_an_every_country_key_sees_every_countrys_open_rounds(client, engine, settings):
    keys = _seed_rounds(engine)
    write_keystore(settings.data_dir, "op-any", ME)
    sign_in(client, key_of(engine, "telco", "*", signer="op-any"))
    page = client.get("/console/operator").text
    assert keys["other_country"] in _rows(page, "pending")
    assert keys["voted"] in _rows(page, "voted") and keys["voted"] not in _rows(page, "pending")


def test_without_a_signer_every_open_round_is_listed_and_the_page_says_why(client, engine):
    keys = _seed_rounds(engine)
    sign_in(client, key_of(engine, "telco", "US"))
    page = client.get("/console/operator").text
    assert "no signer keystore, so its validator is unknown" in page
    assert set(_rows(page, "pending")) == {keys[k] for k in ("pending", "voted", "contested",
                                                             "late")}
    assert '<table id="voted"' not in page


def _seed_epoch(engine, country: str, epoch: int, block: int, when: int, cid: str,
                scores: list[int], model: str = "0x" + "cd" * 32, status: str = "loaded",
                register: bool = True) -> None:
    with session_scope(engine) as session:
        _event(session, block, "EpochCommitted", when=when, country=country, epoch=epoch)
        row = Epoch(country=country, epoch=epoch, root="0x" + "00" * 32, cid="bafyepoch",
                    model_hash=model, leaf_count=len(scores), committer=OTHER.address,
                    leaves_status=status, block_number=block, tx_hash=_tx(block),
                    log_index=0)
        session.add(row)
        session.flush()
        for i, score in enumerate(scores):
            session.add(EpochLeaf(epoch_id=row.id, number_key=_nk(10_000 * block + i),
                                  score=score, verdict=0, category=0, proof=""))
        if register and session.get(Model, (model, OTHER.address)) is None:
            session.add(Model(model_hash=model, country=country, owner=OTHER.address,
                              metrics_cid=cid, status="approved", approvals=2,
                              block_number=block - 1, tx_hash=_tx(block - 1)))


def test_drift_says_so_when_the_model_card_is_unreachable(client, engine):
    cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    _seed_epoch(engine, "US", 3, 70, NOW - 3600, cid, [100, 200, 9000])
    _seed_epoch(engine, "GB", 1, 71, NOW - 3600, cid, [100])
    sign_in(client, key_of(engine, "telco", "US"))
    shell = client.get("/console/operator/drift")
    assert shell.status_code == 200
    assert 'data-fragment="/console/operator/drift/charts"' in shell.text
    for page in (client.get("/console/operator/drift/charts").text,
                 client.get("/console/operator/drift", params={"inline": 1}).text):
        assert "epoch 3 (block 70" in page and "3 numbers scored" in page
        assert f"model card {cid} unreachable" in page
        assert 'id="drift-GB-h"' not in page  # the key's country only


def test_drift_notes_old_unloaded_and_unregistered_snapshots(client, engine):
    _seed_epoch(engine, "US", 1, 80, NOW - 8 * 24 * 3600, "bafyx", [100])
    _seed_epoch(engine, "GB", 1, 81, NOW - 60, "bafyx", [100], status="")
    _seed_epoch(engine, "FR", 1, 82, NOW - 60, "", [100], model="0x" + "ef" * 32,
                register=False)
    sign_in(client, key_of(engine, "telco", "*"))
    page = client.get("/console/operator/drift/charts").text
    sections = dict(re.findall(r'<h2 id="drift-(\w\w)-h">\w\w</h2>(.*?)</section>', page, re.S))
    assert set(sections) == {"US", "GB", "FR"}
    assert "no epoch snapshot committed in the last 7 days (the latest is epoch 1)" in sections[
        "US"]
    assert "epoch 1&#39;s score table is not loaded from IPFS (pending)" in sections["GB"]
    assert "is not registered in the index: no model card" in sections["FR"]
    client.cookies.clear()
    sign_in(client, key_of(engine, "telco", "DE"))
    alone = client.get("/console/operator/drift/charts").text
    assert 'id="drift-DE-h"' in alone and 'id="drift-US-h"' not in alone
    assert "no epoch snapshot committed yet: nothing scored to compare" in alone


def test_beyond_the_rounds_shown_the_page_still_counts_every_pending_vote(client, engine,
                                                                         settings, monkeypatch):
    import api._console_work

    keys = _seed_rounds(engine)
    monkeypatch.setattr(api._console_work, "ROUNDS_SHOWN", 1)
    write_keystore(settings.data_dir, "op-us", ME)
    sign_in(client, key_of(engine, "telco", "US", signer="op-us"))
    page = client.get("/console/operator").text
    assert _rows(page, "pending") == [keys["late"]]
    assert 'id="pending-count">2<' in page and "(the 1 with the soonest deadlines shown)" in page
