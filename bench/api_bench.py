"""API figures: reputation lookups under a bounded loopback load, and indexer throughput.

The API runs as ``spamledger api serve`` (uvicorn, one process) on a SQLite index seeded
with ``--records`` finalized records; a bounded load of ``--workers`` keep-alive clients on
127.0.0.1 calls, for ``--seconds`` each: the minimal endpoint ``/livez`` (same server stack,
no database), a single reputation lookup, and batches of 100 and 1,000 numbers. The indexer
is timed on a fresh Anvil with ``--rounds`` consensus rounds (open, 4-vote bundle, finalize).

Prints and writes ``bench/API.md`` and ``bench/api.json``::

    .venv/bin/python -m bench.api_bench            # small defaults (~1 minute)
    .venv/bin/python -m bench.api_bench --full     # 100k records, 10 s per scenario
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT_MD = Path(__file__).with_name("API.md")
OUT_JSON = Path(__file__).with_name("api.json")
SECRET = "bench-consortium-secret-0123456789"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _numbers(count: int) -> list[str]:
    return [f"+1415{5550000 + i:07d}"[:12] if i < 10000 else f"+1212{2000000 + i:07d}"
            for i in range(count)]


def seed(db_url: str, records: int) -> tuple[str, list[str]]:
    """Migrate, insert ``records`` finalized records, create a telco key."""
    from api import create_key, make_engine, migrate, session_scope
    from api._models import RegistryRecord
    from spamledger import NumberHasher, normalize

    engine = make_engine(db_url)
    migrate(engine)
    hasher = NumberHasher(SECRET)
    numbers = []
    for raw in _numbers(records * 2):
        try:
            numbers.append(normalize(raw).e164)
        except ValueError:
            continue
        if len(numbers) == records:
            break
    now = int(time.time())
    with session_scope(engine) as session:
        session.add_all(RegistryRecord(number_key=hasher.hex(n), score=8000 + i % 2000,
                                       verdict=3, category=1, round_id=1, finalized_at=now,
                                       expires_at=now + 86400, block_number=1,
                                       tx_hash="0x" + "00" * 32) for i, n in enumerate(numbers))
        key = create_key(session, role="telco", country="*", name="bench")
    engine.dispose()
    return key, numbers


def serve(data_dir: Path, db_url: str) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {**os.environ, "SPAMLEDGER_DATA_DIR": str(data_dir),
           "SPAMLEDGER_DATABASE_URL": db_url, "SPAMLEDGER_CONSORTIUM_SECRET": SECRET,
           "SPAMLEDGER_API_RATE_PER_MINUTE": str(10**9), "SPAMLEDGER_API_RATE_BURST": "1000000",
           "SPAMLEDGER_LOG_LEVEL": "WARNING", "SPAMLEDGER_RPC_URL": "http://127.0.0.1:9"}
    proc = subprocess.Popen([sys.executable, "-m", "spamledger._cli", "api", "serve",
                             "--no-indexer", "--workers", "1", "--api-port", str(port)],
                            cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/livez", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("API server did not start")


def load(base: str, request: Any, workers: int, seconds: float) -> dict[str, float]:
    """``workers`` clients each sending ``request(client)`` back to back for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(workers)]
    errors = [0] * workers
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.perf_counter() < stop:
                began = time.perf_counter()
                ok = request(client)
                latencies[i].append(time.perf_counter() - began)
                errors[i] += 0 if ok else 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    flat = sorted(x for lat in latencies for x in lat)
    return {"requests": len(flat), "errors": sum(errors), "req_per_s": len(flat) / elapsed,
            "p50_ms": 1000 * flat[len(flat) // 2], "p99_ms": 1000 * flat[int(len(flat) * 0.99)]}


def api_figures(args: argparse.Namespace, tmp: Path) -> dict[str, dict[str, float]]:
    db_url = args.database_url or f"sqlite:///{tmp / 'api.db'}"
    key, numbers = seed(db_url, args.records)
    headers = {"X-API-Key": key}
    rng = random.Random(1)
    proc, base = serve(tmp, db_url)
    try:
        scenarios = {
            "GET /livez (minimal)": lambda c: c.get("/livez").status_code == 200,
            "GET /v1/reputation/{n}": lambda c: c.get(
                "/v1/reputation/" + rng.choice(numbers), headers=headers).status_code == 200,
        }
        for size in (100, 1000):
            scenarios[f"POST batch x{size}"] = (
                lambda c, size=size: c.post("/v1/reputation/batch", headers=headers, json={
                    "numbers": rng.sample(numbers, min(size, len(numbers)))}).status_code == 200)
        results = {}
        for name, request in scenarios.items():
            results[name] = load(base, request, args.workers, args.seconds)
            size = int(name.split("x")[-1]) if "batch" in name else 1
            results[name]["lookups_per_s"] = results[name]["req_per_s"] * size
            print(f"{name:28s} {results[name]['req_per_s']:8.0f} req/s "
                  f"{results[name]['lookups_per_s']:9.0f} lookups/s  "
                  f"p50 {results[name]['p50_ms']:7.2f} ms  p99 {results[name]['p99_ms']:7.2f} ms")
        return results
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def indexer_figures(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    from eth_account import Account

    from api import Indexer, make_engine, migrate
    from migrations import deploy, fund_dev_accounts
    from node import AnvilNode, Ledger, admit_consortium, connect
    from tests.api.scenario import approved_model, run_round

    weights = {"US": 4000, "IN": 2500, "BR": 2000, "GB": 1000, "FR": 500}
    anvil = AnvilNode(tmp / "chain", port=_port())
    anvil.start()
    try:
        w3 = connect(anvil.rpc_url)
        gov = Account.create()
        vals = {cc: Account.create() for cc in weights}
        fund_dev_accounts(w3, [gov.address, *(a.address for a in vals.values())])
        deployment = deploy(w3, tmp / "ledger", gov)
        ledger = Ledger(w3, deployment, gov)
        admit_consortium(ledger, validators={a.address: (cc, weights[cc])
                                             for cc, a in vals.items()})
        cons = SimpleNamespace(ledger=ledger, validators=vals, w3=w3, chain_id=w3.eth.chain_id,
                               deployment=deployment)
        model = approved_model(cons, "bench")
        for _ in range(args.rounds):
            run_round(cons, os.urandom(32), "US",
                      {"US": 9000, "IN": 7000, "BR": 6000, "GB": None}, model)
        engine = make_engine(f"sqlite:///{tmp / 'index.db'}")
        migrate(engine)
        result = Indexer(w3, deployment, engine, block_range=500).sync()
        engine.dispose()
    finally:
        anvil.stop()
    rate = result.events / result.seconds
    print(f"indexer: {result.events} events in {result.seconds:.2f} s = {rate:.0f} events/s "
          f"({result.ranges} ranges, blocks {result.from_block}..{result.to_block})")
    return {"events": result.events, "seconds": result.seconds, "events_per_s": rate,
            "blocks": result.to_block - result.from_block + 1}


def _db_name(args: argparse.Namespace) -> str:
    return args.database_url.split(":")[0] if args.database_url else "SQLite"


def render(args: argparse.Namespace, api: dict[str, dict[str, float]],
           index: dict[str, float]) -> str:
    minimal = api["GET /livez (minimal)"]["req_per_s"]
    rows = ["| scenario | req/s | lookups/s | p50 ms | p99 ms | req/s vs /livez |",
            "|---|---|---|---|---|---|"]
    for name, r in api.items():
        rows.append(f"| `{name}` | {r['req_per_s']:.0f} | {r['lookups_per_s']:.0f} | "
                    f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['req_per_s'] / minimal:.2f} |")
    return "\n".join([
        "# API figures", "",
        f"Measured by `bench/api_bench.py` on {platform.machine()} with {os.cpu_count()} cores "
        f"(shared with the load generator), Python {platform.python_version()}, one uvicorn "
        f"process on a {_db_name(args)} index of {args.records} records; {args.workers} keep-alive "
        f"loopback clients for {args.seconds:g} s per scenario.", "",
        *rows, "",
        f"Indexer: {index['events']} events over {index['blocks']} blocks indexed into SQLite "
        f"in {index['seconds']:.2f} s = **{index['events_per_s']:.0f} events/s** "
        f"({args.rounds} consensus rounds on Anvil).", "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="100k records, 10 s, 100 rounds")
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default="",
                        help="an EMPTY database to seed (default: a temp SQLite file)")
    args = parser.parse_args(argv)
    if args.full:
        args.records, args.seconds, args.rounds = 100_000, 10.0, 100
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        api = api_figures(args, Path(tmp))
        index = indexer_figures(args, Path(tmp))
    text = render(args, api, index)
    OUT_MD.write_text(text)
    OUT_JSON.write_text(json.dumps({"api": api, "indexer": index, "args": vars(args)},
                                   indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
