"""Design worlds with positive-unlabelled labels (Elkan-Noto), a session-10 experiment.

Not part of the oracle (measured and not adopted; ``bench/ORACLE_WORLDS_NOTES.md``,
Session 10). Per world: derive the shipped labels; fit a classifier of "labelled spam"
against every other training row (out of fold, grouped by number); estimate the labelling
frequency ``c`` as the mean out-of-fold score of the labelled spam (Elkan and Noto 2008,
assuming labelled spam is a random sample of spam); a row the labels left out, or
labelled "not spam" from silence alone, whose posterior ``g / c`` is at least 1/2 becomes
a soft spam label; train the shipped model on those labels and judge it. Writes the runs
in the format of ``oracle_worlds.py`` after every world (an interrupted run resumes).

Usage::

    .venv/bin/python bench/oracle_worlds_pu.py 100-119 bench/worlds-design-session10-pu.json
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedGroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle_worlds
from oracle_worlds import _judge
from oracle_worlds_selftrain import world_data

import oracle
from oracle._complaints import ComplaintModel
from oracle._features import CATEGORICAL_FEATURES, FEATURES

KEYS = ["number", "snapshot"]
CONFIG = oracle.TrainConfig()


def _labelled_vs_rest(x: np.ndarray, s: np.ndarray, groups: np.ndarray,
                      config: oracle.TrainConfig) -> np.ndarray:
    """Out-of-fold P(labelled spam | x) over every row."""
    cat = np.array([c in CATEGORICAL_FEATURES for c in FEATURES])
    g = np.zeros(len(x))
    split = StratifiedGroupKFold(config.folds, shuffle=True, random_state=config.seed)
    for tr, te in split.split(x, s, groups):
        clf = HistGradientBoostingClassifier(
            max_iter=config.max_iter, learning_rate=config.learning_rate,
            max_leaf_nodes=config.max_leaf_nodes, min_samples_leaf=config.min_samples_leaf,
            l2_regularization=config.l2_regularization, early_stopping=False,
            categorical_features=cat, random_state=config.seed)
        g[te] = clf.fit(x[tr], s[tr]).predict_proba(x[te])[:, 1]
    return g


def pu_labels(feats: pd.DataFrame, lab: pd.DataFrame,
              config: oracle.TrainConfig = CONFIG) -> tuple[pd.DataFrame, dict]:
    """``lab`` plus soft spam labels where the Elkan-Noto posterior is at least 1/2."""
    m = feats[KEYS].merge(lab, on=KEYS, how="left")
    s = (m["label"] == 1).to_numpy()
    candidate = (m["label"].isna()
                 | ((m["label"] == 0) & ~m["firm"].fillna(True).astype(bool))).to_numpy()
    g = _labelled_vs_rest(feats[list(FEATURES)].to_numpy(dtype=np.float64), s,
                          feats["number"].to_numpy(), config)
    c = float(g[s].mean())
    posterior = np.clip(g / max(c, 1e-9), 0.0, 1.0)
    hit = candidate & (posterior >= 0.5)
    added = m.loc[hit, KEYS].assign(label=1, firm=False)
    kept = lab.merge(added[KEYS], on=KEYS, how="left", indicator=True)
    kept = kept[kept["_merge"] == "left_only"].drop(columns="_merge")
    out = pd.concat([kept, added], ignore_index=True).astype({"label": "int64", "firm": bool})
    prior = (s.sum() + posterior[candidate].sum()) / len(s)
    return out, {"c": round(c, 4), "prior": round(float(prior), 4), "added": int(hit.sum())}


def run_world(seed: int, scale: float = 0.3) -> dict:
    """One world trained on the PU-extended labels, judged as ``oracle_worlds`` does."""
    start = time.perf_counter()
    world, feats, truth, train_feats, lab, window = world_data(seed, scale)
    labels, info = pu_labels(train_feats, lab)
    model = oracle.train(train_feats, labels, window=window,
                         evidence=ComplaintModel.from_card(window["complaint_model"]))
    scores = oracle.score(model, feats, oracle.load_rules(), reasons=False)
    return {"seed": seed, "world": world.name, "scale": scale,
            "seconds": round(time.perf_counter() - start, 1), **_judge(scores, truth),
            "complaint_model": window["complaint_model"], "untrainable": "", "labels": info}


def main() -> int:
    seeds, out = sys.argv[1], Path(sys.argv[2])
    step = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    logging.basicConfig(level=logging.WARNING)
    runs = json.loads(out.read_text()) if out.exists() else []
    for seed in oracle_worlds._seeds(seeds)[::step]:
        if seed in {r["seed"] for r in runs}:
            continue
        r = run_world(seed)
        runs.append(r)
        out.write_text(json.dumps(sorted(runs, key=lambda r: r["seed"]), indent=1,
                                  default=float))
        print(seed, r["seconds"], r["labels"], "; ".join(
            f"{cc} R {m['recall']:.2f} P {m['precision']:.2f} L {m['legit_flag']:.2f}"
            for cc, m in sorted(r["countries"].items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
