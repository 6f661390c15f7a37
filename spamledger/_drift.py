"""Score distributions and how far two of them drift apart (shared by ``oracle`` and ``api``).

A distribution is a fixed-bin histogram of scores in [0, 1]: ``{"edges": [...], "counts":
[...], "total": n}``. The oracle records one in each model card (the out-of-fold scores of
the training window); the console bins a week's scores with the card's own edges and
compares the two by the population stability index and the Kolmogorov-Smirnov distance.
The edges are finer at the low end, where most numbers score.

Example::

    trained = score_histogram([0.01, 0.3, 0.95])
    week = bin_counts(trained["edges"], [(0.02, 5), (0.97, 1)])
    psi(trained["counts"], week), ks_distance(trained["counts"], week)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

SCORE_EDGES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
# A bin empty on one side counts as this share, so the index stays finite.
_FLOOR = 1e-4


def score_histogram(scores: Iterable[float],
                    edges: Sequence[float] = SCORE_EDGES) -> dict[str, Any]:
    """The histogram of ``scores`` (clipped to [0, 1]; NaN dropped) over ``edges``."""
    values = np.asarray(list(scores) if not isinstance(scores, np.ndarray) else scores,
                        dtype=np.float64)
    values = np.clip(values[~np.isnan(values)], 0.0, 1.0)
    counts, _ = np.histogram(values, bins=np.asarray(edges, dtype=np.float64))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "total": int(counts.sum())}


def bin_counts(edges: Sequence[float], weighted: Iterable[tuple[float, int]]) -> list[int]:
    """Counts per bin of ``(score, how many)`` pairs (the last bin includes its top edge)."""
    pairs = list(weighted)
    if not pairs:
        return [0] * (len(edges) - 1)
    values = np.clip(np.asarray([p[0] for p in pairs], dtype=np.float64), edges[0], edges[-1])
    counts, _ = np.histogram(values, bins=np.asarray(edges, dtype=np.float64),
                             weights=np.asarray([p[1] for p in pairs], dtype=np.float64))
    return [int(n) for n in np.rint(counts)]


def valid_histogram(doc: Any) -> dict[str, Any] | None:
    """``doc`` as a histogram when it is one (increasing edges in [0, 1], one non-negative
    count per bin, some counts), else None."""
    if not isinstance(doc, dict):
        return None
    edges, counts = doc.get("edges"), doc.get("counts")
    if not isinstance(edges, list) or not isinstance(counts, list) or len(edges) < 2:
        return None
    try:
        e = [float(x) for x in edges]
        c = [int(x) for x in counts]
    except (TypeError, ValueError):
        return None
    if (len(c) != len(e) - 1 or any(b <= a for a, b in itertools.pairwise(e))
            or e[0] < 0 or e[-1] > 1 or any(x < 0 for x in c) or sum(c) == 0):
        return None
    return {"edges": e, "counts": c, "total": sum(c)}


def shares(counts: Sequence[int]) -> list[float]:
    """Each bin's share of the total (zeros when empty)."""
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def psi(expected: Sequence[int], actual: Sequence[int]) -> float:
    """Population stability index of ``actual`` against ``expected`` (same bins): the sum
    over bins of ``(a - e) * ln(a / e)`` on shares, empty bins counted as a tiny share."""
    e = [max(s, _FLOOR) for s in shares(expected)]
    a = [max(s, _FLOOR) for s in shares(actual)]
    return float(sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a, strict=True)))


def ks_distance(expected: Sequence[int], actual: Sequence[int]) -> float:
    """Largest gap between the two cumulative shares at the bin edges (the binned
    Kolmogorov-Smirnov statistic: a lower bound of the exact one)."""
    gap, ce, ca = 0.0, 0.0, 0.0
    for ei, ai in zip(shares(expected), shares(actual), strict=True):
        ce, ca = ce + ei, ca + ai
        gap = max(gap, abs(ce - ca))
    return float(gap)
