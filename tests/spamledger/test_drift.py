"""Score histograms and drift statistics (PSI, binned KS)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spamledger._drift import (
    SCORE_EDGES,
    bin_counts,
    ks_distance,
    psi,
    score_histogram,
    valid_histogram,
)


def test_histogram_bins_clip_and_drop_nan() -> None:
    hist = score_histogram([0.0, 0.005, 0.01, 0.95, 1.0, 1.7, -0.2, float("nan")])
    assert hist["edges"] == list(SCORE_EDGES)
    # 0.0, 0.005, -0.2 -> [0, .01); 0.01 -> [.01, .02); 0.95, 1.0, 1.7 -> [.9, 1]
    assert hist["counts"] == [3, 1, 0, 0, 0, 0, 0, 0, 0, 3] and hist["total"] == 7


def test_weighted_bin_counts_match_the_histogram_of_the_repeated_scores() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 10_001, size=500)
    values, counts = np.unique(scores, return_counts=True)
    weighted = bin_counts(SCORE_EDGES, [(v / 10_000, int(n)) for v, n in zip(values, counts,
                                                                              strict=True)])
    assert weighted == score_histogram(scores / 10_000)["counts"]
    assert bin_counts(SCORE_EDGES, []) == [0] * 10


def test_identical_distributions_do_not_drift_and_a_shift_does() -> None:
    same = [50, 30, 10, 5, 5]
    assert psi(same, [x * 3 for x in same]) == pytest.approx(0.0)
    assert ks_distance(same, [x * 3 for x in same]) == pytest.approx(0.0)
    shifted = [5, 5, 10, 30, 50]
    # shares .5/.05 both ways on the outer bins, .3/.05 on the next, .1 in the middle
    expected = 2 * (0.45 * math.log(10)) + 2 * (0.25 * math.log(6))
    assert psi(same, shifted) == pytest.approx(expected)
    assert ks_distance(same, shifted) == pytest.approx(0.7)  # .8 vs .1 after two bins


def test_an_empty_bin_keeps_the_index_finite() -> None:
    assert math.isfinite(psi([10, 0], [0, 10])) and psi([10, 0], [0, 10]) > 5
    assert ks_distance([10, 0], [0, 10]) == pytest.approx(1.0)


@pytest.mark.parametrize("doc", [None, [], {"edges": [0, 1]}, {"edges": [0, 1], "counts": [0]},
                                 {"edges": [0.5, 0.2, 1], "counts": [1, 1]},
                                 {"edges": [0, 2], "counts": [3]},
                                 {"edges": [0, 0.5, 1], "counts": [1]},
                                 {"edges": [0, 1], "counts": [-1]},
                                 {"edges": ["a", 1], "counts": [1]}])
def test_malformed_histograms_are_refused(doc) -> None:
    assert valid_histogram(doc) is None


def test_a_card_histogram_round_trips() -> None:
    hist = score_histogram([0.03, 0.4, 0.99])
    assert valid_histogram(hist) == hist
