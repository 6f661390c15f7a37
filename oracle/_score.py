"""Batch scoring: calibrated probability, verdict, category and reasons for every number.

The score is ``P(spam | behaviour, complaints)``: the country model's calibrated behaviour
probability with the number's complaint evidence added (:func:`oracle._model.combine`).

Deterministic for a given model and feature table: rows are sorted by number, the models
are fixed, and nothing random is drawn. Country rules are applied after the model.

Example::

    scores = score(model, features, rules=load_rules())
    write_scores(scores, "scores.parquet", until=cutoff)
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from oracle._model import Model, group_key
from oracle._reasons import complaint_reason, explain
from oracle._rules import CountryRules
from spamledger._types import Category

logger = logging.getLogger(__name__)

SCORE_COLUMNS = ("number", "country", "score", "verdict", "category", "reasons", "model")
UNTIL_KEY = b"spamledger.until"


def score(model: Model, features: pd.DataFrame,
          rules: dict[str, CountryRules] | None = None, reasons: bool = True) -> pd.DataFrame:
    """Score every row of ``features``; returns the columns of :data:`SCORE_COLUMNS`."""
    frame = features.sort_values("number", kind="stable").reset_index(drop=True)
    rules = rules or {}
    x = model.matrix(frame)
    llr = model.llr(frame)
    keys = group_key(frame).to_numpy()
    prob = np.zeros(len(frame))
    verdict = np.full(len(frame), "not_spam", dtype=object)
    why = np.full(len(frame), "", dtype=object)
    # One prediction call per fitted model (each call costs ~1 ms per tree), then the
    # thresholds of each country (its model's, or its rules' overrides).
    chosen = np.array([model.model_for(k).key for k in keys], dtype=object)
    for mkey in sorted(set(chosen)):
        sel = np.flatnonzero(chosen == mkey)
        prob[sel] = model.countries[mkey].score(x[sel], llr[sel])
    for key in sorted(set(keys)):
        sel = np.flatnonzero(keys == key)
        cm = model.model_for(key)
        spam_t, susp_t = _thresholds(cm.spam_threshold, cm.suspicious_threshold,
                                     rules.get(key))
        verdict[sel] = np.where(prob[sel] >= spam_t, "spam",
                                np.where(prob[sel] >= susp_t, "suspicious", "not_spam"))
    for mkey in sorted(set(chosen)) if reasons else ():
        flagged = np.flatnonzero((chosen == mkey) & (verdict != "not_spam"))
        if len(flagged):
            why[flagged] = explain(model.countries[mkey], x[flagged], model.features)
    for i in np.flatnonzero(verdict != "not_spam") if reasons else ():
        why[i] = "; ".join(r for r in (complaint_reason(frame.iloc[i], llr[i]), why[i]) if r)
    out = pd.DataFrame({"number": frame["number"], "country": frame["country"],
                        "score": np.round(prob, 6), "verdict": verdict,
                        "category": _categories(frame, verdict), "reasons": why,
                        "model": model.hash})
    _apply_rules(out, frame, rules)
    logger.info("scored %d numbers: %s", len(out), out["verdict"].value_counts().to_dict())
    return out


def _thresholds(spam_t: float, susp_t: float, rules: CountryRules | None) -> tuple[float, float]:
    if rules is None:
        return spam_t, susp_t
    spam_t = rules.spam_threshold if rules.spam_threshold is not None else spam_t
    susp_t = rules.suspicious_threshold if rules.suspicious_threshold is not None else susp_t
    return spam_t, min(susp_t, spam_t)


def _categories(frame: pd.DataFrame, verdict: np.ndarray) -> np.ndarray:
    """What kind of spam: the reporters' majority category, else the call pattern's."""
    reported = frame["report_category"] if "report_category" in frame.columns else \
        pd.Series([None] * len(frame))
    out = np.full(len(frame), "", dtype=object)
    for i in np.flatnonzero(verdict != "not_spam"):
        rep = reported.iloc[i]
        out[i] = (Category.from_name(rep).name.lower() if isinstance(rep, str) and rep
                  else _pattern_category(frame.iloc[i]))
    return out


def _pattern_category(row: pd.Series) -> str:
    get = row.get
    if get("foreign", 0) == 1 and (get("answer_rate", 1.0) or 0) < 0.15:
        return "wangiri"
    if (get("long_share", 0) or 0) >= 0.05:
        return "scam"
    if (get("short_share", 0) or 0) >= 0.5:
        return "robocall"
    return "telemarketing" if "short_share" in row.index else "other"


def _apply_rules(out: pd.DataFrame, frame: pd.DataFrame,
                 rules: dict[str, CountryRules]) -> None:
    """Never-spam lists win; registered telemarketers are capped at 'suspicious' unless they
    call in quiet hours more than the country tolerates."""
    for i in range(len(out)):
        r = rules.get(out.at[i, "country"])
        if r is None:
            continue
        number = out.at[i, "number"]
        if r.is_never_spam(number):
            out.loc[i, ["verdict", "category", "reasons"]] = [
                "not_spam", "", f"on the never-spam list of {r.country}"]
        elif r.is_registered_telemarketer(number) and out.at[i, "verdict"] == "spam":
            quiet = float(frame.at[i, "quiet_share"]) if "quiet_share" in frame else 0.0
            if r.quiet_hours is None or not quiet > r.quiet_hours.max_share:
                out.loc[i, ["verdict", "category", "reasons"]] = [
                    "suspicious", "telemarketing",
                    f"registered telemarketer ({r.country}); " + out.at[i, "reasons"]]
            else:
                out.at[i, "reasons"] = (f"registered telemarketer calling in quiet hours "
                                        f"({quiet:.0%}); " + out.at[i, "reasons"])


def write_scores(scores: pd.DataFrame, path: str | Path, until: datetime | None = None) -> Path:
    """Write the scores Parquet atomically; ``until`` is kept in the file's metadata."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(scores[list(SCORE_COLUMNS)], preserve_index=False)
    if until is not None:
        meta = dict(table.schema.metadata or {})
        meta[UNTIL_KEY] = until.isoformat().encode()
        table = table.replace_schema_metadata(meta)
    tmp = target.with_name(target.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, target)
    return target


def read_scores(path: str | Path) -> tuple[pd.DataFrame, datetime | None]:
    """Scores and the ``until`` instant they were computed at (if recorded)."""
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(UNTIL_KEY)
    return table.to_pandas(), datetime.fromisoformat(raw.decode()) if raw else None
