"""Scores against a truth table: precision, recall and PR-AUC per country, new numbers, FPR.

Precision and recall count the verdict ``spam`` as the positive call; "flagged" also counts
``suspicious``. They are computed at the real class ratio of the scored population. A
truth spam number with no score row counts as missed. "New" numbers were first seen within
``new_hours`` (48) before the scoring instant. When the truth has a ``class`` column, the
false-positive rate (verdict spam) and flag rate of each legitimate class are reported.

Example::

    report = evaluate(scores, truth, as_of=until)
    print(format_report(report))
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from oracle._errors import OracleError

logger = logging.getLogger(__name__)


def _block(y: np.ndarray, spam: np.ndarray, flagged: np.ndarray, score: np.ndarray) -> dict:
    tp = int((spam & y).sum())
    ap = float(average_precision_score(y, score)) if 0 < y.sum() < len(y) else float("nan")
    return {"numbers": len(y), "spam": int(y.sum()),
            "precision": tp / max(int(spam.sum()), 1) if spam.sum() else float("nan"),
            "recall": tp / int(y.sum()) if y.sum() else float("nan"),
            "flagged_recall": int((flagged & y).sum()) / int(y.sum()) if y.sum() else
            float("nan"),
            "pr_auc": ap}


def evaluate(scores: pd.DataFrame, truth: pd.DataFrame, as_of: datetime | None = None,
             new_hours: float = 48) -> dict[str, Any]:
    """Compare ``scores`` (number, score, verdict) with ``truth`` (number, country, is_spam,
    optional class and first_seen)."""
    for col in ("number", "country", "is_spam"):
        if col not in truth.columns:
            raise OracleError(f"truth table lacks column {col!r}")
    data = truth.merge(scores[["number", "score", "verdict"]], on="number", how="left")
    data = data[data["number"].isin(scores["number"]) | data["is_spam"].astype(bool)]
    data = data.assign(score=data["score"].fillna(0.0), verdict=data["verdict"].fillna("none"))
    new_cut = _new_cut(data, as_of, new_hours)
    report: dict[str, Any] = {"as_of": as_of.isoformat() if as_of else None,
                              "countries": {}, "new": {}, "legit_classes": {}}
    for cc, part in [("ALL", data), *sorted(data.groupby("country"))]:
        report["countries"][cc] = _metrics(part)
        if new_cut is not None:
            report["new"][cc] = _metrics(part[part["first_seen"] >= new_cut])
    if "class" in data.columns:
        for cls, part in sorted(data[~data["is_spam"].astype(bool)].groupby("class")):
            report["legit_classes"][cls] = {
                "numbers": len(part),
                "fpr": float((part["verdict"] == "spam").mean()),
                "flag_rate": float(part["verdict"].isin(["spam", "suspicious"]).mean())}
        report["spam_classes"] = {
            cls: {"numbers": len(part), "recall": float((part["verdict"] == "spam").mean())}
            for cls, part in sorted(data[data["is_spam"].astype(bool)].groupby("class"))}
    return report


def _new_cut(data: pd.DataFrame, as_of: datetime | None, hours: float) -> pd.Timestamp | None:
    if "first_seen" not in data.columns:
        return None
    seen = pd.to_datetime(data["first_seen"], utc=True)
    data["first_seen"] = seen
    end = pd.Timestamp(as_of, tz="UTC") if as_of else seen.max()
    return end - timedelta(hours=hours)


def _metrics(part: pd.DataFrame) -> dict:
    y = part["is_spam"].astype(bool).to_numpy()
    spam = (part["verdict"] == "spam").to_numpy()
    flagged = part["verdict"].isin(["spam", "suspicious"]).to_numpy()
    return _block(y, spam, flagged, part["score"].to_numpy(dtype=float))


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned text tables."""
    lines = [f"evaluation at {report.get('as_of') or 'end of truth'} (verdict 'spam' = positive)"]
    header = f"{'':>14} {'numbers':>8} {'spam':>6} {'precision':>9} {'recall':>7} " \
             f"{'flagged':>8} {'PR-AUC':>7}"
    for title, key in (("all numbers", "countries"), ("first seen in the last 48 h", "new")):
        if not report.get(key):
            continue
        lines += ["", title, header]
        for cc, m in report[key].items():
            lines.append(f"{cc:>14} {m['numbers']:>8} {m['spam']:>6} {m['precision']:>9.3f} "
                         f"{m['recall']:>7.3f} {m['flagged_recall']:>8.3f} {m['pr_auc']:>7.3f}")
    if report.get("legit_classes"):
        lines += ["", "legitimate classes", f"{'':>14} {'numbers':>8} {'FPR':>7} {'flagged':>8}"]
        for cls, m in report["legit_classes"].items():
            lines.append(f"{cls:>14} {m['numbers']:>8} {m['fpr']:>7.3%} {m['flag_rate']:>8.3%}")
    if report.get("spam_classes"):
        lines += ["", "spam classes", f"{'':>14} {'numbers':>8} {'recall':>7}"]
        for cls, m in report["spam_classes"].items():
            lines.append(f"{cls:>14} {m['numbers']:>8} {m['recall']:>7.3f}")
    return "\n".join(lines)
