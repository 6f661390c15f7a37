"""Design worlds with and without self-training (:mod:`oracle._selftrain`), one run each.

The first model of self-training *is* the shipped model, so each world is simulated and
its labels derived once: the first model is judged as ``base``, the second (trained with
the added soft spam labels) as ``selftrain``. Writes two files in the format of
``oracle_worlds.py`` (``<out>-base.json``, ``<out>-selftrain.json``), after every world,
so that ``oracle_worlds.py --report`` tabulates them and an interrupted run resumes.

Usage::

    .venv/bin/python bench/oracle_worlds_selftrain.py 100-119 bench/worlds-design-session10
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle_worlds
from oracle_worlds import SCORE_UNTIL, TRAIN_UNTIL, _judge

import oracle
from oracle._complaints import ComplaintModel
from oracle._selftrain import add_self_labels
from oracle._simulate import draw_world


def world_data(seed: int, scale: float) -> tuple:
    """(world, scoring features, truth, training features, derived labels, window) of one
    drawn world, built as :func:`oracle_worlds.run_world` builds them."""
    world = draw_world(seed)
    with tempfile.TemporaryDirectory() as d:
        sim = oracle.simulate(d, scale=scale, seed=seed, world=world)
        feats = oracle.build_features(sim["calls"], sim["reports"], until=SCORE_UNTIL)
        truth = pd.read_parquet(sim["truth"])
        train_feats, lab, window, _ = oracle.training_data(sim["calls"], sim["reports"],
                                                           until=TRAIN_UNTIL)
    return world, feats, truth, train_feats, lab, window


def run_world(seed: int, scale: float) -> tuple[dict, dict]:
    """(base, selftrain) results of one world, as :func:`oracle_worlds.run_world` gives."""
    start = time.perf_counter()
    world, feats, truth, train_feats, lab, window = world_data(seed, scale)
    evidence = ComplaintModel.from_card(window["complaint_model"])
    first = oracle.train(train_feats, lab, window=window, evidence=evidence)
    base_s = time.perf_counter() - start
    added = add_self_labels(train_feats, lab, first)
    second = oracle.train(train_feats, added, window={**window, "self_training": True},
                          evidence=evidence)
    out = []
    for model, seconds in ((first, base_s), (second, time.perf_counter() - start)):
        scores = oracle.score(model, feats, oracle.load_rules(), reasons=False)
        out.append({"seed": seed, "world": world.name, "scale": scale,
                    "seconds": round(seconds, 1), **_judge(scores, truth),
                    "complaint_model": window["complaint_model"], "untrainable": "",
                    "labels": {"spam": int(lab["label"].sum()),
                               "added": int(added["label"].sum() - lab["label"].sum())}})
    return out[0], out[1]


def main() -> int:
    seeds, prefix = sys.argv[1], sys.argv[2]
    step = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    logging.basicConfig(level=logging.WARNING)
    paths = [Path(f"{prefix}-{v}.json") for v in ("base", "selftrain")]
    runs = [json.loads(p.read_text()) if p.exists() else [] for p in paths]
    done = {r["seed"] for r in runs[1]}
    for seed in oracle_worlds._seeds(seeds)[::step]:
        if seed in done:
            continue
        pair = run_world(seed, 0.3)
        for p, rs, r in zip(paths, runs, pair, strict=True):
            rs.append(r)
            p.write_text(json.dumps(sorted(rs, key=lambda r: r["seed"]), indent=1,
                                    default=float))
        print(f"seed {seed}: {pair[1]['seconds']} s, added {pair[1]['labels']}; " + "; ".join(
            f"{cc} R {pair[0]['countries'][cc]['recall']:.2f}->{m['recall']:.2f} "
            f"P {pair[0]['countries'][cc]['precision']:.2f}->{m['precision']:.2f} "
            f"L {pair[0]['countries'][cc]['legit_flag']:.2f}->{m['legit_flag']:.2f}"
            for cc, m in sorted(pair[1]["countries"].items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
