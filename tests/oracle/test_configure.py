"""Settings reach training and scoring the same way from the CLI and from the service."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

import oracle
from oracle._configure import rules_for, scoring_options, train_config, training_options
from oracle._rules import RULES_DIR
from spamledger._cli import main
from spamledger._settings import load_settings


def _settings(**overrides: object):
    return load_settings(environ={}, overrides=overrides)


def test_training_options_follow_the_settings() -> None:
    s = _settings(oracle_bags=2, oracle_target_precision=0.9, oracle_snapshots=3,
                  oracle_long_days=7.0, oracle_short_hours=12.0,
                  oracle_label_delay_hours=24.0)
    options = training_options(s)
    assert options["config"] == train_config(s)
    assert (options["config"].bags, options["config"].target_precision) == (2, 0.9)
    assert (options["snapshots"], options["long_days"], options["short_hours"],
            options["label_delay_hours"]) == (3, 7.0, 12.0, 24.0)


def test_rules_dir_setting_replaces_the_packaged_rules(tmp_path: Path) -> None:
    (tmp_path / "US.yaml").write_text("country: US\nnever_spam: ['+12025550143']\n")
    assert set(rules_for(_settings(oracle_rules_dir=tmp_path))) == {"US"}
    assert set(rules_for(_settings())) == {p.stem for p in RULES_DIR.glob("*.yaml")}


def test_scoring_uses_the_windows_the_model_was_trained_with(
        trained: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = oracle.load_model(trained)
    assert model.window["short_hours"] == 24
    with caplog.at_level(logging.WARNING, logger="oracle._configure"):
        options = scoring_options(_settings(oracle_long_days=30.0, oracle_short_hours=6.0),
                                  model)
    assert (options["long_days"], options["short_hours"]) == (model.window["long_days"], 24.0)
    assert "long_days" in caplog.text and "short_hours" in caplog.text


def test_training_records_the_short_window_it_used(sim: dict[str, Path]) -> None:
    from tests.oracle.conftest import TRAIN_UNTIL

    feats, _, window, _ = oracle.training_data(sim["calls"], sim["reports"], TRAIN_UNTIL,
                                               snapshots=1, short_hours=6)
    wide, _, _, _ = oracle.training_data(sim["calls"], sim["reports"], TRAIN_UNTIL,
                                         snapshots=1, short_hours=48)
    assert window["short_hours"] == 6
    # More numbers were active in the last 48 h than in the last 6 h.
    assert (wide["n_out_24h"] > 0).sum() > (feats["n_out_24h"] > 0).sum()


def test_cli_score_applies_the_operators_rules_folder(sim: dict[str, Path], trained: Path,
                                                      tmp_path: Path) -> None:
    from tests.oracle.conftest import SCORE_UNTIL

    data = ["--calls", str(sim["calls"]), "--reports", str(sim["reports"]),
            "--model-dir", str(trained), "--until", SCORE_UNTIL.isoformat() + "Z"]
    before = tmp_path / "before.parquet"
    assert main(["oracle", "score", *data, "--out", str(before)]) == 0
    flagged = pd.read_parquet(before).query("verdict == 'spam'").iloc[0]
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    path = rules / f"{flagged['country']}.yaml"
    # Every packaged file opens its never-spam list with "never_spam:" on its own line.
    path.write_text(path.read_text().replace(
        "never_spam:\n", f"never_spam:\n  - \"{flagged['number']}\"   # verified business\n", 1))
    after = tmp_path / "after.parquet"
    assert main(["oracle", "score", *data, "--out", str(after),
                 "--oracle-rules-dir", str(rules)]) == 0
    row = pd.read_parquet(after).set_index("number").loc[flagged["number"]]
    assert row["verdict"] == "not_spam" and "never-spam" in row["reasons"]


def test_the_consortium_secret_lets_training_and_scoring_confirm_api_complaints() -> None:
    from oracle._configure import feature_options

    assert feature_options(_settings())["hasher"] is None
    hasher = training_options(_settings(consortium_secret="s" * 32))["hasher"]
    from spamledger import NumberHasher
    assert hasher.hex("+14155550100") == NumberHasher("s" * 32).hex("+14155550100")


def test_fixed_complaint_rates_need_both_settings_in_order() -> None:
    from oracle import LabelError
    from oracle._configure import label_policy

    assert label_policy(_settings()).estimate is True
    fixed = label_policy(_settings(oracle_spam_rate=0.05, oracle_background_rate=0.001))
    assert (fixed.estimate, fixed.spam_rate, fixed.background_rate) == (False, 0.05, 0.001)
    with pytest.raises(LabelError, match="both be set"):
        label_policy(_settings(oracle_spam_rate=0.05))


def test_label_rules_follow_the_settings() -> None:
    from oracle._configure import label_policy

    policy = label_policy(_settings(oracle_min_organic=0, oracle_sweep_alpha=0.0,
                                    oracle_night_alpha=0.0))
    assert (policy.min_organic, policy.sweep_alpha, policy.night_alpha, policy.estimate) == (
        0, 0.0, 0.0, True)
    assert label_policy(_settings()).night_alpha == 0.001
    fixed = label_policy(_settings(oracle_min_organic=3, oracle_spam_rate=0.05,
                                   oracle_background_rate=0.001))
    assert (fixed.min_organic, fixed.spam_rate, fixed.estimate) == (3, 0.05, False)


def test_self_training_is_off_unless_the_operator_turns_it_on() -> None:
    from oracle._configure import label_policy

    assert label_policy(_settings()).self_training is False
    assert label_policy(_settings(oracle_self_training=True)).self_training is True


def test_a_negative_organic_count_is_refused_by_name() -> None:
    from oracle._configure import label_policy

    with pytest.raises(oracle.LabelError, match="oracle_min_organic"):
        label_policy(_settings(oracle_min_organic=-1))
