"""Design worlds with one round of disputes fed back as labels (prototype measurement).

Protocol per world (the same simulation as ``oracle_worlds.py``): cycle 1 trains on days
0-6 and scores at day 10; every number flagged (spam or suspicious) at day 10 may dispute:
a legitimate business with probability ``p_business``, a spam number with ``p_spam``; the
arbiters decide right with probability ``q``. All three are drawn per world from wide
priors (below). Cycle 2 trains on days 0-10 with the derived labels plus the decided
disputes as firm labels (won: "not spam", lost: "spam") and scores at day 14. The base is
cycle 2 without the dispute labels (the shipped protocol).

Usage::

    .venv/bin/python bench/oracle_worlds_disputes.py 100-119 out.json [SCALE [soft]]
    .venv/bin/python bench/oracle_worlds_disputes.py --summary out.json
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle_worlds

import oracle
from oracle._complaints import ComplaintModel
from oracle._model import train
from oracle._pipeline import training_data
from oracle._simulate import LEGIT_BUSINESS, draw_world

CYCLE1_UNTIL = oracle_worlds.TRAIN_UNTIL - timedelta(days=4)
CYCLE1_SCORE = oracle_worlds.TRAIN_UNTIL


def dispute_priors(seed: int) -> dict[str, float]:
    """Who disputes and how well arbiters decide, drawn per world."""
    rng = np.random.default_rng([seed, 0xD15])
    return {"p_business": float(rng.uniform(0.2, 0.9)), "p_spam": float(rng.uniform(0.0, 0.5)),
            "q": float(rng.uniform(0.8, 1.0))}


def disputes(scores: pd.DataFrame, truth: pd.DataFrame, priors: dict[str, float],
             seed: int) -> pd.DataFrame:
    """Decided disputes of the numbers flagged in ``scores``: ``number``, ``label``."""
    rng = np.random.default_rng([seed, 0xD16])
    flagged = scores[scores["verdict"].isin(["spam", "suspicious"])][["number"]]
    data = flagged.merge(truth[["number", "class", "is_spam"]], on="number", how="inner")
    business = data["class"].isin(LEGIT_BUSINESS).to_numpy()
    spam = data["is_spam"].to_numpy(dtype=bool)
    p = np.where(business, priors["p_business"], np.where(spam, priors["p_spam"], 0.0))
    filed = rng.random(len(data)) < p
    right = rng.random(len(data)) < priors["q"]
    label = np.where(right, spam.astype(int), 1 - spam.astype(int))
    return pd.DataFrame({"number": data["number"][filed].to_numpy(), "label": label[filed]})


def with_disputes(labels: pd.DataFrame, decided: pd.DataFrame,
                  firm: bool = True) -> pd.DataFrame:
    """``labels`` with the decided disputes: a number that won is "not spam" in every
    snapshot (a business is legitimate throughout); one that lost is spam in the latest
    snapshot and wherever its own complaints or conduct had already labelled it (before its
    burst a dormant number really did look ordinary, as the derived labels say).

    :param firm: whether the decisions count when thresholds are chosen (``soft`` on the
        command line: they only train the model).
    """
    snaps = sorted(labels["snapshot"].unique()) if "snapshot" in labels.columns else [0]
    won, lost = decided[decided["label"] == 0], decided[decided["label"] == 1]
    had = labels[labels["number"].isin(lost["number"])][["number", "snapshot"]]
    rows = pd.concat([won[["number"]].merge(pd.DataFrame({"snapshot": snaps}), how="cross")
                      .assign(label=0),
                      pd.concat([had, lost[["number"]].assign(snapshot=snaps[0])])
                      .drop_duplicates().assign(label=1)], ignore_index=True)
    kept = labels[~labels["number"].isin(decided["number"])]
    return pd.concat([kept, rows.assign(firm=firm)], ignore_index=True).astype(
        {"label": "int64", "firm": bool})


def _models(sim: dict, until, decided: pd.DataFrame | None = None,
            firm: bool = True) -> list:
    """The model trained on the derived labels, and with ``decided`` also the one trained
    with the decisions added (one feature and label build serves both)."""
    feats, lab, window, _info = training_data(sim["calls"], sim["reports"], until)
    evidence = ComplaintModel.from_card(window["complaint_model"])
    sets = [lab] if decided is None else [lab, with_disputes(lab, decided, firm)]
    return [train(feats, s, window=window, evidence=evidence) for s in sets]


def run_world(seed: int, scale: float, firm: bool = True) -> dict:
    world, priors = draw_world(seed), dispute_priors(seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        sim = oracle.simulate(d, scale=scale, seed=seed, world=world)
        truth = pd.read_parquet(sim["truth"])
        rules = oracle.load_rules()
        f1 = oracle.build_features(sim["calls"], sim["reports"], until=CYCLE1_SCORE)
        s1 = oracle.score(_models(sim, CYCLE1_UNTIL)[0], f1, rules, reasons=False)
        decided = disputes(s1, truth, priors, seed)
        f2 = oracle.build_features(sim["calls"], sim["reports"],
                                   until=oracle_worlds.SCORE_UNTIL)
        base, fed = (oracle.score(m, f2, rules, reasons=False)
                     for m in _models(sim, oracle_worlds.TRAIN_UNTIL, decided, firm))
    disputed = set(decided["number"])
    untouched = truth[~truth["number"].isin(disputed)]
    won = int((decided["label"] == 0).sum())
    return {"seed": seed, "world": world.name, "scale": scale, "priors": priors,
            "disputes": len(decided), "won": won,
            "seconds": round(time.perf_counter() - start, 1),
            "base": oracle_worlds._judge(base, truth),
            "fed": oracle_worlds._judge(fed, truth),
            "fed_undisputed": oracle_worlds._judge(
                fed[fed["number"].isin(untouched["number"])], untouched)}


def summary(runs: list[dict]) -> list[str]:
    """Pooled over world-countries: base -> with the dispute labels."""
    def pooled(key: str, metric: str, q: int) -> str:
        vals = np.array([c[metric] for r in runs for c in r[key]["countries"].values()],
                        dtype=float)
        vals = vals[~np.isnan(vals)]
        return f"{np.median(vals):.3f} / {np.percentile(vals, q):.3f}"

    def business(key: str) -> str:
        rates = [d["flag_rate"] for r in runs for c, d in r[key]["legit_classes"].items()
                 if c in LEGIT_BUSINESS]
        return f"{np.percentile(rates, 90):.1%}"

    lines = [f"{len(runs)} worlds, {sum(r['disputes'] for r in runs)} disputes "
             f"({sum(r['won'] for r in runs)} won)",
             "| | base | with dispute labels | with them, undisputed numbers only |",
             "|---|---|---|---|"]
    for metric, q, name in (("precision", 10, "precision median / p10"),
                            ("recall", 10, "recall median / p10"),
                            ("flagged_recall", 10, "spam-or-suspicious median / p10"),
                            ("legit_flag", 90, "worst business class median / p90")):
        lines.append(f"| {name} | " + " | ".join(
            pooled(k, metric, q) for k in ("base", "fed", "fed_undisputed")) + " |")
    lines.append("| business classes flagged, p90 over world-classes | " + " | ".join(
        business(k) for k in ("base", "fed", "fed_undisputed")) + " |")
    return lines


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    if sys.argv[1] == "--summary":
        print("\n".join(summary(json.loads(Path(sys.argv[2]).read_text()))))
        return 0
    seeds, out = oracle_worlds._seeds(sys.argv[1]), Path(sys.argv[2])
    scale = float(sys.argv[3]) if len(sys.argv) > 3 else 0.3
    firm = not (len(sys.argv) > 4 and sys.argv[4] == "soft")
    runs = json.loads(out.read_text()) if out.exists() else []
    done = {r["seed"] for r in runs}
    for seed in seeds:
        if seed in done:
            continue
        run = run_world(seed, scale, firm)
        runs.append(run)
        out.write_text(json.dumps(runs))
        print(f"seed {seed}: {run['seconds']} s, {run['disputes']} disputes ({run['won']} "
              f"won); " + ", ".join(
                  f"{cc} R {run['base']['countries'][cc]['recall']:.2f}->"
                  f"{run['fed']['countries'][cc]['recall']:.2f} L "
                  f"{run['base']['countries'][cc]['legit_flag']:.2f}->"
                  f"{run['fed']['countries'][cc]['legit_flag']:.2f}"
                  for cc in sorted(run["base"]["countries"])), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
