"""Per-number features computed by DuckDB over the clean ``calls`` and ``reports`` tables.

One row per number that placed at least one call in the long window before ``until``.
Only rows strictly before ``until`` are read (:func:`oracle._ingest.load_calls` already
drops later rows; the queries filter again so that a table loaded without a cutoff cannot
leak later data either).

Windows: the *long* window (``long_days``, default 14) describes a number's habits; the
*short* window (the last ``short_hours``, default 24) catches new and re-awakened numbers.

Feature groups (model inputs, names in :data:`FEATURES`):

* volume and rhythm: calls per observed day and per active day, share of days active,
  last-24 h calls and burst ratio, inter-call gap median / coefficient of variation /
  share under a minute (the median, not the mean: a re-awakened line's long silence must
  not hide the machine-gun spacing of its burst);
* the busiest day: its calls, and the answer rate and share of very short calls on that
  day (a burst is judged on its own, not diluted by history);
* counterparts: distinct callees, distinct callees over calls, calls per counterpart,
  strangers (callees who never called it) as a share and per active day, callee block
  spread (sweeps hit few 10,000-blocks), callee countries, international share;
* sequential dialling: the share of its callees whose next number up (in the sorted list
  of every number called in the window) it called too, beyond the share chance gives.
  Sequential diallers (robocall and one-ring sweeps) and neighbour spoofers (who call the
  numbers around their own) walk the numbering plan; a person or a business calling its
  own contacts lands on adjacent numbers only by chance, about
  ``distinct_callees / callee_pool`` of the time (the pool: every number of the callees'
  countries called in the window, by anyone);
* reciprocity: callback rate (callees who called back); the outgoing share (overall and
  on the busiest day), calls received and the organic share (callers who rang it before
  it rang them, over those plus its callees) are kept in the table but not given to the
  models (:data:`RECEIVED_COLUMNS`);
* talk: answer rate, share of very short answered calls, mean and variation of talk time,
  share of calls over 10 minutes;
* time of day: distinct active hours, share of calls in local quiet hours (per-country
  window from the rules, default 21:00-08:00);
* age: days since first seen (as caller or callee, whole history), days from first seen
  to the last call placed, days since that call, days quiet before the last 24 h;
* STIR/SHAKEN attestation mix (A/B/C shares where the network signs calls);
* neighbourhood: other numbers of the same 100-number block that placed calls, that were
  reported, and their spam reports (campaigns rotate through adjacent numbers);
* number type (libphonenumber) and whether the number is foreign to the recording network.

Complaint columns (in the table, not model inputs; see :data:`COMPLAINT_COLUMNS`):
distinct spam reporters whose complaint the CDRs confirm (the number did call them),
unconfirmed spam reporters, distinct "not spam" reporters, time-decayed confirmed
reporters (half-life ``decay_days``), spam share, confirmed reporters per distinct callee,
and the exposure they are weighed against (strangers reached, answered or not).

Example::

    con = connect(); load_calls(con, "calls/"); load_reports(con, "reports.parquet")
    frame = build_features(con, until=datetime(2026, 1, 15))
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from oracle._engine import DuckDBEngine, Engine
from oracle._errors import FeatureError
from spamledger._numbers import NUMBER_TYPES

logger = logging.getLogger(__name__)

# Local-time offsets (hours) of the networks, for time-of-day features; 0 when unknown.
UTC_OFFSETS: dict[str, float] = {
    "US": -5, "CA": -5, "MX": -6, "BR": -3, "AR": -3, "GB": 0, "IE": 0, "PT": 0, "FR": 1,
    "DE": 1, "ES": 1, "IT": 1, "NL": 1, "PL": 1, "RU": 3, "TR": 3, "AE": 4, "IN": 5.5,
    "PK": 5, "ID": 7, "CN": 8, "JP": 9, "KR": 9, "AU": 10, "NG": 1, "ZA": 2, "KE": 3,
}
DEFAULT_QUIET = (21, 8)  # local quiet hours [start, end) when a country sets none

# Volumes are per observed day (the window, or the number's age if younger) so that a model
# trained on a shorter history scores a longer one consistently.
NUMERIC_FEATURES: tuple[str, ...] = (
    "calls_per_day", "peak_day_calls", "peak_day_answer_rate", "peak_day_short_share",
    "active_day_share", "n_out_24h", "burst_ratio",
    "gap_median_s", "gap_cv", "gap_short_share",
    "calls_per_active_day", "callees_per_day", "distinct_ratio", "calls_per_counterpart",
    "stranger_share", "strangers_per_active_day", "callee_block_spread",
    "sequential_excess", "callee_countries", "intl_share",
    "callback_rate",
    "answer_rate", "short_share", "mean_dur_s", "dur_cv", "long_share",
    "distinct_hours", "quiet_share",
    "age_days", "lifespan_days", "recency_days", "quiet_days_before_24h",
    "att_a", "att_b", "att_c",
    "nb_active", "nb_reported",
)
# The number's own complaints stay out of the model: training labels are derived from
# them, so a model that saw them would learn the labelling rule ("two complaints = spam")
# instead of the behaviour, and score every quiet scam as clean. They enter the score as
# separate evidence (:func:`oracle._labels.complaint_llr`) and are kept for people.
COMPLAINT_COLUMNS: tuple[str, ...] = ("spam_decayed", "spam_share", "report_rate",
                                      "unverified_rate", "vouch_rate")
# Calls received describe the number's acquaintances, not its conduct: a hijacked or
# re-awakened line keeps receiving its old circle's calls while it sweeps strangers, and a
# model that learnt "receives calls = legitimate" never flags it. The models judge
# reciprocity per callee instead (stranger share, callback rate); these stay for people.
# The organic share (callers who rang it first) too: it is what labels a number "sought out"
# (:func:`oracle.derive_labels`), but given to the models it taught them that a re-awakened
# line is fine (dormant-then-burst recall 0.33 -> 0.00 on the design worlds, session 6).
RECEIVED_COLUMNS: tuple[str, ...] = ("outgoing_share", "in_per_day", "peak_day_out_share",
                                     "organic_share")
CATEGORICAL_FEATURES: tuple[str, ...] = ("number_type", "foreign")
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
ID_COLUMNS: tuple[str, ...] = ("number", "country", "network", "report_category")
# Kept in the table for people and rules, not given to the models (they grow with the window).
# Complaint counts too: they pile up over a long history, so the models see rates and
# time-decayed counts instead.
COUNT_COLUMNS: tuple[str, ...] = ("n_out", "distinct_callees", "n_in", "active_days",
                                  "strangers", "strangers_answered",
                                  "spam_reporters", "unverified_reporters",
                                  "not_spam_reporters", "nb_spam_reports",
                                  "sequential_callees", "callee_pool", "organic_callers")


def _ts(value: datetime) -> str:
    return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S.%f}'"


def _epoch(value: datetime) -> str:
    """Epoch seconds of a naive UTC instant as a DOUBLE literal (what ``epoch()`` gives in
    DuckDB, spelt so that every engine reads the same number)."""
    seconds = (value - datetime(1970, 1, 1)).total_seconds()
    return f"CAST({seconds!r} AS DOUBLE)"


def local_hour_expr(offsets: Mapping[str, float]) -> str:
    cases = " ".join(f"WHEN '{cc}' THEN {off * 3600}" for cc, off in sorted(offsets.items()))
    return f"floor(((t + CASE country {cases} ELSE 0 END) % 86400) / 3600)"


def quiet_expr(quiet: Mapping[str, tuple[int, int]], col: str = "hr") -> str:
    def window(start: int, end: int) -> str:
        if start <= end:
            return f"({col} >= {start} AND {col} < {end})"
        return f"({col} >= {start} OR {col} < {end})"

    cases = " ".join(f"WHEN '{cc}' THEN {window(*w)}" for cc, w in sorted(quiet.items()))
    default = window(*DEFAULT_QUIET)
    return f"CASE country {cases} ELSE {default} END" if cases else default


def build_features(con: duckdb.DuckDBPyConnection, until: datetime, long_days: float = 14,
                   short_hours: float = 24, decay_days: float = 3.0,
                   quiet_hours: Mapping[str, tuple[int, int]] | None = None,
                   calls: str = "calls", reports: str | None = "reports",
                   engine: Engine | None = None) -> pd.DataFrame:
    """The feature table (one row per calling number) from data strictly before ``until``.

    :param con: a connection holding the clean ``calls`` (and ``reports``) tables.
    :param engine: where the SQL runs (:mod:`oracle._engine`); default DuckDB on ``con``.
    :param until: naive UTC instant; nothing at or after it is read.
    :param quiet_hours: local quiet window per country, e.g. ``{"IN": (21, 9)}``.
    :returns: DataFrame with :data:`ID_COLUMNS`, :data:`COUNT_COLUMNS` and :data:`FEATURES`,
        sorted by number.
    """
    lo = until - timedelta(days=long_days)
    short = until - timedelta(hours=short_hours)
    params = {"u": _ts(until), "lo": _ts(lo), "s": _ts(short), "u_t": _epoch(until),
              "s_t": _epoch(short)}
    run = engine or DuckDBEngine(con)
    with run.errors():
        _window(run, calls, params, quiet_hours or {})
        frame = _assemble(run, calls, reports, params, decay_days)
    if frame.empty:
        raise FeatureError(f"no calls between {lo:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} "
                           "UTC: nothing to build features from")
    return _finish(frame, long_days)


def _window(run: Engine, calls: str, p: dict[str, str],
            quiet: Mapping[str, tuple[int, int]]) -> None:
    hour = local_hour_expr(UTC_OFFSETS)
    run.view("fw", f"""
        SELECT t, caller_id AS caller, callee_id AS callee, callee_block, caller_region,
               caller_type, callee_region, duration_s,
               answered, country, attestation, t >= {p['s_t']} AS recent,
               {quiet_expr(quiet)} AS quiet, hr
        FROM (SELECT *, {hour} AS hr FROM {calls}
              WHERE ts >= {p['lo']} AND ts < {p['u']})""")
    run.materialize("fpairs0", """
        SELECT caller, callee, min(t) AS first_t, max(t) AS last_t,
               bool_or(recent) AS recent, bool_or(answered) AS answered
        FROM fw GROUP BY caller, callee""")
    # Each pair with its reverse (the callee calling the caller), joined once for the
    # callback, stranger and organic counts. The callee's block and region are functions
    # of the callee: read once per pair from the number table, not carried through the
    # GROUP BY (~45% of that statement).
    run.materialize("fpairs", f"""
        SELECT g.caller, g.callee, n.block AS callee_block, n.region AS callee_region,
               g.recent, g.answered, coalesce(q.last_t > g.first_t, false) AS called_back,
               q.caller IS NULL AS stranger,
               q.caller IS NULL OR q.first_t > g.first_t AS organic
        FROM fpairs0 g JOIN {calls}_ids n ON n.nid = g.callee
        LEFT JOIN fpairs0 q ON q.caller = g.callee AND q.callee = g.caller""")


# Distinct hours (0-23) as the bits set in a 24-bit mask: the same count as
# ``count(DISTINCT hr)`` without a distinct set per number (~25% of this pass on DuckDB).
_OUT = """
    SELECT caller AS number, count(*) AS n_out, count(*) FILTER (WHERE recent) AS n_out_24h,
           min(t) AS first_out_w, max(t) AS last_out_w,
           avg(answered::INTEGER) AS answer_rate,
           sum((answered AND duration_s < 10)::INTEGER) / nullif(sum(answered::INTEGER), 0)
               AS short_share,
           avg(duration_s) FILTER (WHERE answered) AS mean_dur_s,
           stddev_pop(duration_s) FILTER (WHERE answered)
               / nullif(avg(duration_s) FILTER (WHERE answered), 0) AS dur_cv,
           avg((duration_s >= 600)::INTEGER) FILTER (WHERE answered) AS long_share,
           CAST(bit_count(bit_or(CAST(pow(2, CAST(hr AS INTEGER)) AS BIGINT))) AS BIGINT)
               AS distinct_hours, avg(quiet::INTEGER) AS quiet_share,
           avg((callee_region <> caller_region)::INTEGER) AS intl_share,
           avg((attestation = 'A')::INTEGER) FILTER (WHERE attestation IS NOT NULL) AS att_a,
           avg((attestation = 'B')::INTEGER) FILTER (WHERE attestation IS NOT NULL) AS att_b,
           avg((attestation = 'C')::INTEGER) FILTER (WHERE attestation IS NOT NULL) AS att_c
    FROM fw GROUP BY caller"""

# The most frequent value per key, ties to the smallest: ``mode()`` breaks ties
# differently per engine (and per run under parallelism); this is one answer everywhere.
MOST_FREQUENT = """
    SELECT {key} AS number, {col} AS {name} FROM (
        SELECT {key}, {col}, row_number() OVER (PARTITION BY {key}
                                                 ORDER BY count(*) DESC, {col}) AS k
        FROM {source} WHERE {col} IS NOT NULL {where} GROUP BY {key}, {col})
    WHERE k = 1"""
# The recording network a number calls from most.
_NETWORK = MOST_FREQUENT.format(key="caller", col="country", name="network", source="fw",
                                 where="")

# f_out's columns but its key, spelt out for engines without ``* EXCLUDE``; the region and
# type are the number's own (``{calls}_ids``), not aggregated over its calls.
_OUT_COLUMNS = "ids.region, ids.ntype AS number_type_name, " + ", ".join(f"o.{c}" for c in (
    "n_out", "n_out_24h",
    "first_out_w", "last_out_w", "answer_rate", "short_share", "mean_dur_s", "dur_cv",
    "long_share", "distinct_hours", "quiet_share", "intl_share",
    "att_a", "att_b", "att_c"))

_GAPS = """
    SELECT caller AS number, median(gap) AS gap_median_s,
           stddev_pop(gap) / nullif(avg(gap), 0) AS gap_cv,
           avg((gap < 60)::INTEGER) AS gap_short_share
    FROM (SELECT caller, t - lag(t) OVER (PARTITION BY caller ORDER BY t) AS gap FROM fw)
    WHERE gap IS NOT NULL GROUP BY caller"""

# Callback: the callee called the caller after the caller first called it; a stranger
# never called the caller in the window.
_PAIRS = """
    SELECT caller AS number, count(*) AS distinct_callees,
           count(*) FILTER (WHERE recent) AS distinct_callees_24h,
           count(DISTINCT callee_block) / count(*) AS callee_block_spread,
           count(DISTINCT callee_region) AS callee_countries,
           count(*) FILTER (WHERE called_back) / count(*) AS callback_rate,
           count(*) FILTER (WHERE stranger) AS strangers,
           count(*) FILTER (WHERE stranger AND answered) AS strangers_answered
    FROM fpairs GROUP BY caller"""

# ``callee_countries`` is counted over the pairs (a callee has one region), not the calls.

_IN = "SELECT callee AS number, count(*) AS n_in FROM fw GROUP BY callee"

# Callers who rang the number before it ever rang them (in the window): customers calling a
# shop, a bank or a courier. A callback to a sweep or a one-ring call is not organic.
_ORGANIC = """
    SELECT callee AS number, count(*) AS organic_callers
    FROM fpairs WHERE organic GROUP BY callee"""

# Rank of every number called (sorted E.164, per country), then per caller how many of its
# callees have their next-ranked number among its callees too (see the module docstring).
# ``{pairs}``: one row per (caller, callee) with the callee's region; also used by labels.
SEQUENTIAL = """
    WITH called AS (SELECT DISTINCT callee, callee_region FROM {pairs}),
    ranks AS (SELECT c.callee, c.callee_region AS region,
                     row_number() OVER (PARTITION BY c.callee_region ORDER BY ids.e164) AS r,
                     count(*) OVER (PARTITION BY c.callee_region) AS pool
              FROM called c JOIN {ids} ids ON ids.nid = c.callee),
    pr AS (SELECT p.caller, k.region, k.r, k.pool FROM {pairs} p JOIN ranks k USING (callee))
    SELECT a.caller AS number, count(b.r) AS sequential_callees, avg(a.pool) AS callee_pool
    FROM pr a LEFT JOIN pr b ON b.caller = a.caller AND b.region = a.region AND b.r = a.r + 1
    GROUP BY a.caller"""

# Busiest day and what the number looked like on it: a burst shows however long the number
# has been around, and a re-awakened line's burst is not diluted by its quiet history or
# by the calls its old acquaintances still make to it. Ties go to the later day. A day
# without answered calls has no short share: the busiest day that has one is read
# (DuckDB's arg_max skips NULL values; the ordering key is NULLed so every engine does).
# One ``d`` row per active day (``i`` has at most one row per day to join): its count is
# the number's active days, read here rather than by a ``count(DISTINCT day)`` in f_out.
_PEAK = """
    WITH d AS (SELECT caller, floor(t / 86400) AS d, count(*) AS n,
                      avg(answered::INTEGER) AS ans,
                      sum((answered AND duration_s < 10)::INTEGER)
                          / nullif(sum(answered::INTEGER), 0) AS short
               FROM fw GROUP BY caller, d),
    i AS (SELECT callee, floor(t / 86400) AS d, count(*) AS n_in FROM fw GROUP BY callee, d)
    SELECT d.caller AS number, count(*) AS active_days, max(d.n) AS peak_day_calls,
           max_by(d.n / (d.n + coalesce(i.n_in, 0)), d.n * 1e6 + d.d) AS peak_day_out_share,
           max_by(d.ans, d.n * 1e6 + d.d) AS peak_day_answer_rate,
           max_by(d.short, CASE WHEN d.short IS NOT NULL THEN d.n * 1e6 + d.d END)
               AS peak_day_short_share
    FROM d LEFT JOIN i ON i.callee = d.caller AND i.d = d.d
    GROUP BY d.caller"""

_HISTORY = """
    SELECT number, min(t) AS first_t, max(t) FILTER (WHERE t < {s_t}) AS last_before
    FROM (SELECT caller_id AS number, t FROM {calls} WHERE ts < {u}
          UNION ALL SELECT callee_id, t FROM {calls} WHERE ts < {u})
    GROUP BY number"""

# A subscriber's complaint counts when the network saw the number call that subscriber
# before the complaint (operators check complaints against CDRs); feed entries (FTC,
# regulator, honeypot) carry no subscriber and count as they are.
VERIFIED_REPORTS = """
    SELECT r.*, (r.source <> 'user' OR EXISTS (
               SELECT 1 FROM {calls} c WHERE c.caller = r.number
               AND c.callee = r.reporter_key AND c.ts <= r.ts)) AS verified
    FROM {reports} r WHERE r.ts < {u}"""

_REPORTS = """
    SELECT number,
           count(DISTINCT reporter_key) FILTER (WHERE label = 'spam' AND verified)
               AS spam_reporters,
           count(DISTINCT reporter_key) FILTER (WHERE label = 'spam' AND NOT verified)
               AS unverified_reporters,
           count(DISTINCT reporter_key) FILTER (WHERE label = 'not_spam') AS not_spam_reporters
    FROM f_vrep GROUP BY number"""
# The category most spam reports give (ties: alphabetical).
_CATEGORY = MOST_FREQUENT.format(key="number", col="category", name="report_category",
                                  source="f_vrep", where="AND label = 'spam'")

# Each reporter counts once, with the weight of its latest spam report.
_DECAY = """
    SELECT number, sum(exp(-({u_t} - last_t) / {tau})) AS spam_decayed
    FROM (SELECT number, reporter_key, max(t) AS last_t FROM f_vrep
          WHERE label = 'spam' AND verified GROUP BY number, reporter_key)
    GROUP BY number"""


def _assemble(run: Engine, calls: str, reports: str | None,
              p: dict[str, str], decay_days: float) -> pd.DataFrame:
    tau = decay_days * 86400 / math.log(2)
    run.materialize("f_out", _OUT)
    run.materialize("f_net", _NETWORK)
    run.materialize("f_gaps", _GAPS)
    run.materialize("f_pairs", _PAIRS)
    run.materialize("f_in", _IN)
    run.materialize("f_org", _ORGANIC)
    run.materialize("f_seq", SEQUENTIAL.format(pairs="fpairs", ids=f"{calls}_ids"))
    run.materialize("f_peak", _PEAK)
    run.materialize("f_hist", _HISTORY.format(calls=calls, s_t=p["s_t"], u=p["u"]))
    if reports:
        run.materialize("f_vrep", VERIFIED_REPORTS.format(reports=reports, calls=calls,
                                                          u=p["u"]))
        run.materialize("f_rep", f"SELECT r.*, c.report_category FROM ({_REPORTS}) r "
                        f"LEFT JOIN ({_CATEGORY}) c USING (number)")
        run.materialize("f_decay", _DECAY.format(u_t=p["u_t"], tau=repr(tau)))
    else:
        run.materialize("f_rep", "SELECT CAST(NULL AS STRING) AS number, 0 AS spam_reporters, "
                        "0 AS unverified_reporters, 0 AS not_spam_reporters, "
                        "CAST(NULL AS STRING) AS report_category WHERE false")
        run.materialize("f_decay", "SELECT CAST(NULL AS STRING) AS number, "
                        "CAST(0 AS DOUBLE) AS spam_decayed WHERE false")
    return run.frame(_JOIN.format(u_t=p["u_t"], s_t=p["s_t"], ids=f"{calls}_ids",
                                  out_cols=_OUT_COLUMNS))


# Neighbourhood: the 100-number block (all digits but the last two).
_JOIN = """
    WITH base AS (
        SELECT ids.e164 AS number, {out_cols}, nw.network, g.gap_median_s, g.gap_cv,
               g.gap_short_share,
               pr.distinct_callees, pr.distinct_callees_24h, pr.callee_block_spread,
               pr.callback_rate, pr.strangers, pr.strangers_answered, pr.callee_countries,
               sq.sequential_callees, sq.callee_pool,
               coalesce(i.n_in, 0) AS n_in, coalesce(og.organic_callers, 0) AS organic_callers,
               pk.active_days, pk.peak_day_calls,
               pk.peak_day_out_share, pk.peak_day_answer_rate, pk.peak_day_short_share,
               ({u_t} - h.first_t) / 86400 AS age_days,
               ({s_t} - h.last_before) / 86400 AS quiet_days_before_24h,
               (o.last_out_w - h.first_t) / 86400 AS lifespan_days,
               ({u_t} - o.last_out_w) / 86400 AS recency_days,
               coalesce(r.spam_reporters, 0) AS spam_reporters,
               coalesce(r.not_spam_reporters, 0) AS not_spam_reporters,
               coalesce(r.unverified_reporters, 0) AS unverified_reporters,
               r.report_category, coalesce(d.spam_decayed, 0) AS spam_decayed,
               left(ids.e164, length(ids.e164) - 2) AS block
        FROM f_out o JOIN {ids} ids ON ids.nid = o.number
        LEFT JOIN f_gaps g ON g.number = o.number LEFT JOIN f_pairs pr ON pr.number = o.number
        LEFT JOIN f_in i ON i.number = o.number LEFT JOIN f_hist h ON h.number = o.number
        LEFT JOIN f_org og ON og.number = o.number
        LEFT JOIN f_peak pk ON pk.number = o.number LEFT JOIN f_seq sq ON sq.number = o.number
        JOIN f_net nw ON nw.number = o.number
        LEFT JOIN f_rep r ON r.number = ids.e164 LEFT JOIN f_decay d ON d.number = ids.e164
    ),
    rep_blocks AS (
        SELECT left(number, length(number) - 2) AS block, count(*) AS reported,
               sum(spam_reporters) AS spam_reports
        FROM f_rep WHERE spam_reporters > 0 GROUP BY block
    ),
    act_blocks AS (SELECT block, count(*) AS active FROM base GROUP BY block)
    SELECT base.*, a.active - 1 AS nb_active,
           coalesce(rb.reported, 0) - (base.spam_reporters > 0)::INTEGER AS nb_reported,
           coalesce(rb.spam_reports, 0) - base.spam_reporters AS nb_spam_reports
    FROM base JOIN act_blocks a USING (block) LEFT JOIN rep_blocks rb USING (block)
    ORDER BY number"""


def _finish(frame: pd.DataFrame, long_days: float) -> pd.DataFrame:
    """Derived ratios and categorical codes, in a fixed column order."""
    f = frame
    observed = np.clip(f["age_days"].fillna(long_days), 1.0, long_days)
    f["calls_per_day"] = f["n_out"] / observed
    f["callees_per_day"] = f["distinct_callees"] / observed
    f["in_per_day"] = f["n_in"] / observed
    f["active_day_share"] = f["active_days"] / np.ceil(observed)
    earlier = (f["n_out"] - f["n_out_24h"]) / max(long_days - 1, 1)
    f["burst_ratio"] = f["n_out_24h"] / (earlier + 1.0)
    f["distinct_ratio"] = f["distinct_callees"] / f["n_out"]
    f["calls_per_counterpart"] = f["n_out"] / f["distinct_callees"]
    f["calls_per_active_day"] = f["n_out"] / f["active_days"]
    f["stranger_share"] = f["strangers"] / f["distinct_callees"]
    # Beyond chance: a reminder service calling most of a small pool lands on adjacent
    # numbers as often as a sweep does; only the excess over its chance share is conduct.
    pairs = (f["distinct_callees"] - 1).where(f["distinct_callees"] > 1)
    f["sequential_excess"] = (f["sequential_callees"] / pairs
                              - pairs / (f["callee_pool"] - 1).clip(lower=1))
    f["strangers_per_active_day"] = f["strangers"] / f["active_days"]
    f["organic_share"] = f["organic_callers"] / (f["organic_callers"] + f["distinct_callees"])
    f["outgoing_share"] = f["n_out"] / (f["n_out"] + f["n_in"])
    f["report_rate"] = f["spam_reporters"] / f["distinct_callees"]
    f["unverified_rate"] = f["unverified_reporters"] / f["distinct_callees"]
    f["vouch_rate"] = f["not_spam_reporters"] / f["distinct_callees"]
    reports = f["spam_reporters"] + f["not_spam_reporters"]
    f["spam_share"] = np.where(reports > 0, f["spam_reporters"] / reports.where(reports > 0, 1),
                               np.nan)
    f["quiet_days_before_24h"] = f["quiet_days_before_24h"].fillna(-1.0)
    # Networks without STIR/SHAKEN: -1, so such numbers stay apart from unattested calls.
    f[["att_a", "att_b", "att_c"]] = f[["att_a", "att_b", "att_c"]].fillna(-1.0)
    f["number_type"] = f["number_type_name"].map(_TYPE_CODES).fillna(-1).astype(np.int64)
    f["foreign"] = (f["region"] != f["network"]).astype(np.int64)
    f["country"] = f["region"]
    out = f[list(ID_COLUMNS) + list(COUNT_COLUMNS) + list(COMPLAINT_COLUMNS)
            + list(RECEIVED_COLUMNS) + list(FEATURES)].copy()
    # Parallel float aggregation differs in the last bits from run to run; rounding makes
    # the table, and so the model trained on it and its hash, reproducible.
    numeric = [*NUMERIC_FEATURES, *COUNT_COLUMNS, *COMPLAINT_COLUMNS, *RECEIVED_COLUMNS]
    out[numeric] = out[numeric].astype(np.float64).round(6)
    return out.reset_index(drop=True)


_TYPE_CODES = {name: i for i, name in enumerate(NUMBER_TYPES)}
