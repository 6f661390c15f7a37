"""The off-chain report exchange over an untrusted relay (no chain needed: the relay and the
signers check signatures against the ReportConsensus EIP-712 domain of a given address).

Four operators publish signed observations; the leader assembles a report; each signer checks
its own row before signing; a leader altering a vote gets no signature; a relay tampering
with a message is caught by whoever receives it; hostile input gets a clear 4xx."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from node import ReportVote, build_report, recover_report
from oracle.service._exchange import ReportExchange, ReportMismatch, leader_of, report_json
from oracle.service._relay import LocalRelay, RelayBoard, RelayLimits, RelayRefused, seal

CHAIN_ID = 31337
CONTRACT = "0x" + "ab" * 20
WEIGHTS = {"US": 4000, "IN": 2500, "BR": 2000, "GB": 1000}
MODEL = {cc: bytes([i + 1]) * 32 for i, cc in enumerate(WEIGHTS)}
SCORES = {"US": 9500, "IN": 8800, "BR": 9000, "GB": None}


@pytest.fixture
def world():
    accounts = {cc: Account.create() for cc in WEIGHTS}
    validators = {accounts[cc].address: w for cc, w in WEIGHTS.items()}
    board = RelayBoard(CHAIN_ID, CONTRACT, lambda: validators)
    relay = LocalRelay(board)
    exchanges = {cc: ReportExchange(accounts[cc], relay, CHAIN_ID, CONTRACT,
                                    lambda: validators, quorum_bps=6667)
                 for cc in WEIGHTS}
    return accounts, validators, board, exchanges


def _keys(n: int) -> list[bytes]:
    return [bytes([0x10 + i]) * 32 for i in range(n)]


def _observe_all(exchanges, seq: int, keys: list[bytes]) -> None:
    for cc, ex in exchanges.items():
        vote = (ReportVote(0, 0, 0, abstain=True) if SCORES[cc] is None
                else ReportVote(SCORES[cc], 9000, 2))
        ex.publish(seq, {k: ("US", vote) for k in keys}, MODEL[cc], f"bafy-{cc}")


def _leader(exchanges, validators, seq: int):
    leader = leader_of(seq, validators)
    return next(cc for cc, ex in exchanges.items() if ex.address == leader)


def test_report_assembled_from_four_observations_carries_each_signers_row(world):
    _accounts, validators, _board, exchanges = world
    keys, seq = _keys(3), 5
    _observe_all(exchanges, seq, keys)
    lead = _leader(exchanges, validators, seq)
    report = exchanges[lead].assemble(seq, deadline=2_000_000_000)
    assert report is not None and report["numberKeys"] == sorted(keys)
    for ex in exchanges.values():
        proposal = ex.proposal(seq)
        assert proposal == report
        ex.sign(proposal, ex.own(seq))
    sigs = exchanges["US"].signatures(seq, report)
    assert set(sigs) == set(report["signers"]) == set(validators)
    for signer, sig in sigs.items():
        assert recover_report(report, sig, CHAIN_ID, exchanges["US"].contract) == signer


def test_keys_short_of_quorum_weight_stay_out_of_the_report(world):
    _accounts, validators, _board, exchanges = world
    seq, (shared, lonely) = 6, _keys(2)
    _observe_all(exchanges, seq, [shared])
    exchanges["GB"].publish(seq, {shared: ("US", ReportVote(0, 0, 0, abstain=True)),
                                  lonely: ("US", ReportVote(9900, 9000, 2))}, MODEL["GB"])
    lead = _leader(exchanges, validators, seq)
    report = exchanges[lead].assemble(seq, deadline=2_000_000_000)
    assert report is not None and report["numberKeys"] == [shared]


def test_leader_that_alters_a_vote_gets_no_signature(world):
    accounts, validators, board, exchanges = world
    keys, seq = _keys(2), 7
    _observe_all(exchanges, seq, keys)
    lead = _leader(exchanges, validators, seq)
    victim = next(cc for cc in ("IN", "BR") if cc != lead)
    obs = exchanges[lead].observations(seq)
    votes = {a: [o.items[k][1] for k in sorted(keys)] for a, o in obs.items()}
    votes[accounts[victim].address][0] = ReportVote(2000, 9000, 0)  # victim said ~0.9
    forged = build_report(seq, [(k, "US") for k in sorted(keys)], votes,
                          {a: o.model_hash for a, o in obs.items()}, cid="", deadline=2 ** 40)
    board.post(seal(accounts[lead], {"kind": "proposal", "seq": seq, "chainId": CHAIN_ID,
                                     "contract": CONTRACT, "report": report_json(forged)}))
    proposal = exchanges[victim].proposal(seq)
    with pytest.raises(ReportMismatch, match=r"report row of .* is score 2000 category 0, "
                                             r"its observation score"):
        exchanges[victim].sign(proposal, exchanges[victim].own(seq))
    assert accounts[victim].address not in exchanges[victim].signatures(seq, proposal)


def test_leader_that_changes_a_country_gets_no_signature(world):
    accounts, validators, board, exchanges = world
    keys, seq = _keys(1), 8
    _observe_all(exchanges, seq, keys)
    lead = _leader(exchanges, validators, seq)
    obs = exchanges[lead].observations(seq)
    forged = build_report(seq, [(keys[0], "IN")], {a: [o.items[keys[0]][1]]
                                                   for a, o in obs.items()},
                          {a: o.model_hash for a, o in obs.items()}, cid="", deadline=2 ** 40)
    board.post(seal(accounts[lead], {"kind": "proposal", "seq": seq, "chainId": CHAIN_ID,
                                     "contract": CONTRACT, "report": report_json(forged)}))
    other = next(cc for cc in WEIGHTS if cc != lead)
    with pytest.raises(ReportMismatch, match=r"report says IN, .* observed US"):
        exchanges[other].sign(exchanges[other].proposal(seq), exchanges[other].own(seq))


def _tamper(raw: bytes) -> bytes:
    doc = json.loads(raw)
    doc["body"]["items"][0]["score"] = 100
    return json.dumps(doc).encode()


def test_relay_refuses_a_tampered_observation(world):
    accounts, _validators, board, _exchanges = world
    raw = seal(accounts["IN"], {"kind": "observation", "seq": 9, "chainId": CHAIN_ID,
                                "contract": CONTRACT, "modelHash": "0x" + MODEL["IN"].hex(),
                                "evidenceCid": "", "items": [
                                    {"numberKey": "0x" + _keys(1)[0].hex(), "country": "US",
                                     "score": 9000, "confidence": 9000, "category": 2,
                                     "abstain": False}]})
    with pytest.raises(RelayRefused) as err:
        board.post(_tamper(raw))
    assert err.value.status == 403 and "not the sender" in err.value.detail


def test_receiver_ignores_an_observation_a_relay_tampered_with(world):
    accounts, validators, _board, exchanges = world
    keys, seq = _keys(1), 10

    class TamperingRelay(LocalRelay):
        def fetch(self, seq, kind):
            return [_tamper(r) if json.loads(r)["body"]["sender"] == accounts["IN"].address
                    else r for r in super().fetch(seq, kind)]

    _observe_all(exchanges, seq, keys)
    reader = ReportExchange(accounts["US"], TamperingRelay(_board), CHAIN_ID, CONTRACT,
                            lambda: validators, quorum_bps=6667)
    seen = reader.observations(seq)
    assert accounts["IN"].address not in seen and len(seen) == 3


def _hostile_bodies(accounts):
    key = "0x" + _keys(1)[0].hex()
    item = {"numberKey": key, "country": "US", "score": 1, "confidence": 1, "category": 0,
            "abstain": False}
    base = {"kind": "observation", "seq": 11, "chainId": CHAIN_ID, "contract": CONTRACT,
            "modelHash": "0x" + "00" * 32, "evidenceCid": ""}
    many = [dict(item, numberKey="0x" + i.to_bytes(32, "big").hex()) for i in range(200)]
    return {
        "huge body": (b"{" + b" " * 200_000 + b"}", 413),
        "not JSON": (b"\x00\xff not json", 400),
        "no signature": (json.dumps({"body": base}).encode(), 400),
        "bad signature": (json.dumps({"body": dict(base, sender=accounts["US"].address,
                                                   items=[item]),
                                      "signature": "0x1234"}).encode(), 400),
        "too many keys": (seal(accounts["US"], dict(base, items=many)), 413),
        "bad score": (seal(accounts["US"], dict(base, items=[dict(item, score=10_001)])), 422),
        "other chain": (seal(accounts["US"], dict(base, chainId=1, items=[item])), 422),
        "not a validator": (seal(Account.create(), dict(base, items=[item])), 403),
        "signature before proposal": (seal(accounts["US"], {
            "kind": "signature", "seq": 11, "chainId": CHAIN_ID, "contract": CONTRACT,
            "reportSignature": "0x" + "00" * 65}), 404),
    }


def test_hostile_relay_input_gets_a_clear_4xx(world):
    accounts, _validators, board, _exchanges = world
    for name, (raw, status) in _hostile_bodies(accounts).items():
        with pytest.raises(RelayRefused) as err:
            board.post(raw)
        assert err.value.status == status, (name, err.value)
    assert board.fetch(11, "observation") == []


def test_proposal_from_anyone_but_the_leader_is_refused(world):
    accounts, validators, board, exchanges = world
    keys, seq = _keys(1), 12
    _observe_all(exchanges, seq, keys)
    lead = _leader(exchanges, validators, seq)
    other = next(cc for cc in WEIGHTS if cc != lead)
    report = build_report(seq, [(keys[0], "US")], {accounts[other].address: [ReportVote(1)]},
                          {accounts[other].address: MODEL[other]}, cid="", deadline=2 ** 40)
    with pytest.raises(RelayRefused) as err:
        board.post(seal(accounts[other], {"kind": "proposal", "seq": seq, "chainId": CHAIN_ID,
                                          "contract": CONTRACT, "report": report_json(report)}))
    assert err.value.status == 403 and "leader" in err.value.detail


def test_relay_limits_are_configurable():
    limits = RelayLimits(max_bytes=100)
    board = RelayBoard(CHAIN_ID, CONTRACT, dict, limits)
    with pytest.raises(RelayRefused, match="at most 100"):
        board.post(b"x" * 101)


def test_vote_path_setting_is_checked_before_anything_connects():
    from types import SimpleNamespace

    from oracle.service._app import _choose_path
    from oracle.service._errors import ServiceError

    def settings(path: str, url: str = "") -> SimpleNamespace:
        return SimpleNamespace(oracle_vote_path=path, oracle_relay_url=url,
                               oracle_relay_api_key="", service_vote_ttl=3600)

    _choose_path(settings("votes"), None, None)  # the vote path needs nothing more
    with pytest.raises(ServiceError, match="must be one of votes, report"):
        _choose_path(settings("gossip"), None, None)
    with pytest.raises(ServiceError, match="oracle_relay_url is not set"):
        _choose_path(settings("report"), None, None)
