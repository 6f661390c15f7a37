"""The ingest benchmark's own measuring tools: CPU of a process tree, the lower bounds."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import bench.ingest as bench_ingest

# The child burns this much CPU, then says so and sleeps: what the tree must then hold.
_BURN = 0.3
_CHILD = f"""
import sys, time
while time.process_time() < {_BURN}:
    pass
print("ready", flush=True)
time.sleep(30)
"""


def test_tree_cpu_counts_a_running_child() -> None:
    """A live child's CPU (the JVM under Spark) is counted; getrusage would miss it."""
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        total = bench_ingest._tree_cpu_s()
        assert total - time.process_time() >= _BURN * 0.9
        assert bench_ingest._tree_cpu_s(child.pid) >= _BURN * 0.9
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_tree_cpu_of_a_process_that_does_not_exist_is_zero() -> None:
    # Above Linux's largest pid_max (2**22): never a live process.
    assert bench_ingest._tree_cpu_s(2**22 + 7) == 0.0


def _calls(folder: Path, rows: int = 2_000) -> Path:
    folder.mkdir()
    numbers = [f"+1202555{i:04d}" for i in range(200)]
    table = pa.table({
        "caller": [numbers[i % 200] for i in range(rows)],
        "callee": [numbers[(i * 7 + 3) % 200] for i in range(rows)],
        "ts": pa.array([1_767_600_000_000_000 + i for i in range(rows)],
                       pa.timestamp("us", tz="UTC")),
        "duration_s": [i % 90 for i in range(rows)],
        "answered": [i % 3 > 0 for i in range(rows)],
        "country": ["US"] * rows, "channel": ["voice"] * rows,
        "attestation": ["A"] * rows, "operator": ["op-US"] * rows})
    pq.write_table(table, folder / "calls.parquet")
    return folder


def test_lower_bounds_time_both_steps_and_are_reported(tmp_path: Path) -> None:
    calls = _calls(tmp_path / "calls")
    lb = bench_ingest.lower_bounds(calls, runs=1)
    assert set(lb) == {"read", "ids"}
    assert all(step["wall_s"] > 0 and step["cpu_s"] >= 0 for step in lb.values())
    lines = bench_ingest._lower_bound_lines(lb, 2_000, 0.01, 0.01)
    text = "\n".join(lines)
    assert "map both raw number columns to integer ids" in text
    assert "10x = 0.10 s for 2,000 rows" in text


def test_the_machine_estimate_adds_a_cpu_figure_when_the_jvm_was_measured() -> None:
    spark = {"features_s": 100.0}
    assert "busy cores" not in bench_ingest.extrapolate(10_000_000, spark, 2)
    text = bench_ingest.extrapolate(10_000_000, {**spark, "features_cpu_s": 180.0}, 2)
    # 10M rows in 180 CPU-s: 55,556 rows per CPU-second; 111,111 rows/s need 2.0 cores.
    assert "55,556 rows per CPU-second" in text and "**2.0 busy cores**" in text
