"""Continuous mode: the drop folder in, votes and epoch snapshots out, retraining on schedule.

Layout of the drop folder (new data arrives every ~30 minutes as new files)::

    drop/calls/*.parquet|csv      call detail records (data contract ``calls``)
    drop/reports/*.parquet|csv    complaints (data contract ``reports``)
    drop/quarantine/<calls|reports>/FILE (+ FILE.reason.txt)
                                  files that could not be read, moved aside by the runner

A file that cannot be read (missing column, wrong type, not Parquet/CSV) is moved to
``drop/quarantine/`` with the reason next to it, and the cycle goes on with the others.
Files stay in ``calls/`` and ``reports/`` after scoring: the feature windows read them again
each cycle (files older than ``oracle_long_days`` can be archived by the operator). After
each cycle ``state/health.json`` says when it ran and what it did.

Each cycle: when files were added or changed since the last cycle, rebuild the features at
the end of the data (DuckDB over the folder), score with the promoted model, and push
(:class:`VoteService` picks the numbers whose verdict changed and newly flagged cross-border
numbers; it also answers other countries' rounds and finalizes those at quorum). Then, if
an epoch boundary passed, commit the snapshot of the whole table; if the retraining period
passed, train a candidate, register it on-chain and promote it once approved and not worse.

The list of files already processed is kept in the outbox database, so a restart resumes.

Example::

    ContinuousRunner.from_app(app).run(max_cycles=1)
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from oracle.service._epoch import epoch_of
from oracle.service._errors import ActionFailed, ModelGovernanceError, ServiceError
from oracle.service._scored import ScoredNumber, from_records
from oracle.service._votes import PushReport

logger = logging.getLogger(__name__)

SEEN = "drop_seen"
LAST_EPOCH = "last_epoch"  # the last clock period (epoch_seconds) a snapshot was committed in
PENDING_EPOCH = "pending_epoch"  # "<period>:<epoch number>" of a commit under way
LAST_TRAIN = "last_train"
QUARANTINE = "quarantine"
_SUFFIXES = (".parquet", ".csv")


@dataclass
class CycleReport:
    """What one cycle did."""

    new_files: int = 0
    scored: int = 0
    push: PushReport | None = None
    epoch: int | None = None
    retrained: str | None = None
    seconds: float = 0.0
    quarantined: list[str] = field(default_factory=list)  # drop files moved aside
    notes: list[str] = field(default_factory=list)


def scan(drop_dir: Path) -> dict[str, list[int]]:
    """relative path -> [size, mtime_ns] of every data file under calls/ and reports/."""
    out = {}
    for sub in ("calls", "reports"):
        for path in sorted((drop_dir / sub).glob("*")):
            if path.suffix in _SUFFIXES and path.is_file():
                st = path.stat()
                out[f"{sub}/{path.name}"] = [st.st_size, st.st_mtime_ns]
    return out


def reach_of(features: pd.DataFrame) -> dict[str, int]:
    """Countries a number reached as this network sees it: distinct callee countries, plus
    one when the caller is foreign to the network (it crossed a border to get here)."""
    callee = features.get("callee_countries", pd.Series(1, index=features.index))
    foreign = features.get("foreign", pd.Series(0, index=features.index))
    reach = callee.fillna(1).astype(int).clip(lower=1) + foreign.fillna(0).astype(int)
    return dict(zip(features["number"].astype(str), reach.astype(int), strict=True))


class ContinuousRunner:
    """One operator's oracle loop."""

    def __init__(self, app: Any, *, poll_seconds: float, epoch_seconds: int,
                 retrain_seconds: int, clock: Callable[[], float] = time.time):
        self.app, self.poll, self.clock = app, poll_seconds, clock
        self.epoch_seconds, self.retrain_seconds = epoch_seconds, retrain_seconds
        self.op, self.outbox = app.operator, app.outbox
        self.table: list[ScoredNumber] = []

    @classmethod
    def from_app(cls, app: Any) -> ContinuousRunner:
        s = app.settings
        return cls(app, poll_seconds=s.service_poll_seconds,
                   epoch_seconds=s.service_epoch_seconds,
                   retrain_seconds=s.service_retrain_seconds)

    def run(self, max_cycles: int | None = None) -> list[CycleReport]:
        """Cycle until ``max_cycles`` (forever when None); sleeps between idle cycles."""
        reports, n = [], 0
        logger.info("oracle %s (%s) watching %s", self.op.name, self.op.country,
                    self.op.drop_dir)
        while max_cycles is None or n < max_cycles:
            report = self.cycle()
            reports.append(report)
            n += 1
            if report.new_files == 0 and (max_cycles is None or n < max_cycles):
                time.sleep(self.poll)
        return reports

    def cycle(self) -> CycleReport:
        """One pass: new data -> scores -> votes; epoch; retraining."""
        start, report = time.monotonic(), CycleReport()
        seen = json.loads(self.outbox.get_meta(SEEN, "{}") or "{}")
        changed = [p for p, sig in scan(self.op.drop_dir).items() if seen.get(p) != sig]
        report.quarantined = self.quarantine_unreadable(changed)
        current = scan(self.op.drop_dir)
        changed = [p for p in changed if p in current]
        report.new_files = len(changed)
        if changed:
            self.table = self.rescore_readable(report)
            current = scan(self.op.drop_dir)
            report.scored = len(self.table)
            report.push = self.app.votes.push(self.table)
            self.outbox.set_meta(SEEN, json.dumps(current))
        else:
            self.app.votes.push([])  # still answer other countries' rounds and finalize
        report.epoch = self.maybe_epoch()
        report.retrained = self.maybe_retrain()
        report.seconds = time.monotonic() - start
        logger.info("cycle: %d new file(s), %d scored, epoch %s, %.2fs", report.new_files,
                    report.scored, report.epoch, report.seconds)
        self.write_health(report)
        return report

    # -- drop folder ------------------------------------------------------------------------

    def quarantine_unreadable(self, relative: list[str]) -> list[str]:
        """Move each listed drop file that cannot be read aside; returns those moved."""
        from oracle._errors import SchemaError
        from oracle._ingest import check_file

        moved = []
        for rel in relative:
            path = self.op.drop_dir / rel
            try:
                check_file(path, rel.split("/", 1)[0])
            except SchemaError as exc:
                moved.append(self.quarantine_file(path, str(exc)))
        return moved

    def quarantine_file(self, path: Path, reason: str) -> str:
        """Move ``path`` to ``drop/quarantine/<calls|reports>/`` with a ``.reason.txt``."""
        rel = path.relative_to(self.op.drop_dir)
        target = self.op.drop_dir / QUARANTINE / rel
        if target.exists():
            target = target.with_name(f"{int(time.time())}-{target.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
        logger.error("quarantined drop file %s -> %s: %s", rel, target, reason)
        return str(rel)

    def rescore_readable(self, report: CycleReport) -> list[ScoredNumber]:
        """:meth:`rescore`; a file that fails past its first row is quarantined, then again."""
        from oracle._errors import SchemaError

        while True:
            try:
                return self.rescore()
            except SchemaError as exc:
                path = Path(exc.path).resolve()
                if self.op.drop_dir.resolve() not in path.parents or not path.exists():
                    raise
                report.quarantined.append(self.quarantine_file(path, str(exc)))

    def write_health(self, report: CycleReport) -> None:
        """``state/health.json``: when the last cycle ran and what it did (for monitoring)."""
        health = {"at": self.clock(), "seconds": round(report.seconds, 3),
                  "new_files": report.new_files, "scored": report.scored,
                  "quarantined": report.quarantined, "epoch": report.epoch,
                  "failed_actions": len(report.push.failed) if report.push else 0,
                  "outbox": self.outbox.counts()}
        path = self.op.state_dir / "health.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(health, indent=2, sort_keys=True))
        tmp.replace(path)

    # -- scoring ----------------------------------------------------------------------------

    def _inputs(self) -> tuple[Path, Path | None]:
        calls = self.op.drop_dir / "calls"
        reports = self.op.drop_dir / "reports"
        if not any(calls.glob("*")):
            raise ServiceError(f"no call files in {calls}")
        has_reports = reports.is_dir() and any(reports.glob("*"))
        return calls, reports if has_reports else None

    def rescore(self) -> list[ScoredNumber]:
        """Features over the whole drop folder, scored with the current model."""
        import oracle
        from oracle._configure import scoring_options

        calls, reports = self._inputs()
        model = oracle.load_model(self._model_dir())
        options = scoring_options(self.app.settings, model)
        rules = options["rules"]
        feats = oracle.build_features(calls, reports,
                                      quarantine_dir=self.op.state_dir / "quarantine",
                                      **options)
        if self.app.votes.model_hash != model.hash_bytes32:
            logger.warning("scoring with model %s but voting names %s: promote the "
                           "model in use", model.hash[:12], self.app.votes.model_hash.hex()[:12])
        scores = oracle.score(model, feats, rules=rules)
        by_number = feats.set_index(feats["number"].astype(str))
        numeric = by_number.select_dtypes("number")
        features = {n: numeric.loc[n].to_dict() for n in scores["number"].astype(str)
                    if n in numeric.index}
        logger.info("rescored %d numbers", len(scores))
        return from_records(scores.to_dict("records"), features, reach_of(feats))

    def _model_dir(self) -> Path:
        current = self.app.models.current()
        if current and (self.op.model_dir / current).is_dir():
            return self.op.model_dir / current
        return self.op.model_dir

    # -- epochs and retraining --------------------------------------------------------------

    def maybe_epoch(self) -> int | None:
        """Commit the snapshot when the chain clock entered a new period of epoch_seconds;
        returns the epoch only when this cycle saw its commit mined.

        The snapshot takes the country's next epoch number on chain (epochs are sequential);
        the number is remembered with the period first, so a restart after a crash resumes
        the same number, with the table it was planned with, instead of the one after. An
        epoch already committed (by ``oracle epoch`` or before a crash) is never rebuilt.
        """
        if not self.table or self.epoch_seconds <= 0:
            return None
        period = epoch_of(self.app.chain.now(), self.epoch_seconds)
        if int(self.outbox.get_meta(LAST_EPOCH, "0") or 0) >= period:
            return None
        pending_period, _, pending_epoch = (self.outbox.get_meta(PENDING_EPOCH, "")
                                            or "").partition(":")
        if pending_period == str(period) and pending_epoch:
            epoch = int(pending_epoch)
        else:
            epoch = self.app.chain.next_epoch(self.op.country)
            self.outbox.set_meta(PENDING_EPOCH, f"{period}:{epoch}")
        epochs = self.app.epochs
        if epochs.committed_root(epoch) is not None:
            logger.info("epoch %d is already committed on-chain; its snapshot is kept as is",
                        epoch)
            self.outbox.set_meta(LAST_EPOCH, str(period))
            return None
        snap = epochs.existing(epoch) or epochs.build(self.table, epoch,
                                                      self.app.votes.model_hash)
        try:
            epochs.commit(snap)
        except ActionFailed as exc:
            logger.error("epoch %d not committed: %s", epoch, exc.reason)
            self.outbox.set_meta(LAST_EPOCH, str(period))  # refused: not retried this period
            return None
        self.outbox.set_meta(LAST_EPOCH, str(period))
        return epoch

    def maybe_retrain(self) -> str | None:
        """Train, register and (if approved and not worse) promote a candidate on schedule."""
        if self.retrain_seconds <= 0:
            return None
        last = float(self.outbox.get_meta(LAST_TRAIN, "0") or 0)
        if self.clock() - last < self.retrain_seconds:
            return None
        self.outbox.set_meta(LAST_TRAIN, str(self.clock()))
        return self.retrain()

    def retrain(self) -> str | None:
        import oracle
        from oracle._configure import training_options

        calls, reports = self._inputs()
        if reports is None:
            logger.warning("retraining skipped: no reports to derive labels from")
            return None
        model, _ = oracle.train_from_files(calls, reports,
                                           **training_options(self.app.settings))
        tmp = self.op.model_dir / ".candidate"
        digest = oracle.save_model(model, tmp)
        target = self.op.model_dir / digest
        if target.exists():
            shutil.rmtree(tmp)  # the same model again (same data): keep the first copy
        else:
            tmp.rename(target)
        card = oracle.model_card(model)
        self.app.models.register(digest, card)
        try:
            self.app.models.promote(digest, card)
            self.app.votes.set_model(digest)
        except ModelGovernanceError as exc:
            logger.warning("candidate %s registered, not promoted yet: %s", digest[:12], exc)
        return digest
