"""Ingest and feature-build throughput at scale: DuckDB (and Spark local mode) next to a bare
DuckDB ``GROUP BY caller`` floor in the same run, and the normalization fast path against
libphonenumber. Prints figures and ratios and writes ``bench/INGEST.md`` and
``bench/ingest.json``.

Usage::

    .venv/bin/python -m bench.ingest --rows 10000000            # the issue's 10M-row figures
    .venv/bin/python -m bench.ingest --rows 10000000 --spark    # + Spark local mode
    .venv/bin/python -m bench.ingest --rows 100000000 --big     # 100M: wall time, peak memory

Data: the simulator's call files, generated in chunks of ~2M rows (one ``simulate`` run per
chunk, seeds 1, 2, ...; the nearest whole number of chunks to ``--rows``) and written chunk
by chunk into one ``calls/`` folder, so memory stays bounded whatever ``--rows`` is;
``--work`` (default ``bench/out/rows<N>m``) keeps them for the next run. The floor is
``SELECT caller, count(*) ... GROUP BY caller`` over the same Parquet files, best of five,
right before the feature build.

``--big`` bounds DuckDB for inputs larger than memory: ``--memory-limit`` (10GB unless
given) with a ``temp_directory`` under ``--work`` to spill to, and writes
``bench/INGEST_<N>M.md`` unless ``--out`` is given. Each build runs in a child process whose
own peak memory (max RSS, with its descendants: Spark's JVM) is read from ``wait4``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HERE = Path(__file__).resolve().parent
CHUNK_SCALE = 2.9            # ~2.0M call rows per simulate() run (four networks, 14 days)
CHUNK_ROWS = 2_000_000
BIG_MEMORY_LIMIT = "10GB"    # the machine is shared: well under its RAM, DuckDB spills the rest
UNTIL = datetime(2026, 1, 19)


def generate(work: Path, rows: int) -> dict[str, Path]:
    """Simulated calls (>= ``rows``) and reports under ``work``, one chunk at a time."""
    from oracle._simulate import simulate

    calls, reports = work / "calls", work / "reports"
    calls.mkdir(parents=True, exist_ok=True)
    reports.mkdir(exist_ok=True)
    manifest = work / "manifest.json"
    done = json.loads(manifest.read_text()) if manifest.exists() else {"chunks": 0, "rows": 0}
    while rows - done["rows"] > CHUNK_ROWS // 2:  # the nearest whole number of chunks
        k = done["chunks"] + 1
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            paths = simulate(tmp, scale=CHUNK_SCALE, days=14, seed=k)
            for f in sorted(Path(paths["calls"]).glob("*.parquet")):
                os.replace(f, calls / f"chunk{k:03d}-{f.name}")
            os.replace(paths["reports"], reports / f"chunk{k:03d}.parquet")
            n = json.loads(Path(paths["meta"]).read_text())["calls"]
        done = {"chunks": k, "rows": done["rows"] + n}
        manifest.write_text(json.dumps(done) + "\n")
        print(f"  chunk {k}: {n:,} rows (total {done['rows']:,})", flush=True)
    return {"calls": calls, "reports": reports}


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _cpu_timed(fn, *args, **kwargs):
    """``fn``'s result, wall seconds and CPU seconds of this process (every DuckDB thread)."""
    cpu = time.process_time()
    result, wall = _timed(fn, *args, **kwargs)
    return result, wall, time.process_time() - cpu


class _Statements:
    """A DuckDB connection that notes each ``execute``'s wall and CPU seconds (per-statement
    breakdown of a build; everything else is passed through)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self.times: list[tuple[str, float, float]] = []

    def __getattr__(self, name: str):
        return getattr(self._con, name)

    def execute(self, sql: str, *args, **kwargs):
        result, wall, cpu = _cpu_timed(self._con.execute, sql, *args, **kwargs)
        self.times.append((_label(sql), wall, cpu))
        return result


def _label(sql: str) -> str:
    """A statement's short name: the table it creates, else its first words."""
    words = str(sql).split()
    if words[:5] == ["CREATE", "OR", "REPLACE", "TEMP", "TABLE"] and len(words) > 5:
        return words[5]
    return " ".join(words[:6])


def _best_of(con: duckdb.DuckDBPyConnection, sql: str, runs: int) -> tuple[float, float]:
    """Best wall and best CPU seconds of ``runs`` executions of ``sql``."""
    best = best_cpu = float("inf")
    for _ in range(runs):
        _, wall, cpu = _cpu_timed(con.execute, sql)
        best, best_cpu = min(best, wall), min(best_cpu, cpu)
    return best, best_cpu


FLOOR_RUNS = 5  # the floor takes ~0.1-0.3 s: on a shared machine two runs are not enough


def floor(calls: Path, threads: int | None = None, runs: int = FLOOR_RUNS,
          memory_limit: str | None = None) -> tuple[int, float, float]:
    """Bare DuckDB GROUP BY caller over the same files: the floor of any feature build
    (rows, best wall seconds and best CPU seconds of ``runs``)."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads={threads}")
    if memory_limit:
        con.execute(f"SET memory_limit='{memory_limit}'")
    glob = str(calls / "*.parquet")
    best, best_cpu = _best_of(con, "CREATE OR REPLACE TEMP TABLE g AS SELECT caller, "
                              f"count(*) AS n FROM read_parquet('{glob}') GROUP BY caller", runs)
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
    con.close()
    return int(rows), best, best_cpu


# The columns every feature build reads (the data contract's call columns).
_BUILD_COLUMNS = ("caller", "callee", "ts", "duration_s", "answered", "country", "channel",
                  "attestation", "operator")


def lower_bounds(calls: Path, runs: int = 3, memory_limit: str | None = None) -> dict:
    """Two steps no DuckDB build of these features can skip, timed alone (best of ``runs``).

    * ``read``: the contract's call columns read into a table (the build makes several
      passes over them, so it holds them once);
    * ``ids``: both raw number columns mapped to integer ids through a table of their
      distinct strings (built untimed: normalizing them is timed elsewhere), keeping only
      the ids and the three call columns the features aggregate. Every number a feature
      counts must go through such a join: the raw strings are not yet numbers.
    """
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit='{memory_limit}'")
    glob = str(calls / "*.parquet")
    read_sql = (f"CREATE OR REPLACE TEMP TABLE r AS SELECT {', '.join(_BUILD_COLUMNS)} "
                f"FROM read_parquet('{glob}')")
    con.execute(read_sql)
    con.execute("""CREATE OR REPLACE TEMP TABLE m AS
        SELECT raw, country, row_number() OVER () AS nid FROM (
            SELECT DISTINCT caller AS raw, country FROM r UNION
            SELECT DISTINCT callee, country FROM r)""")
    ids_sql = """CREATE OR REPLACE TEMP TABLE j AS
        SELECT a.nid AS caller_id, b.nid AS callee_id, r.ts, r.duration_s, r.answered
        FROM r JOIN m a ON a.raw = r.caller AND a.country = r.country
               JOIN m b ON b.raw = r.callee AND b.country = r.country"""
    out = {}
    for name, sql in (("read", read_sql), ("ids", ids_sql)):
        wall, cpu = _best_of(con, sql, runs)
        out[name] = {"wall_s": wall, "cpu_s": cpu}
    con.close()
    return out


def duckdb_build(data: dict[str, Path], memory_limit: str | None = None,
                 temp_dir: str | None = None) -> dict:
    """The oracle's feature build on DuckDB, step by step."""
    from oracle._features import build_features
    from oracle._ingest import connect, load_calls, load_reports

    if temp_dir:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
    raw = connect(memory_limit=memory_limit, temp_dir=temp_dir)
    raw.execute("SET enable_progress_bar=false")
    con = _Statements(raw)
    stats, ingest_s, ingest_cpu = _cpu_timed(load_calls, con, data["calls"])
    _progress(f"ingest {ingest_s:.1f} s: {stats.clean:,} clean rows, {stats.bad:,} quarantined")
    _, reports_s, reports_cpu = _cpu_timed(load_reports, con, data["reports"])
    distinct = raw.execute("SELECT count(*) FROM calls_numbers").fetchone()[0]
    _progress(f"reports {reports_s:.1f} s; {distinct:,} distinct raw strings")
    feats, feat_s, feat_cpu = _cpu_timed(build_features, con, UNTIL)
    _progress(f"features {feat_s:.1f} s: {len(feats):,} numbers")
    raw.close()
    return {"ingest_s": ingest_s, "reports_s": reports_s, "features_s": feat_s,
            "build_s": ingest_s + reports_s + feat_s, "distinct_raw_numbers": distinct,
            "ingest_cpu_s": ingest_cpu, "reports_cpu_s": reports_cpu, "features_cpu_s": feat_cpu,
            "build_cpu_s": ingest_cpu + reports_cpu + feat_cpu,
            "statements": [{"name": n, "wall_s": w, "cpu_s": c} for n, w, c in con.times],
            "numbers": len(feats), "clean_rows": stats.clean, "quarantined": stats.bad}


def _progress(text: str) -> None:
    """A step's figure on stderr as soon as it is known (a run stopped later keeps it)."""
    print(f"{datetime.now():%H:%M:%S} {text}", file=sys.stderr, flush=True)


def _tree_cpu_s(root: int | None = None) -> float:
    """CPU seconds (user + system) used so far by ``root`` and every live descendant.

    The JVM that runs Spark is a child of this process and still running while it is
    timed, so ``getrusage`` (finished children only) does not see it: ``/proc`` does.
    """
    root = os.getpid() if root is None else root
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended meanwhile
        fields = text.rpartition(")")[2].split()
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo += [c for c, p in parent.items() if p == pid]
    return total


def spark_build(data: dict[str, Path], master: str) -> dict:
    """Ingest on DuckDB, then the same feature SQL on Spark (``master``), timed apart."""
    from oracle._engine import open_engine
    from oracle._features import build_features
    from oracle._ingest import connect
    from oracle._pipeline import load_sources

    con = connect()
    _, ingest_s = _timed(load_sources, con, data["calls"], data["reports"], None, None)

    def features() -> int:
        with open_engine(con, "spark", master, driver_memory="6g") as run:
            return len(build_features(con, UNTIL, engine=run))

    features()  # the JVM starts and warms up once; a service keeps its session
    cpu = _tree_cpu_s()
    numbers, spark_s = _timed(features)
    cpu = _tree_cpu_s() - cpu
    con.close()
    return {"ingest_s": ingest_s, "features_s": spark_s, "build_s": ingest_s + spark_s,
            "features_cpu_s": cpu, "numbers": numbers, "master": master}


def in_child(step: str, data: Path, **kw: str) -> dict:
    """Run one build in a child process: its own wall time and peak memory (max RSS of the
    child and its descendants, from ``wait4``: not the largest of all children so far)."""
    code = ("import json, sys; from pathlib import Path; sys.path.insert(0, '.'); "
            "import bench.ingest as b; d = Path(sys.argv[2]); "
            "data = {'calls': d / 'calls', 'reports': d / 'reports'}; "
            "kw = json.loads(sys.argv[3]); "
            "r = b.duckdb_build(data, **kw) if sys.argv[1] == 'duckdb' "
            "else b.spark_build(data, **kw); print('RESULT ' + json.dumps(r))")
    out_log, err_log = data / f"{step}.stdout.log", data / f"{step}.stderr.log"
    start = time.perf_counter()
    with out_log.open("w") as out, err_log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", code, step, str(data), json.dumps(kw)],
                                cwd=HERE.parent, stdout=out, stderr=err, text=True)
        print(f"{step} build: child {proc.pid}, log {err_log}", flush=True)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    stdout, stderr = out_log.read_text(), err_log.read_text()
    if proc.returncode:
        raise RuntimeError(f"{step} build failed (exit {proc.returncode}, {err_log}):\n"
                           f"{stderr[-1500:]}")
    # DuckDB's progress bar (queries over 2 s) may precede the result on its line
    line = next((x for x in stdout.splitlines() if "RESULT {" in x), None)
    if line is None:
        raise RuntimeError(f"{step} build printed no result ({out_log}):\n{stdout[-1500:]}")
    result = json.loads(line.rpartition("RESULT ")[2])
    result.update(wall_s=wall, peak_rss_mb=usage.ru_maxrss / 1024,
                  child_cpu_s=usage.ru_utime + usage.ru_stime,
                  load_average_end=os.getloadavg()[0],
                  **{k: v for k, v in kw.items() if k != "temp_dir"})
    return result


def normalization(calls: Path, sample: int = 60_000, memory_limit: str | None = None) -> dict:
    """Rates on distinct strings of the file: E.164 ones, and the whole mix, against
    libphonenumber's parse + validate + type (uncached, one string at a time)."""
    from spamledger import _fastnumbers
    from spamledger._fastnumbers import normalize_arrays

    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit='{memory_limit}'")
    glob = str(calls / "*.parquet")
    mix = con.sql(f"SELECT DISTINCT caller AS raw, country FROM read_parquet('{glob}') UNION "
                  f"SELECT DISTINCT callee, country FROM read_parquet('{glob}')").to_arrow_table()
    con.close()
    raw = pc.fill_null(mix.column("raw").combine_chunks(), "")
    country = mix.column("country").combine_chunks()
    e164 = pc.match_substring_regex(raw, r"^\+[0-9]+$")
    # The tables load once per process (like libphonenumber's metadata): not per call.
    _, load_s = _timed(_fastnumbers._index)
    out = {"distinct_strings": len(raw), "distinct_e164": int(pc.sum(e164).as_py() or 0),
           "tables_load_s": load_s}
    for name, mask in (("e164", e164), ("mix", None)):
        r = raw if mask is None else raw.filter(mask)
        c = country if mask is None else country.filter(mask)
        _, fast_s = _timed(normalize_arrays, r, c)
        pick = np.random.default_rng(0).choice(len(r), size=min(sample, len(r)), replace=False)
        ref_s = _libphonenumber_seconds(r.take(pa.array(pick)).to_pylist(),
                                        c.take(pa.array(pick)).to_pylist())
        out[name] = {"strings": len(r), "fast_per_s": len(r) / fast_s,
                     "libphonenumber_per_s": len(pick) / ref_s,
                     "ratio": (len(r) / fast_s) / (len(pick) / ref_s)}
    return out


def _libphonenumber_seconds(raw: list[str], region: list[str]) -> float:
    start = time.perf_counter()
    for r, c in zip(raw, region, strict=True):
        try:
            p = phonenumbers.parse(r, c)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(p):
            phonenumbers.number_type(p)
            phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.E164)
    return time.perf_counter() - start


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x"


def markdown(r: dict) -> str:
    """bench/INGEST.md from one run's figures."""
    rows, fl = r["rows"], r["floor_s"]
    d = r["duckdb"]
    has_cpu = "floor_cpu_s" in r and "build_cpu_s" in d
    cpu_head, cpu_rule = (" CPU s | x floor (CPU) |", "---|---|") if has_cpu else ("", "")
    lines = [
        "# Ingest and feature-build benchmark", "",
        f"Generated by `bench/ingest.py` on {r['when']} ({r['machine']}). Re-run to refresh; "
        "figures are not edited by hand.", "",
        *([f"**{r['note']}**", ""] if r.get("note") else []),
        f"## Feature build on {rows:,} call rows (simulator output, {r['chunks']} chunks)", "",
        "Same files, same process run; the floor is a bare DuckDB `GROUP BY caller` "
        f"(best of {r.get('floor_runs', 2)})."
        + (f" Load average when the run started: {r['load_average']:.1f} (a shared machine; "
           "compare ratios within this file)." if "load_average" in r else ""), "",
        "| step | seconds | rows/s | x floor |" + cpu_head, "|---|---|---|---|" + cpu_rule,
        f"| floor: bare DuckDB `GROUP BY caller` | {fl:.2f} | {rows / fl:,.0f} | 1.0 |"
        + _cpu_cells(r.get("floor_cpu_s"), r.get("floor_cpu_s")),
        f"| DuckDB: ingest + normalize ({d['distinct_raw_numbers']:,} distinct raw strings) + "
        f"quarantine | {d['ingest_s']:.2f} | {rows / d['ingest_s']:,.0f} | "
        f"{_ratio(d['ingest_s'], fl)} |" + _cpu_cells(d.get("ingest_cpu_s"), r.get("floor_cpu_s")),
        f"| DuckDB: reports | {d['reports_s']:.2f} | | {_ratio(d['reports_s'], fl)} |"
        + _cpu_cells(d.get("reports_cpu_s"), r.get("floor_cpu_s")),
        f"| DuckDB: features (SQL) | {d['features_s']:.2f} | {rows / d['features_s']:,.0f} | "
        f"{_ratio(d['features_s'], fl)} |"
        + _cpu_cells(d.get("features_cpu_s"), r.get("floor_cpu_s")),
        f"| **DuckDB: feature build, total** | {d['build_s']:.2f} | {rows / d['build_s']:,.0f} "
        f"| **{_ratio(d['build_s'], fl)}** |"
        + _cpu_cells(d.get("build_cpu_s"), r.get("floor_cpu_s"), bold=True),
    ]
    spark_notes: list[str] = []
    if "spark" in r:
        sp = r["spark"]
        spark_notes.append(
            f"- Spark build in a child process: wall {sp['wall_s']:.1f} s (JVM start, DuckDB "
            f"ingest, one warm-up feature build, then the timed one), peak memory (max RSS, "
            f"with the JVM) {sp['peak_rss_mb']:,.0f} MB; {sp['numbers']:,} numbers"
            + (f"; load average when it ended: {sp['load_average_end']:.1f}."
               if "load_average_end" in sp else "."))
        lines += [
            f"| Spark ({sp['master']}): features (SQL), after DuckDB ingest | "
            f"{sp['features_s']:.2f} | {rows / sp['features_s']:,.0f} | "
            f"{_ratio(sp['features_s'], fl)} |"
            + (_cpu_cells(sp.get("features_cpu_s"), r.get("floor_cpu_s")) if has_cpu else ""),
            f"| Spark: feature build, total (ingest on DuckDB) | {sp['build_s']:.2f} | "
            f"{rows / sp['build_s']:,.0f} | {_ratio(sp['build_s'], fl)} |"]
    peak = (f"peak memory (max RSS) {d['peak_rss_mb']:,.0f} MB" if "peak_rss_mb" in d
            else "peak memory not recorded")
    wall = f"wall {d['wall_s']:.1f} s (with start-up)" if "wall_s" in d else "wall not recorded"
    lines += ["", f"- DuckDB build in a child process: {wall}, "
              f"{peak}; {d['numbers']:,} numbers, "
              f"{d['quarantined']:,} rows quarantined."
              + _bounds(d) + _data_size(r),
              f"- Target: feature build <= 10x the floor. Measured: "
              f"{d['build_s'] / fl:.1f}x"
              + (f" in wall time, {d['build_cpu_s'] / r['floor_cpu_s']:.1f}x in CPU seconds"
                 if has_cpu else "") + " (issue #15 baseline: 112.8x).", *spark_notes]
    if has_cpu:
        lines.append(
            f"- CPU seconds (user + system, every DuckDB thread) are what a loaded machine "
            f"inflates least: the build took {d['build_cpu_s']:.1f} CPU-s in its own steps "
            f"({d.get('child_cpu_s', float('nan')):.1f} CPU-s for the whole child process, "
            f"start-up included) against the floor's {r['floor_cpu_s']:.2f} CPU-s.")
    if "before" in r:
        b, bd = r["before"], r["before"]["duckdb"]
        lines.append(
            f"- Before ({b['label']}, run {b['when']} on the same files, load average "
            f"{b.get('load_average', float('nan')):.1f}): ingest {bd['ingest_s']:.2f} s, "
            f"features {bd['features_s']:.2f} s, total {bd['build_s']:.2f} s = "
            f"{bd['build_s'] / b['floor_s']:.1f}x its floor ({b['floor_s']:.2f} s, best of "
            f"{b.get('floor_runs', 2)}); peak "
            f"{bd['peak_rss_mb']:,.0f} MB"
            + (f"; CPU: ingest {bd['ingest_cpu_s']:.1f} s, features {bd['features_cpu_s']:.1f} s,"
               f" total {bd['build_cpu_s']:.1f} CPU-s = "
               f"{bd['build_cpu_s'] / b['floor_cpu_s']:.1f}x its floor's "
               f"{b['floor_cpu_s']:.2f} CPU-s." if "build_cpu_s" in bd and "floor_cpu_s" in b
               else "."))
    if "lower_bounds" in r:
        lines += _lower_bound_lines(r["lower_bounds"], rows, fl, r.get("floor_cpu_s"))
    if d.get("statements"):
        lines += _statement_lines(d["statements"], fl, r.get("floor_cpu_s"))
    if "normalization" in r:
        lines += _normalization_lines(r["normalization"])
    if "spark_error" in r:
        lines += ["", f"Spark local mode did not finish on this run: {r['spark_error']}"]
    if "extrapolation" in r:
        lines += ["", "## Spark machines for 200M calls in 30 minutes", "", r["extrapolation"]]
    return "\n".join(lines) + "\n"


def _lower_bound_lines(lb: dict, rows: int, fl: float, floor_cpu: float | None) -> list[str]:
    """Steps any DuckDB build must take, next to the floor and the 10x budget."""
    lines = ["", "## Steps no DuckDB build can skip (timed alone, best of 3)", "",
             "| step | seconds | x floor | CPU s | x floor (CPU) |", "|---|---|---|---|---|"]
    labels = {"read": "read the contract's call columns into a table",
              "ids": "map both raw number columns to integer ids (join on distinct strings)"}
    for key, label in labels.items():
        s = lb[key]
        lines.append(f"| {label} | {s['wall_s']:.2f} | {_ratio(s['wall_s'], fl)} |"
                     + (_cpu_cells(s["cpu_s"], floor_cpu) or " | |"))
    both = lb["read"]["wall_s"] + lb["ids"]["wall_s"]
    lines += ["", f"Together {both:.2f} s = {both / fl:.1f}x the floor, before normalizing a "
              f"string, checking a row or computing a feature; the target's whole budget is "
              f"10x = {10 * fl:.2f} s for {rows:,} rows."]
    return lines


def _cpu_cells(cpu: float | None, floor_cpu: float | None, bold: bool = False) -> str:
    """The CPU columns of a step's row (empty when the run did not record CPU)."""
    if cpu is None or not floor_cpu:
        return ""
    mark = "**" if bold else ""
    return f" {cpu:.2f} | {mark}{cpu / floor_cpu:.1f}x{mark} |"


def _statement_lines(statements: list[dict], floor_s: float,
                     floor_cpu: float | None) -> list[str]:
    """Where the build's time goes: its SQL statements over 1% of the CPU, costliest
    first (the rest of a step is Python: normalization, Arrow and pandas conversions)."""
    total = sum(x["cpu_s"] for x in statements) or 1.0
    rows = sorted((x for x in statements if x["cpu_s"] >= 0.01 * total),
                  key=lambda x: -x["cpu_s"])
    lines = ["", "## Where the time goes (SQL statements of the build)", "",
             "Each `execute` of the timed build, wall and CPU seconds (ingest statements, then "
             "the feature tables `f*`). A step's time not listed here: the query of the "
             "distinct raw strings (read through Arrow), their normalization in Python, the "
             "duplicate check's hash sort (numpy) and the pandas finish.", "",
             "| statement | seconds | CPU s | CPU share | x floor (CPU) |", "|---|---|---|---|---|"]
    for x in rows:
        ratio = f"{x['cpu_s'] / floor_cpu:.1f}x" if floor_cpu else ""
        lines.append(f"| `{x['name']}` | {x['wall_s']:.2f} | {x['cpu_s']:.2f} | "
                     f"{x['cpu_s'] / total:.0%} | {ratio} |")
    lines.append(f"| all statements | {sum(x['wall_s'] for x in statements):.2f} | "
                 f"{total:.2f} | 100% | |")
    return lines


def _normalization_lines(n: dict) -> list[str]:
    """The normalization section: fast path against libphonenumber."""
    lines = ["", "## Normalization", "",
              (f"Measured {n['when']} (a separate run). " if "when" in n else "")
              + f"Distinct strings of the same file: {n['distinct_strings']:,} "
              f"({n['distinct_e164']:,} already E.164). libphonenumber: parse + validate + type "
              "+ format, one string at a time, uncached (a random sample of 60,000); fast "
              "path: `spamledger._fastnumbers.normalize_arrays` on all of them (tables, "
              "then libphonenumber for what they leave)"
              + (f"; the tables load once per process ({n['tables_load_s']:.2f} s, not "
                 "counted)." if "tables_load_s" in n else "."), "",
              "| strings | count | fast path /s | libphonenumber /s | ratio |",
              "|---|---|---|---|---|"]
    for key, label in (("e164", "already E.164"), ("mix", "all distinct (E.164, "
                                                           "international, national, broken)")):
        m = n[key]
        lines.append(f"| {label} | {m['strings']:,} | {m['fast_per_s']:,.0f} | "
                     f"{m['libphonenumber_per_s']:,.0f} | **{m['ratio']:.1f}x** |")
    lines += ["", "Target: E.164 normalization >= 5x libphonenumber. Every distinct string "
              "gives libphonenumber's answer (`tests/spamledger/test_fastnumbers.py`)."]
    return lines


def _bounds(d: dict) -> str:
    """How the DuckDB build was bounded, and the load when it ended."""
    text = ""
    if d.get("memory_limit"):
        text += (f" DuckDB `memory_limit` {d['memory_limit']}, spilling to a "
                 f"`temp_directory` on local disk.")
    if "load_average_end" in d:
        text += f" Load average when it ended: {d['load_average_end']:.1f}."
    return text


def _data_size(r: dict) -> str:
    return (f" Input: {r['data_gb']:.2f} GB of Parquet call files." if "data_gb" in r else "")


def extrapolate(rows: int, spark: dict, cores: int) -> str:
    """Machines Spark would need for 200M calls in 30 min at the per-core rate measured."""
    per_core = rows / spark["features_s"] / cores
    need = 200_000_000 / (30 * 60) / per_core
    return (f"Measured: Spark local mode ran the feature SQL at {rows / spark['features_s']:,.0f} "
            f"rows/s on {cores} cores = {per_core:,.0f} rows/s per core (this machine; the "
            f"load it ran under is in the table's notes above). 200M calls in 30 minutes "
            f"need 111,111 rows/s: "
            f"**{need:,.0f} cores**, i.e. {max(1, -(-need // 16)):,.0f} machines of 16 cores "
            "if the rate scaled linearly (it does not quite: shuffles grow with the cluster; "
            "count 1.5x for headroom). Ingest (normalization, quarantine) is not yet on "
            "Spark: it would need its own share or a DuckDB pass per file on the workers."
            + _cpu_extrapolation(rows, spark))


def _cpu_extrapolation(rows: int, spark: dict) -> str:
    """The same estimate from CPU seconds (the JVM and this process, read from /proc),
    which a shared machine inflates less than wall time."""
    cpu = spark.get("features_cpu_s")
    if not cpu:
        return ""
    per_cpu_s = rows / cpu
    need = 200_000_000 / (30 * 60) / per_cpu_s
    return (f" By CPU time: the timed Spark build used {cpu:,.0f} CPU-s (the JVM and this "
            f"process, from /proc) = {per_cpu_s:,.0f} rows per CPU-second, i.e. "
            f"**{need:,.1f} busy cores** for 200M calls in 30 minutes "
            f"({max(1, -(-need // 16)):,.0f} machine(s) of 16 cores before headroom).")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--work", type=Path,
                   help="where the generated data is kept (default bench/out/rows<N>m)")
    p.add_argument("--spark", action="store_true", help="also Spark local mode")
    p.add_argument("--master", default="local[*]")
    p.add_argument("--big", action="store_true",
                   help=f"input larger than memory: DuckDB bounded by --memory-limit "
                        f"({BIG_MEMORY_LIMIT} unless given), spilling under --work; "
                        "writes bench/INGEST_<N>M.md unless --out is given; "
                        "normalization is measured on the 10M run, not here")
    p.add_argument("--memory-limit", help="DuckDB memory_limit for the build, e.g. 10GB")
    p.add_argument("--out", type=Path,
                   help="the markdown written (default bench/INGEST.md; with --big "
                        "bench/INGEST_<N>M.md); its JSON goes next to it")
    p.add_argument("--spark-only", action="store_true",
                   help="run the Spark step only and add it to the last bench/ingest.json")
    p.add_argument("--before", type=Path, help="the ingest.json of a run of the previous "
                   "code on the same files, shown next to this run (label: --before-label)")
    p.add_argument("--before-label", default="previous code")
    p.add_argument("--note", help="a line shown under the title (e.g. why a run is partial)")
    p.add_argument("--normalization-only", action="store_true",
                   help="re-measure normalization only, into the last bench/ingest.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    millions = max(1, round(args.rows / 1_000_000))
    args.work = args.work or HERE / "out" / f"rows{millions}m"
    args.out = args.out or HERE / (f"INGEST_{millions}M.md" if args.big else "INGEST.md")
    memory_limit = args.memory_limit or (BIG_MEMORY_LIMIT if args.big else None)
    bounds = {"memory_limit": memory_limit,
              "temp_dir": str(args.work / "duckdb-tmp")} if memory_limit else {}
    data = generate(args.work, args.rows)
    if args.spark_only or args.normalization_only:
        result = json.loads(args.out.with_name(args.out.stem.lower() + ".json").read_text())
        if args.normalization_only:
            result["normalization"] = normalization(data["calls"])
            result["normalization"]["when"] = f"{datetime.now():%Y-%m-%d %H:%M}"
            _save(result, args.out)
            return 0
    else:
        # --big: the build's figures first; normalization rates do not need 100M rows
        result = _duckdb_figures(args.work, data, bounds, normalize=not args.big)
        if args.note:
            result["note"] = args.note
        if args.before:
            result["before"] = {"label": args.before_label,
                                **json.loads(args.before.read_text())}
            result["before"].pop("normalization", None)
        _save(result, args.out)
    if args.spark or args.spark_only:
        try:
            result["spark"] = in_child("spark", args.work, master=args.master)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            result["spark_error"] = str(exc).splitlines()[0]
            _save(result, args.out)
            return 1
        sp = result["spark"]
        print(f"Spark build: features {sp['features_s']:.1f} s "
              f"({sp['features_s'] / result['floor_s']:.1f}x the floor)", flush=True)
        result["extrapolation"] = extrapolate(result["rows"], sp, os.cpu_count() or 1)
        result.pop("spark_error", None)
        _save(result, args.out)
    return 0


def _duckdb_figures(work: Path, data: dict[str, Path], bounds: dict[str, str],
                    normalize: bool = True) -> dict:
    memory_limit = bounds.get("memory_limit")
    rows, floor_s, floor_cpu = floor(data["calls"], memory_limit=memory_limit)
    print(f"call rows: {rows:,}; floor (GROUP BY caller): {floor_s:.2f} s, "
          f"{floor_cpu:.2f} CPU-s", flush=True)
    result: dict = {"rows": rows, "floor_s": floor_s, "floor_cpu_s": floor_cpu,
                    "floor_runs": FLOOR_RUNS,
                    "when": f"{datetime.now():%Y-%m-%d %H:%M}",
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                               f"{platform.python_version()}, duckdb {duckdb.__version__}",
                    "chunks": json.loads((work / "manifest.json").read_text())["chunks"],
                    "load_average": os.getloadavg()[0],
                    "data_gb": sum(f.stat().st_size for f in data["calls"].glob("*.parquet"))
                    / 1e9}
    result["lower_bounds"] = lower_bounds(data["calls"], memory_limit=memory_limit)
    lb = result["lower_bounds"]
    print(f"lower bounds: read {lb['read']['wall_s']:.2f} s, ids {lb['ids']['wall_s']:.2f} s",
          flush=True)
    result["duckdb"] = in_child("duckdb", work, **bounds)
    d = result["duckdb"]
    print(f"DuckDB build: ingest {d['ingest_s']:.1f} s, reports {d['reports_s']:.1f} s, "
          f"features {d['features_s']:.1f} s = {d['build_s']:.1f} s, "
          f"{d['build_s'] / floor_s:.1f}x the floor; {d['build_cpu_s']:.1f} CPU-s = "
          f"{d['build_cpu_s'] / floor_cpu:.1f}x the floor's; peak {d['peak_rss_mb']:,.0f} MB",
          flush=True)
    if not normalize:
        return result
    result["normalization"] = normalization(data["calls"], memory_limit=memory_limit)
    for k in ("e164", "mix"):
        m = result["normalization"][k]
        print(f"normalization ({k}): {m['fast_per_s']:,.0f}/s vs libphonenumber "
              f"{m['libphonenumber_per_s']:,.0f}/s = {m['ratio']:.1f}x", flush=True)
    return result


def _save(result: dict, out: Path) -> None:
    out.write_text(markdown(result))
    out.with_name(out.stem.lower() + ".json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    raise SystemExit(main())
