"""Run every benchmark in turn (``make bench``); each prints its figures and writes bench/*.md.

    .venv/bin/python -m bench            # all, default sizes
    .venv/bin/python -m bench gas_table  # one
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = ("gas_table", "ipfs_bench", "oracle_bench", "ingest", "service_bench", "api_bench",
           "cli_bench", "console_bench", "console_operator", "edge")


def main(argv: list[str]) -> int:
    chosen = argv or [b for b in BENCHES if (HERE / f"{b}.py").exists()]
    failed = []
    for name in chosen:
        print(f"\n=== bench.{name} ===", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
