"""Epoch snapshots: the committed root verifies any number's leaf on-chain."""

from __future__ import annotations

import secrets

import pytest

from oracle.service import MerkleError
from oracle.service._epoch import read_table
from oracle.service._scored import ScoredNumber
from spamledger._types import Category, Verdict

from .conftest import approve_models


def _table(n: int) -> list[ScoredNumber]:
    base = secrets.randbelow(10**6)
    rows = []
    for i in range(n):
        score = (i * 37) % 10_001 / 10_000
        verdict = Verdict.SPAM if score >= 0.7 else (
            Verdict.SUSPICIOUS if score >= 0.4 else Verdict.NOT_SPAM)
        rows.append(ScoredNumber(e164=f"+4420{base + i:08d}", country="GB", score=score,
                                 verdict=verdict, category=Category(i % 8)))
    return rows


def test_committed_epoch_verifies_leaves_on_chain(consortium, make_operator, service_ipfs):
    rigs = [make_operator(cc) for cc in ("GB", "US", "IN")]
    approve_models(rigs)
    gb = rigs[0]
    rows = _table(300)
    epoch = gb.chain.next_epoch("GB")
    snap = gb.epochs.build(rows, epoch, gb.model_hash)
    receipt = gb.epochs.commit(snap)
    assert receipt is not None and receipt["status"] == 1
    assert gb.epochs.committed_root(epoch) == snap.root

    proof = gb.epochs.proof(rows[123].e164, epoch)
    assert proof.score == rows[123].score_bps and proof.verdict == rows[123].verdict
    assert gb.epochs.verify_on_chain(proof)
    forged = type(proof)(**{**proof.__dict__, "score": (proof.score + 1) % 10_001})
    assert not gb.epochs.verify_on_chain(forged)

    stored = read_table(service_ipfs.get(snap.cid))
    assert len(stored["key"]) == 300
    assert gb.epochs.commit(snap) is None  # once only
    events = consortium.ledger.events("SnapshotRegistry", "EpochCommitted", 0, "latest")
    assert sum(1 for e in events if e["args"]["epoch"] == epoch
               and bytes(e["args"]["country"]) == b"GB") == 1  # epochs are per country


def test_proof_of_an_unknown_number_is_refused(make_operator):
    rig = make_operator("GB")
    rows = _table(5)
    snap = rig.epochs.build(rows, 7, rig.model_hash)
    assert snap.tree.count == 5
    with pytest.raises(MerkleError, match="not in this epoch"):
        rig.epochs.proof("+442000000000", 7)


def _runner(rig, epoch_seconds: int):
    from types import SimpleNamespace

    from oracle.service import ContinuousRunner

    app = SimpleNamespace(operator=rig.op, outbox=rig.outbox, chain=rig.chain,
                          epochs=rig.epochs, votes=rig.votes)
    return ContinuousRunner(app, poll_seconds=0.01, epoch_seconds=epoch_seconds,
                            retrain_seconds=0)


def test_a_committed_epoch_is_never_rebuilt_by_build_or_by_the_continuous_runner(
        make_operator):
    from oracle.service import SnapshotImmutable
    from oracle.service._epoch import epoch_of
    from oracle.service._run import PENDING_EPOCH

    rigs = [make_operator(cc) for cc in ("IN", "US", "GB")]
    approve_models(rigs)
    india = rigs[0]
    epoch_seconds = 10**7 + secrets.randbelow(10**7)
    epoch = india.chain.next_epoch("IN")  # epochs are sequential per country (ledger v2)
    # The continuous runner took this number for the clock period, then stopped before
    # committing; meanwhile `oracle epoch` committed it with the table of the time.
    india.outbox.set_meta(PENDING_EPOCH, f"{epoch_of(india.chain.now(), epoch_seconds)}:{epoch}")
    committed_rows = _table(300)
    snap = india.epochs.build(committed_rows, epoch, india.model_hash)
    assert india.epochs.commit(snap) is not None
    committed_bytes = snap.path.read_bytes()

    with pytest.raises(SnapshotImmutable, match="committed on-chain"):
        india.epochs.build(_table(200), epoch, india.model_hash)
    runner = _runner(india, epoch_seconds)
    runner.table = _table(250)  # an hour later the drop folder holds other numbers
    assert runner.maybe_epoch() is None  # nothing committed by this cycle
    assert snap.path.read_bytes() == committed_bytes
    assert india.chain.next_epoch("IN") == epoch + 1  # nor another epoch taken for it
    proof = india.epochs.verified_proof(committed_rows[42].e164, epoch)
    assert proof.root == snap.root


def test_a_refused_epoch_commit_raises_and_the_runner_does_not_report_it(make_operator):
    from oracle.service import ActionFailed

    rig = make_operator("GB")
    rows = _table(20)
    epoch = rig.chain.next_epoch("GB")  # the number the registry accepts (ledger v2)
    unapproved = bytes.fromhex("de" * 32)
    snap = rig.epochs.build(rows, epoch, unapproved)
    with pytest.raises(ActionFailed, match="ModelNotApproved"):
        rig.epochs.commit(snap)
    assert rig.epochs.committed_root(epoch) is None

    approve_models([rig, make_operator("US"), make_operator("IN")])
    retried = rig.epochs.build(rows, epoch, rig.model_hash)  # the operator fixed the model
    assert rig.epochs.commit(retried) is not None
    assert rig.epochs.committed_root(epoch) == retried.root


def test_a_proof_that_cannot_verify_on_chain_is_an_error_naming_why(make_operator):
    rig = make_operator("GB")
    rows = _table(10)
    epoch = 4_000_000 + secrets.randbelow(10**6)
    rig.epochs.build(rows, epoch, rig.model_hash)
    with pytest.raises(MerkleError, match="not committed"):
        rig.epochs.verified_proof(rows[3].e164, epoch)
    with pytest.raises(MerkleError, match="no snapshot of epoch 5"):
        rig.epochs.proof(rows[3].e164, 5)


def test_snapshot_leaves_take_the_verdict_rounds_would_give_the_same_score(make_operator):
    rig = make_operator("GB")
    # The model called 0.68 spam (its own threshold); the ledger's rule is the consortium's
    # thresholds for GB (default spam >= 7000 bps, suspicious >= 4000).
    spam_by_model = ScoredNumber(e164="+442079460001", country="GB", score=0.68,
                                 verdict=Verdict.SPAM, category=Category.SCAM)
    clear = ScoredNumber(e164="+442079460002", country="GB", score=0.95,
                         verdict=Verdict.SPAM, category=Category.SCAM)
    epoch = 6_000_000 + secrets.randbelow(10**6)
    rig.epochs.build([spam_by_model, clear], epoch, rig.model_hash)
    spam, suspicious = rig.chain.call("Consensus", "thresholdsOf", b"GB")
    assert suspicious <= 6800 < spam
    assert rig.epochs.proof(spam_by_model.e164, epoch).verdict == Verdict.SUSPICIOUS
    assert rig.epochs.proof(clear.e164, epoch).verdict == Verdict.SPAM
