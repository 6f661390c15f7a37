"""Features mode with true labels: the oracle's tiers against a plain gradient-boosting model.

Tables: a per-number feature table built from a simulated world (``oracle.draw_world``),
labelled with the truth, and tables this project did not make and never tuned to: three
drawn by scikit-learn's ``make_classification`` (label noise, overlapping classes, 33% and
10% positives, 6k-10k rows) and the real Wisconsin breast-cancer table shipped with
scikit-learn. On each, five stratified 80/20 splits: ``oracle.train`` on the 80% (its own
out-of-fold thresholds) and ``oracle.score`` on the 20%, next to scikit-learn's
``HistGradientBoostingClassifier()`` with default settings and a 0.5 threshold on the same
split. Prints F1 of spam-or-suspicious, F1 and precision of the spam tier, the best F1 any
threshold of the oracle's score reaches, and training seconds.

Usage::

    .venv/bin/python bench/oracle_features_mode.py [--seed 1003] [--scale 0.5] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, make_classification
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


def _numbered(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    table = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    table.insert(0, "number", [f"+1415{i:07d}" for i in range(len(table))])
    table.insert(1, "country", "US")
    return table.assign(label=y.astype(int))


def tables(seed: int, scale: float) -> dict[str, Any]:
    """Name -> a function building that labelled table (built only when run)."""
    def drawn(n: int, features: int, informative: int, positive: float, flip: float,
              sep: float, rs: int) -> Callable[[], pd.DataFrame]:
        return lambda: _numbered(*make_classification(
            n, features, n_informative=informative, weights=[1 - positive], flip_y=flip,
            class_sep=sep, random_state=rs))
    return {f"simulated world {seed}": lambda: feature_table(seed, scale),
            "make_classification 6k, 33%, seed 1": drawn(6000, 20, 8, 0.33, 0.03, 0.7, 1),
            "make_classification 6k, 33%, seed 2": drawn(6000, 20, 8, 0.33, 0.03, 0.7, 2),
            "make_classification 10k, 10%, seed 3": drawn(10000, 30, 10, 0.10, 0.01, 1.0, 3),
            "breast cancer (real, sklearn)": lambda: _numbered(*load_breast_cancer(
                return_X_y=True))}


def run_table(name: str, table: pd.DataFrame, splits: int) -> dict:
    print(f"{name}: {len(table):,} rows, {int(table['label'].sum()):,} positive")
    folds = StratifiedKFold(splits, shuffle=True, random_state=0)
    rows = []
    for i, (train_idx, test_idx) in enumerate(folds.split(table, table["label"])):
        r = split_figures(table, train_idx, test_idx)
        rows.append(r)
        print(f"  split {i}: oracle F1 (spam or suspicious) {r['oracle_f1_flagged']:.3f}, "
              f"spam tier F1 {r['oracle_f1_spam']:.3f} precision "
              f"{r['oracle_precision_spam']:.3f}, best F1 {r['oracle_best_f1']:.3f} | "
              f"HGB@0.5 F1 {r['hgb_f1']:.3f} (best {r['hgb_best_f1']:.3f}) | train "
              f"{r['oracle_train_s']:.1f} s vs {r['hgb_train_s']:.1f} s on {r['rows']:,} rows")
    mean = pd.DataFrame(rows).mean().to_dict()
    print("  mean: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    return {"rows": len(table), "positive": int(table["label"].sum()), "splits": rows,
            "mean": mean}


def markdown(results: dict[str, dict]) -> str:
    lines = ["| table | rows | oracle F1 spam-or-susp. | HGB@0.5 F1 | oracle best F1 | "
             "HGB best F1 | spam-tier precision | oracle train s | HGB train s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        m = r["mean"]
        lines.append(f"| {name} | {r['rows']:,} | {m['oracle_f1_flagged']:.4f} | "
                     f"{m['hgb_f1']:.4f} | {m['oracle_best_f1']:.4f} | {m['hgb_best_f1']:.4f} | "
                     f"{m['oracle_precision_spam']:.4f} | {m['oracle_train_s']:.2f} | "
                     f"{m['hgb_train_s']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1003)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--only", help="run only the tables whose name contains this")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = {name: run_table(name, build(), args.splits)
               for name, build in tables(args.seed, args.scale).items()
               if not args.only or args.only in name}
    print(markdown(results))
    (HERE / "oracle_features_mode.json").write_text(json.dumps(
        {"seed": args.seed, "scale": args.scale, "measured": f"{datetime.now():%Y-%m-%d %H:%M}",
         "tables": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
