"""Training labels: from a labels file, or derived from complaints the way operators do.

Derivation (per number, from reports strictly before the cutoff; each reporter counts once;
a subscriber's complaint counts only if the network saw the number call that subscriber).

Silence means something only when the number reached enough strangers who *could* have
complained. So each number's complaints are weighed against its **exposure**: the distinct
people it called who never called it (strangers), an answered one counting 1 and an
unanswered one ``missed_weight`` (a missed call draws fewer complaints). How often a spam
or a legitimate number draws complaints per unit of exposure is **estimated from the
operator's own data** (:mod:`oracle._complaints`: a two-class mixture of negative binomials
fitted by EM per recording network); the label policy's ``spam_rate`` and
``background_rate`` are only the prior used where the data cannot separate the classes,
unless the operator fixes them (``estimate=False``; settings ``oracle_spam_rate`` and
``oracle_background_rate``). Each number's evidence is the log likelihood ratio of its
complaints under the two fitted classes. Then:

* **spam** (1): at least ``min_reporters`` confirmed reporters, spam at least ``spam_share``
  of the distinct verdicts, and the complaints are ``spam_evidence`` times likelier under
  the fitted spam class than under the legitimate one (a likelihood ratio, not posterior
  odds: a training label needs the evidence, and the model supplies the prior); **or**,
  with no complaint needed, the number walks the numbering plan (sequential dialling,
  one-ring sweeps, neighbour spoofing: :func:`sequential_evidence`, significant at
  ``sweep_alpha`` after correcting for the number of callers); **or** it rings strangers
  in the network's quiet hours (the regulator's calling window of ``oracle/rules``, e.g.
  21:00-08:00 in the US) far more often than the numbers the operator knows to be
  legitimate do (:func:`night_evidence`, significant at ``night_alpha``, corrected the same
  way). Robocalls that people hang up on without complaining are labelled by their
  conduct, not left to read as "not spam";
* **not spam** (0): the same test ``ham_evidence`` times the other way, or the number
  mostly calls people it knows (at least ``known_share`` of its callees called it too)
  with at most one complaint, or it is *sought out* (at least ``min_organic`` established
  numbers, themselves keeping reciprocal circles, rang it before it ever rang them:
  customers calling a shop, a bank, a courier; callbacks to a sweep never count) with at
  most one complaint, or it placed no call, or at least ``min_reporters`` "not spam"
  reporters and spam at most ``1 - spam_share`` of the verdicts;
* anything else is **left out** of training: a short-lived caller that reached a few dozen
  strangers and drew no complaint is *unknown*, not "not spam". Calling it "not spam"
  teaches the model that quiet scams are fine and pushes every threshold up. Where the
  fitted spam class is heterogeneous (some spam draws almost no complaints, as robocalls
  that people hang up on do), silence over a large exposure is weak evidence, and
  high-volume silent numbers are left to the behaviour model instead of being labelled
  "not spam".

A single reporter flooding a number counts once, so it can never make a label alone.

Each label also says whether it is **firm**: every spam label, and "not spam" that rests on
acquaintance, being sought out, votes, no calls at all, or silence as strong as
``spam_evidence``. Models train on every label; thresholds are chosen on firm ones (see
:mod:`oracle._model`).

Example::

    labels = derive_labels(con, until=cutoff)          # DataFrame number, label, firm
    labels = read_labels("labels.parquet", region="US") # or an operator's own file
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import beta, binom

from oracle._complaints import ComplaintModel, RateFit, fit_networks
from oracle._errors import LabelError
from oracle._features import (
    MOST_FREQUENT,
    SEQUENTIAL,
    UTC_OFFSETS,
    VERIFIED_REPORTS,
    local_hour_expr,
    quiet_expr,
)
from oracle._ingest import sources
from spamledger._numbers import Number, normalize_many

logger = logging.getLogger(__name__)

GLOBAL_NETWORK = "*"


@dataclass(frozen=True)
class LabelPolicy:
    """Thresholds of :func:`derive_labels`."""

    min_reporters: int = 2
    spam_share: float = 0.75
    # Prior complaint rates per unit of exposure, used only where an operator's data
    # cannot separate the classes (or as given, with ``estimate=False``).
    spam_rate: float = 0.02
    background_rate: float = 0.004
    estimate: bool = True            # estimate the rates from the data (EM per network)
    spam_evidence: float = 10.0      # likelihood ratio needed to call it spam ...
    # ... or not spam: less, because a wrong "not spam" label costs less than a wrong
    # "spam" one, and a bank reaching a hundred strangers without a complaint is normal.
    ham_evidence: float = 5.0
    missed_weight: float = 0.25      # exposure of an unanswered call, answered = 1
    known_share: float = 0.5         # callees who also called it: "calls people it knows"
    # Family-wise chance of calling one ordinary number a sequential dialler (the test of
    # :func:`sequential_evidence` is corrected for the number of callers); 0 turns the
    # behaviour label off, leaving complaints alone to name spam.
    sweep_alpha: float = 0.001
    # The same for ringing strangers in the quiet hours beyond what legitimate callers do
    # (:func:`night_evidence`); 0 turns that label off.
    night_alpha: float = 0.001
    # Established callers who rang it first ("sought out", see :func:`_anchors`): as many
    # as the "not spam" votes a vouch needs; 0 turns the anchor off.
    min_organic: int = 2
    # A second fit with the first model's confident verdicts on left-out and soft
    # "not spam" rows as soft spam labels (:mod:`oracle._selftrain`).
    self_training: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.background_rate < self.spam_rate:
            raise LabelError("label policy needs 0 < background_rate < spam_rate, got "
                             f"{self.background_rate} and {self.spam_rate}")
        if min(self.spam_evidence, self.ham_evidence) <= 1:
            raise LabelError("label policy evidence must be above 1, got "
                             f"{self.spam_evidence} and {self.ham_evidence}")
        for name in ("sweep_alpha", "night_alpha"):
            if not 0 <= getattr(self, name) < 1:
                raise LabelError(f"label policy {name} must be in [0, 1), got "
                                 f"{getattr(self, name)}")

    def prior(self) -> RateFit:
        """The policy's rates as a complaint model (Poisson-like: large shapes)."""
        return RateFit(self.background_rate, 50.0, self.spam_rate, 50.0, 0.5,
                       source="prior" if self.estimate else "override")


# Per caller: distinct callees, those who also called it (known), exposure (strangers
# reached, an unanswered-only stranger weighted down), and organic callers: established
# numbers (most of whose own callees call them back) that called it before it ever called
# them. Callbacks to a sweep or a one-ring call are not organic: the number called first.
_REACH = """
    WITH pairs AS (SELECT caller_id AS a, callee_id AS b, any_value(caller) AS number,
                          bool_or(answered) AS answered, min(ts) AS first_ts
                   FROM {calls} WHERE ts < {u} GROUP BY caller_id, callee_id),
    net AS ({network}),
    reach AS (
        SELECT p.a AS nid, any_value(p.number) AS number, any_value(net.network) AS network,
               count(*) AS callees, count(back.a) AS known,
               sum(CASE WHEN back.a IS NOT NULL THEN 0 WHEN p.answered THEN 1
                        ELSE {missed} END) AS exposure
        FROM pairs p LEFT JOIN pairs back ON back.a = p.b AND back.b = p.a
        JOIN net ON net.number = p.a
        GROUP BY p.a),
    organic AS (
        SELECT i.b AS nid, count(*) AS organic
        FROM pairs i JOIN reach est ON est.nid = i.a AND est.known >= {known} * est.callees
        LEFT JOIN pairs o ON o.a = i.b AND o.b = i.a
        WHERE o.a IS NULL OR o.first_ts > i.first_ts
        GROUP BY i.b)
    SELECT reach.*, coalesce(organic.organic, 0) AS organic
    FROM reach LEFT JOIN organic USING (nid)"""


# Per caller: its calls to strangers (callees who never called it before the cut-off) and
# how many of them it placed in the recording network's quiet hours.
_NIGHT = """
    SELECT p.caller AS nid, sum(p.calls) AS stranger_calls, sum(p.quiet) AS stranger_quiet
    FROM label_pairs p LEFT JOIN label_pairs back
         ON back.caller = p.callee AND back.callee = p.caller
    WHERE back.caller IS NULL GROUP BY p.caller"""


def complaint_counts(con: duckdb.DuckDBPyConnection, until: datetime,
                     policy: LabelPolicy = LabelPolicy(), numbers: pd.Series | None = None,
                     reports: str = "reports", calls: str = "calls",
                     everyone: bool = False,
                     quiet_hours: Mapping[str, tuple[int, int]] | None = None) -> pd.DataFrame:
    """Per number: confirmed spam and "not spam" reporters, callees, known ones, exposure.

    :param numbers: the numbers to count (e.g. a feature table's ``number``); numbers
        without any report are counted on their exposure. Without it only reported
        numbers are returned, or with ``everyone`` every caller and reported number.
    :param quiet_hours: each country's quiet window (local hours ``[start, end)``, from
        ``oracle/rules``); countries without one use 21:00-08:00.
    """
    cutoff = f"TIMESTAMP '{until:%Y-%m-%d %H:%M:%S.%f}'"
    verified = VERIFIED_REPORTS.format(calls=calls, reports=reports, u=cutoff)
    # The recording network a number calls from most, ties to the first in order: one
    # answer on every run (``mode()`` breaks ties arbitrarily).
    network = MOST_FREQUENT.format(key="caller_id", col="country", name="network",
                                   source=f"(SELECT * FROM {calls} WHERE ts < {cutoff})", where="")
    reach = _REACH.format(calls=calls, u=cutoff, missed=float(policy.missed_weight),
                          known=float(policy.known_share), network=network)
    rep_country = MOST_FREQUENT.format(key="number", col="country", name="rep_country",
                                       source="v", where="")
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE label_pairs AS
            SELECT caller_id AS caller, callee_id AS callee,
                   any_value(callee_region) AS callee_region, count(*) AS calls,
                   count(*) FILTER (WHERE {quiet_expr(quiet_hours or {})}) AS quiet
            FROM (SELECT *, {local_hour_expr(UTC_OFFSETS)} AS hr FROM {calls}
                  WHERE ts < {cutoff})
            GROUP BY caller_id, callee_id""")
        seq = SEQUENTIAL.format(pairs="label_pairs", ids=f"{calls}_ids")
        counts = con.execute(f"""
            WITH v AS ({verified}),
            rc AS ({rep_country}),
            c AS (SELECT number, any_value(rc.rep_country) AS rep_country,
                   count(DISTINCT reporter_key) FILTER (WHERE label = 'spam' AND verified)
                       AS spam,
                   count(DISTINCT reporter_key) FILTER (WHERE label = 'not_spam') AS ham
                  FROM v LEFT JOIN rc USING (number) GROUP BY number),
            reach AS ({reach}), seq AS ({seq}), night AS ({_NIGHT})
            SELECT coalesce(c.number, reach.number) AS number,
                   coalesce(reach.network, c.rep_country) AS network,
                   coalesce(c.spam, 0) AS spam,
                   coalesce(c.ham, 0) AS ham, reach.callees, reach.known, reach.exposure,
                   reach.organic,
                   seq.sequential_callees AS sequential, seq.callee_pool AS pool,
                   night.stranger_calls, night.stranger_quiet
            FROM c FULL JOIN reach USING (number) LEFT JOIN seq ON seq.number = reach.nid
            LEFT JOIN night ON night.nid = reach.nid
            """).df()
    except duckdb.Error as exc:
        raise LabelError(f"cannot derive labels from {reports}: {exc}") from exc
    counts = _with_night_null(counts.fillna({"stranger_calls": 0, "stranger_quiet": 0}),
                              policy)
    if numbers is not None:
        counts = pd.DataFrame({"number": numbers}).merge(counts, on="number", how="left")
    elif not everyone:
        counts = counts[(counts["spam"] + counts["ham"]) > 0]
    return counts.fillna({"spam": 0, "ham": 0, "callees": 0, "known": 0, "exposure": 0.0,
                          "organic": 0,
                          "sequential": 0, "pool": 0.0, "stranger_calls": 0,
                          "stranger_quiet": 0, "night_p0": 1.0, "night_tested": 1,
                          "network": GLOBAL_NETWORK})


def sequential_evidence(sequential: np.ndarray | pd.Series, callees: np.ndarray | pd.Series,
                        pool: np.ndarray | pd.Series) -> np.ndarray:
    """-log10 of the chance that a caller lands on this many adjacent numbers by chance.

    A number that called ``callees`` distinct numbers out of a ``pool`` (every number of
    those countries called by anyone) has each callee's next number up among its callees
    with probability about ``(callees - 1) / (pool - 1)`` when it picks whom to call for
    reasons of its own (contacts, customers, a bought list). ``sequential`` adjacent pairs
    beyond that binomial tail mean it walks the numbering plan: sequential dialling,
    one-ring sweeps, neighbour spoofing. Needs no complaint at all.

    Example: 150 callees of a 10,000-number pool, 140 of them adjacent: about 242
    (a chance of 1e-242); a bank's 150 customers with 3 adjacent pairs: about 0.4.
    """
    k = np.asarray(sequential, dtype=np.float64)
    n = np.asarray(callees, dtype=np.float64)
    pool_size = np.asarray(pool, dtype=np.float64)
    p0 = np.clip((n - 1) / np.maximum(pool_size - 1, 1), 1e-12, 1 - 1e-12)
    trials = np.maximum(n - 1, 0)
    with np.errstate(divide="ignore"):
        tail = binom.logsf(k - 1, trials, p0) / -math.log(10)
    return np.where((k > 0) & (n > 1), np.maximum(tail, 0.0), 0.0)


def _sweeping(counts: pd.DataFrame, policy: LabelPolicy) -> pd.Series:
    """Sequential diallers by the Bonferroni-corrected test of :func:`sequential_evidence`."""
    if not policy.sweep_alpha or "sequential" not in counts.columns:
        return pd.Series(False, index=counts.index)
    tested = max(int((counts["callees"] > 1).sum()), 1)
    needed = -math.log10(policy.sweep_alpha / tested)
    evidence = sequential_evidence(counts["sequential"], counts["callees"], counts["pool"])
    return pd.Series(evidence >= needed, index=counts.index)


def night_evidence(quiet: np.ndarray | pd.Series, calls: np.ndarray | pd.Series,
                   p0: np.ndarray | pd.Series | float) -> np.ndarray:
    """-log10 of the chance that ``quiet`` or more of ``calls`` stranger calls fall in the
    quiet hours when each does with probability ``p0`` (the legitimate callers' share).

    Quiet hours are the regulators' calling windows (no telemarketing before 08:00 or after
    21:00 in the US, 09:00-21:00 for commercial calls in India): a legitimate business
    keeps to them, subscribers ring their own circles at night, not strangers. Needs no
    complaint at all.

    Example: 32 of 266 stranger calls in the quiet hours against a 3.6% share: about 8.5
    (a chance of 3e-9); a courier's 5 of 330: 0.
    """
    k = np.asarray(quiet, dtype=np.float64)
    n = np.asarray(calls, dtype=np.float64)
    p = np.clip(np.broadcast_to(np.asarray(p0, dtype=np.float64), k.shape), 1e-12, 1 - 1e-12)
    with np.errstate(divide="ignore"):
        tail = binom.logsf(k - 1, n, p) / -math.log(10)
    return np.where(k > 0, np.maximum(tail, 0.0), 0.0)


def _night_share(counts: pd.DataFrame, legitimate: pd.Series, alpha: float) -> np.ndarray:
    """Each row's null: the quiet-hour share of stranger calls placed by numbers known to
    be legitimate in its network (every network pooled where one has none), taken at the
    upper end of its Jeffreys interval at ``alpha``: an operator with few such calls gets a
    cautious null (none at all: a share of about 1, so nothing is labelled), one with
    hundreds of thousands its plain share."""
    known = counts[legitimate]
    calls = known.groupby("network")["stranger_calls"].sum()
    quiet = known.groupby("network")["stranger_quiet"].sum()
    pooled = float(beta.ppf(1 - alpha, quiet.sum() + 0.5, calls.sum() - quiet.sum() + 0.5))
    share = pd.Series(beta.ppf(1 - alpha, quiet + 0.5, calls - quiet + 0.5),
                      index=calls.index).where(calls > 0)
    return counts["network"].map(share).fillna(pooled).to_numpy(dtype=np.float64)


def _with_night_null(counts: pd.DataFrame, policy: LabelPolicy) -> pd.DataFrame:
    """``counts`` with each row's null share (``night_p0``) and the number of callers tested
    (``night_tested``), taken over every caller before a subset is asked for."""
    if not policy.night_alpha:
        return counts.assign(night_p0=1.0, night_tested=1)
    return counts.assign(
        night_p0=_night_share(counts, _anchors(counts, policy), policy.night_alpha),
        night_tested=max(int((counts["stranger_calls"] > 0).sum()), 1))


def _night_calling(counts: pd.DataFrame, policy: LabelPolicy,
                   anchored: pd.Series) -> pd.Series:
    """Quiet-hour stranger callers by the Bonferroni-corrected test of :func:`night_evidence`
    (``anchored``: :func:`_anchors` of ``counts``, exempt)."""
    if not policy.night_alpha or "night_p0" not in counts.columns:
        return pd.Series(False, index=counts.index)
    needed = -np.log10(policy.night_alpha / counts["night_tested"].to_numpy(dtype=float))
    evidence = night_evidence(counts["stranger_quiet"], counts["stranger_calls"],
                              counts["night_p0"])
    # A number its own counterparts seek out or know (a night-shift driver whose riders
    # ring first, a clinic's on-call line) is not a night sweeper, however late it calls.
    return pd.Series(evidence >= needed, index=counts.index) & ~anchored


def fit_rates(counts: pd.DataFrame, policy: LabelPolicy = LabelPolicy()) -> ComplaintModel:
    """The complaint model of ``counts`` (see :func:`complaint_counts`) under ``policy``.

    Numbers legitimate by evidence other than complaints (acquainted or vouched for, see
    :func:`_anchors`) anchor the legitimate class.
    """
    return fit_networks(counts["spam"].to_numpy(), counts["exposure"].to_numpy(),
                        counts["network"].to_numpy(), prior=policy.prior(),
                        override=None if policy.estimate else policy.prior(),
                        anchors=_anchors(counts, policy).to_numpy(),
                        missed_weight=policy.missed_weight)


def _anchors(counts: pd.DataFrame, policy: LabelPolicy) -> pd.Series:
    """Legitimate without looking at complaints much: acquainted, sought out, or vouched for.

    *Sought out*: at least ``min_organic`` established numbers called it before it called
    them (customers ringing a shop, a bank, a clinic). Spam is rarely sought out; the
    callers must themselves keep reciprocal circles, so a campaign's own fresh SIMs ringing
    it do not count.
    """
    total = (counts["spam"] + counts["ham"]).clip(lower=1)
    known = counts["known"] / counts["callees"].clip(lower=1)
    quiet = counts["spam"] <= 1
    acquainted = (counts["callees"] > 0) & (known >= policy.known_share) & quiet
    sought = (counts["organic"] >= policy.min_organic) & quiet if policy.min_organic \
        and "organic" in counts.columns else pd.Series(False, index=counts.index)
    vouched = ((counts["ham"] >= policy.min_reporters)
               & (counts["spam"] / total <= 1 - policy.spam_share))
    return acquainted | sought | vouched


def derive_labels(con: duckdb.DuckDBPyConnection, until: datetime,
                  policy: LabelPolicy = LabelPolicy(), numbers: pd.Series | None = None,
                  reports: str = "reports", calls: str = "calls",
                  rates: ComplaintModel | None = None,
                  quiet_hours: Mapping[str, tuple[int, int]] | None = None) -> pd.DataFrame:
    """Labels (``number``, ``label`` 0/1, ``firm``) derived from complaints before ``until``.

    :param numbers: see :func:`complaint_counts`.
    :param rates: the complaint model to weigh complaints with; estimated from these
        counts when not given (training fits it once and reuses it for every snapshot).
    :param quiet_hours: see :func:`complaint_counts`.
    """
    counts = complaint_counts(con, until, policy, numbers, reports, calls,
                              quiet_hours=quiet_hours)
    rates = rates or fit_rates(counts, policy)
    return _apply_policy(counts, policy, rates)


def log_likelihood_ratio(complaints: pd.Series | np.ndarray, exposure: pd.Series | np.ndarray,
                         policy: LabelPolicy) -> np.ndarray:
    """ln P(complaints | spam rate) - ln P(complaints | background rate), Poisson, at the
    policy's fixed rates (models saved before rates were estimated use this).

    Example: no complaint over 150 strangers reached, rates 0.02 and 0.001:
    ``-150 * 0.019 = -2.85``, i.e. 17 times likelier legitimate.
    """
    k = np.asarray(complaints, dtype=np.float64)
    n = np.asarray(exposure, dtype=np.float64)
    return (k * math.log(policy.spam_rate / policy.background_rate)
            - n * (policy.spam_rate - policy.background_rate))


def complaint_llr(frame: pd.DataFrame, evidence: ComplaintModel | LabelPolicy) -> np.ndarray:
    """The complaint evidence of each row of a feature table, as a log likelihood ratio.

    Uses the table's confirmed spam reporters over its exposure (strangers reached in the
    long window, unanswered ones weighted ``missed_weight``), under the fit of the row's
    recording network. A table without those columns (an operator's own features) carries
    no complaint evidence: zeros.
    """
    needed = ("spam_reporters", "strangers", "strangers_answered")
    if not all(c in frame.columns for c in needed):
        return np.zeros(len(frame))
    answered = frame["strangers_answered"].fillna(0).to_numpy(dtype=np.float64)
    missed = frame["strangers"].fillna(0).to_numpy(dtype=np.float64) - answered
    exposure = answered + evidence.missed_weight * missed
    complaints = frame["spam_reporters"].fillna(0).to_numpy(dtype=np.float64)
    if isinstance(evidence, LabelPolicy):
        return log_likelihood_ratio(complaints, exposure, evidence)
    networks = frame["network"].fillna(GLOBAL_NETWORK).astype(str).to_numpy() \
        if "network" in frame.columns else None
    return evidence.llr(complaints, exposure, networks)


def _apply_policy(counts: pd.DataFrame, policy: LabelPolicy,
                  rates: ComplaintModel) -> pd.DataFrame:
    total = (counts["spam"] + counts["ham"]).clip(lower=1)
    share = counts["spam"] / total
    nets = counts["network"].astype(str).to_numpy()
    llr = pd.Series(rates.llr(counts["spam"].to_numpy(), counts["exposure"].to_numpy(), nets),
                    index=counts.index)
    complained = ((counts["spam"] >= policy.min_reporters) & (share >= policy.spam_share)
                  & (llr >= math.log(policy.spam_evidence)))
    sweeping = _sweeping(counts, policy)
    anchored = _anchors(counts, policy)
    night = _night_calling(counts, policy, anchored) & ~sweeping
    spam = complained | sweeping | night
    firm = anchored | (counts["callees"] == 0)
    ham = (llr <= -math.log(policy.ham_evidence)) | firm
    out = counts.assign(label=pd.NA)
    out.loc[ham & ~spam, "label"] = 0
    out.loc[spam, "label"] = 1
    kept = out.dropna(subset=["label"])
    logger.info("derived labels: %d spam (%d by complaints, %d sequential diallers, %d "
                "quiet-hour stranger callers), %d not spam, %d left out (too little exposure "
                "or mixed verdicts)", int((kept["label"] == 1).sum()), int(complained.sum()),
                int((sweeping & ~complained).sum()), int((night & ~complained).sum()),
                int((kept["label"] == 0).sum()), len(out) - len(kept))
    # Thresholds are chosen on firm labels only: "not spam" from silence needs the same
    # evidence as "spam" before a high score against it counts as a false positive
    # (quiet spam that drew no complaint yet would otherwise push every threshold up).
    firm_ham = firm | (llr <= -math.log(policy.spam_evidence))
    kept = kept.assign(firm=(kept["label"] == 1) | firm_ham.loc[kept.index])
    return kept[["number", "label", "firm"]].astype({"label": "int64"}).reset_index(drop=True)


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
