"""CLI start-up: wall time of `spamledger --help` and `spamledger gov show`, each as a fresh
process (what an operator's shell pays per command), next to a bare `python -c pass` and to
importing what every call used to import up front (web3, scikit-learn, FastAPI).

    .venv/bin/python -m bench cli_bench

Prints the figures and rewrites bench/CLI.md. `gov show` runs against a local Anvil on a
free loopback port with freshly deployed contracts (started and stopped by this script).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
RUNS = 7
# What `spamledger --help` imported before the packages loaded their exports lazily.
EAGER = "import node._client, oracle._evaluate, api._app, migrations._deploy"


def _median_seconds(argv: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr[-500:]}")
    return statistics.median(times)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    from node import AnvilNode

    py = sys.executable
    cli = [py, "-m", "spamledger._cli"]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SPAMLEDGER_KEYSTORE_PASSWORD="bench-cli",
                   SPAMLEDGER_DATA_DIR=tmp)
        node = AnvilNode(Path(tmp), port=_free_port())
        node.start()
        try:
            rpc = ["--rpc-url", node.rpc_url]
            subprocess.run([*cli, "deploy", *rpc], env=env, check=True, capture_output=True)
            figures = {
                "python -c pass": _median_seconds([py, "-c", "pass"], env),
                "import web3 + sklearn + FastAPI (what every call used to load)":
                    _median_seconds([py, "-c", EAGER], env),
                "spamledger --help": _median_seconds([*cli, "--help"], env),
                "spamledger gov show": _median_seconds([*cli, "gov", "show", *rpc], env),
            }
        finally:
            node.stop()
    floor = figures["python -c pass"]
    lines = ["# CLI start-up", "",
             "Wall time of one fresh process, median of "
             f"{RUNS} runs, on this shared 2-core machine (`python -m bench cli_bench`).", "",
             "| command | seconds | x `python -c pass` |", "|---|---|---|"]
    for name, seconds in figures.items():
        lines.append(f"| `{name}` | {seconds:.2f} | {seconds / floor:.1f} |")
        print(f"{name:<70} {seconds:6.2f} s  ({seconds / floor:.1f}x bare python)")
    lines += ["", "Packages export their public names lazily (`spamledger/_lazy.py`) and the "
              "settings table loads each package's `_settings.py` without its `__init__`, so "
              "`--help` imports no web3, scikit-learn or FastAPI; `gov show` imports web3 "
              "and eth-account only, because it talks to the chain.", ""]
    (HERE / "CLI.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
