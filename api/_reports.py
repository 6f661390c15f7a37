"""Subscriber reports out of the API, into the operator's oracle (its ``reports`` table).

The CSV has the data contract's columns (``ts, number, label, country, reporter, category,
source``); ``reporter`` is the stored hash, which the oracle only counts distinct values of.
Written to a temp file and renamed, so the oracle never reads half a file. A stored row the
oracle could not read (a timestamp that is not finite or not a date, from before the API
validated it) is never dropped silently and never fails the export: it goes to
``<out>.quarantine.csv`` with the reason.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, select

from api._db import session_scope
from api._models import Report

logger = logging.getLogger(__name__)

COLUMNS = ("ts", "number", "label", "country", "reporter", "category", "source")
QUARANTINE_COLUMNS = ("id", "ts", "number", "reason")


def quarantine_path(out: Path) -> Path:
    """Where :func:`export_reports` puts rows it cannot export."""
    return Path(out).with_suffix(".quarantine.csv")


def _iso(ts: float) -> str:
    """ISO-8601 UTC of ``ts``; ValueError naming why it has none."""
    if not math.isfinite(ts):
        raise ValueError(f"ts {ts} is not finite")
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat()
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"ts {ts} is not a date ({type(exc).__name__})") from exc


def export_reports(engine: Engine, out: Path, since: float = 0.0) -> int:
    """Write every report received after ``since`` (epoch seconds) to ``out``; returns count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".reports-", suffix=".csv")
    count = bad = 0
    qpath = quarantine_path(out)
    qpath.unlink(missing_ok=True)
    try:
        with os.fdopen(fd, "w", newline="") as fh, session_scope(engine) as session:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            rows = session.scalars(select(Report).where(Report.created_at > since)
                                   .order_by(Report.id)).yield_per(1000)
            quarantine = _Quarantine(qpath)
            for r in rows:
                try:
                    ts = _iso(r.ts)
                except ValueError as exc:
                    quarantine.add(r, str(exc))
                    bad += 1
                    continue
                writer.writerow((ts, r.number, r.label, r.country, r.reporter_hash, r.category,
                                 r.source))
                count += 1
            quarantine.close()
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if bad:
        logger.warning("%d report(s) could not be exported; kept in %s", bad, qpath)
    logger.info("exported %d reports to %s", count, out)
    return count


class _Quarantine:
    """The quarantine CSV, opened on the first bad row only."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: TextIO | None = None
        self._writer: Any = None

    def add(self, row: Report, reason: str) -> None:
        if self._writer is None:
            fh = self.path.open("w", newline="")
            self._fh = fh
            self._writer = csv.writer(fh)
            self._writer.writerow(QUARANTINE_COLUMNS)
        self._writer.writerow((row.id, repr(row.ts), row.number, reason))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
