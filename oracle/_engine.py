"""Where the feature SQL runs: DuckDB in-process (the default) or Apache Spark (scale-out).

The feature definitions in :mod:`oracle._features` are SQL text written once, in the
dialect both engines read (``count(*) FILTER (WHERE ...)``, ``max_by``, ``median``,
``mode``, ``x::INTEGER``, ``TIMESTAMP '...'`` literals, instants as ``CAST(... AS DOUBLE)``
epoch seconds). An engine only knows how to keep a named intermediate table and how to
hand back the final one as a pandas frame:

- :class:`DuckDBEngine` runs on the connection that holds the clean ``calls`` /
  ``reports`` tables (``CREATE TEMP TABLE``).
- :class:`SparkEngine` runs on a Spark session (``local[*]`` by default, a cluster through
  the ``spark_master`` setting / ``SPAMLEDGER_SPARK_MASTER``). The clean tables reach it
  as Parquet (:func:`SparkEngine.from_duckdb` exports them), intermediate tables are
  cached views, and the result comes back through Arrow.

Ingest (normalization, quarantine) stays on DuckDB; training and scoring stay on one
machine per country model, fed by the engine's feature table.

Example::

    con = connect(); load_calls(con, "calls/"); load_reports(con, "reports.parquet")
    with SparkEngine.from_duckdb(con, spark_session("local[2]"), tmpdir) as engine:
        frame = build_features(con, until, engine=engine)
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd

from oracle._errors import FeatureError, OracleError

logger = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[*]"


class Engine(Protocol):
    """Runs feature SQL: named intermediate tables, then one result frame."""

    name: str

    def materialize(self, name: str, sql: str) -> None:
        """Make ``sql``'s rows readable as table ``name`` by later statements."""

    def view(self, name: str, sql: str) -> None:
        """Make ``sql`` readable as ``name``: the engine may compute it where it is read
        (an engine that would rather keep the rows materializes it)."""

    def frame(self, sql: str) -> pd.DataFrame:
        """``sql``'s rows as a pandas frame, in the query's order."""

    def errors(self) -> contextlib.AbstractContextManager[None]:
        """Re-raise the engine's own errors as :class:`FeatureError`."""


def check_engine(name: str) -> str:
    """``name`` lower-cased if it is a known engine, else :class:`OracleError` saying which."""
    engine = (name or "").strip().lower()
    if engine not in ENGINES:
        raise OracleError(f"unknown feature engine {name!r}: choose one of {', '.join(ENGINES)}")
    return engine


@contextlib.contextmanager
def unordered(con: duckdb.DuckDBPyConnection, allowed: bool = True) -> Iterator[None]:
    """Let DuckDB store the rows of the statements inside in any order
    (``preserve_insertion_order=false``: parallel inserts need not wait for each other).

    Only for statements whose readers do not depend on row order (aggregates, joins,
    ``ORDER BY``); never around a scan that numbers rows by position (a CSV's lines):
    ``allowed=False`` leaves the setting alone. The connection's setting is restored.
    """
    if not allowed:
        yield
        return
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    con.execute("SET preserve_insertion_order=false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order={'true' if row and row[0] else 'false'}")


class DuckDBEngine:
    """The feature SQL on a DuckDB connection (temporary tables)."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def materialize(self, name: str, sql: str) -> None:
        self._drop(name, "VIEW")
        # Every reader of an intermediate table aggregates or joins it; the result frame
        # is ordered by its query.
        with unordered(self.con):
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def view(self, name: str, sql: str) -> None:
        # A column scan of the clean table plus an expression costs less than copying
        # millions of rows into a table that each reader then scans anyway.
        self._drop(name, "TABLE")
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def _drop(self, name: str, kind: str) -> None:
        """Drop ``name`` if it is a ``kind`` (a table or view left by an earlier build)."""
        column, catalog = (("view_name", "duckdb_views()") if kind == "VIEW"
                           else ("table_name", "duckdb_tables()"))
        row = self.con.execute(f"SELECT count(*) FROM {catalog} WHERE temporary "
                               f"AND {column} = ?", [name]).fetchone()
        if row and row[0]:
            self.con.execute(f"DROP {kind} {name}")

    def frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except duckdb.Error as exc:
            raise FeatureError(f"feature query failed: {exc}") from exc


class SparkEngine:
    """The feature SQL on a Spark session (cached temporary views)."""

    name = "spark"

    def __init__(self, session: Any):
        self.spark = session
        self._cached: dict[str, Any] = {}

    @classmethod
    def from_duckdb(cls, con: duckdb.DuckDBPyConnection, session: Any, workdir: str | Path,
                    tables: tuple[str, ...] = ("calls", "calls_ids", "reports"),
                    ) -> SparkEngine:
        """An engine whose views ``tables`` are ``con``'s tables, handed over as Parquet
        files in ``workdir`` (a shared path when the master is a cluster)."""
        engine = cls(session)
        folder = Path(workdir)
        folder.mkdir(parents=True, exist_ok=True)
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
        for table in tables:
            if table not in present:
                continue
            path = folder / f"{table}.parquet"
            con.execute(f"COPY {table} TO '{_sql_str(path)}' (FORMAT parquet)")
            with engine.errors():
                session.read.parquet(str(path)).createOrReplaceTempView(table)
        return engine

    def materialize(self, name: str, sql: str) -> None:
        old = self._cached.pop(name, None)
        df = self.spark.sql(sql).persist()
        df.createOrReplaceTempView(name)
        self._cached[name] = df
        if old is not None:
            old.unpersist()

    def view(self, name: str, sql: str) -> None:
        # Spark would re-read the Parquet exchange for every reader: keep the rows.
        self.materialize(name, sql)

    def frame(self, sql: str) -> pd.DataFrame:
        return self.spark.sql(sql).toArrow().to_pandas()

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        from pyspark.errors import PySparkException

        try:
            yield
        except PySparkException as exc:
            raise FeatureError(f"feature query failed on Spark: {_first_line(exc)}") from exc

    def close(self) -> None:
        """Drop the cached intermediate tables (the session stays up for the next build)."""
        for df in self._cached.values():
            df.unpersist()
        self._cached.clear()

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _sql_str(value: object) -> str:
    return str(value).replace("'", "''")


_SESSION_LOCK = threading.Lock()
_SESSIONS: dict[str, Any] = {}


def spark_session(master: str = DEFAULT_MASTER, driver_memory: str = "") -> Any:
    """The process's Spark session for ``master`` (started once; stopped at exit).

    UTC session time, no web UI, Arrow transfers; ``local[N]`` runs in this machine's JVM.
    """
    with _SESSION_LOCK:
        if master in _SESSIONS:
            return _SESSIONS[master]
        if _SESSIONS:
            raise OracleError(f"a Spark session for {next(iter(_SESSIONS))} is running; "
                              f"one process talks to one master (asked for {master})")
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise OracleError("the spark engine needs PySpark: pip install "
                              "'spamledger[spark]' (and Java 17+)") from exc
        builder = SparkSession.builder.master(master).appName("spamledger-oracle")
        if driver_memory:  # local mode: the driver JVM does all the work (Spark's default 1g)
            builder = builder.config("spark.driver.memory", driver_memory)
        if master.startswith("local"):
            # A local run talks to itself only: bind the driver to loopback.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1") \
                .config("spark.driver.bindAddress", "127.0.0.1")
        try:
            session = (builder
                       .config("spark.sql.session.timeZone", "UTC")
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.shuffle.partitions", "8")
                       .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                       .getOrCreate())
        except Exception as exc:  # Java missing, master unreachable: py4j/Spark errors
            raise OracleError(f"cannot start Spark ({master}): {_first_line(exc)}") from exc
        session.sparkContext.setLogLevel("ERROR")
        _SESSIONS[master] = session
        return session


def stop_spark() -> None:
    """Stop the process's Spark session and its JVM (idempotent)."""
    with _SESSION_LOCK:
        for session in _SESSIONS.values():
            gateway = getattr(session.sparkContext, "_gateway", None)
            session.stop()
            proc = getattr(gateway, "proc", None)
            if gateway is not None:
                gateway.shutdown()
            if proc is not None:
                proc.stdin.close() if proc.stdin else None
                try:
                    proc.wait(timeout=30)
                except Exception:  # still alive after 30 s: end it
                    proc.kill()
                    proc.wait()
        _SESSIONS.clear()
        try:
            from pyspark import SparkContext

            SparkContext._gateway = None
            SparkContext._jvm = None
        except ImportError:
            pass


atexit.register(stop_spark)


@contextlib.contextmanager
def open_engine(con: duckdb.DuckDBPyConnection, engine: str = "duckdb",
                spark_master: str = DEFAULT_MASTER,
                exchange_dir: str | Path | None = None,
                driver_memory: str = "") -> Iterator[Engine]:
    """The named engine over ``con``'s clean tables, for one or more feature builds.

    :param exchange_dir: where the clean tables are written for Spark (a folder every
        worker reads, on a cluster); a private temporary folder when not given.
    """
    if check_engine(engine) == "duckdb":
        yield DuckDBEngine(con)
        return
    import tempfile

    parent = str(exchange_dir) if exchange_dir and str(exchange_dir) not in ("", ".") else None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spamledger-spark-", dir=parent) as tmp, \
            SparkEngine.from_duckdb(con, spark_session(spark_master, driver_memory),
                                    tmp) as spark:
        logger.info("feature SQL on Spark (%s)", spark_master)
        yield spark
