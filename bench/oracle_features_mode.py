"""Features mode with true labels: the oracle's tiers against a plain gradient-boosting model.

A per-number feature table is built from a simulated world (``oracle.draw_world``) and
labelled with the truth; five stratified 80/20 splits; on each, ``oracle.train`` on the
80% (its own out-of-fold thresholds) and ``oracle.score`` on the 20%, next to scikit-learn's
``HistGradientBoostingClassifier()`` with default settings and a 0.5 threshold on the same
split. Prints F1 of spam-or-suspicious, F1 of the spam tier, precision of the spam tier,
the best F1 any threshold of the oracle's score reaches, and training seconds.

Usage::

    .venv/bin/python bench/oracle_features_mode.py [--seed 7] [--scale 0.6]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score, precision_recall_curve, precision_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import oracle
from oracle._model import feature_columns

HERE = Path(__file__).resolve().parent


def feature_table(seed: int, scale: float) -> pd.DataFrame:
    """Features at day 14 of a drawn world, with the truth as ``label``."""
    with tempfile.TemporaryDirectory() as d:
        sim = oracle.simulate(d, scale=scale, seed=seed, world=oracle.draw_world(seed))
        feats = oracle.build_features(sim["calls"], sim["reports"], until=datetime(2026, 1, 19))
        truth = pd.read_parquet(sim["truth"])[["number", "is_spam"]]
    table = feats.merge(truth, on="number")
    return table.assign(label=table.pop("is_spam").astype(int))


def _best_f1(y: np.ndarray, score: np.ndarray) -> float:
    p, r, _ = precision_recall_curve(y, score)
    return float(np.max(2 * p * r / np.maximum(p + r, 1e-12)))


def split_figures(table: pd.DataFrame, train_idx: np.ndarray, test_idx: np.ndarray) -> dict:
    tr, te = table.iloc[train_idx], table.iloc[test_idx]
    y = te["label"].to_numpy()
    start = time.perf_counter()
    model = oracle.train(tr, None, evidence=None)
    train_s = time.perf_counter() - start
    scores = oracle.score(model, te.drop(columns=["label"]), {}, reasons=False)
    scores = scores.set_index("number").loc[te["number"]]
    flagged = scores["verdict"].isin(["spam", "suspicious"]).to_numpy()
    spam = (scores["verdict"] == "spam").to_numpy()
    cols, _ = feature_columns(tr)
    start = time.perf_counter()
    hgb = HistGradientBoostingClassifier(random_state=0).fit(tr[list(cols)], tr["label"])
    hgb_s = time.perf_counter() - start
    hgb_p = hgb.predict_proba(te[list(cols)])[:, 1]
    return {"rows": len(tr), "oracle_f1_flagged": f1_score(y, flagged),
            "oracle_f1_spam": f1_score(y, spam),
            "oracle_precision_spam": precision_score(y, spam, zero_division=0),
            "oracle_best_f1": _best_f1(y, scores["score"].to_numpy()),
            "hgb_f1": f1_score(y, hgb_p >= 0.5), "hgb_best_f1": _best_f1(y, hgb_p),
            "oracle_train_s": train_s, "hgb_train_s": hgb_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=0.6)
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    table = feature_table(args.seed, args.scale)
    print(f"feature table: {len(table):,} numbers, {int(table['label'].sum()):,} spam "
          f"(world {args.seed}, scale {args.scale})")
    folds = StratifiedKFold(args.splits, shuffle=True, random_state=0)
    rows = []
    for i, (train_idx, test_idx) in enumerate(folds.split(table, table["label"])):
        r = split_figures(table, train_idx, test_idx)
        rows.append(r)
        print(f"split {i}: oracle F1 (spam or suspicious) {r['oracle_f1_flagged']:.3f}, "
              f"spam tier F1 {r['oracle_f1_spam']:.3f} precision "
              f"{r['oracle_precision_spam']:.3f}, best F1 {r['oracle_best_f1']:.3f} | "
              f"HGB@0.5 F1 {r['hgb_f1']:.3f} (best {r['hgb_best_f1']:.3f}) | train "
              f"{r['oracle_train_s']:.1f} s vs {r['hgb_train_s']:.1f} s on {r['rows']:,} rows")
    mean = pd.DataFrame(rows).mean().to_dict()
    print("mean: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    (HERE / "oracle_features_mode.json").write_text(json.dumps(
        {"seed": args.seed, "scale": args.scale, "splits": rows, "mean": mean}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
