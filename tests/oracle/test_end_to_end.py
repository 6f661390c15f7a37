"""simulate -> train (days 0-10) -> score (day 14) -> evaluate, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from spamledger._cli import main


@pytest.mark.slow
def test_cli_simulate_train_score_evaluate(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    sim, model, scores = tmp_path / "sim", tmp_path / "model", tmp_path / "scores.parquet"
    assert main(["oracle", "simulate", str(sim), "--scale", "0.25", "--seed", "4"]) == 0
    data = ["--calls", str(sim / "calls"), "--reports", str(sim / "reports.parquet")]
    assert main(["oracle", "train", *data, "--model-dir", str(model),
                 "--until", "2026-01-15T00:00:00Z"]) == 0
    assert (model / "quarantine-calls.parquet").exists()
    assert main(["oracle", "score", *data, "--model-dir", str(model), "--out", str(scores),
                 "--until", "2026-01-19T00:00:00Z"]) == 0
    capsys.readouterr()
    assert main(["oracle", "evaluate", "--scores", str(scores), "--truth",
                 str(sim / "truth.parquet"), "--json", str(tmp_path / "eval.json")]) == 0
    printed = capsys.readouterr().out
    assert "first seen in the last 48 h" in printed and "call_centre" in printed
    report = json.loads((tmp_path / "eval.json").read_text())
    overall = report["countries"]["ALL"]
    # Loose floors that still catch a broken pipeline on this small sample; the real
    # figures at full scale are in bench/ORACLE.md.
    assert overall["pr_auc"] > 0.6 and overall["precision"] > 0.6
    assert overall["recall"] > 0.15 and overall["flagged_recall"] > 0.3
    assert report["legit_classes"]["subscriber"]["fpr"] < 0.02
    out = pd.read_parquet(scores)
    model_hash = json.loads((model / "model_card.json").read_text())["model_hash"]
    assert set(out["model"]) == {model_hash}
    assert set(out["verdict"]) <= {"spam", "suspicious", "not_spam"}


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oracle", "train", "--calls", str(tmp_path / "missing"), "--reports",
                 str(tmp_path / "r.csv"), "--model-dir", str(tmp_path / "m")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["oracle", "score", "--model-dir", str(tmp_path / "m"),
                 "--out", str(tmp_path / "s.parquet")]) == 1
    assert "--calls and --reports" in capsys.readouterr().err


def test_train_into_an_unwritable_model_dir_is_one_line_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code = main(["oracle", "train", "--calls", str(tmp_path / "missing"), "--reports",
                 str(tmp_path / "r.csv"), "--model-dir", str(blocker / "models")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("spamledger: error: cannot write to --model-dir")
    assert len(err.strip().splitlines()) == 1


def test_cli_train_and_score_from_a_labelled_feature_table(
        sim: dict[str, Path], tmp_path: Path) -> None:
    import oracle
    from tests.oracle.conftest import TRAIN_UNTIL

    feats, labels, _, _ = oracle.training_data(sim["calls"], sim["reports"], until=TRAIN_UNTIL,
                                               snapshots=1)
    table = feats.merge(labels[["number", "label"]], on="number", how="left")
    table.to_parquet(tmp_path / "features.parquet")
    model = tmp_path / "model"
    assert main(["oracle", "train", "--features", str(tmp_path / "features.parquet"),
                 "--model-dir", str(model)]) == 0
    assert main(["oracle", "score", "--features", str(tmp_path / "features.parquet"),
                 "--model-dir", str(model), "--out", str(tmp_path / "s.parquet")]) == 0
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert len(scores) == len(table) and set(scores["number"]) == set(table["number"])
    card = json.loads((model / "model_card.json").read_text())
    assert card["features"] == list(oracle.FEATURES)


def test_cli_train_says_when_the_spam_tier_cannot_reach_its_precision(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    n = 900
    pd.DataFrame({"number": [f"+1415555{i:04d}" for i in range(n)], "country": "US",
                  "f1": rng.normal(0, 1, n), "label": (rng.random(n) < 0.3).astype(int)}
                 ).to_csv(tmp_path / "noise.csv", index=False)
    assert main(["oracle", "train", "--features", str(tmp_path / "noise.csv"),
                 "--model-dir", str(tmp_path / "model")]) == 0
    out = capsys.readouterr().out
    assert "spam >= 1.000" in out
    assert "spam tier off: no score reaches out-of-fold precision 0.970" in out


def test_simulate_refuses_a_country_that_is_not_an_iso_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oracle", "simulate", str(tmp_path / "sim"), "--countries", "US,XX"]) == 1
    assert "'XX'" in capsys.readouterr().err
    assert not (tmp_path / "sim").exists()


def _flags(*command: str) -> set[str]:
    """The option strings of ``spamledger oracle COMMAND``, read from the real parser."""
    import argparse

    from oracle._cli import register

    root = argparse.ArgumentParser()
    register(root.add_subparsers())
    node = root
    for name in ("oracle", *command):
        sub = next(a for a in node._actions if isinstance(a, argparse._SubParsersAction))
        node = sub.choices[name]
    return {s for a in node._actions for s in a.option_strings}


def test_train_and_score_keep_their_cli_contract() -> None:
    """The flags operators script against (issue #18: the CLI contract is unchanged)."""
    common = {"--calls", "--reports", "--features", "--model-dir", "--until"}
    assert common | {"--labels", "--warm-start", "--peer-model"} <= _flags("train")
    assert common | {"--out", "--no-reasons"} <= _flags("score")


def test_scores_written_by_the_cli_have_exactly_the_documented_columns(tmp_path: Path) -> None:
    import oracle

    sim, model, scores = tmp_path / "sim", tmp_path / "model", tmp_path / "s.parquet"
    assert main(["oracle", "simulate", str(sim), "--scale", "0.05", "--seed", "2"]) == 0
    data = ["--calls", str(sim / "calls"), "--reports", str(sim / "reports.parquet")]
    truth = pd.read_parquet(sim / "truth.parquet")
    truth.assign(label=truth["is_spam"].astype(int))[["number", "label"]].to_csv(
        tmp_path / "labels.csv", index=False)
    assert main(["oracle", "train", *data, "--model-dir", str(model),
                 "--labels", str(tmp_path / "labels.csv")]) == 0
    assert main(["oracle", "score", *data, "--model-dir", str(model), "--out",
                 str(scores), "--no-reasons"]) == 0
    assert list(pd.read_parquet(scores).columns) == list(oracle.SCORE_COLUMNS)
