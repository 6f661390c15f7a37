"""The independent world's files go through the oracle's CLI cleanly, and its evaluator's
arithmetic is right on a case small enough to check by hand."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

import oracle
from bench.independent_eval import SCORE_UNTIL, Counts, evaluate, rate
from bench.independent_world import generate

RECENT = pd.Timestamp(SCORE_UNTIL - timedelta(hours=10))
OLD = pd.Timestamp(SCORE_UNTIL - timedelta(days=9))


def _truth(rows: list[tuple[str, str, str, bool, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["number", "country", "class", "is_spam", "first_seen"])


def _scores(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["number", "verdict"]).assign(score=0.5)


@pytest.fixture
def hand_made() -> dict:
    truth = _truth([
        ("+1A", "US", "robocaller", True, OLD),       # called spam: a hit
        ("+1B", "US", "robocaller", True, RECENT),    # suspicious: only the wider recall
        ("+1C", "US", "wangiri", True, RECENT),       # never scored: a miss, not skipped
        ("+1D", "US", "delivery", False, OLD),        # legitimate called spam
        ("+1E", "US", "delivery", False, OLD),        # legitimate left alone
        ("+1H", "US", "debt_collector", False, OLD),  # gray legitimate called spam
        ("+55F", "BR", "private_subscriber", False, OLD),
        ("+55G", "BR", "political_charity", False, OLD),  # suspicious: flagged, not spam
    ])
    scores = _scores([("+1A", "spam"), ("+1B", "suspicious"), ("+1D", "spam"),
                      ("+1E", "not_spam"), ("+1H", "spam"), ("+55F", "not_spam"),
                      ("+55G", "suspicious"), ("+99Z", "spam")])
    return evaluate(truth, scores)


def test_precision_counts_a_legitimate_spam_verdict_against_the_country(hand_made):
    assert hand_made["countries"]["US"]["precision"] == pytest.approx(1 / 3)


def test_an_unscored_spam_number_counts_as_missed(hand_made):
    us = hand_made["countries"]["US"]
    assert us["recall"] == pytest.approx(1 / 3)
    assert us["spam_or_suspicious_recall"] == pytest.approx(2 / 3)
    assert hand_made["classes"]["wangiri"]["unscored"] == 1


def test_a_country_that_called_nothing_spam_has_no_precision_rather_than_a_perfect_one(
        hand_made):
    br = hand_made["countries"]["BR"]
    assert br["precision"] is None
    assert br["recall"] is None
    assert br["legit_flag_rate"] == pytest.approx(1 / 2)


def test_new_numbers_recall_only_counts_spam_first_seen_in_the_last_48_hours(hand_made):
    assert hand_made["countries"]["US"]["new_48h_spam"] == 2
    assert hand_made["countries"]["US"]["new_48h_recall"] == 0.0
    assert hand_made["new_48h"]["robocaller"]["flag_rate"] == 1.0


def test_legitimate_class_flag_rates_include_suspicious_but_spam_rates_do_not(hand_made):
    assert hand_made["classes"]["delivery"]["spam_rate"] == pytest.approx(1 / 2)
    assert hand_made["classes"]["political_charity"]["flag_rate"] == 1.0
    assert hand_made["classes"]["political_charity"]["spam_rate"] == 0.0
    assert hand_made["worst_legit_class"]["flag_rate"] == 1.0
    assert hand_made["countries"]["US"]["worst_legit_class"]["class"] == "debt_collector"


def test_gray_classes_leave_the_precision_denominator_only_where_asked(hand_made):
    assert hand_made["all"]["precision"] == pytest.approx(1 / 3)
    assert hand_made["all"]["precision_without_gray"] == pytest.approx(1 / 2)
    assert hand_made["scored_not_in_truth"] == 1


def test_rate_without_a_denominator_is_none():
    assert rate(0, 0) is None
    assert rate(3, 4) == 0.75


def test_counts_of_an_all_legitimate_group_flag_nothing():
    frame = _truth([("+1X", "US", "shop", False, OLD)]).assign(verdict="not_spam")
    assert Counts(frame).metrics()["legit_flag_rate"] == 0.0


def test_same_seed_same_world_other_seed_other_world(tmp_path):
    a = generate(tmp_path / "a", seed=7, scale=0.03)
    b = generate(tmp_path / "b", seed=7, scale=0.03)
    c = generate(tmp_path / "c", seed=8, scale=0.03)
    assert pq.read_table(a["calls"]).equals(pq.read_table(b["calls"]))
    assert pq.read_table(a["reports"]).equals(pq.read_table(b["reports"]))
    assert not pq.read_table(a["calls"]).equals(pq.read_table(c["calls"]))


def test_the_oracle_reads_every_row_and_every_number_back_to_the_truth_table(tmp_path):
    paths = generate(tmp_path / "world", seed=7, scale=0.03)
    features = oracle.build_features(paths["calls"], paths["reports"],
                                     quarantine_dir=tmp_path / "quarantine")
    truth = pd.read_parquet(paths["truth"])
    assert not (tmp_path / "quarantine").exists()    # written only when a row is bad
    assert set(features["number"]) <= set(truth["number"])   # national formats included
    assert set(truth.loc[truth["is_spam"], "number"]) <= set(features["number"])


# The CLI run over a whole world (train + score, 2-15 minutes on these 2 cores) is
# `bench/independent_eval.py` itself, whose reports record quarantined rows per seed; it
# is not repeated in `make test`, which must stay under 30 minutes.
