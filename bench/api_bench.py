"""API figures: reputation lookups under a bounded loopback load, and indexer throughput.

In one run, side by side: a minimal FastAPI endpoint (``bench/_minimal_app.py``) and then
the API (``spamledger api serve``, on a SQLite index seeded with ``--records`` finalized
records), both under the same uvicorn settings with ``--server-workers`` processes. A load of
``--workers`` keep-alive raw-socket connections on 127.0.0.1 runs each scenario for
``--seconds``: back to back for the peak, then (minimal endpoint and single lookup) paced at
half the peak for the p99. Scenarios: the minimal endpoint, ``/livez`` of the API, a single
lookup of a known and of an unknown number, batches of 100, 1,000 and 10,000. The indexer is
timed on a fresh Anvil with ``--rounds`` consensus rounds (open, 4-vote bundle, finalize).
No assertion on time: it prints figures and ratios.

Prints and writes ``bench/API.md`` and ``bench/api.json``::

    .venv/bin/python -m bench.api_bench            # small defaults (~1 minute)
    .venv/bin/python -m bench.api_bench --full     # 100k records, 10 s per scenario
"""

from __future__ import annotations

import argparse
import gc
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
MINIMAL = "GET /ping (minimal FastAPI app)"
SINGLE = "GET /v1/reputation/{n}"
LOAD: dict[str, float] = {}
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


def _env(data_dir: Path, db_url: str) -> dict[str, str]:
    return {**os.environ, "SPAMLEDGER_DATA_DIR": str(data_dir),
            "SPAMLEDGER_DATABASE_URL": db_url, "SPAMLEDGER_CONSORTIUM_SECRET": SECRET,
            "SPAMLEDGER_API_RATE_PER_MINUTE": str(10**9), "SPAMLEDGER_API_RATE_BURST": "1000000",
            "SPAMLEDGER_API_LOOKUPS_PER_DAY": str(10**12),
            "SPAMLEDGER_LOG_LEVEL": "WARNING", "SPAMLEDGER_RPC_URL": "http://127.0.0.1:9"}


def _started(cmd: list[str], env: dict[str, str], base: str, probe: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + probe, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    _stop(proc)
    raise RuntimeError(f"{cmd[2:4]} did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve_api(data_dir: Path, db_url: str, workers: int) -> tuple[subprocess.Popen, str]:
    """``spamledger api serve`` (uvicorn, ``workers`` processes, no indexer)."""
    port = _port()
    base = f"http://127.0.0.1:{port}"
    return _started([sys.executable, "-m", "spamledger._cli", "api", "serve", "--no-indexer",
                     "--workers", str(workers), "--api-port", str(port)],
                    _env(data_dir, db_url), base, "/livez"), base


def serve_minimal(workers: int) -> tuple[subprocess.Popen, str]:
    """The minimal FastAPI endpoint under the settings ``api._server.serve`` gives uvicorn."""
    port = _port()
    base = f"http://127.0.0.1:{port}"
    return _started([sys.executable, "-m", "uvicorn", "bench._minimal_app:app", "--host",
                     "127.0.0.1", "--port", str(port), "--workers", str(workers),
                     "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "5"],
                    dict(os.environ), base, "/ping"), base


class _Conn:
    """A keep-alive HTTP/1.1 client on a raw socket: far cheaper per request than httpx, so
    on a 2-core machine the figures measure the server rather than the load generator."""

    def __init__(self, base: str):
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def call(self, request: bytes) -> int:
        """Send one request, read the whole response; returns the status code."""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv()
        self.buf = rest[length:]
        return int(head[9:12])

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def _more(self) -> None:
        self.buf += self._recv()

    def close(self) -> None:
        self.sock.close()


def get(path: str, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n".encode()


def post_json(path: str, headers: dict[str, str], body: Any) -> bytes:
    data = json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST {path} HTTP/1.1\r\nHost: bench\r\n{extra}Content-Type: application/json"
            f"\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


def load(base: str, requests: list[bytes], clients: int, seconds: float,
         rate: float | None = None) -> dict[str, float]:
    """``clients`` keep-alive connections sending ``requests`` (cycled) for ``seconds``: back
    to back (closed loop, the peak) or, with ``rate``, paced to ``rate`` req/s in total (open
    loop: latency counts from the scheduled send, so a server falling behind shows it)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    began = time.perf_counter() + 0.2
    stop = began + seconds

    def run(i: int) -> None:
        conn = _Conn(base)
        k, n = 0, i
        try:
            while True:
                due = began + (k * clients + i) / rate if rate else time.perf_counter()
                if due >= stop:
                    break
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                status = conn.call(requests[n % len(requests)])
                latencies[i].append(time.perf_counter() - due)
                errors[i] += status != 200
                k, n = k + 1, n + clients
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    # The load generator's own garbage collector is paused while it measures: a full
    # collection of this process (37-149 ms seen) stalls every client thread at once, each
    # request then starts late, and open-loop latency (counted from when it was due) would
    # charge the client's pause to the server under test.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gc.enable()
        gc.unfreeze()
    flat = sorted(x for lat in latencies for x in lat)
    if not flat:
        raise RuntimeError("no request finished")
    return {"requests": len(flat), "errors": sum(errors),
            "req_per_s": len(flat) / (time.perf_counter() - began if not rate else seconds),
            "p50_ms": 1000 * flat[len(flat) // 2], "p99_ms": 1000 * flat[int(len(flat) * 0.99)]}


def _measure(name: str, base: str, requests: list[bytes], size: int,
             args: argparse.Namespace, paced: bool) -> dict[str, float]:
    peak = load(base, requests, args.workers, args.seconds)
    if peak["errors"]:
        raise RuntimeError(f"{name}: {peak['errors']} requests failed")
    result = {**peak, "lookups_per_s": peak["req_per_s"] * size}
    line = (f"{name:34s} {peak['req_per_s']:8.0f} req/s {result['lookups_per_s']:9.0f} "
            f"lookups/s  p50 {peak['p50_ms']:7.2f} ms  p99 {peak['p99_ms']:7.2f} ms")
    if paced:
        half = load(base, requests, args.workers, args.seconds, rate=peak["req_per_s"] / 2)
        fixed = load(base, requests, args.workers, args.seconds, rate=args.rate)
        result.update(half_rate=peak["req_per_s"] / 2, half_p50_ms=half["p50_ms"],
                      half_p99_ms=half["p99_ms"], half_errors=half["errors"],
                      fixed_p50_ms=fixed["p50_ms"], fixed_p99_ms=fixed["p99_ms"])
        line += (f"  | at {peak['req_per_s'] / 2:.0f} req/s: p99 {half['p99_ms']:.2f} ms"
                 f"  | at {args.rate:g} req/s: p99 {fixed['p99_ms']:.2f} ms")
    print(line, flush=True)
    return result


def api_figures(args: argparse.Namespace, tmp: Path) -> dict[str, dict[str, float]]:
    """Every scenario in one run, each server alone on the machine while it is measured."""
    db_url = args.database_url or f"sqlite:///{tmp / 'api.db'}"
    key, numbers = seed(db_url, args.records)
    headers = {"X-API-Key": key}
    rng = random.Random(1)
    results: dict[str, dict[str, float]] = {}
    proc, base = serve_minimal(args.server_workers)
    try:
        results[MINIMAL] = _measure(MINIMAL, base, [get("/ping", {})], 1, args, paced=True)
    finally:
        _stop(proc)
    proc, base = serve_api(tmp, db_url, args.server_workers)
    try:
        singles = [get("/v1/reputation/" + n, headers) for n in rng.sample(numbers, 500)]
        unknown = [get(f"/v1/reputation/+1646555{i:04d}", headers) for i in range(500)]
        for request in singles[:50] + unknown[:50]:  # each worker builds its read model
            conn = _Conn(base)
            conn.call(request)
            conn.close()
        results["GET /livez (same app, no key)"] = _measure(
            "GET /livez (same app, no key)", base, [get("/livez", {})], 1, args, paced=False)
        results[SINGLE] = _measure(SINGLE, base, singles, 1, args, paced=True)
        results["GET /v1/reputation/{n} (unknown)"] = _measure(
            "GET /v1/reputation/{n} (unknown)", base, unknown, 1, args, paced=False)
        for size in (100, 1000, 10000):
            bodies = [post_json("/v1/reputation/batch", headers,
                                {"numbers": [rng.choice(numbers) for _ in range(size)]})
                      for _ in range(8)]
            results[f"POST batch x{size}"] = _measure(f"POST batch x{size}", base, bodies, size,
                                                      args, paced=False)
    finally:
        _stop(proc)
    return results


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
    minimal = api[MINIMAL]["req_per_s"]
    rows = ["| scenario | req/s | lookups/s | p50 ms | p99 ms | req/s vs minimal |",
            "|---|---|---|---|---|---|"]
    for name, r in api.items():
        rows.append(f"| `{name}` | {r['req_per_s']:.0f} | {r['lookups_per_s']:.0f} | "
                    f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['req_per_s'] / minimal:.2f} |")
    half = ["| endpoint | paced rate req/s | p50 ms | p99 ms |", "|---|---|---|---|"]
    for name in (MINIMAL, SINGLE):
        r = api[name]
        half.append(f"| `{name}` | {r['half_rate']:.0f} (half its peak) | "
                    f"{r['half_p50_ms']:.2f} | {r['half_p99_ms']:.2f} |")
        half.append(f"| `{name}` | {args.rate:g} | {r['fixed_p50_ms']:.2f} | "
                    f"{r['fixed_p99_ms']:.2f} |")
    single, best_batch = api[SINGLE], max(r["lookups_per_s"] for n, r in api.items()
                                         if n.startswith("POST batch"))
    return "\n".join([
        "# API figures", "",
        f"Measured by `bench/api_bench.py` in one run on {platform.machine()} with "
        f"{os.cpu_count()} cores (shared with the load generator and, while measured, with "
        f"whatever else the machine ran), Python {platform.python_version()}. Both servers run "
        f"under the same uvicorn settings ({args.server_workers} worker process(es), uvloop, "
        f"httptools, no access log), one at a time; the API on a {_db_name(args)} index of "
        f"{args.records} records, answering from its in-memory read model. Load: "
        f"{args.workers} keep-alive loopback connections (raw-socket client threads) for "
        f"{args.seconds:g} s per scenario, back to back for the peak, then paced at half "
        f"the peak and at {args.rate:g} req/s for the latency. Load average "
        f"{LOAD['start']:.1f} when the run started, {LOAD['end']:.1f} when it ended: the "
        f"machine is shared, so compare the ratios within this run, not absolute figures "
        f"across runs.", "",
        f"- single lookup: **{single['req_per_s'] / minimal:.2f}x** the minimal FastAPI "
        f"endpoint (goal >= 0.5x); p99 **{single['half_p99_ms']:.2f} ms** at half its peak "
        f"rate (goal < 10 ms)",
        f"- batch: **{best_batch:,.0f} numbers/s** at best (goal >= 100k/s); numbers repeat "
        f"across batches, so normalization is mostly served by its cache", "",
        *rows, "",
        ("Latency paced at half of each endpoint's own peak and at a fixed rate (open loop: "
         "counted from when each request was due, so a client or server starved of CPU on "
         "the shared cores shows as tail latency for both endpoints):"), "",
        *half, "",
        f"Indexer: {index['events']} events over {index['blocks']} blocks indexed into SQLite "
        f"in {index['seconds']:.2f} s = **{index['events_per_s']:.0f} events/s** "
        f"({args.rounds} consensus rounds on Anvil).", "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="100k records, 10 s, 100 rounds")
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=8, help="client connections")
    parser.add_argument("--server-workers", type=int, default=2,
                        help="uvicorn worker processes of both servers")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="fixed paced rate (req/s) for a second latency figure")
    parser.add_argument("--no-indexer", action="store_true", help="skip the indexer figure")
    parser.add_argument("--database-url", default="",
                        help="an EMPTY database to seed (default: a temp SQLite file)")
    args = parser.parse_args(argv)
    if args.full:
        args.records, args.seconds, args.rounds = 100_000, 10.0, 100
    LOAD["start"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        api = api_figures(args, Path(tmp))
        index = (indexer_figures(args, Path(tmp)) if not args.no_indexer
                 else {"events": 0, "seconds": 0.0, "events_per_s": 0.0, "blocks": 0})
    LOAD["end"] = os.getloadavg()[0]
    text = render(args, api, index)
    OUT_MD.write_text(text)
    OUT_JSON.write_text(json.dumps({"api": api, "indexer": index, "args": vars(args)},
                                   indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
