"""Continuous mode on simulated networks: a campaign in the newest files reaches an
on-chain spam verdict within one cycle (every operator rescoring once, then answering)."""

from __future__ import annotations

import pytest

from oracle._simulate import simulate
from oracle.service._app import OracleApp
from oracle.service._run import ContinuousRunner
from oracle.service._scenario import (
    cut_before_end,
    new_spam_numbers,
    release_new_data,
    stage_operator,
    train_operator,
)
from spamledger._settings import load_settings
from spamledger._types import Verdict

COUNTRIES = ("US", "IN", "BR", "GB")
VERDICT_SHARE = 5  # Consensus.NO_CONSENSUS_VERDICT_SHARE


def _runner(rig, store, hasher) -> ContinuousRunner:
    app = OracleApp(load_settings(environ={}), rig.op, rig.outbox, rig.chain, store, hasher,
                    rig.models, rig.epochs, rig.votes)
    return ContinuousRunner(app, poll_seconds=0, epoch_seconds=0, retrain_seconds=0)


@pytest.mark.slow
def test_campaign_in_newest_files_gets_spam_verdict_within_one_cycle(
        tmp_path, consortium, make_operator, service_ipfs):
    sim = simulate(tmp_path / "sim", scale=0.15, days=14, seed=11)
    cut = cut_before_end(sim, hours=36)
    rigs = {cc: make_operator(cc) for cc in COUNTRIES}
    for rig in rigs.values():
        stage_operator(rig.op, sim, cut)
        digest, card = train_operator(rig.op, cut)
        rig.models.register(digest, card)
        rig.model_hash = bytes.fromhex(digest)
    for rig in rigs.values():
        for other in rigs.values():
            if other is not rig:
                other.models.approve(rig.model_hash, rig.chain.address)
    for rig in rigs.values():
        rig.votes.set_model(rig.models.promote(rig.model_hash))
    runners = {cc: _runner(rig, service_ipfs, consortium.hasher) for cc, rig in rigs.items()}
    for _ in range(2):  # history: every operator scores it; rounds get answered
        for runner in runners.values():
            runner.cycle()

    for rig in rigs.values():
        assert release_new_data(rig.op)
    # One unreadable file in the US drop folder: moved aside, the cycle goes on.
    (rigs["US"].op.drop_dir / "calls" / "broken.parquet").write_bytes(b"not parquet")
    reports = {cc: runner.cycle() for cc, runner in runners.items()}  # the cycle
    for runner in runners.values():  # answers to rounds opened later in the same cycle
        runner.app.votes.push([])
    assert all(r.new_files == 2 for r in reports.values())
    assert reports["US"].quarantined == ["calls/broken.parquet"]
    assert (rigs["US"].op.drop_dir / "quarantine" / "calls" / "broken.parquet").exists()

    campaign = set(new_spam_numbers(sim, cut)["number"])
    flagged = {row.e164 for runner in runners.values() for row in runner.table
               if row.e164 in campaign and row.verdict == Verdict.SPAM}
    assert flagged, "no campaign number was flagged by any operator's model"
    keys = [consortium.hasher.key(n) for n in sorted(flagged)]
    verdicts = consortium.ledger.call("SpamRegistry", "verdictsOf", keys)
    # A number flagged only by operators holding less than the verdict share (2500 bps of the
    # eligible weight) while the others abstain (no data) gets no per-number verdict: its
    # round expires (RoundNoConsensus reason 5) and it reaches the chain in the epoch snapshot.
    reasons = {bytes(e["args"]["numberKey"]): int(e["args"]["reason"])
               for e in consortium.ledger.events("Consensus", "RoundNoConsensus", 0, "latest")}
    for key, verdict in zip(keys, verdicts, strict=True):
        if verdict != Verdict.SPAM:
            assert reasons.get(key) == VERDICT_SHARE, (key.hex(), verdict, reasons.get(key))
    assert Verdict.SPAM in list(verdicts), "no campaign number reached an on-chain spam verdict"
