"""Training labels: from a labels file, or derived from complaints the way operators do.

Derivation (per number, from reports strictly before the cutoff; each reporter counts once):

* **spam** (1): at least ``min_reporters`` distinct reporters said spam, the network's
  records confirm the number called them (feed entries count as they are), spam is at
  least ``spam_share`` of the distinct verdicts, and the complainants are at least
  ``min_rate`` of the distinct numbers it called (a busy call centre draws a few
  complaints; a spammer draws many per person reached);
* **not spam** (0): complaints at or below ``background_rate`` per person called (the
  stray complaint a busy legitimate number draws), or at most one confirmed complaint
  against a number older than ``min_tenure_days``, or no confirmed spam reporter at all
  (unless the number is younger than
  ``min_tenure_days`` and already called ``exposure_callees`` people: its complaints may
  simply not have arrived yet, so it is left out), or at least ``min_reporters`` "not spam"
  reporters and spam at most ``1 - spam_share`` of the verdicts;
* anything else is ambiguous and left out of training.

A single reporter flooding a number counts once, so it can never make a label alone.

Example::

    labels = derive_labels(con, until=cutoff)          # DataFrame number, label, trusted
    labels = read_labels("labels.parquet", region="US") # or an operator's own file
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from oracle._errors import LabelError
from oracle._features import VERIFIED_REPORTS
from oracle._ingest import sources
from spamledger._numbers import Number, normalize_many

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelPolicy:
    """Thresholds of :func:`derive_labels`."""

    min_reporters: int = 2
    spam_share: float = 0.75
    min_rate: float = 0.005  # confirmed spam reporters per distinct number called
    background_rate: float = 0.0025  # at or below: complaints are background noise
    min_tenure_days: float = 5.0   # a silent number younger than this ...
    exposure_callees: int = 20     # ... that called at least this many people is left out


def derive_labels(con: duckdb.DuckDBPyConnection, until: datetime,
                  policy: LabelPolicy = LabelPolicy(), numbers: pd.Series | None = None,
                  reports: str = "reports", calls: str = "calls") -> pd.DataFrame:
    """Labels (``number``, ``label`` 0/1) derived from complaints before ``until``.

    :param numbers: the numbers to label (e.g. a feature table's ``number``); numbers
        without any report get 0. Without it only reported numbers are returned.
    """
    cutoff = f"TIMESTAMP '{until:%Y-%m-%d %H:%M:%S.%f}'"
    verified = VERIFIED_REPORTS.format(calls=calls, reports=reports, u=cutoff)
    try:
        counts = con.execute(f"""
            WITH v AS ({verified}),
            c AS (SELECT number,
                   count(DISTINCT reporter_key) FILTER (WHERE label = 'spam' AND verified)
                       AS spam,
                   count(DISTINCT reporter_key) FILTER (WHERE label = 'not_spam') AS ham
                  FROM v GROUP BY number),
            reach AS (SELECT caller AS number, count(DISTINCT callee) AS callees,
                             (epoch({cutoff}) - min(t)) / 86400 AS tenure_days
                      FROM {calls} WHERE ts < {cutoff} GROUP BY caller)
            SELECT coalesce(c.number, reach.number) AS number, coalesce(c.spam, 0) AS spam,
                   coalesce(c.ham, 0) AS ham, reach.callees, reach.tenure_days
            FROM c FULL JOIN reach USING (number)""").df()
    except duckdb.Error as exc:
        raise LabelError(f"cannot derive labels from {reports}: {exc}") from exc
    if numbers is not None:
        counts = pd.DataFrame({"number": numbers}).merge(counts, on="number", how="left")
    else:
        counts = counts[(counts["spam"] + counts["ham"]) > 0]
    counts = counts.fillna({"spam": 0, "ham": 0, "callees": 0, "tenure_days": 0.0})
    return _apply_policy(counts, policy)


def _apply_policy(counts: pd.DataFrame, policy: LabelPolicy) -> pd.DataFrame:
    total = (counts["spam"] + counts["ham"]).clip(lower=1)
    share = counts["spam"] / total
    rate = counts["spam"] / counts["callees"].fillna(0).clip(lower=1)
    spam = ((counts["spam"] >= policy.min_reporters) & (share >= policy.spam_share)
            & (rate >= policy.min_rate))
    # Silence is evidence only with exposure: a young number that already called many
    # people may simply not have been reported yet.
    untested = ((counts["tenure_days"] < policy.min_tenure_days)
                & (counts["callees"] >= policy.exposure_callees))
    # A stray complaint among hundreds of people called is the background rate of a
    # legitimate busy number, not an unknown: without this, one complaint would only ever
    # be seen on future spam and the model would learn "one complaint = spam".
    background = (counts["callees"] > 0) & (rate <= policy.background_rate) & ~untested
    # One complaint against an established number is not enough to call it anything.
    settled = (counts["spam"] <= 1) & (counts["tenure_days"] >= policy.min_tenure_days)
    ham = (((counts["spam"] == 0) & ~untested) | background | settled
           | ((counts["ham"] >= policy.min_reporters) & (share <= 1 - policy.spam_share)))
    out = counts.assign(label=pd.NA)
    out.loc[ham, "label"] = 0
    out.loc[spam, "label"] = 1
    kept = out.dropna(subset=["label"])
    logger.info("derived labels: %d spam, %d not spam, %d ambiguous left out",
                int((kept["label"] == 1).sum()), int((kept["label"] == 0).sum()),
                len(out) - len(kept))
    # Trusted for choosing thresholds: spam labels, and silence that has lasted.
    kept = kept.assign(trusted=(kept["label"] == 1)
                       | (kept["tenure_days"] >= policy.min_tenure_days))
    return kept[["number", "label", "trusted"]].astype({"label": "int64"}).reset_index(
        drop=True)


def read_labels(path: str | Path, region: str | None = None) -> pd.DataFrame:
    """A labels file (``number``, ``label`` 1/0 or spam/not_spam, optional ``country``)."""
    frames = []
    for f in sources(path):
        frames.append(pd.read_csv(f, dtype=str) if f.suffix in (".csv", ".tsv") else
                      pd.read_parquet(f))
    raw = pd.concat(frames, ignore_index=True)
    for col in ("number", "label"):
        if col not in raw.columns:
            raise LabelError(f"{path}: labels need a {col!r} column")
    regions = raw["country"] if "country" in raw.columns else pd.Series([region] * len(raw))
    pairs = list(zip(raw["number"].astype(str), regions.astype(object), strict=True))
    mapped = normalize_many(pairs)
    numbers = [m.e164 if isinstance(m := mapped[p], Number) else None for p in pairs]
    labels = raw["label"].astype(str).str.strip().str.lower().map(
        {"1": 1, "spam": 1, "true": 1, "0": 0, "not_spam": 0, "false": 0})
    out = pd.DataFrame({"number": numbers, "label": labels}).dropna()
    if len(out) < len(raw):
        logger.warning("%s: %d label rows skipped (bad number or label)", path,
                       len(raw) - len(out))
    return out.drop_duplicates("number", keep="last").astype({"label": "int64"})
