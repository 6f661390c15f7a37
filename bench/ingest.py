"""Ingest and feature-build throughput at scale: DuckDB (and Spark local mode) next to a bare
DuckDB ``GROUP BY caller`` floor in the same run, and the normalization fast path against
libphonenumber. Prints figures and ratios and writes ``bench/INGEST.md`` and
``bench/ingest.json``.

Usage::

    .venv/bin/python -m bench.ingest --rows 10000000            # the issue's 10M-row figures
    .venv/bin/python -m bench.ingest --rows 10000000 --spark    # + Spark local mode
    .venv/bin/python -m bench.ingest --rows 100000000 --big     # 100M: wall time, peak memory

Data: the simulator's call files, generated in chunks of ~2M rows (one ``simulate`` run per
chunk, seeds 1, 2, ...) and written chunk by chunk into one ``calls/`` folder, so memory
stays bounded whatever ``--rows`` is; ``--work`` keeps them for the next run. The floor is
``SELECT caller, count(*) ... GROUP BY caller`` over the same Parquet files, best of two,
right before the feature build.
"""

from __future__ import annotations

import json
import os
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
UNTIL = datetime(2026, 1, 19)


def generate(work: Path, rows: int) -> dict[str, Path]:
    """Simulated calls (>= ``rows``) and reports under ``work``, one chunk at a time."""
    from oracle._simulate import simulate

    calls, reports = work / "calls", work / "reports"
    calls.mkdir(parents=True, exist_ok=True)
    reports.mkdir(exist_ok=True)
    manifest = work / "manifest.json"
    done = json.loads(manifest.read_text()) if manifest.exists() else {"chunks": 0, "rows": 0}
    while done["rows"] < rows:
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


def floor(calls: Path, threads: int | None = None) -> tuple[int, float]:
    """Bare DuckDB GROUP BY caller over the same files: the floor of any feature build."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads={threads}")
    glob = str(calls / "*.parquet")
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE g AS SELECT caller, count(*) AS n "
                    f"FROM read_parquet('{glob}') GROUP BY caller")
        best = min(best, time.perf_counter() - start)
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
    con.close()
    return int(rows), best


def duckdb_build(data: dict[str, Path], memory_limit: str | None = None,
                 temp_dir: Path | None = None) -> dict:
    """The oracle's feature build on DuckDB, step by step."""
    from oracle._features import build_features
    from oracle._ingest import connect, load_calls, load_reports

    con = connect(memory_limit=memory_limit, temp_dir=temp_dir)
    stats, ingest_s = _timed(load_calls, con, data["calls"])
    _, reports_s = _timed(load_reports, con, data["reports"])
    distinct = con.execute("SELECT count(*) FROM calls_numbers").fetchone()[0]
    feats, feat_s = _timed(build_features, con, UNTIL)
    con.close()
    return {"ingest_s": ingest_s, "reports_s": reports_s, "features_s": feat_s,
            "build_s": ingest_s + reports_s + feat_s, "distinct_raw_numbers": distinct,
            "numbers": len(feats), "clean_rows": stats.clean, "quarantined": stats.bad}


def spark_build(data: dict[str, Path]) -> dict:
    """The same feature build with the Spark engine in local mode (all cores)."""
    from oracle._engine import spark_features

    feats, seconds = _timed(spark_features, data["calls"], data["reports"], UNTIL)
    return {"build_s": seconds, "numbers": len(feats)}


def normalization(calls: Path, sample: int = 60_000) -> dict:
    """Rates on distinct strings of the file: E.164 ones, and the whole mix, against
    libphonenumber's parse + validate + type (uncached, one string at a time)."""
    from spamledger._fastnumbers import normalize_arrays

    con = duckdb.connect()
    glob = str(calls / "*.parquet")
    mix = con.sql(f"SELECT DISTINCT caller AS raw, country FROM read_parquet('{glob}') UNION "
                  f"SELECT DISTINCT callee, country FROM read_parquet('{glob}')").to_arrow_table()
    con.close()
    raw = pc.fill_null(mix.column("raw").combine_chunks(), "")
    country = mix.column("country").combine_chunks()
    e164 = pc.match_substring_regex(raw, r"^\+[0-9]+$")
    out = {"distinct_strings": len(raw), "distinct_e164": int(pc.sum(e164).as_py() or 0)}
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
