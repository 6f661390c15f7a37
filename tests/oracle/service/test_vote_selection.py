"""Which numbers get a per-number vote (unit test of the selection; the chain is not
touched: the four-operator test covers the same path on Anvil)."""

from __future__ import annotations

from types import SimpleNamespace

from oracle.service import Operator, Outbox
from oracle.service._scored import ScoredNumber
from oracle.service._votes import VotePolicy, VoteService
from spamledger import NumberHasher
from spamledger._types import Verdict

HASHER = NumberHasher("unit-test-consortium-secret")


def _service(tmp_path) -> VoteService:
    op = Operator.create(tmp_path, "US").ensure_dirs()
    chain = SimpleNamespace(outbox=Outbox(op.outbox_path))
    return VoteService(op, chain, HASHER, None, b"\1" * 32, VotePolicy(cross_border_min=2))


def _row(number: str, verdict: Verdict, reach: int = 1) -> ScoredNumber:
    return ScoredNumber(number, "US", 0.5, verdict, countries_reached=reach)


def test_new_spam_and_cross_border_suspicious_are_chosen(tmp_path):
    votes = _service(tmp_path)
    rows = [_row("+14155550001", Verdict.SPAM), _row("+14155550002", Verdict.SUSPICIOUS),
            _row("+14155550003", Verdict.SUSPICIOUS, reach=3),
            _row("+14155550004", Verdict.NOT_SPAM, reach=3)]
    chosen = votes.select(votes.remember(rows))
    assert {r.e164 for r in chosen.values()} == {"+14155550001", "+14155550003"}


def test_only_changed_verdicts_are_chosen_next_time(tmp_path):
    votes = _service(tmp_path)
    first = [_row("+14155550001", Verdict.SPAM), _row("+14155550002", Verdict.NOT_SPAM)]
    votes.select(votes.remember(first))
    votes.outbox.record_published(votes._seen)
    again = [_row("+14155550001", Verdict.SPAM), _row("+14155550002", Verdict.SPAM)]
    chosen = votes.select(votes.remember(again))
    assert [r.e164 for r in chosen.values()] == ["+14155550002"]
