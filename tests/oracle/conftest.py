"""Shared fixtures: a small simulated dataset and a model trained on its first 10 days."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

import oracle

SHARED_DATA = Path(__file__).resolve().parents[2] / "data"  # in the repository
TRAIN_UNTIL = datetime(2026, 1, 15)   # day 10 of the simulation
SCORE_UNTIL = datetime(2026, 1, 19)   # day 14


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small simulation (all four networks, 14 days)."""
    return oracle.simulate(tmp_path_factory.mktemp("sim"), scale=0.12, days=14, seed=11)


@pytest.fixture(scope="session")
def trained(sim: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on days 0-10 of :func:`sim`, saved; returns its directory."""
    model, _ = oracle.train_from_files(sim["calls"], sim["reports"], until=TRAIN_UNTIL,
                                       config=oracle.TrainConfig(max_iter=60, folds=3))
    directory = tmp_path_factory.mktemp("model")
    oracle.save_model(model, directory)
    return directory
