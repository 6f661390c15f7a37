"""Real data: do numbers reported to the US FTC cluster in number blocks?

Reads ``../shared/data/ftc_dnc_sample.csv`` (one day of numbers consumers reported to the
FTC's Do-Not-Call complaint service) through the oracle's own feed importer, and measures
how many reported numbers share a 10,000-block (NPA-NXX) or a 100-block with another
reported number, against a null of the same size drawn with the same area codes (NPA)
and uniform exchange and line digits (100 draws). A ratio well above 1 is what the
neighbourhood features (``nb_active``, ``nb_reported``) rely on: campaigns rotate through
adjacent numbers. Descriptive only: these numbers are never used as training labels.

Usage::

    .venv/bin/python bench/ftc_blocks.py
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oracle._feeds import import_feed

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ftc_dnc_sample.csv"


def _shared_share(numbers: list[str], digits: int) -> float:
    """Share of numbers whose block (all but the last ``digits``) holds another number."""
    blocks = Counter(n[:-digits] for n in numbers)
    return sum(blocks[n[:-digits]] > 1 for n in numbers) / len(numbers)


def _null(numbers: list[str], rng: np.random.Generator) -> list[str]:
    npa = [n[2:5] for n in numbers]
    nxx = rng.integers(200, 1000, size=len(numbers))
    line = rng.integers(0, 10_000, size=len(numbers))
    return [f"+1{a}{b:03d}{c:04d}" for a, b, c in zip(npa, nxx, line, strict=True)]


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        result = import_feed(SAMPLE, Path(d) / "reports.parquet", country="US")

        reports = pd.read_parquet(Path(d) / "reports.parquet")
    numbers = sorted({n for n in reports["number"] if n.startswith("+1") and len(n) == 12})
    print(f"FTC sample: {result.summary() if hasattr(result, 'summary') else result}; "
          f"{len(numbers):,} distinct US numbers")
    rng = np.random.default_rng(0)
    for digits, name in ((4, "10,000-block (NPA-NXX)"), (2, "100-block")):
        real = _shared_share(numbers, digits)
        null = np.mean([_shared_share(_null(numbers, rng), digits) for _ in range(100)])
        print(f"{name}: {real:.3%} of reported numbers share it with another reported number; "
              f"null {null:.3%}; ratio {real / max(null, 1e-9):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
