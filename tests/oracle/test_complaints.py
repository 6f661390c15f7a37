"""Complaint rates estimated from the data: EM over exposure, per network, with fallbacks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oracle import LabelError
from oracle._complaints import POOLED, RateFit, estimate_rates, fit_networks

PRIOR = RateFit(0.004, 50.0, 0.02, 50.0, 0.05, source="prior")


def _world(rng: np.random.Generator, n: int, legit_rate: float, spam_rate: float,
           share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic numbers: spam rates spread (exponentially), legitimate ones tight."""
    spam = rng.random(n) < share
    exposure = rng.lognormal(3.0, 1.0, n)
    rate = np.where(spam, rng.gamma(1.0, spam_rate, n), rng.gamma(5.0, legit_rate / 5, n))
    complaints = rng.poisson(rate * exposure)
    anchors = ~spam & (rng.random(n) < 0.6)   # acquainted or vouched for
    return complaints, exposure, spam, anchors


@pytest.mark.parametrize(("legit_rate", "spam_rate", "share"),
                         [(0.001, 0.03, 0.10), (0.0002, 0.005, 0.05), (0.003, 0.08, 0.2)])
def test_em_recovers_known_rates(legit_rate: float, spam_rate: float, share: float) -> None:
    complaints, exposure, _spam, anchors = _world(np.random.default_rng(3), 30_000,
                                                  legit_rate, spam_rate, share)
    fit = estimate_rates(complaints, exposure, anchors)
    # The quietest spam is indistinguishable from legitimate numbers by complaints alone
    # and lands in that class: the spam mean comes out high and its share low, within
    # these bounds; what matters downstream (the evidence) is tested below.
    assert fit.legit_rate == pytest.approx(legit_rate, rel=0.4)
    assert fit.spam_rate == pytest.approx(spam_rate, rel=0.6)
    assert share / 2.5 <= fit.spam_share <= share * 1.2


def test_rates_ten_times_lower_are_estimated_ten_times_lower() -> None:
    """The same world with subscribers who complain ten times less often."""
    rng = np.random.default_rng(5)
    loud = estimate_rates(*_world(rng, 30_000, 0.002, 0.04, 0.1)[::3][:2],
                          _world(np.random.default_rng(5), 30_000, 0.002, 0.04, 0.1)[3])
    quiet = estimate_rates(*_world(np.random.default_rng(5), 30_000, 0.0002, 0.004,
                                   0.1)[::3][:2],
                           _world(np.random.default_rng(5), 30_000, 0.0002, 0.004, 0.1)[3])
    assert quiet.spam_rate == pytest.approx(loud.spam_rate / 10, rel=0.4)
    assert quiet.legit_rate == pytest.approx(loud.legit_rate / 10, rel=0.4)


def test_evidence_separates_the_classes_it_was_fitted_on() -> None:
    complaints, exposure, spam, anchors = _world(np.random.default_rng(7), 20_000,
                                                 0.001, 0.03, 0.1)
    fit = estimate_rates(complaints, exposure, anchors)
    odds = fit.llr(complaints, exposure) + math.log(fit.spam_share / (1 - fit.spam_share))
    strong = (odds >= math.log(10)) & (complaints >= 2)   # the spam label rule
    # An exponential spread of rates: many spam numbers are quiet, and only the loud
    # ones can be labelled by complaints; those labels must be right.
    assert strong[spam].mean() > 0.1
    assert spam[strong].mean() >= 0.9


def test_silence_weighs_less_when_spam_complaint_rates_vary() -> None:
    """Spam that draws almost no complaints exists: the fitted spread of spam rates makes
    silence far weaker evidence than a single spam rate (the old fixed-rate Poisson) would."""
    complaints, exposure, _spam, anchors = _world(np.random.default_rng(8), 20_000,
                                                  0.001, 0.03, 0.1)
    fit = estimate_rates(complaints, exposure, anchors)
    assert fit.spam_shape < 3.0     # the spread (exponential here) is estimated from the data
    poisson = -2000.0 * (fit.spam_rate - fit.legit_rate)
    assert float(fit.llr(0, 2000.0)) > poisson / 5


def test_estimate_is_deterministic() -> None:
    complaints, exposure, _spam, anchors = _world(np.random.default_rng(9), 5000,
                                                  0.001, 0.03, 0.1)
    assert estimate_rates(complaints, exposure, anchors) == estimate_rates(
        complaints.copy(), exposure.copy(), anchors.copy())


def test_no_complaint_at_all_is_refused_with_the_count() -> None:
    with pytest.raises(LabelError, match="no complaint among 50 exposed numbers"):
        estimate_rates(np.zeros(50), np.full(50, 10.0))


def test_a_small_network_uses_the_pooled_fit_and_too_little_data_the_prior() -> None:
    big = _world(np.random.default_rng(4), 20_000, 0.001, 0.03, 0.1)
    small = _world(np.random.default_rng(6), 50, 0.001, 0.03, 0.1)
    k = np.concatenate([big[0], small[0]])
    e = np.concatenate([big[1], small[1]])
    a = np.concatenate([big[3], small[3]])
    nets = np.array(["US"] * 20_000 + ["GB"] * 50, dtype=object)
    model = fit_networks(k, e, nets, PRIOR, anchors=a)
    assert model.fits["US"].source == "estimated"
    assert model.fits["GB"] == model.fits[POOLED]
    assert model.fits[POOLED].source == "pooled"
    tiny = fit_networks(small[0], small[1], np.array(["GB"] * 50, dtype=object), PRIOR)
    assert tiny.fits[POOLED].source == "prior" and tiny.fits[POOLED].spam_rate == 0.02


def test_operator_override_replaces_the_estimate() -> None:
    k, e, _s, a = _world(np.random.default_rng(4), 5000, 0.001, 0.03, 0.1)
    override = RateFit(0.01, 50.0, 0.1, 50.0, 0.05, source="override")
    model = fit_networks(k, e, np.array(["US"] * 5000, dtype=object), PRIOR, override, a)
    assert model.fit_for("US") == override


def test_the_model_card_round_trips() -> None:
    k, e, _s, a = _world(np.random.default_rng(4), 5000, 0.001, 0.03, 0.1)
    model = fit_networks(k, e, np.array(["US"] * 5000, dtype=object), PRIOR, anchors=a)
    again = type(model).from_card(model.card())
    assert again == model
    assert np.allclose(again.llr(k, e, np.array(["US"] * 5000)), model.llr(k, e))
