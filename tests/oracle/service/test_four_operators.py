"""Four operators (US, IN, BR, GB) on one Anvil: a cross-border scammer finalizes as spam."""

from __future__ import annotations

import json
import secrets

from oracle.service._chain import ROUND_FINALIZED
from oracle.service._evidence import check_no_raw_numbers
from oracle.service._scored import ScoredNumber
from spamledger._types import Category, Verdict

from .conftest import approve_models

WEIGHTS = {"US": 4000, "IN": 2500, "BR": 2000, "GB": 1000}


def _fresh_number() -> str:
    return "+1415555" + f"{secrets.randbelow(10_000):04d}"


def _scammer_row(e164: str, score: float, reached: int = 3) -> ScoredNumber:
    return ScoredNumber(
        e164=e164, country="US", score=score, verdict=Verdict.SPAM, category=Category.SCAM,
        confidence=0.9, countries_reached=reached,
        features={"calls_24h": 412.0, "distinct_callees_ratio": 0.97, "short_call_share": 0.81,
                  "report_spam_distinct": 14.0},
        reasons=("many distinct callees", "very short calls", "14 spam reports"),
        reports={"spam": 14, "not_spam": 0})


def test_cross_border_scammer_finalizes_as_spam_with_weighted_score(
        consortium, make_operator, service_ipfs):
    rigs = {cc: make_operator(cc) for cc in WEIGHTS}
    approve_models(list(rigs.values()))
    scammer = _fresh_number()
    key = consortium.hasher.key(scammer)
    scores = {"US": 0.95, "IN": 0.90, "BR": 0.85}  # GB's subscribers were not called

    reports = {}
    for cc in ("US", "IN", "BR", "GB"):
        rows = [_scammer_row(scammer, scores[cc])] if cc in scores else []
        reports[cc] = rigs[cc].votes.push(rows)

    assert reports["US"].opened == 1
    record = consortium.ledger.call("SpamRegistry", "get", key)
    expected = sum(WEIGHTS[c] * round(s * 10_000) for c, s in scores.items()) // sum(
        WEIGHTS[c] for c in scores)
    assert record[0] == expected  # score, computed by the contract
    assert record[1] == Verdict.SPAM and record[2] == Category.SCAM
    assert rigs["US"].chain.current_round(key).status == ROUND_FINALIZED

    votes = consortium.ledger.events("Consensus", "VoteCast", 0, "latest", numberKey=key)
    voters = {v["args"]["validator"] for v in votes}
    assert voters == {rigs[c].account.address for c in scores}
    for vote in votes:
        doc = service_ipfs.get_json(vote["args"]["evidenceCid"])
        text = json.dumps(doc)
        assert doc["numberKey"] == "0x" + key.hex()
        assert scammer not in text and scammer[1:] not in text
        check_no_raw_numbers(doc)
        assert doc["model"] == "0x" + vote["args"]["modelHash"].hex()

    # The round is closed: Consensus keeps no seats for it, so has_voted reads its events.
    round_id = rigs["US"].chain.current_round(key).id
    us = rigs["US"].account.address
    assert not consortium.ledger.call("Consensus", "hasVoted", key, round_id, us)
    assert all(rigs[c].chain.has_voted(key, round_id) for c in scores)
    assert not rigs["GB"].chain.has_voted(key, round_id)
    assert not rigs["US"].chain.has_voted(key, round_id + 1)


def test_operator_without_data_abstains_and_round_uses_scoring_votes_only(
        consortium, make_operator):
    rigs = {cc: make_operator(cc) for cc in WEIGHTS}
    approve_models(list(rigs.values()))
    number = _fresh_number()
    key = consortium.hasher.key(number)
    rigs["IN"].votes.push([_scammer_row(number, 0.88, reached=2)])
    rigs["GB"].votes.push([])  # no data: abstains (0.25 + 0.1 < quorum)
    assert rigs["GB"].chain.has_voted(key, 1)
    assert rigs["US"].chain.current_round(key).status != ROUND_FINALIZED
    rigs["US"].votes.push([])  # no data either: abstains, quorum reached, finalizes
    record = consortium.ledger.call("SpamRegistry", "get", key)
    assert record[0] == 8800 and record[1] == Verdict.SPAM
    abstained = [v for v in consortium.ledger.events("Consensus", "VoteCast", 0, "latest",
                                                     numberKey=key) if v["args"]["abstain"]]
    assert {v["args"]["validator"] for v in abstained} == {rigs["GB"].account.address,
                                                          rigs["US"].account.address}


def test_pushing_the_same_scores_again_sends_nothing(consortium, make_operator):
    rigs = {cc: make_operator(cc) for cc in WEIGHTS}
    approve_models(list(rigs.values()))
    number = _fresh_number()
    row = _scammer_row(number, 0.9, reached=2)
    first = rigs["US"].votes.push([row])
    again = rigs["US"].votes.push([row])
    assert first.votes_planned == 1 and again.votes_planned == 0 and again.opened == 0
    key = consortium.hasher.key(number)
    votes = consortium.ledger.events("Consensus", "VoteCast", 0, "latest", numberKey=key)
    assert len(votes) == 1


def test_a_vote_relayed_first_by_someone_else_is_settled_and_the_bundle_counts(
        consortium, make_operator):
    """A mempool watcher copies one vote out of the operator's pending bundle and relays it
    first: the bundle still counts the others, and the copied vote is settled as counted
    (not failed) from the contract's VoteSkipped event."""
    from oracle.service._outbox import MINED
    from oracle.service._votes import PushReport, _vote_tuple

    rigs = {cc: make_operator(cc) for cc in WEIGHTS}
    approve_models(list(rigs.values()))
    us = rigs["US"]
    rows = [_scammer_row(_fresh_number(), 0.9, reached=2) for _ in range(3)]
    report = PushReport()
    todo = [(key, us.votes.ensure_round(key, row, report), row)
            for key, row in us.votes.select(us.votes.remember(rows)).items()]
    assert us.votes.plan_votes(todo) == 3
    signed, _ = us.votes.sign_pending()
    copied = signed[0]
    consortium.ledger.transact("Consensus", "castVote", _vote_tuple(copied.payload),
                               bytes.fromhex(copied.payload["signature"]),
                               account=consortium.relayer)
    # the race: the operator's bundle was built before the copy landed
    assert us.votes._send_bundle(signed) == 2
    assert {us.outbox.get(a.id).state for a in signed} == {MINED}
    for action in signed:
        key = bytes.fromhex(action.payload["numberKey"])
        assert us.chain.has_voted(key, action.payload["round"])
    skipped = consortium.ledger.events("Consensus", "VoteSkipped", 0, "latest",
                                       numberKey=bytes.fromhex(copied.payload["numberKey"]))
    assert [int(e["args"]["reason"]) for e in skipped] == [1]


def test_rounds_at_quorum_are_finalized_in_one_batch_transaction(consortium, make_operator):
    rigs = {cc: make_operator(cc) for cc in WEIGHTS}
    approve_models(list(rigs.values()))
    scammers = [_fresh_number() for _ in range(5)]
    keys = [consortium.hasher.key(n) for n in scammers]
    start = consortium.w3.eth.block_number
    reports = {cc: rigs[cc].votes.push([_scammer_row(n, 0.9) for n in scammers])
               for cc in ("US", "IN", "BR")}
    finalized = consortium.ledger.events("Consensus", "RoundFinalized", start + 1, "latest")
    mine = [e for e in finalized if bytes(e["args"]["numberKey"]) in set(keys)]
    assert len(mine) == len(set(keys))
    # Every one of them closed by the same transaction: finalizeMany, not one finalize each.
    assert len({e["transactionHash"] for e in mine}) == 1
    tx = consortium.w3.eth.get_transaction(mine[0]["transactionHash"])
    fn, args = consortium.ledger.contract("Consensus").decode_function_input(tx["input"])
    assert fn.fn_name == "finalizeMany" and set(keys) <= {bytes(k) for k in args["numberKeys"]}
    # What the push reports as finalized is what that transaction closed (the shared chain
    # may hold other tests' rounds these validators answered: they close in it too).
    closed = [e for e in finalized if e["transactionHash"] == mine[0]["transactionHash"]]
    expired = consortium.ledger.events("Consensus", "RoundExpired", start + 1, "latest")
    closed += [e for e in expired if e["transactionHash"] == mine[0]["transactionHash"]]
    assert reports["BR"].finalized == len(closed) == len(args["numberKeys"])
    assert reports["US"].finalized == reports["IN"].finalized == 0
