"""Self-training: the first model's spam verdicts on left-out rows become soft labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oracle import TrainConfig, train
from oracle._selftrain import add_self_labels

CONFIG = TrainConfig(bags=2, max_iter=40, folds=3)


def _world(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """Two behaviours apart on two features; a fifth of the spam (and some legit) unlabelled.

    Returns features, labels, the planted unlabelled spam and the unlabelled legitimate.
    """
    rng = np.random.default_rng(seed)
    n_spam, n_legit = 150, 600
    spam = np.column_stack([rng.normal(4, 1, n_spam), rng.normal(3, 1, n_spam)])
    legit = np.column_stack([rng.normal(0, 1, n_legit), rng.normal(0, 1, n_legit)])
    numbers = [f"+1415555{i:04d}" for i in range(n_spam + n_legit)]
    feats = pd.DataFrame({"number": numbers, "country": "US", "network": "US",
                          "fan_out": np.r_[spam[:, 0], legit[:, 0]],
                          "short_share": np.r_[spam[:, 1], legit[:, 1]]})
    planted, quiet_legit = numbers[:30], numbers[n_spam:n_spam + 60]
    labels = pd.DataFrame({"number": numbers, "label": [1] * n_spam + [0] * n_legit,
                           "firm": True})
    soft_ham = numbers[30:40]  # spam labelled "not spam" from silence: soft
    labels.loc[labels["number"].isin(soft_ham), ["label", "firm"]] = [0, False]
    labels = labels[~labels["number"].isin(planted + quiet_legit)].reset_index(drop=True)
    return feats, labels, planted + soft_ham, quiet_legit


def test_self_training_recovers_planted_spam_and_leaves_legitimate_alone() -> None:
    feats, labels, planted, quiet_legit = _world()
    first = train(feats, labels, CONFIG)
    out = add_self_labels(feats, labels, first).set_index("number")
    recovered = out.reindex(planted)
    assert (recovered["label"] == 1).mean() >= 0.9
    assert not recovered.dropna()["firm"].astype(bool).any()  # added labels are soft
    added_legit = out.reindex(quiet_legit)["label"].fillna(0)
    assert added_legit.sum() <= 1
    assert out.index.is_unique


def test_firm_labels_are_never_overridden() -> None:
    feats, labels, _, _ = _world()
    first = train(feats, labels, CONFIG)
    # A spam-looking number firmly labelled "not spam" (an acquainted number) keeps its label.
    kept = feats["number"].iloc[50]
    firm_ham = labels.copy()
    firm_ham.loc[firm_ham["number"] == kept, ["label", "firm"]] = [0, True]
    out = add_self_labels(feats, firm_ham, first).set_index("number")
    assert out.loc[kept, "label"] == 0 and bool(out.loc[kept, "firm"])
    assert out.index.is_unique and set(labels["number"]) <= set(out.index)


def test_self_training_is_deterministic() -> None:
    feats, labels, _, _ = _world()
    runs = [add_self_labels(feats, labels, train(feats, labels, CONFIG)) for _ in range(2)]
    pd.testing.assert_frame_equal(*runs)


def test_labels_are_added_per_snapshot() -> None:
    snapshots = 2
    feats, labels, planted, _ = _world()
    stacked = pd.concat([feats.assign(snapshot=k) for k in range(snapshots)],
                        ignore_index=True)
    lab = pd.concat([labels.assign(snapshot=k) for k in range(snapshots)], ignore_index=True)
    out = add_self_labels(stacked, lab, train(stacked, lab, CONFIG))
    assert not out.duplicated(["number", "snapshot"]).any()
    got = out[out["number"].isin(planted) & (out["label"] == 1)]
    assert set(got["snapshot"]) == set(range(snapshots))
