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
