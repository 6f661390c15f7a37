"""Reading calls and reports (Parquet, CSV, or folders of them) into DuckDB, clean or quarantined.

Every row ends up in exactly one place: the clean table the features read, or the
quarantine file with its source file, line, reason and raw values. Numbers are normalized
to E.164 with :func:`spamledger._fastnumbers.normalize_arrays`, once per distinct
``(raw string, country)`` pair, then joined back in SQL (phonenumbers parses ~21k/s;
a call file repeats the same strings millions of times).

Timestamps may be Parquet timestamps (naive = UTC), ISO-8601 strings with or without an
offset, or epoch seconds (milliseconds are recognised by magnitude); all become UTC.

Example::

    con = connect()
    stats = load_calls(con, "calls/", quarantine="out/quarantine-calls.parquet")
    stats.clean, stats.quarantined          # rows, {"caller:too_short": 3, ...}
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oracle._engine import unordered
from oracle._errors import IngestError, SchemaError
from spamledger._countries import COUNTRY_CODES
from spamledger._fastnumbers import normalize_arrays

logger = logging.getLogger(__name__)

CALL_COLUMNS = ("ts", "caller", "callee", "duration_s", "answered", "country")
CALL_OPTIONAL = ("channel", "attestation", "operator")
REPORT_COLUMNS = ("ts", "number", "label", "country")
REPORT_OPTIONAL = ("reporter", "category", "source")
LABELS = ("spam", "not_spam")
_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


@dataclass
class IngestStats:
    """What one load did: clean rows, quarantined rows per reason, files read."""

    kind: str
    files: list[str] = field(default_factory=list)
    clean: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    quarantine_path: str | None = None

    @property
    def bad(self) -> int:
        return sum(self.quarantined.values())

    def summary(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.quarantined.items()))
        return (f"{self.kind}: {self.clean} clean rows from {len(self.files)} file(s), "
                f"{self.bad} quarantined" + (f" ({reasons})" if reasons else ""))


def connect(memory_limit: str | None = None, threads: int | None = None,
            temp_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB connection in UTC, allowed to spill to ``temp_dir``."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    if memory_limit:
        con.execute(f"SET memory_limit='{memory_limit}'")
    if threads:
        con.execute(f"SET threads={int(threads)}")
    if temp_dir:
        con.execute(f"SET temp_directory='{_sql_str(temp_dir)}'")
    return con


def sources(path: str | Path) -> list[Path]:
    """The data files at ``path``: the file itself, or the Parquet/CSV files in a folder."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(_SUFFIXES))
        if not files:
            raise IngestError(f"{p}: folder holds no .parquet or .csv files")
        return files
    raise IngestError(f"{p}: no such file or folder")


def check_file(path: str | Path, kind: str) -> None:
    """Raise :class:`SchemaError` (naming the file and column) unless ``path`` can be read
    as a ``kind`` (``calls`` or ``reports``) file; reads the schema and one row only."""
    required = CALL_COLUMNS if kind == "calls" else REPORT_COLUMNS
    path = Path(path)
    con = connect()
    try:
        _check_types(path, _columns(con, path), required)
        try:
            con.execute(f"SELECT * FROM ({_scan(path)}) LIMIT 1").fetchall()
        except duckdb.Error as exc:
            raise SchemaError(path, "*", f"file cannot be read: {exc}") from exc
    finally:
        con.close()


def _sql_str(value: object) -> str:
    return str(value).replace("'", "''")


def _is_csv(path: Path) -> bool:
    return path.name.endswith((".csv", ".csv.gz", ".tsv"))


def _scan(path: Path) -> str:
    """SQL for one file's rows with a 1-based ``_line`` (CSV: the line in the file)."""
    f = _sql_str(path)
    if _is_csv(path):
        return (f"SELECT *, row_number() OVER () + 1 AS _line FROM read_csv('{f}', "
                "all_varchar=true, header=true)")
    return f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _line " \
           f"FROM read_parquet('{f}', file_row_number=true)"


def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    try:
        rows = con.execute(f"DESCRIBE {_scan(path)}").fetchall()
    except duckdb.Error as exc:
        raise SchemaError(path, "*", f"file cannot be read: {exc}") from exc
    return {str(r[0]).lower(): str(r[1]).upper() for r in rows}


def _ts_expr(col: str, dtype: str) -> str:
    """SQL turning column ``col`` of type ``dtype`` into a naive UTC TIMESTAMP (NULL if bad)."""
    if dtype.startswith("TIMESTAMP WITH TIME ZONE"):
        # The stored instant is UTC microseconds: read them as they are (a cast goes
        # through the time-zone calendar, ~5x the cost on millions of rows).
        return f"make_timestamp(epoch_us({col}))"
    if dtype.startswith(("TIMESTAMP", "DATE")):
        return f"{col}::TIMESTAMP"
    if dtype.startswith(_NUMERIC):
        return _epoch_expr(f"{col}::DOUBLE")
    text = f"trim({col}::VARCHAR)"
    return (f"CASE WHEN regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?') "
            f"THEN {_epoch_expr(f'{text}::DOUBLE')} "
            f"ELSE try_cast({text} AS TIMESTAMPTZ)::TIMESTAMP END")


def _epoch_expr(x: str) -> str:
    # Epoch milliseconds (13 digits) are common in exports; seconds stay below 1e11.
    return (f"CASE WHEN abs({x}) > 1e11 THEN make_timestamp(({x} * 1000)::BIGINT) "
            f"ELSE make_timestamp(({x} * 1000000)::BIGINT) END")


def _bool_expr(col: str, dtype: str) -> str:
    if dtype == "BOOLEAN":
        return col
    text = f"lower(trim({col}::VARCHAR))"
    return (f"CASE WHEN {text} IN ('true','t','1','yes','y') THEN true "
            f"WHEN {text} IN ('false','f','0','no','n') THEN false END")


def _check_types(path: Path, cols: dict[str, str], required: tuple[str, ...]) -> None:
    for name in required:
        if name not in cols:
            raise SchemaError(path, name, "required column is missing "
                              f"(found: {', '.join(sorted(cols)) or 'none'})")
    if _is_csv(path):
        return
    if "duration_s" in cols and not cols["duration_s"].startswith(_NUMERIC):
        raise SchemaError(path, "duration_s", f"must be a number, not {cols['duration_s']}")
    if "answered" in cols and cols["answered"] not in ("BOOLEAN", "VARCHAR") \
            and not cols["answered"].startswith(_NUMERIC):
        raise SchemaError(path, "answered", f"must be a boolean, not {cols['answered']}")
    if "ts" in cols and cols["ts"] in ("BOOLEAN", "BLOB"):
        raise SchemaError(path, "ts", f"must be a timestamp, not {cols['ts']}")


def _opt(cols: dict[str, str], name: str) -> str:
    return f"nullif(trim({name}::VARCHAR), '')" if name in cols else "NULL::VARCHAR"


def _calls_select(path: Path, cols: dict[str, str], index: int = 0,
                  typed: frozenset[str] = frozenset()) -> str:
    """One file's calls. ``_fid`` numbers the file; ``_k_ts``, ``_k_duration``,
    ``_k_answered`` are what the duplicate hash reads: the stored value when its text is a
    one-to-one function of it in every file (``typed``, see :func:`_typed_keys`), else
    the text itself (formatting millions of timestamps as text costs more than the hash).
    Their text (``_k_<name>::VARCHAR``) is the raw value a quarantined row shows: it is
    formatted only where it is read (:data:`_RAW_TEXT`), not for every row."""
    dur = "duration_s"
    dur_expr = (f"try_cast(trim({dur}) AS DOUBLE)" if _is_csv(path) else f"{dur}::DOUBLE")
    keys = ", ".join(f"{name if name in typed else f'{name}::VARCHAR'} AS _k_{name}"
                     for name in _TYPED_KEYS)
    return f"""
        SELECT {_ts_expr('ts', cols['ts'])} AS ts,
               trim(caller::VARCHAR) AS caller_raw, trim(callee::VARCHAR) AS callee_raw,
               {dur_expr} AS duration_s,
               {_bool_expr('answered', cols['answered'])} AS answered,
               upper(trim(country::VARCHAR)) AS country,
               coalesce(lower({_opt(cols, 'channel')}), 'voice') AS channel,
               upper({_opt(cols, 'attestation')}) AS attestation,
               {_opt(cols, 'operator')} AS operator,
               '{_sql_str(path)}' AS _file, {int(index)} AS _fid, _line, {keys}
        FROM ({_scan(path)})"""


# Raw columns whose text (``::VARCHAR``) is part of a call's identity, and the stored types
# whose text is one-to-one with the value (so equal text means an equal stored value, and
# hashing the value finds every group of equal texts).
_TYPED_KEYS = ("ts", "duration_s", "answered")
# The raw text of those columns, from the keys: a key is the value itself when its text
# is one-to-one with it, else already that text (``::VARCHAR`` of text is a no-op).
_RAW_TEXT = {"raw_ts": "_k_ts::VARCHAR", "raw_duration": "_k_duration_s::VARCHAR",
             "raw_answered": "_k_answered::VARCHAR"}
_ONE_TO_ONE = ("VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
               "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "DATE", "TIMESTAMP",
               "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")


def _typed_keys(files: list[tuple[Path, dict[str, str]]]) -> frozenset[str]:
    """The columns of :data:`_TYPED_KEYS` stored with one and the same one-to-one type in
    every file (a CSV column is text): their values can be hashed instead of their text."""
    out = set()
    for name in _TYPED_KEYS:
        types = {"VARCHAR" if _is_csv(f) else cols[name] for f, cols in files}
        if len(types) == 1 and next(iter(types)) in _ONE_TO_ONE:
            out.add(name)
    return frozenset(out)


def _reports_select(path: Path, cols: dict[str, str]) -> str:
    return f"""
        SELECT {_ts_expr('ts', cols['ts'])} AS ts, ts::VARCHAR AS raw_ts,
               trim(number::VARCHAR) AS number_raw,
               replace(lower(trim(label::VARCHAR)), ' ', '_') AS label,
               upper(trim(country::VARCHAR)) AS country,
               {_opt(cols, 'reporter')} AS reporter,
               lower({_opt(cols, 'category')}) AS category,
               coalesce(lower({_opt(cols, 'source')}), 'user') AS source,
               '{_sql_str(path)}' AS _file, _line
        FROM ({_scan(path)})"""


def _read_columns(con: duckdb.DuckDBPyConnection, path: str | Path,
                  required: tuple[str, ...]) -> list[tuple[Path, dict[str, str]]]:
    """Every source file at ``path`` with its checked column types."""
    out = []
    for f in sources(path):
        cols = _columns(con, f)
        _check_types(f, cols, required)
        out.append((f, cols))
    return out


def _union(con: duckdb.DuckDBPyConnection, path: str | Path, required: tuple[str, ...],
           select: object) -> tuple[str, list[str]]:
    files = _read_columns(con, path, required)
    parts = [select(f, cols) for f, cols in files]  # type: ignore[operator]
    return " UNION ALL BY NAME ".join(f"({p})" for p in parts), [str(f) for f, _ in files]


def _register_numbers(con: duckdb.DuckDBPyConnection, name: str, query: str) -> None:
    """Normalize every distinct (raw, country) pair of ``query`` into table ``name``.

    Keys are NULL-free (``''``) so that the joins back are plain hash joins. Each valid
    number also gets a dense integer id (``nid``) and the id of its 10,000-number block
    (``block``): the feature queries group and join on integers, not strings. Strings
    go through :func:`spamledger._fastnumbers.normalize_arrays` as whole columns.
    """
    pairs = con.sql(query).to_arrow_table()
    raw = pc.fill_null(pairs.column(0).combine_chunks().cast(pa.string()), "")
    country = pairs.column(1).combine_chunks().cast(pa.string())
    mapped = normalize_arrays(raw, country)
    table = pa.table({"raw": raw, "country": pc.fill_null(country, ""), **mapped})
    con.register(f"{name}_arrow", table)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
        WITH ids AS (SELECT e164, row_number() OVER (ORDER BY e164) - 1 AS nid
                     FROM (SELECT DISTINCT e164 FROM {name}_arrow WHERE e164 IS NOT NULL)),
             blocks AS (SELECT b, row_number() OVER (ORDER BY b) - 1 AS block
                        FROM (SELECT DISTINCT left(e164, length(e164) - 4) AS b
                              FROM {name}_arrow WHERE e164 IS NOT NULL))
        SELECT a.*, ids.nid, blocks.block FROM {name}_arrow a
        LEFT JOIN ids USING (e164)
        LEFT JOIN blocks ON blocks.b = left(a.e164, length(a.e164) - 4)""")
    con.unregister(f"{name}_arrow")
    logger.debug("normalized %d distinct numbers into %s", len(raw), name)


# Rows whose country is not an ISO 3166-1 alpha-2 code are quarantined ('unknown_country');
# exact duplicate rows (every column the same as an earlier row) as 'duplicate'. A report
# without a reporter is never a duplicate: feeds list anonymous complaints one a line, and
# the same number reported twice in one day is two complaints.
_CALL_IDENTITY = ("raw_ts", "caller_raw", "callee_raw", "raw_duration", "raw_answered",
                  "country", "channel", "attestation", "operator")
_CALL_RAW = ("raw_ts", "caller_raw", "callee_raw", "raw_duration", "raw_answered")
_REPORT_IDENTITY = ("raw_ts", "number_raw", "label", "country",
                    "coalesce(reporter, _file || ':' || _line)", "category", "source")


def _register_countries(con: duckdb.DuckDBPyConnection) -> None:
    """TEMP TABLE ``iso_countries(code)``: joined, not listed per row (a list costs ~30%)."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS iso_countries (code VARCHAR PRIMARY KEY)")
    if not con.execute("SELECT count(*) FROM iso_countries").fetchone()[0]:  # type: ignore[index]
        con.executemany("INSERT INTO iso_countries VALUES (?)",
                        [(c,) for c in sorted(COUNTRY_CODES)])


def _register_copies(con: duckdb.DuckDBPyConnection, table: str,
                     identity: tuple[str, ...]) -> None:
    """TEMP TABLE ``<table>_copies(_file, _line)``: every exact copy after a row's first.

    Rows are grouped by a 64-bit hash of their columns first (a cheap aggregate; almost
    always no group repeats); only rows of repeated hashes are compared column by column.
    """
    cols = ", ".join(identity)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table}_copies AS
        WITH repeated AS (SELECT h FROM (SELECT hash({cols}) AS h FROM {table}_raw)
                          GROUP BY h HAVING count(*) > 1),
             candidates AS (SELECT * FROM {table}_raw
                            WHERE hash({cols}) IN (SELECT h FROM repeated))
        SELECT _file, _line FROM (
            SELECT _file, _line, row_number() OVER (PARTITION BY {cols}
                                                    ORDER BY _file, _line) AS copy
            FROM candidates) WHERE copy > 1""")


def _until_clause(until: datetime | None) -> str:
    return f"AND ts < TIMESTAMP '{until:%Y-%m-%d %H:%M:%S.%f}'" if until else ""


def load_calls(con: duckdb.DuckDBPyConnection, path: str | Path,
               quarantine: str | Path | None = None, until: datetime | None = None,
               table: str = "calls") -> IngestStats:
    """Load calls at ``path`` into TEMP TABLE ``table`` (clean rows before ``until``).

    Clean columns: ``t`` (epoch seconds), ``ts``, ``caller``/``callee`` (E.164),
    ``caller_region``, ``caller_type``, ``callee_region``, ``duration_s``, ``answered``,
    ``country``, ``channel``, ``attestation``, ``operator``, and integer ``caller_id``,
    ``callee_id``, ``callee_block`` (ids into TEMP TABLE ``<table>_ids``: ``nid``, ``e164``,
    and the number's ``region``, ``ntype`` and 10,000-number ``block``).
    Bad rows go to ``quarantine``.

    One pass over the files builds ``table`` with every row, its quarantine reason and a
    hash of its identity; duplicates are then found among the rows whose hash repeats
    (almost always none), bad rows are written out, and ``DELETE`` plus ``DROP COLUMN``
    (both cheap in DuckDB) leave the clean rows: the rows are materialized once.
    """
    files = _read_columns(con, path, CALL_COLUMNS)
    typed = _typed_keys(files)
    union = " UNION ALL BY NAME ".join(f"({_calls_select(f, cols, i, typed)})"
                                       for i, (f, cols) in enumerate(files))
    names = [str(f) for f, _ in files]
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table}_raw AS {union}")
        _register_numbers(con, f"{table}_numbers",
                          f"SELECT DISTINCT caller_raw, country FROM {table}_raw UNION "
                          f"SELECT DISTINCT callee_raw, country FROM {table}_raw")
        _register_countries(con)
        # Raw strings are kept for quarantined rows only: storing them for every clean
        # row doubled the cost of this table. Duration is cast for clean rows only (the
        # cast fails on values out of range, which only matters for a row that is kept).
        kept = ", ".join(f"CASE WHEN _reason IS NOT NULL THEN {_RAW_TEXT.get(c, c)} END AS {c}"
                         for c in _CALL_RAW)
        keys = ", ".join(f"r._k_{c}" for c in _TYPED_KEYS)
        # Row order is free (the quarantine file is sorted; readers aggregate) unless a CSV
        # is read: its line numbers come from the order of the scan.
        with unordered(con, allowed=not any(_is_csv(f) for f, _ in files)):
            _create_calls(con, table, keys, kept, until)
        _mark_call_copies(con, table)
        stats = IngestStats("calls", names)
        _quarantine_calls(con, table, names, quarantine, stats)
        con.execute(f"DELETE FROM {table} WHERE _reason IS NOT NULL "
                    f"{_until_clause(until).replace('AND ts <', 'OR ts >=')}")
        for col in ("_reason", "_fid", "_line", "_h", *_CALL_RAW):
            con.execute(f"ALTER TABLE {table} DROP COLUMN {col}")
        # One row per number: its region, type and block are functions of the E.164
        # (min() only makes that structural), read by the features per number, not per call.
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {table}_ids AS
            SELECT nid, e164, min(region) AS region, min(ntype) AS ntype,
                   min(block) AS block
            FROM {table}_numbers WHERE nid IS NOT NULL GROUP BY nid, e164""")
        stats.clean = _count(con, table)
    except duckdb.Error as exc:
        raise IngestError(f"reading calls from {path} failed: {exc}") from exc
    logger.info("%s", stats.summary())
    return stats


def _create_calls(con: duckdb.DuckDBPyConnection, table: str, keys: str, kept: str,
                  until: datetime | None) -> None:
    """TEMP TABLE ``table``: every row of ``<table>_raw`` with its numbers, its reason
    (``_reason``, duplicates aside), identity hash ``_h``, file and line."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT epoch(ts) AS t, ts, caller, caller_region, caller_type, callee,
               callee_region,
               CASE WHEN _reason IS NULL {_until_clause(until)}
                    THEN duration_s::INTEGER END AS duration_s,
               answered, country, channel, attestation, operator, caller_id, callee_id,
               callee_block, _reason, _fid, _line, _h, {kept}
        FROM (
        SELECT r.*, a.e164 AS caller, a.region AS caller_region, a.ntype AS caller_type,
               b.e164 AS callee, b.region AS callee_region, a.nid AS caller_id,
               b.nid AS callee_id, b.block AS callee_block,
               hash({keys}, r.caller_raw, r.callee_raw, r.country, r.channel,
                    r.attestation, r.operator) AS _h,
               CASE WHEN r.ts IS NULL AND r._k_ts IS NULL THEN 'missing_timestamp'
                    WHEN r.ts IS NULL THEN 'bad_timestamp'
                    WHEN k.code IS NULL THEN 'unknown_country'
                    WHEN a.reason IS NOT NULL THEN 'caller:' || a.reason
                    WHEN b.reason IS NOT NULL THEN 'callee:' || b.reason
                    {_AFTER_DUPLICATE}
               END AS _reason
        FROM {table}_raw r
        LEFT JOIN iso_countries k ON k.code = r.country
        LEFT JOIN {table}_numbers a ON a.raw = coalesce(r.caller_raw, '')
             AND a.country = coalesce(r.country, '')
        LEFT JOIN {table}_numbers b ON b.raw = coalesce(r.callee_raw, '')
             AND b.country = coalesce(r.country, ''))""")


# The reasons a call is quarantined for when it is not a duplicate, checked after the
# duplicate check: a later copy of such a row is a 'duplicate' (see _mark_call_copies).
_LATER_REASONS = ("bad_duration", "negative_duration", "bad_answered", "bad_channel",
                  "bad_attestation")
_AFTER_DUPLICATE = """
                        WHEN r.duration_s IS NULL THEN 'bad_duration'
                        WHEN r.duration_s < 0 THEN 'negative_duration'
                        WHEN r.answered IS NULL THEN 'bad_answered'
                        WHEN r.channel NOT IN ('voice', 'sms') THEN 'bad_channel'
                        WHEN coalesce(r.attestation, 'A') NOT IN ('A', 'B', 'C')
                             THEN 'bad_attestation'"""


def _mark_call_copies(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Mark every exact copy after a row's first (by file name, then line) 'duplicate'.

    Only rows whose identity hash repeats are candidates (almost always none); their raw
    values are read again from the files and compared column by column. A copy keeps an
    earlier reason (bad timestamp, country or number) and takes the place of a later one.
    """
    # Whether any hash repeats, by sorting the column in numpy: a DuckDB GROUP BY over
    # millions of distinct values costs about twice as much (10M rows: ~2-3.5 s vs ~1.2 s).
    hashes = np.asarray(con.execute(f"SELECT _h FROM {table}").fetchnumpy()["_h"])
    hashes.sort()
    if not bool((hashes[1:] == hashes[:-1]).any()):
        return
    cols = ", ".join(_CALL_IDENTITY)
    text = ", ".join(f"{expr} AS {name}" for name, expr in _RAW_TEXT.items())
    later = ", ".join(f"'{r}'" for r in _LATER_REASONS)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table}_copies AS
        WITH candidates AS (
            SELECT _fid, _line FROM {table}
            WHERE _h IN (SELECT _h FROM {table} GROUP BY _h HAVING count(*) > 1))
        SELECT _fid, _line, {', '.join(_CALL_RAW)} FROM (
            SELECT *, row_number() OVER (PARTITION BY {cols} ORDER BY _file, _line) AS copy
            FROM (SELECT r.*, {text} FROM {table}_raw r
                  SEMI JOIN candidates c ON c._fid = r._fid AND c._line = r._line))
        WHERE copy > 1""")
    sets = ", ".join(f"{c} = c.{c}" for c in _CALL_RAW)
    con.execute(f"""UPDATE {table} SET _reason = 'duplicate', {sets}
        FROM {table}_copies c WHERE {table}._fid = c._fid AND {table}._line = c._line
        AND ({table}._reason IS NULL OR {table}._reason IN ({later}))""")
    con.execute(f"DROP TABLE {table}_copies")


def _quarantine_calls(con: duckdb.DuckDBPyConnection, table: str, files: list[str],
                      path: str | Path | None, stats: IngestStats) -> None:
    """Bad calls of ``table`` (``_reason`` set) counted per reason and written to ``path``."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_files (_fid INTEGER, _file VARCHAR)")
    con.executemany(f"INSERT INTO {table}_files VALUES (?, ?)", list(enumerate(files)))
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {table}_bad AS
        SELECT f._file, b.* FROM {table} b JOIN {table}_files f USING (_fid)
        WHERE b._reason IS NOT NULL""")
    _quarantine(con, f"(SELECT * EXCLUDE (_reason), _reason AS reason FROM {table}_bad)",
                path, stats, "caller_raw, callee_raw, raw_ts, raw_duration, raw_answered, "
                "country")
    con.execute(f"DROP VIEW {table}_bad")
    con.execute(f"DROP TABLE {table}_files")


def load_reports(con: duckdb.DuckDBPyConnection, path: str | Path,
                 quarantine: str | Path | None = None, until: datetime | None = None,
                 table: str = "reports") -> IngestStats:
    """Load reports at ``path`` into TEMP TABLE ``table`` (clean rows before ``until``).

    Clean columns: ``t``, ``ts``, ``number`` (E.164), ``label``, ``country``,
    ``reporter_key`` (the reporter's E.164 when it is a number, its id otherwise, or a
    per-row id for anonymous feed entries), ``category``, ``source``.
    """
    union, files = _union(con, path, REPORT_COLUMNS, _reports_select)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table}_raw AS {union}")
        _register_numbers(con, f"{table}_numbers",
                          f"SELECT DISTINCT number_raw, country FROM {table}_raw UNION "
                          f"SELECT DISTINCT reporter, country FROM {table}_raw "
                          f"WHERE reporter IS NOT NULL")
        _register_countries(con)
        _register_copies(con, table, _REPORT_IDENTITY)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {table}_checked AS
            SELECT r.*, a.e164 AS number, a.region AS region,
                   coalesce(p.e164, r.reporter, r.source || ':' || r._file || ':' || r._line)
                       AS reporter_key,
                   CASE WHEN r.ts IS NULL AND r.raw_ts IS NULL THEN 'missing_timestamp'
                        WHEN r.ts IS NULL THEN 'bad_timestamp'
                        WHEN k.code IS NULL THEN 'unknown_country'
                        WHEN a.reason IS NOT NULL THEN 'number:' || a.reason
                        WHEN r.label IS NULL OR r.label NOT IN ('spam', 'not_spam')
                             THEN 'unknown_label'
                        WHEN c._line IS NOT NULL THEN 'duplicate'
                   END AS reason
            FROM {table}_raw r
            LEFT JOIN iso_countries k ON k.code = r.country
            LEFT JOIN {table}_copies c ON c._file = r._file AND c._line = r._line
            LEFT JOIN {table}_numbers a ON a.raw = coalesce(r.number_raw, '')
                 AND a.country = coalesce(r.country, '')
            LEFT JOIN {table}_numbers p ON p.raw = r.reporter
                 AND p.country = coalesce(r.country, '')""")
        stats = IngestStats("reports", files)
        _quarantine(con, f"{table}_checked", quarantine, stats,
                    "number_raw, raw_ts, label, country, reporter, category, source")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT epoch(ts) AS t, ts, number, region, label, country, reporter_key,
                   category, source
            FROM {table}_checked WHERE reason IS NULL {_until_clause(until)}""")
        stats.clean = _count(con, table)
        con.execute(f"DROP TABLE {table}_checked")
        con.execute(f"DROP TABLE {table}_copies")
    except duckdb.Error as exc:
        raise IngestError(f"reading reports from {path} failed: {exc}") from exc
    logger.info("%s", stats.summary())
    return stats


def _quarantine(con: duckdb.DuckDBPyConnection, checked: str, path: str | Path | None,
                stats: IngestStats, raw_cols: str) -> None:
    """Count bad rows per reason and write them (file, line, reason, row) to ``path``."""
    counts = con.execute(f"SELECT reason, count(*) FROM {checked} WHERE reason IS NOT NULL "
                         "GROUP BY reason").fetchall()
    stats.quarantined = dict(Counter({r: int(n) for r, n in counts}))
    if not counts or path is None:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    con.execute(f"""COPY (SELECT _file AS source_file, _line AS line, reason,
                           to_json(struct_pack({_struct(raw_cols)}))::VARCHAR AS row
                    FROM {checked} WHERE reason IS NOT NULL ORDER BY _file, _line)
                    TO '{_sql_str(tmp)}' (FORMAT parquet)""")
    os.replace(tmp, target)
    stats.quarantine_path = str(target)
    logger.warning("%d %s rows quarantined to %s", stats.bad, stats.kind, target)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _struct(cols: str) -> str:
    return ", ".join(f"{c.strip()} := {c.strip()}" for c in cols.split(","))


def quarantine_path_for(output: str | Path, kind: str) -> Path:
    """Where bad ``kind`` rows go: beside ``output`` (a file or a directory)."""
    out = Path(output)
    if out.suffix:
        return out.with_name(f"{out.stem}.quarantine-{kind}.parquet")
    return out / f"quarantine-{kind}.parquet"
