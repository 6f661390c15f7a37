"""The oracle service's report path on a real Anvil: five operators (every active validator)
exchange observations through one relay, the leader's report lands on ReportConsensus, and
the records equal the vote path's for the same scores; a replayed report is refused."""

from __future__ import annotations

import secrets

import pytest

from node import ROUND_BASE, ContractRevert, read_record, submit_report
from oracle.service._relay import LocalRelay
from oracle.service._reportpath import ReportPolicy, relay_board, report_path_for
from oracle.service._scored import ScoredNumber
from spamledger._types import Category, Verdict

from .conftest import approve_models

COUNTRIES = ("US", "IN", "BR", "GB", "FR")
SCORES = {"US": 0.95, "IN": 0.90, "BR": 0.85}  # GB's and FR's subscribers were not called


def _number() -> str:
    return "+1415555" + f"{secrets.randbelow(10_000):04d}"


def _row(e164: str, score: float) -> ScoredNumber:
    return ScoredNumber(e164=e164, country="US", score=score, verdict=Verdict.SPAM,
                        category=Category.SCAM, confidence=0.9, countries_reached=3,
                        features={"calls_24h": 300.0}, reasons=("many distinct callees",),
                        reports={"spam": 9, "not_spam": 0})


@pytest.fixture
def rigs(make_operator):
    rigs = {cc: make_operator(cc) for cc in COUNTRIES}
    approve_models(list(rigs.values()))
    return rigs


def _push_all(rigs, rows_by_cc, passes: int) -> dict[str, list]:
    pushes: dict[str, list] = {cc: [] for cc in rigs}
    for n in range(passes):
        for cc, rig in rigs.items():
            pushes[cc].append(rig.votes.push(rows_by_cc.get(cc, []) if n == 0 else []))
    return pushes


def test_report_from_operators_observations_finalizes_with_the_vote_paths_record(
        consortium, rigs):
    by_vote, by_report = _number(), _number()
    _push_all(rigs, {cc: [_row(by_vote, s)] for cc, s in SCORES.items()}, passes=2)
    vote_record = read_record(consortium.ledger, consortium.hasher.key(by_vote))
    assert vote_record.verdict == Verdict.SPAM

    board = relay_board(rigs["US"].chain)
    for rig in rigs.values():
        rig.votes.use_report_path(report_path_for(rig.votes, LocalRelay(board),
                                                  ReportPolicy(wait_pushes=2)))
    pushes = _push_all(rigs, {cc: [_row(by_report, s)] for cc, s in SCORES.items()},
                       passes=3)
    key = consortium.hasher.key(by_report)
    record = read_record(consortium.ledger, key)
    assert record.round > ROUND_BASE  # decided by a report
    assert (record.score, record.verdict, record.category) == (
        vote_record.score, vote_record.verdict, vote_record.category)
    assert sum(p.reported for ps in pushes.values() for p in ps) == 1
    assert not any(p.opened for ps in pushes.values() for p in ps)  # no Consensus round
    votes = consortium.ledger.events("ReportConsensus", "VoteCast", 0, "latest", numberKey=key)
    assert {v["args"]["validator"]: v["args"]["abstain"] for v in votes} == {
        rig.account.address: cc not in SCORES for cc, rig in rigs.items()}
    for rig in rigs.values():  # the next push settles the landed report everywhere
        rig.votes.push([])
        assert rig.votes.reports.pending() == {}


def test_a_replayed_report_is_refused(consortium, rigs):
    board = relay_board(rigs["US"].chain)
    for rig in rigs.values():
        rig.votes.use_report_path(report_path_for(rig.votes, LocalRelay(board),
                                                  ReportPolicy(wait_pushes=1)))
    number = _number()
    pushes = _push_all(rigs, {cc: [_row(number, s)] for cc, s in SCORES.items()}, passes=3)
    seq = max(p.report_seq for ps in pushes.values() for p in ps[:1])
    exchange = rigs["US"].votes.reports.exchange
    report = exchange.proposal(seq)
    assert report is not None and consortium.ledger.call("ReportConsensus", "seqUsed", seq)
    with pytest.raises(ContractRevert, match="ReportAlreadySubmitted"):
        submit_report(consortium.ledger, report, exchange.signatures(seq, report),
                      account=rigs["FR"].account)
    # The service does not send it again either.
    again = [rig.votes.push([]) for rig in rigs.values()]
    assert not any(p.failed for p in again)


@pytest.mark.slow
def test_more_keys_than_one_report_holds_land_in_several_reports(consortium, rigs):
    board = relay_board(rigs["US"].chain)
    for rig in rigs.values():
        rig.votes.use_report_path(report_path_for(rig.votes, LocalRelay(board),
                                                  ReportPolicy(wait_pushes=2)))
    numbers = sorted({_number() for _ in range(150)})  # every scoring operator sees them all
    rows = {cc: [_row(n, s) for n in numbers] for cc, s in SCORES.items()}
    for n in range(12):
        for cc, rig in rigs.items():
            rig.votes.push(rows.get(cc, []) if n == 0 else [])
        if not any(rig.votes.reports.pending() for rig in rigs.values()):
            break
    assert not any(rig.votes.reports.pending() for rig in rigs.values())
    rounds = set()
    for number in numbers:
        record = read_record(consortium.ledger, consortium.hasher.key(number))
        assert record.round > ROUND_BASE and record.verdict == Verdict.SPAM
        rounds.add(record.round)
    assert len(rounds) >= 2  # at most 128 keys per report


class Crash(Exception):
    """Stands for the process dying right after a transaction left it."""


def test_a_crash_after_sending_the_report_is_finished_by_a_restart(consortium, rigs,
                                                                   monkeypatch):
    import oracle.service._submit as submit
    from oracle.service._votes import VotePolicy, VoteService

    board = relay_board(rigs["US"].chain)
    for rig in rigs.values():
        rig.votes.use_report_path(report_path_for(rig.votes, LocalRelay(board),
                                                  ReportPolicy(wait_pushes=1)))
    crashed: list[str] = []

    def failpoint(name: str) -> None:
        if name == "after_sent" and not crashed:
            crashed.append(name)
            raise Crash(name)

    monkeypatch.setattr(submit, "failpoint", failpoint)
    number = _number()
    rows = {cc: [_row(number, s)] for cc, s in SCORES.items()}
    victim = None
    for n in range(4):
        for cc, rig in rigs.items():
            try:
                rig.votes.push(rows.get(cc, []) if n == 0 else [])
            except Crash:
                victim = cc
                break
        if victim:
            break
    assert victim is not None, "no report was sent"
    rig = rigs[victim]
    sent = [a for a in rig.outbox.actions(["sent"]) if a.kind == "report"]
    assert len(sent) == 1  # recorded before it left, never settled
    # Restart: a new service over the same outbox and relay; its memory is gone.
    rig.votes = VoteService(rig.op, rig.chain, consortium.hasher, rig.votes.evidence,
                            rig.model_hash, VotePolicy())
    rig.votes.use_report_path(report_path_for(rig.votes, LocalRelay(board)))
    report = rig.votes.push([])
    assert not report.failed
    assert rig.outbox.get(sent[0].id).state == "mined"
    assert rig.votes.reports.pending() == {}
    record = read_record(consortium.ledger, consortium.hasher.key(number))
    assert record.round > ROUND_BASE and record.verdict == Verdict.SPAM
    submitted = consortium.ledger.events("ReportConsensus", "ReportSubmitted", 0, "latest")
    assert sum(1 for e in submitted if e["args"]["seq"] == record.round - ROUND_BASE) == 1


@pytest.mark.slow  # 101 s at load 10 on 2 cores
def test_a_leader_altering_a_vote_gets_no_signature_and_the_numbers_use_the_vote_path(
        consortium, rigs, monkeypatch, caplog):
    import oracle.service._exchange as exchange
    from node import ReportVote

    board = relay_board(rigs["US"].chain)
    for rig in rigs.values():
        rig.votes.use_report_path(report_path_for(rig.votes, LocalRelay(board),
                                                  ReportPolicy(wait_pushes=1,
                                                               stall_pushes=3)))
    honest = exchange.build_report

    def altering(seq, keys, votes, models, **kw):
        report = honest(seq, keys, votes, models, **kw)
        j = report["signers"].index(rigs["IN"].account.address)
        report["votes"][j] = ReportVote(100, 9000, 0).packed()  # IN said 0.90 spam
        return report

    monkeypatch.setattr(exchange, "build_report", altering)
    number = _number()
    key = consortium.hasher.key(number)
    rows = {cc: [_row(number, s)] for cc, s in SCORES.items()}
    pushes = _push_all(rigs, rows, passes=5)
    refused = sum(p.reasons.get("report refused", 0) for p in pushes["IN"])
    assert refused >= 1 and "report row of" in caplog.text
    assert not consortium.ledger.call("ReportConsensus", "seqUsed", pushes["IN"][0].report_seq)
    # The report never landed: after stall_pushes the numbers went through Consensus.
    record = read_record(consortium.ledger, key)
    assert 0 < record.round < ROUND_BASE and record.verdict == Verdict.SPAM
