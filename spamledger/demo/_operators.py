"""The four operators' oracles: simulate, train, register and approve models, score, push.

Each operator sees only its own network's calls and its own subscribers' complaints (the
simulator writes one call file per network); it trains on the first ten days and then the
last four days land in its drop folder as "the newest files", as in continuous operation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from spamledger._settings import Settings

logger = logging.getLogger(__name__)

TRAIN_DAYS = 10


@dataclass
class OperatorRig:
    """One operator's oracle service and what it produced."""

    country: str
    app: Any
    runner: Any
    model_hash: str = ""
    card: dict[str, Any] = field(default_factory=dict)
    pushes: list[Any] = field(default_factory=list)


def simulate_networks(settings: Settings, scale: float, seed: int) -> dict[str, Path]:
    import oracle

    return dict(oracle.simulate(Path(settings.data_dir) / "sim", scale=scale, days=14,
                                seed=seed))


def training_cut(sim: dict[str, Path]) -> datetime:
    import json

    meta = json.loads(Path(sim["meta"]).read_text())
    start = datetime.fromisoformat(meta["start"]).replace(tzinfo=None)
    return start + timedelta(days=TRAIN_DAYS)


def make_rig(settings: Settings, country: str, relay: Any = None) -> OperatorRig:
    """One operator's service; ``relay`` is its transport to the others (report path)."""
    from oracle.service._app import OracleApp
    from oracle.service._run import ContinuousRunner

    op_settings = settings.replace(operator_country=country, operator_name=country.lower())
    app = OracleApp.from_settings(op_settings, relay=relay)
    return OperatorRig(country, app, ContinuousRunner.from_app(app))


def relay_board(ledger: Any) -> Any:
    """The relay the operators exchange report messages through. The demo runs the four
    operators in one process, so the relay is an in-process board; each operator still
    reaches it only through its own transport, which passes bytes and checks every message
    (in production the relay is the API's ``/v1/relay``)."""
    from oracle.service._reportpath import relay_board as board_of

    return board_of(ledger)


def stage_and_train(rig: OperatorRig, sim: dict[str, Path], cut: datetime) -> None:
    from oracle import LabelError
    from oracle.service._scenario import stage_operator, train_operator

    stage_operator(rig.app.operator, sim, cut)
    try:
        rig.model_hash, rig.card = train_operator(rig.app.operator, cut)
    except LabelError as exc:
        # Labels come from confirmed complaints only; a small simulated network can draw
        # too few of them for one operator to train on its own data.
        raise LabelError(f"operator {rig.country}: {exc}; its simulated network drew too "
                         "few confirmed complaints: run the demo with a larger --scale "
                         "(default 0.8)") from exc


def learn_together(rigs: dict[str, OperatorRig], sim: dict[str, Path],
                   cut: datetime) -> dict[str, dict[str, Any]]:
    """Each operator retrains with the others' approved models, fetched from IPFS.

    Every operator reads the registry for the other validators' approved models, fetches
    each portable copy (never a pickle) by the CIDs its on-chain card names, checks it
    against the card's hash (:func:`oracle.service._peers.fetch_peer_models`), and learns
    with them. The new model is registered, approved and promoted like the first; an
    operator whose new model fails the no-regression check keeps voting with the old one.
    Returns, per operator, precision and recall at the end of the data for the model
    trained alone and the one trained with its peers, and how many peers it fetched.
    """
    import oracle
    from oracle.service import ModelGovernanceError
    from oracle.service._peers import fetch_peer_models
    from oracle.service._scenario import train_operator

    alone = {cc: (rig.model_hash, rig.card) for cc, rig in rigs.items()}
    out: dict[str, dict[str, Any]] = {}
    for cc, rig in rigs.items():
        fetched, skipped = fetch_peer_models(rig.app.chain, rig.app.store,
                                             rig.app.operator.state_dir / "peers")
        if skipped:
            raise ModelGovernanceError(f"operator {cc}: peer models skipped: {skipped}")
        peers = [oracle.load_portable(p.directory, p.portable_sha256, owner=p.country)
                 for p in fetched]
        rig.model_hash, rig.card = train_operator(rig.app.operator, cut, peers=peers)
        out[cc] = {"alone": _judge(rig, alone[cc][0], sim),
                   "consortium": _judge(rig, rig.model_hash, sim),
                   "peers": sorted(p.country for p in fetched)}
    register_and_approve(rigs)
    for cc, rig in rigs.items():
        out[cc]["promoted"] = rig.model_hash != alone[cc][0]
    return out


def _judge(rig: OperatorRig, model_hash: str, sim: dict[str, Path]) -> dict[str, Any]:
    """A model's precision and recall on the operator's own network at the end of data."""
    import oracle

    op = rig.app.operator
    reports = pd.read_parquet(sim["reports"])
    path = op.state_dir / "judge-reports.parquet"
    reports[reports["country"] == rig.country].to_parquet(path)
    feats = oracle.build_features(Path(sim["calls"]) / f"{rig.country}.parquet", path)
    model = oracle.load_model(op.model_dir / model_hash)
    scores = oracle.score(model, feats, oracle.load_rules(), reasons=False)
    truth = pd.read_parquet(sim["truth"])
    report = oracle.evaluate(scores, truth[truth["number"].isin(scores["number"])])
    return report["countries"].get(rig.country) or report["countries"]["ALL"]


def register_and_approve(rigs: dict[str, OperatorRig], approvals: int = 2) -> None:
    """Each model registered (card in IPFS), approved by operators of other countries,
    then promoted, so its votes are accepted."""
    from oracle.service import ModelGovernanceError

    countries = list(rigs)
    for rig in rigs.values():
        # The portable copy beside the card goes into IPFS too: peers fetch it from there.
        rig.app.models.register(rig.model_hash, rig.card,
                                rig.app.operator.model_dir / rig.model_hash)
        rig.card = rig.app.models.card(rig.model_hash)
    for i, cc in enumerate(countries):
        for j in range(1, approvals + 1):
            other = rigs[countries[(i + j) % len(countries)]]
            other.app.models.approve(rigs[cc].model_hash, rigs[cc].app.chain.address)
    for rig in rigs.values():
        try:
            rig.app.models.promote(rig.model_hash, rig.card)
        except ModelGovernanceError as exc:
            current = rig.app.models.current()
            if current is None:
                raise
            logger.warning("%s keeps model %s: %s", rig.country, current[:12], exc)
            rig.model_hash, rig.card = current, rig.app.models.card(current)
        rig.app.votes.set_model(rig.model_hash)


def release_and_push(rigs: dict[str, OperatorRig], passes: int = 3,
                     max_passes: int = 40) -> None:
    """The newest files land; every operator runs cycles until others' rounds are answered
    (``passes``) and, on the report path, until no operator has a number waiting for a
    report (at most ``max_passes``)."""
    from oracle.service._scenario import release_new_data

    for rig in rigs.values():
        release_new_data(rig.app.operator)
    for n in range(max_passes):
        for rig in rigs.values():
            rig.pushes.append(rig.runner.cycle())
        waiting = sum(len(r.app.votes.reports.pending()) for r in rigs.values()
                      if r.app.votes.reports is not None)
        logger.info("push pass %d: %d numbers waiting for a report", n + 1, waiting)
        if n + 1 >= passes and not waiting:
            return
    logger.warning("numbers still waiting for a report after %d passes", max_passes)


def scores_frame(rig: OperatorRig) -> pd.DataFrame:
    rows = [{"number": s.e164, "country": s.country, "score": s.score,
             "verdict": s.verdict.name.lower()} for s in rig.runner.table]
    return pd.DataFrame(rows, columns=["number", "country", "score", "verdict"])


def evaluate_rigs(rigs: dict[str, OperatorRig], sim: dict[str, Path]) -> dict[str, Any]:
    """Precision and recall per country: each operator's scores against the hidden truth."""
    import oracle

    truth = pd.read_parquet(sim["truth"])
    out = {}
    for cc, rig in rigs.items():
        frame = scores_frame(rig)
        report = oracle.evaluate(frame, truth[truth["number"].isin(frame["number"])
                                              | (truth["country"] == cc)])
        out[cc] = report["countries"].get(cc) or report["countries"]["ALL"]
    return out


def close_rigs(rigs: dict[str, OperatorRig]) -> None:
    for rig in rigs.values():
        rig.app.close()
