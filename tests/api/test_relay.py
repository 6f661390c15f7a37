"""The report path's relay in the API (``/v1/relay``) on the session's Anvil consortium:
operators exchange signed messages through it end to end (observation, proposal, report
signatures, verified by ReportConsensus), and hostile input gets a clear 4xx (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json

from eth_account import Account

from node import ReportVote, free_seq
from oracle.service._exchange import ReportExchange, leader_of
from oracle.service._relay import HttpRelay, RelayRefused, canonical, seal
from oracle.service._reportpath import ActiveValidators
from tests.api.conftest import new_key

KEY = bytes.fromhex("ab" * 32)


class ClientRelay(HttpRelay):
    """:class:`HttpRelay` over the test client (same requests, no socket)."""

    def __init__(self, client, headers):
        self._client, self.base, self.headers = client, "", headers

    def post(self, raw: bytes) -> None:
        self._raise(self._client.post("/v1/relay", content=raw, headers={
            **self.headers, "Content-Type": "application/json"}))

    def fetch(self, seq: int, kind: str) -> list[bytes]:
        resp = self._client.get(f"/v1/relay/{seq}/{kind}", headers=self.headers)
        self._raise(resp)
        return [canonical(m) for m in resp.json()["messages"]]


def _domain(consortium, kind: str, seq: int) -> dict:
    return {"kind": kind, "seq": seq, "chainId": int(consortium.w3.eth.chain_id),
            "contract": consortium.deployment.address("ReportConsensus")}


def test_operators_exchange_a_report_through_the_api_relay(chain_app, consortium, engine):
    client, _indexer, _store = chain_app
    headers = new_key(engine, "telco")
    seq = free_seq(consortium.ledger)
    validators = ActiveValidators(consortium.ledger.call)
    exchanges = {cc: ReportExchange(a, ClientRelay(client, headers),
                                    int(consortium.w3.eth.chain_id),
                                    consortium.deployment.address("ReportConsensus"),
                                    validators, quorum_bps=6667)
                 for cc, a in consortium.validators.items()}
    for ex in exchanges.values():
        ex.publish(seq, {KEY: ("US", ReportVote(0, 0, 0, abstain=True))}, b"\1" * 32)
    leader = leader_of(seq, validators())
    lead = next(ex for ex in exchanges.values() if ex.address == leader)
    report = lead.assemble(seq, deadline=consortium.w3.eth.get_block("latest")["timestamp"]
                           + 3600)
    assert report is not None and len(report["signers"]) == len(exchanges)
    for ex in exchanges.values():
        ex.sign(ex.proposal(seq), ex.own(seq))
    assert set(lead.signatures(seq, report)) == set(report["signers"])


def test_hostile_relay_input_gets_a_clear_4xx(chain_app, consortium, engine):
    client, _indexer, _store = chain_app
    headers = {**new_key(engine, "telco"), "Content-Type": "application/json"}
    us = consortium.validators["US"]
    item = {"numberKey": "0x" + KEY.hex(), "country": "US", "score": 1, "confidence": 1,
            "category": 0, "abstain": False}
    obs = dict(_domain(consortium, "observation", 7), modelHash="0x" + "00" * 32,
               evidenceCid="", items=[item])
    tampered = json.loads(seal(us, obs))
    tampered["body"]["items"][0]["score"] = 9999
    many = [dict(item, numberKey="0x" + i.to_bytes(32, "big").hex()) for i in range(129)]
    cases = {
        "huge body": (b'{"body": {}, "pad": "' + b"x" * 300_000 + b'"}', 413),
        "not JSON": (b"not json", 400),
        "bad signature": (json.dumps({"body": dict(obs, sender=us.address),
                                      "signature": "0xdead"}).encode(), 400),
        "tampered": (json.dumps(tampered).encode(), 403),
        "too many keys": (seal(us, dict(obs, items=many)), 413),
        "not a validator": (seal(Account.create(), obs), 403),
        "other chain": (seal(us, dict(obs, chainId=1)), 422),
    }
    for name, (raw, status) in cases.items():
        resp = client.post("/v1/relay", content=raw, headers=headers)
        assert resp.status_code == status, (name, resp.status_code, resp.text)
        assert resp.json()["detail"], name
    assert client.get("/v1/relay/7/observation", headers=headers).json() == {"messages": []}
    assert client.get("/v1/relay/0/observation", headers=headers).status_code == 422
    assert client.get("/v1/relay/7/gossip", headers=headers).status_code == 422
    # A key without the telco role may not use the relay.
    business = {**new_key(engine, "business"), "Content-Type": "application/json"}
    assert client.post("/v1/relay", content=seal(us, obs), headers=business).status_code == 403


def test_refusals_reach_the_http_client_as_relay_refused(chain_app, consortium, engine):
    client, _indexer, _store = chain_app
    relay = ClientRelay(client, new_key(engine, "telco"))
    try:
        relay.post(b"{}")
    except RelayRefused as exc:
        assert exc.status == 400 and "envelope" in exc.detail
    else:
        raise AssertionError("an empty envelope was accepted")
