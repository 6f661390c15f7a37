"""Subscriber reports out of the API, into the operator's oracle (its ``reports`` table).

The CSV has the data contract's columns (``ts, number, label, country, reporter, category,
source``); ``reporter`` is the stored hash, which the oracle only counts distinct values of.
Written to a temp file and renamed, so the oracle never reads half a file.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from api._db import session_scope
from api._models import Report

logger = logging.getLogger(__name__)

COLUMNS = ("ts", "number", "label", "country", "reporter", "category", "source")


def export_reports(engine: Engine, out: Path, since: float = 0.0) -> int:
    """Write every report received after ``since`` (epoch seconds) to ``out``; returns count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".reports-", suffix=".csv")
    count = 0
    try:
        with os.fdopen(fd, "w", newline="") as fh, session_scope(engine) as session:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            rows = session.scalars(select(Report).where(Report.created_at > since)
                                   .order_by(Report.id)).yield_per(1000)
            for r in rows:
                writer.writerow((datetime.fromtimestamp(r.ts, UTC).isoformat(), r.number,
                                 r.label, r.country, r.reporter_hash, r.category, r.source))
                count += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("exported %d reports to %s", count, out)
    return count
