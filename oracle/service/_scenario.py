"""A consortium scenario from the simulator, for the tests, the benchmark and the demo.

Each operator gets its own network's calls and its own subscribers' reports, split at a
cut-off: the older part is its history (in its drop folder, used to train its model); the
newer part is "the newest files", released into the drop folder later, where a campaign
starts. The truth table tells which new numbers are spam.

Example::

    sim = simulate(tmp / "sim", scale=0.2, seed=3)
    cut = cut_before_end(sim, hours=48)
    stage_operator(op, sim, cut)          # history into op.drop_dir, new data staged
    model_hash, card = train_operator(op, cut)
    release_new_data(op)                  # the newest files land in the drop folder
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from oracle.service._operator import Operator

logger = logging.getLogger(__name__)


def cut_before_end(sim: dict[str, Path], hours: float) -> datetime:
    """The instant ``hours`` before the simulation's last call (naive UTC)."""
    last = max(pd.read_parquet(p, columns=["ts"])["ts"].max()
               for p in Path(sim["calls"]).glob("*.parquet"))
    return (pd.Timestamp(last).tz_convert(None) - timedelta(hours=hours)).to_pydatetime()


def _split(frame: pd.DataFrame, cut: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    ts = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(None)
    return frame[ts < cut], frame[ts >= cut]


def stage_operator(op: Operator, sim: dict[str, Path], cut: datetime) -> None:
    """History into ``drop/calls/history.parquet`` and ``drop/reports/history.parquet``;
    the newer rows into ``state/staged/`` until :func:`release_new_data`."""
    calls = pd.read_parquet(Path(sim["calls"]) / f"{op.country}.parquet")
    reports = pd.read_parquet(sim["reports"])
    reports = reports[reports["country"] == op.country]
    staged = op.state_dir / "staged"
    for kind, frame in (("calls", calls), ("reports", reports)):
        old, new = _split(frame, cut)
        (op.drop_dir / kind).mkdir(parents=True, exist_ok=True)
        (staged / kind).mkdir(parents=True, exist_ok=True)
        old.to_parquet(op.drop_dir / kind / "history.parquet")
        new.to_parquet(staged / kind / "newest.parquet")
    logger.info("operator %s: history until %s staged", op.name, cut)


def release_new_data(op: Operator) -> list[Path]:
    """Move the staged newest files into the drop folder (rename: atomic per file)."""
    moved = []
    for kind in ("calls", "reports"):
        src = op.state_dir / "staged" / kind / "newest.parquet"
        if src.exists():
            dst = op.drop_dir / kind / "newest.parquet"
            shutil.move(src, dst)
            moved.append(dst)
    return moved


def train_operator(op: Operator, cut: datetime,
                   peers: Sequence[Any] = ()) -> tuple[str, dict[str, Any]]:
    """Train the operator's model on its history; saved under ``model_dir/<hash>``.

    :param peers: other operators' portable models to learn from (soft spam labels).
    """
    import oracle

    model, _ = oracle.train_from_files(op.drop_dir / "calls", op.drop_dir / "reports",
                                       until=cut, peers=peers)
    tmp = op.model_dir / ".candidate"
    digest = oracle.save_model(model, tmp)
    target = op.model_dir / digest
    if target.exists():
        shutil.rmtree(tmp)
    else:
        tmp.rename(target)
    return digest, oracle.model_card(model)


def new_spam_numbers(sim: dict[str, Path], cut: datetime) -> pd.DataFrame:
    """Truth rows of spam numbers first seen at or after ``cut`` (the campaign)."""
    truth = pd.read_parquet(sim["truth"])
    first = pd.to_datetime(truth["first_seen"], utc=True).dt.tz_convert(None)
    return truth[(truth["is_spam"].astype(bool)) & (first >= cut)]
