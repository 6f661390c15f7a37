"""Complaint rates estimated from each operator's own data: a two-class mixture over exposure.

Operators, countries, channels and spam types differ in how often people complain: a
scam that hooks a few people draws a complaint from one stranger in twenty; a robocall
that millions hang up on draws one in ten thousand; a registered call centre draws a
few per thousand. No fixed pair of rates fits all of them, so the rates are estimated
from the data of each recording network by expectation-maximisation (EM).

Assumptions (the model the estimate rests on):

1. A number's confirmed complaints ``k`` (distinct reporters the call records confirm)
   over its **exposure** ``e`` (strangers it reached; an unanswered one counts
   ``missed_weight``) are Poisson with a rate ``λ`` of that number's own.
2. ``λ`` comes from one of two classes, each a Gamma distribution: legitimate (mean
   ``legit_rate``, shape ``legit_shape``) or spam (mean ``spam_rate``, shape
   ``spam_shape``). ``k`` is then a mixture of two negative binomials. A small fitted
   shape means a class is heterogeneous: spam that draws almost no complaints and spam
   that draws many both belong to it, and then a silent number that reached many
   strangers is only weak evidence of legitimacy; a large one means the operator's spam
   draws complaints evenly, and silence is strong evidence.
3. Numbers legitimate by evidence other than complaints (anchors: their callees call
   them too, or subscribers vouched for them) belong to the legitimate class; this is
   what names the classes (without it the loudest type would be "spam" and every
   quieter one "legitimate").
4. Numbers are independent; each reporter counts once; the share of spam among numbers
   with exposure (``spam_share``) is estimated too.

A network with fewer than ``min_numbers`` exposed numbers or fewer than
``min_complained`` numbers with a complaint cannot be fitted on its own: it uses the
fit pooled over every network (logged). When even the pooled data cannot separate two
classes (the fitted means are less than ``min_separation`` apart), the label policy's
prior rates are used and the fit says so (``source="prior"``). An operator may fix the
rates in the settings table (``oracle_spam_rate``, ``oracle_background_rate``), which
replaces the estimate (``source="override"``).

Example::

    fit = estimate_rates(complaints, exposure)       # arrays, one entry per number
    fit.llr(complaints, exposure)                     # ln P(k | spam) - ln P(k | legit)
    rates = fit_networks(frame)                       # per network, with a pooled fallback
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

from oracle._errors import LabelError

logger = logging.getLogger(__name__)

POOLED = "*"
_SHAPE_BOUNDS = (0.05, 200.0)
# The shape of each class is estimated, not capped. Capping the spam class at 1 (an
# exponential spread of rates, so that silence never clears a number) was measured and
# not adopted: on the default world precision fell from 0.98 to 0.82
# (bench/ORACLE_WORLDS_NOTES.md).
_RATE_BOUNDS = (1e-7, 1.0)


@dataclass(frozen=True)
class RateFit:
    """A fitted two-class complaint model (rates per unit of exposure)."""

    legit_rate: float
    legit_shape: float
    spam_rate: float
    spam_shape: float
    spam_share: float
    numbers: int = 0
    source: str = "estimated"      # estimated | pooled | prior | override

    def __post_init__(self) -> None:
        if not 0 < self.legit_rate < self.spam_rate:
            raise LabelError("complaint model needs 0 < legit rate < spam rate, got "
                             f"{self.legit_rate} and {self.spam_rate}")

    def llr(self, complaints: np.ndarray | float, exposure: np.ndarray | float) -> np.ndarray:
        """``ln P(k | spam) - ln P(k | legitimate)`` for each (complaints, exposure) pair."""
        k = np.asarray(complaints, dtype=np.float64)
        e = np.asarray(exposure, dtype=np.float64)
        return (_nb_logpmf(k, e * self.spam_rate, self.spam_shape)
                - _nb_logpmf(k, e * self.legit_rate, self.legit_shape))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ComplaintModel:
    """Complaint rates per recording network, with a pooled fit for the rest."""

    fits: dict[str, RateFit] = field(default_factory=dict)
    missed_weight: float = 0.25

    def fit_for(self, network: str | None) -> RateFit:
        return self.fits.get(network or POOLED, self.fits[POOLED])

    def llr(self, complaints: np.ndarray, exposure: np.ndarray,
            networks: np.ndarray | None = None) -> np.ndarray:
        """The log likelihood ratio of each row under its own network's fit."""
        k = np.asarray(complaints, dtype=np.float64)
        e = np.asarray(exposure, dtype=np.float64)
        if networks is None:
            return self.fits[POOLED].llr(k, e)
        nets = np.asarray(networks, dtype=object)
        out = np.zeros(len(k))
        for net in sorted({str(n) for n in nets}):
            sel = nets == net
            out[sel] = self.fit_for(net).llr(k[sel], e[sel])
        return out

    def card(self) -> dict:
        """A JSON-safe description (the model card carries it; :meth:`from_card` reads it)."""
        return {"missed_weight": self.missed_weight,
                "networks": {k: v.as_dict() for k, v in sorted(self.fits.items())}}

    @classmethod
    def from_card(cls, card: dict) -> ComplaintModel:
        """The model :meth:`card` described."""
        fits = {net: RateFit(**fit) for net, fit in card["networks"].items()}
        return cls(fits, float(card.get("missed_weight", 0.25)))


def _nb_logpmf(k: np.ndarray, mean: np.ndarray, shape: float) -> np.ndarray:
    """Negative binomial log pmf with the given mean and Gamma shape (Poisson as shape grows)."""
    mean = np.maximum(mean, 1e-300)
    a = float(shape)
    return (gammaln(k + a) - gammaln(a) - gammaln(k + 1)
            + a * np.log(a / (a + mean)) + k * np.log(mean / (a + mean)))


def _m_step(k: np.ndarray, e: np.ndarray, w: np.ndarray, start: tuple[float, float]
            ) -> tuple[float, float]:
    """Weighted maximum likelihood (rate, shape) of one negative-binomial class."""
    if w.sum() <= 1e-9:
        return start

    def loss(theta: np.ndarray) -> float:
        rate, shape = math.exp(theta[0]), math.exp(theta[1])
        return -float(np.dot(w, _nb_logpmf(k, e * rate, shape))) / float(w.sum())

    bounds = [tuple(math.log(b) for b in _RATE_BOUNDS),
              tuple(math.log(b) for b in _SHAPE_BOUNDS)]
    x0 = np.log(np.clip(start, [_RATE_BOUNDS[0], _SHAPE_BOUNDS[0]],
                        [_RATE_BOUNDS[1], _SHAPE_BOUNDS[1]]))
    res = minimize(loss, x0, method="L-BFGS-B", bounds=bounds)
    return math.exp(res.x[0]), math.exp(res.x[1])


def estimate_rates(complaints: np.ndarray, exposure: np.ndarray,
                   anchors: np.ndarray | None = None, iterations: int = 40,
                   tol: float = 1e-5) -> RateFit:
    """Fit the two-class complaint model by EM (see the module docstring).

    :param complaints: confirmed distinct reporters per number.
    :param exposure: the exposure each number had (> 0).
    :param anchors: numbers known to be legitimate from evidence other than complaints
        (their callees call them too, subscribers vouched for them): they belong to the
        legitimate class throughout (semi-supervised EM). They are what names the classes:
        without them the higher-rate class is called spam, and a world whose loudest
        class is the only spam class would teach that every quieter spam is legitimate.
    :raises LabelError: when no number has a complaint (nothing to separate).
    """
    anchor = (np.zeros(len(np.asarray(complaints)), dtype=bool) if anchors is None
              else np.asarray(anchors, dtype=bool))
    k, e, count, fixed = _compress(complaints, exposure, anchor)
    numbers = int(count.sum() + fixed.sum())
    if not (k > 0).any():
        raise LabelError(f"no complaint among {numbers} exposed numbers: complaint rates "
                         "cannot be estimated")
    overall = float(np.dot(count + fixed, k) / np.dot(count + fixed, e))
    legit, spam, share = (overall * 0.2, 1.0), (overall * 10, 1.0), 0.1
    if fixed.sum() > 0:
        legit = _m_step(k, e, fixed, legit)
    last = -np.inf
    for _ in range(iterations):
        lp_s = math.log(share) + _nb_logpmf(k, e * spam[0], spam[1])
        lp_l = math.log(1 - share) + _nb_logpmf(k, e * legit[0], legit[1])
        top = np.maximum(lp_s, lp_l)
        total = top + np.log(np.exp(lp_s - top) + np.exp(lp_l - top))
        w = np.exp(lp_s - total)
        free = max(float(count.sum()), 1.0)
        share = float(np.clip(np.dot(count, w) / free, 1e-4, 1 - 1e-4))
        spam = _m_step(k, e, w * count, spam)
        legit = _m_step(k, e, (1 - w) * count + fixed, legit)
        loglik = float(np.dot(count, total) + np.dot(fixed, lp_l))
        if loglik - last < tol * max(abs(loglik), 1.0):
            break
        last = loglik
    # The share is of every exposed number (anchors are legitimate by definition).
    share_all = share * float(count.sum()) / max(numbers, 1)
    return RateFit(legit[0], legit[1], max(spam[0], legit[0] * (1 + 1e-9)), spam[1], share_all,
                   numbers=numbers)


def _compress(complaints: np.ndarray, exposure: np.ndarray, anchor: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (complaints, exposure) pairs with their free and anchored counts.

    Exposure is rounded to 2% on a log scale: a network has hundreds of thousands of
    numbers but few distinct pairs at that resolution (far below what the rates can
    resolve), and EM runs on the pairs.
    """
    k = np.asarray(complaints, dtype=np.float64)
    e = np.asarray(exposure, dtype=np.float64)
    keep = (e > 0) & np.isfinite(e) & np.isfinite(k)
    k, e, a = k[keep], np.exp(np.round(np.log(e[keep]) * 50) / 50), anchor[keep]
    pairs, inverse = np.unique(np.stack([k, e], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    free = np.bincount(inverse, weights=(~a).astype(float), minlength=len(pairs))
    fixed = np.bincount(inverse, weights=a.astype(float), minlength=len(pairs))
    return pairs[:, 0], pairs[:, 1], free, fixed


def fit_networks(complaints: np.ndarray, exposure: np.ndarray, networks: np.ndarray,
                 prior: RateFit, override: RateFit | None = None,
                 anchors: np.ndarray | None = None, missed_weight: float = 0.25,
                 min_numbers: int = 200, min_complained: int = 20,
                 min_separation: float = 3.0) -> ComplaintModel:
    """One fit per recording network, a pooled fit for the rest (see the module docstring).

    :param prior: the rates used when the data cannot separate two classes.
    :param override: operator-set rates; when given, nothing is estimated.
    """
    if override is not None:
        return ComplaintModel({POOLED: override}, missed_weight)
    k = np.asarray(complaints, dtype=np.float64)
    e = np.asarray(exposure, dtype=np.float64)
    nets = np.asarray(networks, dtype=object).astype(str)
    a = np.zeros(len(k), dtype=bool) if anchors is None else np.asarray(anchors, dtype=bool)
    limits = (min_numbers, min_complained, min_separation)
    pooled = _fit_or_prior(k, e, a, prior, limits, "pooled") or prior
    fits: dict[str, RateFit] = {POOLED: pooled}
    for net in sorted(set(nets.tolist())):
        sel = nets == net
        fit = _fit_or_prior(k[sel], e[sel], a[sel], None, limits, net)
        fits[net] = fit if fit is not None else pooled
    logger.info("complaint rates per unit of exposure: %s", "; ".join(
        f"{n}: legit {f.legit_rate:.2g}, spam {f.spam_rate:.2g} (shape {f.spam_shape:.2g}, "
        f"{f.source})" for n, f in sorted(fits.items())))
    return ComplaintModel(fits, missed_weight)


def _fit_or_prior(k: np.ndarray, e: np.ndarray, anchors: np.ndarray, prior: RateFit | None,
                  limits: tuple[int, int, float], name: str) -> RateFit | None:
    min_numbers, min_complained, min_separation = limits
    exposed = int((e > 0).sum())
    complained = int(((k > 0) & (e > 0)).sum())
    if exposed < min_numbers or complained < min_complained:
        logger.info("complaint rates of %s: %d exposed numbers, %d with a complaint (need "
                    "%d and %d): %s", name, exposed, complained, min_numbers, min_complained,
                    "the label policy's prior rates" if prior else "the pooled fit")
        return _as(prior, "prior") if prior else None
    fit = estimate_rates(k, e, anchors)
    if fit.spam_rate < min_separation * fit.legit_rate:
        logger.warning("complaint rates of %s: the two classes are not separable (legit %.2g, "
                       "spam %.2g)%s", name, fit.legit_rate, fit.spam_rate,
                       ": using the prior rates" if prior else ": using the pooled fit")
        return _as(prior, "prior") if prior else None
    return _as(fit, "estimated" if name != "pooled" else "pooled")


def _as(fit: RateFit, source: str) -> RateFit:
    return RateFit(fit.legit_rate, fit.legit_shape, fit.spam_rate, fit.spam_shape,
                   fit.spam_share, fit.numbers, source)

