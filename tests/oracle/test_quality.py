"""Quality gates: fixed design worlds, floors per country, spam class and legitimate class.

The floors sit a little under what the design worlds measured (``bench/ORACLE_WORLDS.md``)
so that a real regression fails ``make test``: halving recall or flagging a business class
breaks them. The worlds are small (scale 0.2) to keep the suite short; the benchmark runs
50 held-out worlds.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import oracle
from oracle._simulate import BEHAVIOURS, LEGIT_BUSINESS, World, draw_world

TRAIN_UNTIL = datetime(2026, 1, 15)
SCORE_UNTIL = datetime(2026, 1, 19)


def _run(tmp: Path, world: World, seed: int, scale: float) -> pd.DataFrame:
    sim = oracle.simulate(tmp, scale=scale, seed=seed, world=world)
    model, _ = oracle.train_from_files(sim["calls"], sim["reports"], until=TRAIN_UNTIL)
    feats = oracle.build_features(sim["calls"], sim["reports"], until=SCORE_UNTIL)
    scores = oracle.score(model, feats, oracle.load_rules(), reasons=False)
    truth = pd.read_parquet(sim["truth"])
    data = truth.merge(scores[["number", "verdict"]], on="number", how="left")
    return data.assign(verdict=data["verdict"].fillna("none"))


def _flag(part: pd.DataFrame) -> float:
    return float(part["verdict"].isin(["spam", "suspicious"]).mean())


@pytest.mark.slow
def test_a_world_with_low_complaint_rates_still_flags_robocallers(tmp_path: Path) -> None:
    """Robocalls that draw a complaint from one answered call in 5,000 (the old fixed
    rates labelled such numbers firm "not spam")."""
    quiet = {cls: dataclasses.replace(BEHAVIOURS[cls], report=0.0002)
             for cls in ("robocall", "dormant", "wangiri")}
    world = World(behaviours={**BEHAVIOURS, **quiet}, name="quiet-robocalls")
    data = _run(tmp_path, world, seed=21, scale=0.25)
    robo = data[data["class"] == "robocall"]
    assert len(robo) >= 40
    assert _flag(robo) >= ROBOCALL_FLAG_FLOOR
    legit = data[~data["is_spam"] & (data["class"] != "subscriber")]
    assert legit.groupby("class").apply(_flag, include_groups=False).max() <= 0.25
    assert (data[data["class"] == "subscriber"]["verdict"] == "spam").mean() <= 0.005


ROBOCALL_FLAG_FLOOR = 0.5


@pytest.mark.slow
def test_default_world_meets_its_floors_per_country_and_class(tmp_path: Path) -> None:
    """The default world, seed 1, scale 0.3 (session 6, "sought out" labels) measured
    precision 1.000 in every country, recall 0.74-1.00 (US 0.738, BR and IN 0.864), no
    legitimate class flagged at all (call centres were 21% before), robocall 98%, wangiri
    100%, telemarketers 83%, dormant bursts 81%, scams 64% (89% before: courier-like scams
    that draw no complaint now sit next to couriers labelled "not spam")."""
    data = _run(tmp_path, World(), seed=1, scale=0.3)
    for cc, part in data.groupby("country"):
        spam = part["verdict"] == "spam"
        precision = (spam & part["is_spam"]).sum() / max(int(spam.sum()), 1)
        recall = (spam & part["is_spam"]).sum() / int(part["is_spam"].sum())
        assert precision >= 0.95, (cc, precision)
        assert recall >= 0.65, (cc, recall)
    by_class = data.groupby("class").apply(_flag, include_groups=False)
    for cls in ("robocall", "wangiri"):
        assert by_class[cls] >= 0.9, (cls, by_class[cls])
    assert by_class["telemarketer"] >= 0.7 and by_class["dormant"] >= 0.7
    assert by_class["scam"] >= 0.5
    for cls in ("bank", "clinic", "courier", "shop", "call_centre", "new_subscriber"):
        assert by_class[cls] <= 0.05, (cls, by_class[cls])
    assert (data[data["class"] == "subscriber"]["verdict"] == "spam").mean() <= 0.002


@pytest.mark.slow
@pytest.mark.parametrize("seed", [104, 107])
def test_drawn_design_worlds_meet_their_floors(tmp_path: Path, seed: int) -> None:
    """Two worlds drawn from the wide priors (design range, scale 0.3) measured precision
    1.000 and recall 0.70-0.80 in every country, robocallers and neighbour spoofers all
    caught, wangiri 75-92%, and no legitimate class flagged at all (session 6)."""
    data = _run(tmp_path, draw_world(seed), seed=seed, scale=0.3)
    for cc, part in data.groupby("country"):
        spam = part["verdict"] == "spam"
        precision = (spam & part["is_spam"]).sum() / max(int(spam.sum()), 1)
        recall = (spam & part["is_spam"]).sum() / int(part["is_spam"].sum())
        assert precision >= 0.95 and recall >= 0.6, (cc, precision, recall)
    by_class = data.groupby("class").apply(_flag, include_groups=False)
    assert by_class["robocall"] >= 0.9 and by_class["spoofer"] >= 0.9, by_class
    assert by_class["wangiri"] >= 0.65, by_class
    for cls in (*LEGIT_BUSINESS, "new_subscriber"):
        assert by_class.get(cls, 0.0) <= 0.05, (cls, by_class.get(cls))
