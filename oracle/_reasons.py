"""Reasons in words: which features pushed a number's score up the most.

For each feature, the number's value is replaced by the model's reference value (the
median of the not-spam numbers it was trained on) and the drop in the classifier's
probability is that feature's contribution. The largest positive contributions are
described in words. It costs one batch prediction per feature, so it is computed only for
numbers flagged spam or suspicious.

Example::

    explain(country_model, x_rows, model.features)   # ['412 distinct people called...', ...]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from oracle._model import CountryModel
from spamledger._numbers import NUMBER_TYPES

logger = logging.getLogger(__name__)

_WORDS: dict[str, str] = {
    "n_out": "{v:.0f} calls placed in the window",
    "calls_per_day": "{v:.0f} calls a day",
    "peak_day_calls": "{v:.0f} calls on its busiest day",
    "peak_day_out_share": "{v:.0%} of its calls outgoing on its busiest day",
    "peak_day_answer_rate": "only {v:.0%} of its calls answered on its busiest day",
    "peak_day_short_share": "{v:.0%} of answered calls hung up within 10 s on its busiest day",
    "calls_per_active_day": "{v:.0f} calls on each day it is active",
    "stranger_share": "{v:.0%} of the people it called never called it",
    "strangers_per_active_day": "calls {v:.0f} strangers on each day it is active",
    "active_day_share": "active on {v:.0%} of days",
    "callees_per_day": "calls {v:.0f} different numbers a day",
    "in_per_day": "receives only {v:.1f} calls a day",
    "n_out_24h": "{v:.0f} calls in the last 24 h",
    "burst_ratio": "sudden burst: {v:.1f}x its usual daily volume in the last 24 h",
    "gap_median_s": "typically {v:.0f} s between calls",
    "gap_cv": "machine-like regular spacing of calls (variation {v:.2f})",
    "gap_short_share": "{v:.0%} of calls less than a minute apart",
    "distinct_callees": "called {v:.0f} different numbers",
    "distinct_ratio": "{v:.0%} of calls went to a different number",
    "calls_per_counterpart": "{v:.1f} calls per person called",
    "callee_block_spread": "callees spread over number blocks ({v:.2f})",
    "sequential_excess": "calls numbers next to each other ({v:.0%} of callees beyond "
                         "chance)",
    "callee_countries": "called numbers in {v:.0f} countries",
    "intl_share": "{v:.0%} of calls international",
    "outgoing_share": "{v:.0%} of its calls outgoing: almost nobody calls it",
    "n_in": "received {v:.0f} calls",
    "callback_rate": "only {v:.0%} of the people it called ever called back",
    "organic_share": "almost nobody calls it unprompted ({v:.0%} of its contacts)",
    "answer_rate": "only {v:.0%} of its calls answered",
    "short_share": "{v:.0%} of answered calls hung up within 10 s",
    "mean_dur_s": "average talk time {v:.0f} s",
    "dur_cv": "talk time variation {v:.2f}",
    "long_share": "{v:.0%} of answered calls longer than 10 minutes",
    "distinct_hours": "calls spread over {v:.0f} hours of the day",
    "quiet_share": "{v:.0%} of calls in local quiet hours",
    "age_days": "first seen only {v:.1f} days ago",
    "lifespan_days": "used for only {v:.1f} days",
    "recency_days": "last call {v:.1f} days ago",
    "quiet_days_before_24h": "silent for {v:.1f} days before the last 24 h",
    "spam_reporters": "{v:.0f} people it called reported it as spam",
    "unverified_reporters": "{v:.0f} unconfirmed spam reports",
    "report_rate": "{v:.1%} of the people it called complained",
    "unverified_rate": "unconfirmed complaints from {v:.1%} as many people as it called",
    "vouch_rate": "only {v:.1%} of the people it called vouched for it",
    "not_spam_reporters": "only {v:.0f} people vouched for it",
    "spam_decayed": "recent spam complaints (weight {v:.1f})",
    "spam_share": "{v:.0%} of its reporters said spam",
    "att_a": "only {v:.0%} of calls fully attested (STIR/SHAKEN A)",
    "att_b": "{v:.0%} of calls partially attested (STIR/SHAKEN B)",
    "att_c": "{v:.0%} of calls with gateway attestation (STIR/SHAKEN C)",
    "nb_active": "{v:.0f} adjacent numbers in its block also calling",
    "nb_reported": "{v:.0f} adjacent numbers in its block reported as spam",
    "nb_spam_reports": "{v:.0f} spam reports against adjacent numbers in its block",
}


def describe(feature: str, value: float) -> str:
    """One feature value in words."""
    if feature == "number_type":
        idx = int(value)
        return f"a {NUMBER_TYPES[idx] if 0 <= idx < len(NUMBER_TYPES) else 'unknown'} number"
    if feature == "foreign":
        return "a foreign number calling into the network" if value else "a domestic number"
    if np.isnan(value):
        return f"no data for {feature}"
    template = _WORDS.get(feature)
    return template.format(v=value) if template else f"{feature} = {value:.3g}"


def complaint_reason(row: pd.Series, llr: float) -> str:
    """The complaint evidence in words, when it pushed the score up (else empty).

    Example: ``"4 people it called reported it as spam (30x likelier from a spam caller)"``
    """
    if not llr > np.log(2):
        return ""
    k = int(row.get("spam_reporters", 0) or 0)
    factor = float(np.exp(min(llr, 50.0)))
    strength = f"{factor:,.0f}x" if factor < 1e6 else "over a million times"
    return (f"{k} {'person' if k == 1 else 'people'} it called reported it as spam "
            f"({strength} likelier from a spam caller)")


def contributions(model: CountryModel, x: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Matrix (rows x features): probability drop when a feature is set to the reference.

    All probes of a chunk of rows go to the classifier in one batch (a prediction call
    costs about a millisecond per tree however few rows it gets).
    """
    n, k = x.shape
    out = np.zeros_like(x)
    for lo in range(0, n, chunk):
        rows = x[lo:lo + chunk]
        m = len(rows)
        probes = np.repeat(rows[None, :, :], k + 1, axis=0)   # (k+1, m, k); [k] = as is
        idx = np.arange(k)
        probes[idx, :, idx] = model.reference[idx, None]
        p = model.raw(probes.reshape(-1, k)).reshape(k + 1, m)
        out[lo:lo + m] = (p[k][None, :] - p[:k]).T
    return out


def explain(model: CountryModel, x: np.ndarray, features: Sequence[str],
            top: int = 3) -> list[str]:
    """For each row, its ``top`` strongest reasons joined by '; ' (empty if none push up)."""
    if len(x) == 0:
        return []
    contrib = contributions(model, x)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    reasons = []
    for i, cols in enumerate(order):
        words = [describe(features[j], float(x[i, j])) for j in cols if contrib[i, j] > 1e-4]
        reasons.append("; ".join(words))
    return reasons
