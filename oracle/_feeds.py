"""Public complaint feeds as reports: the US FTC Do-Not-Call export and plain number lists.

Both become rows of the reports table with ``label=spam``, ``source=ftc`` (or the given
source) and ``country=US`` (or the given country). Formats recognised by the header:

* FTC DNC complaint export: ``Company_Phone_Number``, ``Created_Date``, ``Subject``,
  ``Recorded_Message_Or_Robocall`` (``Y`` -> category ``robocall``), ...;
* a list with header ``number`` or ``pattern``, or with no header, one entry a line.

Every entry is validated with libphonenumber; invalid ones are counted by reason and kept
in a quarantine file, never silently dropped. Entries with wildcards (``248864XXXX``) are
ranges, not numbers: they are quarantined as ``wildcard_pattern``.

Example::

    result = import_feed("ftc_dnc_sample.csv", "reports-ftc.parquet")
    result.valid, result.invalid      # 12053, {"too_short": 31, ...}
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from oracle._errors import IngestError
from oracle._ingest import quarantine_path_for
from spamledger._numbers import InvalidNumber, Number, normalize_many

logger = logging.getLogger(__name__)

FTC_NUMBER = "company_phone_number"
_WILDCARD = re.compile(r"[xX*?#]")
_SUBJECT_CATEGORY = {
    "debt": "debt_collection", "reduce your debt": "debt_collection",
    "imposters": "scam", "impersonat": "scam", "warranties": "telemarketing",
    "medical": "telemarketing", "energy": "telemarketing", "computer": "scam",
    "vacation": "telemarketing", "lotteries": "scam", "prizes": "scam",
    "survey": "survey", "home security": "telemarketing",
}


@dataclass
class FeedResult:
    """Counts of one feed import."""

    path: str
    format: str
    entries: int = 0
    valid: int = 0
    distinct_valid: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    output: str | None = None
    quarantine: str | None = None

    def summary(self) -> str:
        bad = ", ".join(f"{k}={v}" for k, v in sorted(self.invalid.items()))
        return (f"{self.path} ({self.format}): {self.entries} entries, {self.valid} valid "
                f"({self.distinct_valid} distinct numbers), {sum(self.invalid.values())} "
                f"invalid" + (f" ({bad})" if bad else ""))


def _read_rows(path: Path) -> tuple[str, list[dict[str, str]], int]:
    """The format name, the rows as dicts, and the line number of the first data row."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise IngestError(f"{path}: cannot read feed: {exc.strerror}") from exc
    lines = text.splitlines()
    if not lines:
        raise IngestError(f"{path}: feed is empty")
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    if FTC_NUMBER in header:
        reader = csv.DictReader(io.StringIO(text))
        rows = [{(k or "").strip().lower(): (v or "") for k, v in r.items()} for r in reader]
        return "ftc_dnc_export", rows, 2
    if header and header[0] in ("number", "pattern", "phone", "phone_number"):
        return f"list ({header[0]})", [{"number": ln.split(",")[0]} for ln in lines[1:]], 2
    return "list (no header)", [{"number": ln.split(",")[0]} for ln in lines], 1


def _category(row: dict[str, str]) -> str:
    if row.get("recorded_message_or_robocall", "").strip().upper() in ("Y", "YES"):
        return "robocall"
    subject = row.get("subject", "").lower()
    return next((cat for key, cat in _SUBJECT_CATEGORY.items() if key in subject), "")


def _timestamp(row: dict[str, str], default: datetime) -> datetime:
    raw = row.get("created_date", "").strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return default


def import_feed(path: str | Path, out: str | Path | None = None, country: str = "US",
                source: str = "ftc", ts: datetime | None = None) -> FeedResult:
    """Read a feed, validate every entry, write reports (and quarantine) as Parquet.

    :param out: reports Parquet to write (atomically); ``None`` only counts.
    :param ts: report time for entries without a date (default: now, UTC).
    """
    p = Path(path)
    fmt, rows, first_line = _read_rows(p)
    default_ts = ts or datetime.now(UTC).replace(tzinfo=None)
    country = _feed_country(country)
    raws = [(r.get(FTC_NUMBER) if fmt == "ftc_dnc_export" else r.get("number")) or ""
            for r in rows]
    mapped = normalize_many((raw.strip(), country) for raw in raws if not _WILDCARD.search(raw))
    result = FeedResult(str(p), fmt, entries=len(rows))
    good: dict[str, list[Any]] = {k: [] for k in ("ts", "number", "label", "country", "reporter",
                                             "category", "source")}
    bad: dict[str, list] = {"source_file": [], "line": [], "reason": [], "row": []}
    reasons: Counter[str] = Counter()
    for i, (raw, row) in enumerate(zip(raws, rows, strict=True)):
        reason = "wildcard_pattern" if _WILDCARD.search(raw) else None
        number = None if reason else mapped[(raw.strip(), country)]
        if isinstance(number, InvalidNumber):
            reason = number.reason
        if reason:
            reasons[reason] += 1
            for k, v in (("source_file", str(p)), ("line", first_line + i), ("reason", reason),
                         ("row", raw)):
                bad[k].append(v)
            continue
        assert isinstance(number, Number)
        entry: dict[str, Any] = {"ts": _timestamp(row, default_ts), "number": number.e164,
                                 "label": "spam", "country": country, "reporter": None,
                                 "category": _category(row), "source": source}
        for key, value in entry.items():
            good[key].append(value)
    result.valid = len(good["number"])
    result.distinct_valid = len(set(good["number"]))
    result.invalid = dict(reasons)
    if out is not None:
        _write(result, good, bad, Path(out))
    logger.info("%s", result.summary())
    return result


def _write(result: FeedResult, good: dict[str, list], bad: dict[str, list], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"ts": pa.array(good["ts"], pa.timestamp("us")),
                      **{k: pa.array(v, pa.string()) for k, v in good.items() if k != "ts"}})
    _atomic(table, out)
    result.output = str(out)
    if bad["line"]:
        q = quarantine_path_for(out, "feed")
        _atomic(pa.table({"source_file": pa.array(bad["source_file"], pa.string()),
                          "line": pa.array(bad["line"], pa.int64()),
                          "reason": pa.array(bad["reason"], pa.string()),
                          "row": pa.array(bad["row"], pa.string())}), q)
        result.quarantine = str(q)


def _atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _feed_country(country: str) -> str:
    """The feed's country, checked: an unknown code would quarantine every row."""
    from spamledger._countries import InvalidCountry, country_code

    try:
        return country_code(country)
    except InvalidCountry as exc:
        raise IngestError(f"feed country: {exc}") from exc
