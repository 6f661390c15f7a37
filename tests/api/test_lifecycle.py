"""Lapsed, rejected and expired states followed from the chain through the indexer to the
API's answers, and one expiry rule with SpamRegistry at the boundary second.

The chain is a private Anvil whose clock starts 30 days in the past, so block timestamps
can be set (``evm_setNextBlockTimestamp``) to lapse a round (1 day) and a dispute (7 days)
while the API's clock (the wall clock) stays in step with the chain's at the end: the last
block is mined at "now" and every answer is compared with ``SpamRegistry.verdictOf`` at that
block. Both databases (SQLite and PostgreSQL) index the same chain and must answer alike.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from web3.logs import DISCARD

from api import Chain, Evidence, Indexer, create_app, make_engine, migrate
from api._reputation import is_expired
from node import Ledger
from node._anvil import anvil_binary
from node.ipfs import EvidenceStore
from spamledger._types import Verdict
from tests.api.conftest import PG_ADMIN, PG_URL, api_settings, new_key
from tests.api.scenario import approved_model, run_round
from tests.conftest import deploy_consortium, free_port

pytestmark = pytest.mark.slow

DAY = 86_400
ROUND_DURATION = DAY  # Consensus.roundDuration (default)
VOTE_WINDOW = 7 * DAY  # Dispute.voteWindow (default)
RECORD_TTL = DAY  # set below (SpamRegistry.setRecordTtl; the least it accepts)
VERDICTS = {0: "unknown", 1: "not_spam", 2: "suspicious", 3: "spam"}


# ---------------------------------------------------------------- a chain that starts early


@pytest.fixture(scope="module")
def past_chain(tmp_path_factory) -> Iterator[Any]:
    """A private Anvil (genesis 30 days ago) with the consortium deployed; killed by PID."""
    data_dir = tmp_path_factory.mktemp("past-chain")
    port = free_port()
    log = open(data_dir / "anvil.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port),
                             "--chain-id", "31337", "--accounts", "1",
                             "--timestamp", str(int(time.time()) - 30 * DAY)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        node = SimpleNamespace(rpc_url=f"http://127.0.0.1:{port}")
        _wait_rpc(node.rpc_url, proc)
        consortium = deploy_consortium(node, data_dir)  # type: ignore[arg-type]
        consortium.ledger.transact("SpamRegistry", "setRecordTtl", RECORD_TTL)
        yield consortium
    finally:
        proc.kill()
        proc.wait(10)
        log.close()


def _wait_rpc(url: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
                       timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"anvil on {url} did not start")


def _next_block_at(consortium, timestamp: int) -> None:
    consortium.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


def _mine_at(consortium, timestamp: int) -> int:
    consortium.w3.provider.make_request("evm_mine", [timestamp])
    return int(consortium.w3.eth.block_number)


def _chain_now(consortium) -> int:
    return int(consortium.w3.eth.get_block("latest")["timestamp"])


def _verdict_at(consortium, key: bytes, block: int | str = "latest") -> int:
    return int(consortium.ledger.contract("SpamRegistry").functions.verdictOf(key)
               .call(block_identifier=block))


# ---------------------------------------------------------------- both databases, one chain


@dataclass
class Served:
    name: str
    client: TestClient
    indexer: Indexer


@pytest.fixture(scope="module")
def apps(past_chain, ipfs_node, tmp_path_factory) -> Iterator[list[Served]]:
    """The API on SQLite and on PostgreSQL, each with its own indexer of the past chain."""
    tmp = tmp_path_factory.mktemp("lifecycle-api")
    schema = "api_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    urls = {"sqlite": f"sqlite:///{tmp / 'api.db'}", "postgresql": PG_URL.format(schema=schema)}
    store = EvidenceStore(ipfs_node.api, timeout=10.0)
    engines, served = [], []
    try:
        for name, url in urls.items():
            engine = make_engine(url)
            migrate(engine)
            engines.append(engine)
            settings = api_settings(tmp / name, ipfs_api=ipfs_node.api,
                                    api_rate_per_minute=10**6, api_rate_burst=10**5)
            chain = Chain(Ledger(past_chain.w3, past_chain.deployment), past_chain.relayer)
            app = create_app(settings, engine=engine, chain=chain, evidence=Evidence(store),
                             run_migrations=False)
            client = TestClient(app)
            client.__enter__()
            client.headers_by_role = {role: new_key(engine, role)  # type: ignore[attr-defined]
                                      for role in ("telco", "regulator", "admin")}
            served.append(Served(name, client,
                                 Indexer(past_chain.w3, past_chain.deployment, engine,
                                         block_range=200)))
        yield served
    finally:
        for s in served:
            s.client.__exit__(None, None, None)
        for engine in engines:
            engine.dispose()
        store.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _get(s: Served, path: str, role: str = "regulator") -> dict[str, Any]:
    answer = s.client.get(path, headers=s.client.headers_by_role[role])  # type: ignore[attr-defined]
    assert answer.status_code == 200, (s.name, path, answer.text)
    return answer.json()


def _sync(apps: list[Served]) -> None:
    for s in apps:
        s.indexer.sync()


# ---------------------------------------------------------------- the story on the chain

_numbers = iter(range(7000, 7100))


def _number() -> str:
    return f"+1415556{next(_numbers):04d}"


@dataclass
class Story:
    lapsed_round: str
    rejected: str
    rejected_id: int
    lapsed_dispute: str
    lapsed_id: int
    awaiting_finalize: list[Any]  # each API's rounds of lapsed_round before finalize
    awaiting_resolve: list[Any]  # each API's answer for lapsed_id before resolve


@pytest.fixture(scope="module")
def story(past_chain, apps, ipfs_node) -> Story:
    """A round that lapses without quorum, a dispute both arbiters reject and a dispute that
    lapses with one vote, all in the chain's past; then indexed by both APIs."""
    c = past_chain
    model = approved_model(c, "lifecycle")
    lapsed = _number()
    lapsed_key = c.hasher.key(lapsed)
    round_id = run_round(c, lapsed_key, "US", {"FR": 9000}, model, finalize=False)
    assert round_id == 1
    _mine_at(c, _chain_now(c) + ROUND_DURATION + 60)
    _sync(apps)  # past the deadline, before anyone finalizes: open, but no longer voting
    awaiting_finalize = [_get(s, f"/v1/audit/numbers/{lapsed}")["rounds"] for s in apps]
    c.ledger.transact("Consensus", "finalize", lapsed_key)  # past the deadline: expires

    rejected = _number()
    rejected_id = _dispute(c, ipfs_node, rejected, model)
    for arbiter in c.arbiters.values():
        c.ledger.transact("Dispute", "vote", rejected_id, False, account=arbiter)
    c.ledger.transact("Dispute", "resolve", rejected_id)

    lapsing = _number()
    lapsed_id = _dispute(c, ipfs_node, lapsing, model)
    c.ledger.transact("Dispute", "vote", lapsed_id, True, account=c.arbiters["DE"])
    _mine_at(c, _chain_now(c) + VOTE_WINDOW + 60)
    _sync(apps)  # past the deadline, before anyone resolves
    awaiting_resolve = [_get(s, f"/v1/disputes/{lapsed_id}", "admin") for s in apps]
    c.ledger.transact("Dispute", "resolve", lapsed_id)  # one voter, past the deadline
    _sync(apps)
    return Story(lapsed, rejected, rejected_id, lapsing, lapsed_id, awaiting_finalize,
                 awaiting_resolve)


def _dispute(c, ipfs_node, number: str, model: bytes) -> int:
    key = c.hasher.key(number)
    run_round(c, key, "US", {"US": 9000, "IN": 8000, "BR": 7000}, model)
    with EvidenceStore(ipfs_node.api, timeout=10.0) as store:
        cid = store.put_json({"claim": "a pharmacy", "number": os.urandom(8).hex()})
    receipt = c.ledger.transact("Dispute", "openDispute", key, os.urandom(32), cid,
                                account=c.relayer)
    opened = c.ledger.contract("Dispute").events.DisputeOpened().process_receipt(
        receipt, errors=DISCARD)
    return int(opened[0]["args"]["id"])


# ---------------------------------------------------------------- what the API answers


def test_a_round_that_lapses_without_quorum_is_expired_in_history_and_verify(apps, story):
    for rounds in story.awaiting_finalize:
        assert [(r["status"], r["voting_open"]) for r in rounds] == [("open", False)]
    for s in apps:
        history = _get(s, f"/v1/audit/numbers/{story.lapsed_round}")
        assert [(r["round"], r["status"], r["vote_count"], r["weight"], r["score"])
                for r in history["rounds"]] == [(1, "expired", 1, 500, None)], s.name
        assert [e["event"] for e in history["events"]
                if e["event"].startswith("Round")][-2:] == ["RoundExpired", "RoundNoConsensus"]
        rep = _get(s, f"/v1/reputation/{story.lapsed_round}", "telco")
        assert (rep["verdict"], rep.get("recorded_verdict")) == ("unknown", None), s.name
        verified = _get(s, f"/v1/audit/numbers/{story.lapsed_round}/verify")
        assert verified["ok"], (s.name, [c for c in verified["checks"] if not c["ok"]])
        assert any(c["name"] == "served rounds = chain events" for c in verified["checks"])


def test_a_rejected_dispute_is_rejected_in_the_dispute_reputation_and_audit(apps, story):
    for s in apps:
        dispute = _get(s, f"/v1/disputes/{story.rejected_id}", "admin")
        assert (dispute["status"], dispute["reject_weight"], dispute["uphold_weight"]) == (
            "rejected", 2000, 0), s.name
        audit = _get(s, f"/v1/audit/numbers/{story.rejected}")
        assert [d["status"] for d in audit["disputes"]] == ["rejected"], s.name
        verified = _get(s, f"/v1/audit/numbers/{story.rejected}/verify")
        assert verified["ok"], (s.name, [c for c in verified["checks"] if not c["ok"]])


def test_a_dispute_that_lapses_past_its_deadline_is_expired_everywhere(apps, story):
    for waiting in story.awaiting_resolve:  # lapsed, not yet resolved: no votes any more
        assert (waiting["status"], waiting["voting_open"]) == ("open", False)
    for s in apps:
        dispute = _get(s, f"/v1/disputes/{story.lapsed_id}", "admin")
        assert (dispute["status"], dispute["uphold_weight"], dispute["voting_open"]) == (
            "expired", 1000, False), s.name
        assert dispute["deadline"] < int(time.time())
        audit = _get(s, f"/v1/audit/numbers/{story.lapsed_dispute}")
        assert [d["status"] for d in audit["disputes"]] == ["expired"], s.name
        assert [e["event"] for e in audit["events"] if e["event"].startswith("Dispute")][-2:] \
            == ["DisputeStatusChanged", "DisputeExpired"], s.name
        verified = _get(s, f"/v1/audit/numbers/{story.lapsed_dispute}/verify")
        assert verified["ok"], (s.name, [c for c in verified["checks"] if not c["ok"]])


def test_expiry_is_one_rule_with_the_registry_at_the_boundary_and_in_every_answer(
        past_chain, apps, story, ipfs_node):
    c = past_chain
    expiring = _number()
    key = c.hasher.key(expiring)
    expires = int(time.time()) + 20
    # Finalized exactly RECORD_TTL before `expires`, in the chain's past.
    model = approved_model(c, "expiry")
    run_round(c, key, "US", {"US": 9000, "IN": 8000, "BR": 7000}, model, finalize=False)
    _next_block_at(c, expires - RECORD_TTL)
    c.ledger.transact("Consensus", "finalize", key)
    assert c.ledger.call("SpamRegistry", "get", key)[4] == expires  # expiresAt
    # The chain's clock catches up with the API's (the wall clock): every answer agrees.
    _mine_at(c, int(time.time()))
    _sync(apps)
    numbers = [expiring, story.rejected, story.lapsed_dispute, story.lapsed_round]
    on_chain = {n: VERDICTS[_verdict_at(c, c.hasher.key(n))] for n in numbers}
    assert on_chain == {expiring: "spam", story.rejected: "unknown",
                        story.lapsed_dispute: "unknown", story.lapsed_round: "unknown"}
    for s in apps:
        served = {n: _get(s, f"/v1/reputation/{n}", "telco")["verdict"] for n in numbers}
        assert served == on_chain, s.name
    # The boundary second: the registry at blocks stamped expires-1 and expires, and the
    # API's rule at the same instants.
    before, at = _mine_at(c, expires - 1), _mine_at(c, expires)
    assert (_verdict_at(c, key, before), _verdict_at(c, key, at)) == (Verdict.SPAM,
                                                                       Verdict.UNKNOWN)
    assert (is_expired(expires, expires - 1), is_expired(expires, expires)) == (False, True)
    # And the API's answer once its clock passes the boundary.
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    for s in apps:
        rep = _get(s, f"/v1/reputation/{expiring}", "telco")
        assert (rep["verdict"], rep["recorded_verdict"], rep["expired"]) == (
            "unknown", "spam", True), s.name


def test_a_dispute_of_an_expired_record_is_refused_before_any_upload(past_chain, apps,
                                                                     story, ipfs_node):
    from node.ipfs import compute_cid

    for s in apps:
        headers = new_key(s.indexer.engine, "business", "US")
        evidence = os.urandom(8).hex().encode()
        answer = s.client.post("/v1/disputes", headers=headers,
                               data={"number": story.rejected, "business": "Acme"},
                               files=[("evidence", ("a.txt", evidence, "text/plain"))])
        assert answer.status_code == 409, (s.name, answer.text)
        assert "expired" in answer.json()["detail"], s.name
        with EvidenceStore(ipfs_node.api, timeout=10.0) as store:
            assert store.presence(str(compute_cid(evidence))).absent  # nothing was uploaded
