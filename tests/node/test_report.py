"""Signed reports on a real Anvil: built and signed in Python, verified by ReportConsensus.

Five validators (weights 0.4/0.25/0.2/0.1/0.05) sign one report for three numbers; a
relayer submits it; each number's record equals the weighted tally recomputed from the
``VoteCast`` events the report contract emitted, under the report's round id.
"""

from __future__ import annotations

import hashlib

import pytest

from node import (
    ROUND_BASE,
    ContractRevert,
    ReportVote,
    approve_model,
    build_report,
    free_seq,
    read_record,
    recover_report,
    register_model,
    report_tuple,
    sign_report,
    submit_report,
)
from spamledger._types import Category, Verdict

CONTRACT = "ReportConsensus"
# Per validator: (score, category) for every key, or None to abstain.
VOTES = {"US": (9500, Category.SCAM), "IN": (8800, Category.SCAM),
         "BR": (9000, Category.ROBOCALL), "GB": (6000, Category.SCAM), "FR": None}


def _model_hash(country: str) -> bytes:
    return hashlib.sha256(f"report-model-{country}".encode()).digest()


@pytest.fixture(scope="module")
def models(consortium):
    countries = list(consortium.validators)
    for i, cc in enumerate(countries):
        register_model(consortium.ledger, _model_hash(cc), f"bafy-report-{cc.lower()}",
                       consortium.validators[cc])
        for other in (countries[(i + 1) % 5], countries[(i + 2) % 5]):
            approve_model(consortium.ledger, consortium.validators[cc].address, _model_hash(cc),
                          consortium.validators[other])
    return {consortium.validators[cc].address: _model_hash(cc) for cc in countries}


def _report(consortium, models, numbers: list[str], seq: int):
    keys = [(consortium.hasher.key(n), "US") for n in numbers]
    votes = {}
    for cc, account in consortium.validators.items():
        entry = VOTES[cc]
        vote = ReportVote(abstain=True) if entry is None else ReportVote(entry[0],
                                                                           category=entry[1])
        votes[account.address] = [vote] * len(keys)
    return build_report(seq, keys, votes, models, cid="bafy-report-evidence")


def _signatures(consortium, report):
    address = consortium.deployment.address(CONTRACT)
    return {a.address: sign_report(a, report, consortium.chain_id, address)
            for a in consortium.validators.values()}


def test_python_digest_is_the_contracts_digest(consortium, models):
    report = _report(consortium, models, ["+14155550301", "+14155550302"], 1)
    address = consortium.deployment.address(CONTRACT)
    us = consortium.validators["US"]
    signature = sign_report(us, report, consortium.chain_id, address)
    assert recover_report(report, signature, consortium.chain_id, address) == us.address
    digest = consortium.ledger.call(CONTRACT, "hashReport", report_tuple(report))
    from eth_account import Account
    assert Account._recover_hash(digest, signature=signature) == us.address


def test_a_report_finalizes_each_number_with_the_tally_of_its_events(consortium, models):
    numbers = ["+14155550311", "+14155550312", "+14155550313"]
    seq = free_seq(consortium.ledger, 100)
    report = _report(consortium, models, numbers, seq)
    outcome = submit_report(consortium.ledger, report, _signatures(consortium, report),
                            account=consortium.relayer)
    expected = (4000 * 9500 + 2500 * 8800 + 2000 * 9000 + 1000 * 6000) // 9500
    assert set(outcome.finalized.values()) == {ROUND_BASE + seq}
    for number in numbers:
        key = consortium.hasher.key(number)
        assert key in outcome.finalized
        events = consortium.ledger.events(CONTRACT, "VoteCast", numberKey=key)
        scoring = [e["args"] for e in events if not e["args"]["abstain"]]
        weight = sum(a["weight"] for a in scoring)
        recomputed = sum(a["weight"] * a["score"] for a in scoring) // weight
        record = read_record(consortium.ledger, key)
        assert len(events) == 5
        assert record.score == recomputed == expected
        assert record.verdict == Verdict.SPAM
        assert record.category == Category.SCAM
        assert record.majority_country == "US"
        assert record.round == ROUND_BASE + seq


def test_a_replayed_report_reverts(consortium, models):
    seq = free_seq(consortium.ledger, 200)
    report = _report(consortium, models, ["+14155550321"], seq)
    signatures = _signatures(consortium, report)
    submit_report(consortium.ledger, report, signatures)
    with pytest.raises(ContractRevert) as info:
        submit_report(consortium.ledger, report, signatures, account=consortium.relayer)
    assert info.value.error_name == "ReportAlreadySubmitted"


def test_a_signature_from_someone_else_reverts(consortium, models):
    seq = free_seq(consortium.ledger, 300)
    report = _report(consortium, models, ["+14155550331"], seq)
    signatures = _signatures(consortium, report)
    address = consortium.deployment.address(CONTRACT)
    us = consortium.validators["US"].address
    signatures[us] = sign_report(consortium.relayer, report, consortium.chain_id, address)
    with pytest.raises(ContractRevert) as info:
        submit_report(consortium.ledger, report, signatures)
    assert info.value.error_name == "WrongSigner"
    assert read_record(consortium.ledger, consortium.hasher.key("+14155550331")).round == 0


def test_the_deployment_lets_the_report_contract_write_records(consortium):
    ledger = consortium.ledger
    role = ledger.call("ValidatorSet", "REGISTRY_WRITER_ROLE")
    address = consortium.deployment.address(CONTRACT)
    assert ledger.call("ValidatorSet", "hasRole", role, address)
    assert ledger.call(CONTRACT, "consensus") == consortium.deployment.address("Consensus")
