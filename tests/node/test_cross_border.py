"""The seed's cross-border scenario on a real Anvil, through the Python client.

Five validators (weights 0.4/0.25/0.2/0.1/0.05) vote on a number in one signed bundle, one
abstains, the round finalizes as spam with the weighted score the contract computes itself;
then a business dispute is upheld and the registry shows not spam and the lock.
"""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account
from eth_utils import keccak
from web3.logs import DISCARD

from node import (
    ContractRevert,
    approve_model,
    cast_votes,
    current_round,
    finalize,
    finalize_many,
    make_vote,
    open_dispute,
    open_round,
    open_rounds,
    read_record,
    register_model,
    resolve_dispute,
    sign_score_vote,
    vote_dispute,
    vote_tuple,
)
from spamledger._types import Category, Verdict

SCORES = {"US": (9500, Category.SCAM), "IN": (8800, Category.SCAM),
          "BR": (9000, Category.ROBOCALL), "GB": (6000, Category.SCAM), "FR": None}


def _model_hash(country: str) -> bytes:
    return hashlib.sha256(f"model-{country}".encode()).digest()


@pytest.fixture(scope="module")
def approved_models(consortium):
    countries = list(consortium.validators)
    for i, cc in enumerate(countries):
        register_model(consortium.ledger, _model_hash(cc), f"bafy-metrics-{cc.lower()}",
                       consortium.validators[cc])
        for other in (countries[(i + 1) % 5], countries[(i + 2) % 5]):
            approve_model(consortium.ledger, consortium.validators[cc].address, _model_hash(cc),
                          consortium.validators[other])
    for cc in countries:
        assert consortium.ledger.call("ModelRegistry", "isApproved",
                                      consortium.validators[cc].address, _model_hash(cc))
    return {cc: _model_hash(cc) for cc in countries}


def _signed_votes(consortium, models, key, round_id):
    consensus = consortium.deployment.address("Consensus")
    out = []
    for cc, account in consortium.validators.items():
        entry = SCORES[cc]
        vote = (make_vote(key, round_id, country="US", abstain=True, model_hash=models[cc])
                if entry is None
                else make_vote(key, round_id, country="US", score=entry[0], category=entry[1],
                               model_hash=models[cc], cid=f"bafy-evidence-{cc.lower()}"))
        out.append((vote, sign_score_vote(account, vote, consortium.chain_id, consensus)))
    return out


def _tally_from_events(consortium, key, round_id):
    events = consortium.ledger.events("Consensus", "VoteCast", numberKey=key, round=round_id)
    scoring = [e["args"] for e in events if not e["args"]["abstain"]]
    weight = sum(a["weight"] for a in scoring)
    return len(events), sum(a["weight"] * a["score"] for a in scoring) // weight


@pytest.fixture(scope="module")
def finalized_key(consortium, approved_models):
    key = consortium.hasher.key("+14155550199")
    round_id = open_round(consortium.ledger, key, "US", account=consortium.validators["US"])
    signed = _signed_votes(consortium, approved_models, key, round_id)
    # Any submitter may carry the validators' signatures.
    cast_votes(consortium.ledger, signed, account=consortium.relayer)
    finalize(consortium.ledger, key, account=consortium.relayer)
    return key, round_id, signed


def test_round_finalizes_as_spam_with_the_weighted_score(consortium, finalized_key):
    key, round_id, _ = finalized_key
    record = read_record(consortium.ledger, key)
    count, recomputed = _tally_from_events(consortium, key, round_id)
    expected = (4000 * 9500 + 2500 * 8800 + 2000 * 9000 + 1000 * 6000) // 9500
    assert count == 5
    assert record.score == recomputed == expected
    assert record.verdict == Verdict.SPAM
    assert record.category == Category.SCAM  # 7500 weight for scam vs 2000 robocall
    assert record.majority_country == "US"
    assert current_round(consortium.ledger, key)["status"] == 2


def test_vote_replayed_in_same_round_counts_once(consortium, finalized_key, approved_models):
    """Relayed again alone it reverts; inside a bundle it is skipped (a copied vote cannot
    grief the bundle it was taken from)."""
    key = consortium.hasher.key("+14155550100")
    round_id = open_round(consortium.ledger, key, "US", account=consortium.validators["US"])
    signed = _signed_votes(consortium, approved_models, key, round_id)
    cast_votes(consortium.ledger, signed[:1])
    with pytest.raises(ContractRevert) as info:
        consortium.ledger.transact("Consensus", "castVote", vote_tuple(signed[0][0]),
                                   signed[0][1])
    assert info.value.error_name == "AlreadyVoted"
    (receipt,) = cast_votes(consortium.ledger, signed[:2])
    consensus = consortium.ledger.contract("Consensus")
    skipped = consensus.events.VoteSkipped().process_receipt(receipt, errors=DISCARD)
    assert [(s["args"]["validator"], int(s["args"]["reason"])) for s in skipped] == [
        (consortium.validators["US"].address, 1)]
    assert current_round(consortium.ledger, key)["vote_count"] == 2


def test_signature_from_an_old_round_is_skipped_not_counted(consortium, finalized_key,
                                                           approved_models):
    key, _, signed = finalized_key
    before = current_round(consortium.ledger, key)
    (receipt,) = cast_votes(consortium.ledger, signed[:1])
    skipped = consortium.ledger.contract("Consensus").events.VoteSkipped().process_receipt(
        receipt, errors=DISCARD)
    assert [int(s["args"]["reason"]) for s in skipped] == [2]  # round closed
    assert current_round(consortium.ledger, key) == before


def test_signature_for_another_chain_recovers_to_a_stranger(consortium, approved_models):
    key = consortium.hasher.key("+14155550101")
    round_id = open_round(consortium.ledger, key, "US", account=consortium.validators["US"])
    vote = make_vote(key, round_id, country="US", score=9000, category=Category.SCAM,
                     model_hash=approved_models["US"], cid="bafy-x")
    consensus = consortium.deployment.address("Consensus")
    sig = sign_score_vote(consortium.validators["US"], vote, consortium.chain_id + 1, consensus)
    with pytest.raises(ContractRevert) as info:
        cast_votes(consortium.ledger, [(vote, sig)])
    assert info.value.error_name == "NotValidator"


def test_outsider_signature_is_rejected(consortium, approved_models):
    key = consortium.hasher.key("+14155550102")
    round_id = open_round(consortium.ledger, key, "US", account=consortium.validators["US"])
    vote = make_vote(key, round_id, country="US", score=9000, category=Category.SCAM,
                     model_hash=approved_models["US"], cid="bafy-x")
    sig = sign_score_vote(Account.create(), vote, consortium.chain_id,
                          consortium.deployment.address("Consensus"))
    with pytest.raises(ContractRevert) as info:
        cast_votes(consortium.ledger, [(vote, sig)])
    assert info.value.error_name == "NotValidator"


def test_contract_digest_matches_python_signing(consortium, approved_models):
    from eth_account.messages import encode_typed_data

    from node._eip712 import VOTE_FIELDS, domain
    from spamledger._types import SCORE_VOTE_TYPES

    vote = make_vote(b"\x11" * 32, 3, country="GB", score=1, category=1, model_hash=b"\x22" * 32,
                     cid="c")
    consensus = consortium.deployment.address("Consensus")
    signable = encode_typed_data(domain(consortium.chain_id, consensus), SCORE_VOTE_TYPES, vote)
    python_digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    onchain = consortium.ledger.call("Consensus", "hashVote",
                                     tuple(vote[f] for f in VOTE_FIELDS))
    assert bytes(onchain) == bytes(python_digest)


def test_upheld_dispute_sets_not_spam_and_locks(consortium, finalized_key):
    key, _, _ = finalized_key
    claimant = hashlib.sha256(b"courier-company-ltd").digest()
    dispute_id = open_dispute(consortium.ledger, key, claimant, "bafy-dispute-evidence",
                              account=consortium.relayer)
    for arbiter in consortium.arbiters.values():
        vote_dispute(consortium.ledger, dispute_id, True, arbiter)
    vote_dispute(consortium.ledger, dispute_id, True, consortium.regulator)
    resolve_dispute(consortium.ledger, dispute_id)
    record = read_record(consortium.ledger, key)
    assert record.verdict == Verdict.NOT_SPAM
    assert record.locked_until > consortium.w3.eth.get_block("latest")["timestamp"]
    with pytest.raises(ContractRevert) as info:
        open_round(consortium.ledger, key, "US", account=consortium.validators["US"])
    assert info.value.error_name == "RoundRecordLocked"
    with pytest.raises(ContractRevert) as info:
        resolve_dispute(consortium.ledger, dispute_id)
    assert info.value.error_name == "DisputeClosed"


def test_batched_open_and_finalize_match_the_single_calls(consortium, approved_models):
    """openRounds/finalizeMany: the same records and events as openRound/finalize per key; a
    key opened first by another validator, or listed twice, is skipped, not reverted."""
    ledger = consortium.ledger
    keys = [consortium.hasher.key(f"+1415555031{i}") for i in range(3)]
    open_round(ledger, keys[0], "US", account=consortium.validators["GB"])  # front-runs item 0
    opened = open_rounds(ledger, [(k, "US") for k in [*keys, keys[1]]],
                         account=consortium.validators["US"])
    assert opened.done == {keys[1]: 1, keys[2]: 1}
    assert opened.skipped == {keys[0]: 1, keys[1]: 1}  # OPEN_SKIP_ALREADY_OPEN
    for k in keys:
        cast_votes(ledger, _signed_votes(consortium, approved_models, k, 1))
    finalize(ledger, keys[2])  # finalized first by someone else
    closed = finalize_many(ledger, [*keys, keys[0]], account=consortium.relayer)
    assert closed.done == {keys[0]: 1, keys[1]: 1} and not closed.expired
    assert closed.skipped == {keys[2]: 1, keys[0]: 1}  # FINALIZE_SKIP_NO_OPEN_ROUND
    reference = read_record(ledger, keys[2])  # finalized alone, same votes
    assert reference.verdict == Verdict.SPAM
    for k in keys:
        record = read_record(ledger, k)
        assert (record.score, record.verdict, record.category, record.majority_country) == (
            reference.score, reference.verdict, reference.category, reference.majority_country)
        count, recomputed = _tally_from_events(consortium, k, 1)
        assert (count, recomputed) == (5, record.score)
