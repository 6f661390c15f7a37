"""From files to features, labels, models and scores: the steps the CLI and the service share.

Example::

    feats, info = features_from_files("calls/", "reports.parquet", until=cutoff,
                                      quarantine_dir="out/")
    model = train_from_files("calls/", "reports.parquet", until=cutoff)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from oracle._complaints import ComplaintModel
from oracle._consortium import add_peer_labels
from oracle._engine import DEFAULT_MASTER, Engine, check_engine, open_engine
from oracle._errors import FeatureError, IngestError, SchemaError
from oracle._features import build_features as _build_features_sql
from oracle._ingest import (
    IngestStats,
    connect,
    load_calls,
    load_reports,
    quarantine_path_for,
    sources,
)
from oracle._labels import LabelPolicy, complaint_counts, derive_labels, fit_rates, read_labels
from oracle._model import Model, TrainConfig, train
from oracle._portable import PortableModel
from oracle._reporters import resolve_keyed_reporters
from oracle._rules import CountryRules, load_rules, quiet_windows
from oracle._selftrain import add_self_labels
from spamledger._numbers import InvalidNumber, Number, normalize_many

logger = logging.getLogger(__name__)

_CONFIG = TrainConfig()
_POLICY = LabelPolicy()


@dataclass
class BuildInfo:
    """What a feature build read and where the data ended."""

    until: datetime
    stats: list[IngestStats] = field(default_factory=list)

    def summary(self) -> str:
        return "; ".join(s.summary() for s in self.stats)


def parse_instant(text: str | None) -> datetime | None:
    """An ISO-8601 instant (offset honoured, naive = UTC) or epoch seconds -> naive UTC."""
    if text is None:
        return None
    raw = text.strip()
    try:
        if raw.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(raw), UTC).replace(tzinfo=None)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise IngestError(f"cannot read {text!r} as an instant (ISO-8601 or epoch "
                          "seconds)") from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _end_of_data(con: duckdb.DuckDBPyConnection) -> datetime:
    row = con.execute("SELECT max(ts) FROM calls").fetchone()
    last = row[0] if row else None
    if last is None:
        raise IngestError("no clean calls to work from")
    return last + timedelta(microseconds=1)


def load_sources(con: duckdb.DuckDBPyConnection, calls: str | Path,
                 reports: str | Path | None, until: datetime | None,
                 quarantine_dir: str | Path | None, hasher: Any = None) -> BuildInfo:
    """Load calls (and reports) into ``con``; ``until`` defaults to just after the last call.

    Bad rows go beside ``quarantine_dir`` (a directory, or an output file whose name is
    reused: ``scores.parquet`` -> ``scores.quarantine-calls.parquet``). With the consortium
    ``hasher``, complaints whose reporter is a keyed hash (filed through the API) are
    matched to the callees of the reported number (:mod:`oracle._reporters`).
    """
    q = quarantine_dir
    stats = [load_calls(con, calls, quarantine_path_for(q, "calls") if q else None, until)]
    if reports:
        stats.append(load_reports(con, reports, quarantine_path_for(q, "reports") if q else None,
                                  until))
        if hasher is not None:
            resolve_keyed_reporters(con, hasher)
    return BuildInfo(until or _end_of_data(con), stats)


def features_from_files(calls: str | Path, reports: str | Path | None,
                        until: datetime | None = None,
                        quarantine_dir: str | Path | None = None,
                        rules: dict[str, CountryRules] | None = None,
                        long_days: float = 14, short_hours: float = 24,
                        con: duckdb.DuckDBPyConnection | None = None, hasher: Any = None,
                        engine: str = "duckdb", spark_master: str = DEFAULT_MASTER,
                        spark_exchange_dir: str | Path | None = None,
                        spark_driver_memory: str = "4g",
                        ) -> tuple[pd.DataFrame, BuildInfo]:
    """Read the files and build the per-number feature table at ``until``.

    :param hasher: the consortium's number hasher, to confirm API complaints (keyed
        reporters) against the call records; without it they count as unconfirmed.
    :param engine: ``duckdb`` or ``spark`` (:mod:`oracle._engine`): where the feature SQL
        runs; the table is the same.
    """
    check_engine(engine)
    con = con or connect()
    info = load_sources(con, calls, reports, until, quarantine_dir, hasher)
    rules = load_rules() if rules is None else rules
    with open_engine(con, engine, spark_master, spark_exchange_dir,
                     spark_driver_memory) as run:
        frame = _build_features_sql(con, info.until, long_days, short_hours,
                                    quiet_hours=quiet_windows(rules),
                                    reports="reports" if reports else None, engine=run)
    return frame, info


def training_data(calls: str | Path, reports: str | Path, until: datetime | None = None,
                  labels: str | Path | None = None, label_delay_hours: float = 48,
                  snapshots: int = 5, snapshot_step_hours: float = 24,
                  quarantine_dir: str | Path | None = None, policy: LabelPolicy = _POLICY,
                  rules: dict[str, CountryRules] | None = None, long_days: float = 14,
                  short_hours: float = 24, hasher: Any = None,
                  peers: Sequence[PortableModel] = (), engine: str = "duckdb",
                  spark_master: str = DEFAULT_MASTER,
                  spark_exchange_dir: str | Path | None = None, spark_driver_memory: str = "4g",
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict, BuildInfo]:
    """Features, labels and the training window from raw calls and reports before ``until``.

    Features are taken ``label_delay_hours`` before each label instant and labels from
    complaints up to it: the model learns to predict complaints that have not arrived yet
    from behaviour, rather than to re-read complaints it already sees. ``snapshots``
    label instants, ``snapshot_step_hours`` apart and ending at ``until``, are stacked
    (short-lived spam numbers live in different windows). A labels file replaces the
    derived labels (one snapshot at ``until``, no delay). ``peers``: other operators'
    portable models, whose agreement adds soft spam labels (:mod:`oracle._consortium`).
    ``engine`` runs the feature SQL (labels and complaint rates stay on the DuckDB
    connection).
    """
    check_engine(engine)
    con = connect()
    info = load_sources(con, calls, reports, until, quarantine_dir, hasher)
    rules = load_rules() if rules is None else rules
    quiet = quiet_windows(rules)
    # The complaint rates are fitted once, on every number's complaints and exposure at the
    # cut-off, and weigh the complaints of every snapshot (and, in the model, at scoring).
    rates = fit_rates(complaint_counts(con, info.until, policy, everyone=True), policy)
    with open_engine(con, engine, spark_master, spark_exchange_dir,
                     spark_driver_memory) as run:
        if labels:
            feats = _build_features_sql(con, info.until, long_days, short_hours,
                                        quiet_hours=quiet, engine=run)
            lab = read_labels(labels)
            delay, snapshots = timedelta(0), 1
        else:
            delay = timedelta(hours=label_delay_hours)
            feats, lab = _stacked(con, info.until, delay, snapshots,
                                  timedelta(hours=snapshot_step_hours),
                                  (long_days, short_hours), quiet, policy, rates, run)
            lab = add_peer_labels(feats, lab, peers)
    window = {"until": info.until.isoformat(), "features_at": (info.until - delay).isoformat(),
              "long_days": long_days, "short_hours": short_hours, "snapshots": snapshots,
              "label_delay_hours": delay.total_seconds() / 3600,
              "label_source": str(labels) if labels else "complaints",
              "label_policy": None if labels else vars(policy),
              "complaint_model": rates.card(),
              "peers": [{"owner": p.owner, "portable_sha256": p.digest} for p in peers]}
    return feats, lab, window, info


def train_from_files(calls: str | Path, reports: str | Path, until: datetime | None = None,
                     labels: str | Path | None = None, config: TrainConfig = _CONFIG,
                     policy: LabelPolicy = _POLICY,
                     **kwargs: object) -> tuple[Model, BuildInfo]:
    """Train from raw calls and reports (see :func:`training_data` for ``kwargs``).

    ``policy`` both derives the labels and weighs complaints at scoring time.
    """
    feats, lab, window, info = training_data(calls, reports, until, labels, policy=policy,
                                             **kwargs)  # type: ignore[arg-type]
    evidence = ComplaintModel.from_card(window["complaint_model"])
    model = train(feats, lab, config, window, evidence=evidence)
    if policy.self_training and not labels:
        lab = add_self_labels(feats, lab, model)
        model = train(feats, lab, config, {**window, "self_training": True}, evidence=evidence)
    return model, info


def _stacked(con: duckdb.DuckDBPyConnection, until: datetime, delay: timedelta,
             snapshots: int, step: timedelta, windows: tuple[float, float],
             quiet: dict[str, tuple[int, int]], policy: LabelPolicy,
             rates: ComplaintModel, run: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    feats, labs = [], []
    for k in range(max(snapshots, 1)):
        label_at = until - k * step
        try:
            f = _build_features_sql(con, label_at - delay, *windows, quiet_hours=quiet,
                                    engine=run)
        except FeatureError:
            break  # no data that far back
        lab = derive_labels(con, label_at, policy, numbers=f["number"], rates=rates,
                            quiet_hours=quiet)
        feats.append(f.assign(snapshot=k))
        labs.append(lab.assign(snapshot=k))
    if not feats:
        raise FeatureError(f"no calls in the {windows[0]}-day window before "
                           f"{until - delay:%Y-%m-%d %H:%M}")
    labels = pd.concat(labs, ignore_index=True)
    # A later snapshot knows more: a number labelled spam at some point was not "not spam"
    # in an earlier snapshot, its complaints had not arrived yet. Those rows are dropped
    # (not flipped: a dormant number really did look ordinary before its burst).
    spam_numbers = set(labels.loc[labels["label"] == 1, "number"])
    stale = (labels["label"] == 0) & labels["number"].isin(spam_numbers)
    return pd.concat(feats, ignore_index=True), labels[~stale].reset_index(drop=True)


def read_feature_table(path: str | Path) -> pd.DataFrame:
    """An operator's per-number feature table, numbers normalized to E.164."""
    frames = []
    for f in sources(path):
        frames.append(pd.read_csv(f) if f.suffix in (".csv", ".tsv") else pd.read_parquet(f))
    frame = pd.concat(frames, ignore_index=True)
    for col in ("number", "country"):
        if col not in frame.columns:
            raise SchemaError(path, col, "required column is missing")
    pairs = list(zip(frame["number"].astype(str), frame["country"].astype(str).str.upper(),
                     strict=True))
    mapped = normalize_many(pairs)
    ok = [not isinstance(mapped[p], InvalidNumber) for p in pairs]
    if not all(ok):
        logger.warning("%s: %d rows with invalid numbers skipped", path, ok.count(False))
    frame = frame[ok].copy()
    if "network" not in frame.columns:  # the recording network: the row's country
        frame["network"] = frame["country"].astype(str).str.upper()
    kept = [m for p in pairs if isinstance(m := mapped[p], Number)]
    frame["number"] = [m.e164 for m in kept]
    frame["country"] = [m.region for m in kept]
    return frame.drop_duplicates("number", keep="last").reset_index(drop=True)


def build_features(calls: str | Path, reports: str | Path | None = None,
                   until: datetime | None = None, **kwargs: object) -> pd.DataFrame:
    """The feature table of the numbers in ``calls`` at ``until`` (files in, frame out).

    ``kwargs`` go to :func:`features_from_files` (``quarantine_dir``, ``rules``,
    ``long_days``, ``short_hours``).
    """
    frame, _info = features_from_files(calls, reports, until, **kwargs)  # type: ignore[arg-type]
    return frame
