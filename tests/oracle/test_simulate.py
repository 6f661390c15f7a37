"""The simulator: deterministic by seed, every population present, truth kept apart."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import oracle
from oracle._simulate import BEHAVIOURS, draw_world, simulate


def test_same_seed_same_data_and_other_seed_other_data(tmp_path: Path) -> None:
    a = oracle.simulate(tmp_path / "a", scale=0.03, days=3, seed=5, countries=["GB"])
    b = oracle.simulate(tmp_path / "b", scale=0.03, days=3, seed=5, countries=["GB"])
    c = oracle.simulate(tmp_path / "c", scale=0.03, days=3, seed=6, countries=["GB"])
    for name in ("reports", "truth"):
        assert pd.read_parquet(a[name]).equals(pd.read_parquet(b[name]))
    calls_a = pd.read_parquet(a["calls"] / "GB.parquet")
    assert calls_a.equals(pd.read_parquet(b["calls"] / "GB.parquet"))
    assert not calls_a.equals(pd.read_parquet(c["calls"] / "GB.parquet"))


def test_every_population_appears_and_calls_follow_the_contract(sim: dict[str, Path]) -> None:
    truth = pd.read_parquet(sim["truth"])
    # The default world has every class but those only drawn worlds add.
    drawn_only = {"reminder", "sim_box", "spoofer", "low_scam"}
    assert set(truth["class"]) == set(BEHAVIOURS) - drawn_only
    assert set(truth["country"]) == {"US", "IN", "BR", "GB"}
    assert truth.groupby("class")["is_spam"].nunique().eq(1).all()
    calls = pd.read_parquet(sim["calls"])
    assert {"ts", "caller", "callee", "duration_s", "answered", "country", "attestation"} <= \
        set(calls.columns)
    assert not {"class", "is_spam"} & set(calls.columns)
    # messy formats and a few broken rows, as real exports have them
    assert (~calls["caller"].str.startswith("+")).mean() > 0.05
    assert calls["ts"].isna().sum() > 0 and (calls["duration_s"] < 0).sum() > 0
    # wangiri callers are foreign numbers; India's call centres use the 140 series
    wangiri = truth[truth["class"] == "wangiri"]["number"]
    assert not wangiri.str.startswith(("+1", "+91", "+55", "+44")).any()
    centres = truth[(truth["class"] == "call_centre") & (truth["country"] == "IN")]
    assert centres["number"].str.startswith("+91140").all()


def test_a_drawn_world_has_every_class_and_is_reproducible(tmp_path: Path) -> None:
    world = draw_world(5)
    assert world == draw_world(5) and world != draw_world(6)
    spam = [world.behaviours[c].report for c in BEHAVIOURS if world.behaviours[c].is_spam]
    assert all(1e-4 <= r <= 5e-2 for r in spam)
    paths = simulate(tmp_path, scale=0.08, days=6, seed=5, world=world)
    truth = pd.read_parquet(paths["truth"])
    assert set(truth["class"]) == set(BEHAVIOURS)
    meta = json.loads(paths["meta"].read_text())
    assert meta["world"] == "world-5"
