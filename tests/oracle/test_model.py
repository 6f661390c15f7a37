"""Models: deterministic scoring, content hash, warm-start retraining, feature tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oracle
from tests.oracle.conftest import SCORE_UNTIL, TRAIN_UNTIL


@pytest.fixture(scope="module")
def features(sim: dict[str, Path]) -> pd.DataFrame:
    return oracle.build_features(sim["calls"], sim["reports"], until=SCORE_UNTIL)


def test_scoring_is_deterministic_for_a_given_model(trained: Path,
                                                    features: pd.DataFrame) -> None:
    model = oracle.load_model(trained)
    first = oracle.score(model, features, oracle.load_rules())
    shuffled = features.sample(frac=1.0, random_state=3)
    second = oracle.score(oracle.load_model(trained), shuffled, oracle.load_rules())
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == list(oracle.SCORE_COLUMNS)
    assert set(first["model"]) == {model.hash}
    assert first["score"].between(0, 1).all()
    flagged = first[first["verdict"] != "not_spam"]
    assert len(flagged) and (flagged["reasons"].str.len() > 0).all()
    assert flagged["category"].isin(["robocall", "telemarketing", "scam", "wangiri", "survey",
                                     "debt_collection", "other"]).all()


def test_training_twice_gives_the_same_hash(sim: dict[str, Path], trained: Path) -> None:
    again, _ = oracle.train_from_files(sim["calls"], sim["reports"], until=TRAIN_UNTIL,
                                       config=oracle.TrainConfig(max_iter=60, folds=3))
    assert oracle.save_model(again, trained.parent / "again") == oracle.load_model(trained).hash


def test_model_card_records_window_thresholds_and_metrics(trained: Path) -> None:
    card = json.loads((trained / "model_card.json").read_text())
    model = oracle.load_model(trained)
    assert card["model_hash"] == model.hash and len(model.hash_bytes32) == 32
    assert card["window"]["until"] == TRAIN_UNTIL.isoformat()
    assert card["features"] == list(oracle.FEATURES)
    glob = card["countries"]["*"]
    assert 0 < glob["spam_threshold"] <= 1 and glob["suspicious_threshold"] <= glob[
        "spam_threshold"]
    assert {"precision", "recall", "pr_auc", "class_ratio"} <= set(glob)


def test_tampered_model_file_is_refused(trained: Path, tmp_path: Path) -> None:
    for name in ("model.pkl", "model_card.json"):
        (tmp_path / name).write_bytes((trained / name).read_bytes())
    with open(tmp_path / "model.pkl", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(oracle.ModelError, match="does not match"):
        oracle.load_model(tmp_path)


def test_warm_start_adds_trees_and_keeps_scoring(sim: dict[str, Path], trained: Path,
                                                 features: pd.DataFrame) -> None:
    model = oracle.load_model(trained)
    feats, labels, window, _ = oracle.training_data(sim["calls"], sim["reports"],
                                                    until=SCORE_UNTIL, snapshots=1)
    warm = oracle.retrain(model, feats, labels, mode="warm", extra_iter=10, window=window)
    before = [m.n_iter_ for m in model.countries["*"].classifier.members]
    assert len(before) == model.config.bags
    assert [m.n_iter_ for m in warm.countries["*"].classifier.members] == [
        n + 10 for n in before]
    # the old model is untouched
    assert [m.n_iter_ for m in model.countries["*"].classifier.members] == before
    scores = oracle.score(warm, features, reasons=False)
    assert len(scores) == len(features)


def test_train_and_score_from_an_operator_feature_table(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 400
    spam = rng.random(n) < 0.2
    table = pd.DataFrame({
        "number": [f"+1415555{i:04d}" for i in range(n)], "country": "US",
        "calls_per_day": np.where(spam, 80, 3) * rng.lognormal(0, 0.3, n),
        "answer_rate": np.where(spam, 0.3, 0.8) + rng.normal(0, 0.05, n),
        "label": spam.astype(int)})
    path = tmp_path / "features.csv"
    table.to_csv(path, index=False)
    feats = oracle.read_feature_table(path)
    # 400 rows: the out-of-fold precision of the top bin is 27/28, under the 0.97 default.
    model = oracle.train(feats, config=oracle.TrainConfig(max_iter=30, folds=3,
                                                          target_precision=0.95))
    assert model.features == ("calls_per_day", "answer_rate")
    oracle.save_model(model, tmp_path / "m")
    scores = oracle.score(oracle.load_model(tmp_path / "m"), feats.drop(columns="label"))
    flagged = scores.set_index("number").loc[feats["number"], "verdict"].eq("spam").to_numpy()
    assert (flagged == spam).mean() > 0.95


def test_complaint_evidence_moves_the_score_both_ways() -> None:
    from oracle._model import combine
    p = np.array([0.5, 0.5, 0.0, 1.0])
    out = combine(p, np.array([np.log(9), -np.log(9), 20.0, -20.0]))
    assert out[0] == pytest.approx(0.9) and out[1] == pytest.approx(0.1)
    assert out[2] > 0.99      # a behaviour bin that saw no spam is "rare", not "impossible"
    assert out[3] < 0.01      # strong exoneration lowers a certain-looking number


def test_flagged_numbers_with_complaints_say_so_in_their_reasons(trained: Path,
                                                                  features: pd.DataFrame) -> None:
    """Complaints are named when, under the estimated rates, they pushed the score up, and
    only then (three complaints over a huge exposure can be what a legitimate caller draws)."""
    model = oracle.load_model(trained)
    scores = oracle.score(model, features, oracle.load_rules())
    frame = features.sort_values("number", kind="stable").reset_index(drop=True)
    data = scores.merge(frame.assign(llr=model.llr(frame))[["number", "llr"]], on="number")
    flagged = data[data["verdict"] == "spam"]
    pushed = flagged["llr"] > np.log(2)
    assert pushed.sum() >= 5
    assert flagged.loc[pushed, "reasons"].str.contains("reported it as spam").all()
    assert not flagged.loc[~pushed, "reasons"].str.contains("reported it as spam").any()


def test_model_card_records_the_complaint_evidence_rates(trained: Path) -> None:
    card = json.loads((trained / "model_card.json").read_text())
    networks = card["complaint_evidence"]["networks"]
    assert "*" in networks and card["window"]["complaint_model"]["networks"] == networks
    for fit in networks.values():
        assert fit["spam_rate"] > fit["legit_rate"] > 0
        assert fit["source"] in ("estimated", "pooled", "prior")


@pytest.mark.parametrize(("spam", "ham"), [(0, 40), (40, 0), (3, 40)])
def test_a_label_column_with_one_class_or_too_few_positives_is_refused_with_counts(
        spam: int, ham: int) -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"number": [f"+1415555{i:04d}" for i in range(spam + ham)],
                          "country": "US", "f1": rng.random(spam + ham),
                          "label": [1] * spam + [0] * ham})
    with pytest.raises(oracle.LabelError, match=rf"too few labels to train: {spam} spam, "
                                                rf"{ham} not spam"):
        oracle.train(table, None)


def test_true_labels_train_one_model_per_fit_and_set_the_suspicious_tier_at_best_f1() -> None:
    """Balanced true labels: no undersampling, so no bags; the suspicious threshold is the
    out-of-fold F1 optimum, not the far lower precision-0.70 point."""
    rng = np.random.default_rng(1)
    n = 1200
    y = (rng.random(n) < 0.35).astype(int)
    table = pd.DataFrame({"number": [f"+1415555{i:04d}" for i in range(n)], "country": "US",
                          "f1": rng.normal(y * 1.5, 1.0), "f2": rng.normal(y, 1.0),
                          "label": y})
    model = oracle.train(table, None, oracle.TrainConfig(max_iter=40, folds=3))
    cm = model.countries["*"]
    assert len(cm.classifier.members) == 1
    assert cm.suspicious_threshold <= cm.spam_threshold
    fresh = table.assign(f1=rng.normal(y * 1.5, 1.0), f2=rng.normal(y, 1.0))
    scores = oracle.score(model, fresh.drop(columns=["label"]), {}, reasons=False)
    flagged = int(scores["verdict"].isin(["spam", "suspicious"]).sum())
    # At the F1 optimum about as many numbers are flagged as are spam; at precision 0.70
    # on these overlapping classes far more would be.
    assert 0.7 * y.sum() <= flagged <= 1.35 * y.sum()


def _given_labels(n: int, positive: float, countries: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    y = (rng.random(n) < positive).astype(int)
    return pd.DataFrame({"number": [f"+1415555{i:04d}" for i in range(n)],
                         "country": rng.choice(countries, n), "f1": rng.normal(y * 2.0, 1.0),
                         "f2": rng.normal(y, 1.0), "label": y})


def test_given_imbalanced_labels_are_fitted_whole_not_in_undersampled_bags() -> None:
    """10% positives would be undersampled into 5 bags if the labels were derived; labels
    an operator gives are true, so every row is fitted once."""
    table = _given_labels(3000, 0.10, ["US"])
    config = oracle.TrainConfig(max_iter=30, folds=3)
    given = oracle.train(table, None, config)
    assert given.countries["*"].metrics["bags"] == 1
    derived = oracle.train(table.assign(firm=True), None, config)
    assert derived.countries["*"].metrics["bags"] == config.bags


def test_one_network_trains_one_model_not_the_same_one_twice() -> None:
    config = oracle.TrainConfig(max_iter=30, folds=3, min_positives=50, min_negatives=50)
    one = oracle.train(_given_labels(2000, 0.3, ["US"]), None, config)
    assert set(one.countries) == {"*"}
    two = oracle.train(_given_labels(2000, 0.3, ["US", "GB"]), None, config)
    assert set(two.countries) == {"*", "US", "GB"}


def test_a_spam_tier_no_threshold_can_turn_on_says_so_in_the_card_and_the_log(
        caplog: pytest.LogCaptureFixture) -> None:
    """Labels the behaviour cannot separate (noise features): no score reaches precision
    0.97, so nothing is called spam by behaviour alone, and the model says why instead of
    showing a bare threshold of 1."""
    rng = np.random.default_rng(5)
    n = 1200
    y = (rng.random(n) < 0.35).astype(int)
    table = pd.DataFrame({"number": [f"+1415555{i:04d}" for i in range(n)], "country": "US",
                          "f1": rng.normal(0, 1, n), "f2": rng.normal(0, 1, n), "label": y})
    with caplog.at_level("WARNING", logger="oracle._model"):
        model = oracle.train(table, None, oracle.TrainConfig(max_iter=30, folds=3))
    cm = model.countries["*"]
    assert cm.spam_threshold == 1.0
    off = cm.metrics["spam_tier_off"]
    assert off["target_precision"] == 0.97 and 0.2 < off["best_precision"] < 0.97
    assert "spam tier off" in caplog.text and f"{off['best_precision']:.3f}" in caplog.text


def test_a_spam_tier_that_reaches_its_precision_carries_no_note() -> None:
    table = _given_labels(1500, 0.3, ["US"]).assign(
        f1=lambda t: t["label"] * 6.0 + np.random.default_rng(6).normal(0, 1, len(t)))
    cm = oracle.train(table, None, oracle.TrainConfig(max_iter=30, folds=3)).countries["*"]
    assert cm.spam_threshold < 1.0
    assert "spam_tier_off" not in cm.metrics
    assert oracle.spam_tier_note(cm.metrics) == ""
