"""Edge bundle figures: size, build, open, lookups in process, and the sidecar under load.

A synthetic ledger of ``--numbers`` distinct numbers (E.164 across six countries, keyed with
HMAC-SHA256 as on-chain; a third answered from epoch leaves, the rest from finalized records)
is packed into one bundle. Measured:

- size and bytes per number; build time (sort, pack, Merkle root) from the keyed hashes the
  index supplies (reading the index itself is not included: it is SQL, timed by the API
  bench); keyed hashing of the whole ledger in numpy, for scale;
- open time (mmap + structural checks) and full root verification time;
- ``lookup_many`` numbers/s including normalization check and keyed hashing, in batches of
  10k and 100k (half present, half absent), next to the hashing alone;
- single ``lookup`` latency p50/p99 over 20k numbers;
- a delta of 1% changed numbers: build and apply time, byte-equal to the full build;
- the sidecar (``spamledger edge serve``, one uvicorn process) at a fixed rate of
  ``--rate`` req/s for ``--seconds`` from keep-alive loopback clients, p50/p99/max.

Prints and writes ``bench/EDGE.md``::

    .venv/bin/python -m bench.edge                  # 1M numbers (a few minutes)
    .venv/bin/python -m bench.edge --numbers 10000000
"""

from __future__ import annotations

import argparse
import hmac
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT_MD = Path(__file__).with_name("EDGE.md")
SECRET = "bench-consortium-secret-0123456789"
PREFIXES = ("+1415", "+1212", "+4420", "+9198", "+5511", "+3361")
SPAM, SNAP = "0x" + "11" * 20, "0x" + "22" * 20


def number(i: int) -> str:
    return f"{PREFIXES[i % 6]}{i // 6:08d}"


def numbers(idx: np.ndarray) -> list[str]:
    return [number(int(i)) for i in idx]


def keyed(n: int, chunk: int = 65536) -> tuple[np.ndarray, float]:
    """(n, 32) keyed hashes of numbers 0..n-1, and the seconds numpy hashing took."""
    from spamledger.edge._sha256 import BatchHmac

    batch, out, spent = BatchHmac(SECRET.encode()), np.empty((n, 32), np.uint8), 0.0
    for lo in range(0, n, chunk):
        msgs = np.array(numbers(np.arange(lo, min(lo + chunk, n))), dtype="S16")
        t = time.perf_counter()
        out[lo:lo + len(msgs)] = batch.digests(msgs).astype(">u4").view(np.uint8).reshape(
            len(msgs), 32)
        spent += time.perf_counter() - t
    return out, spent


def build(keys: np.ndarray, seed: int, block: int):
    from spamledger.edge import Header, encode, make_entries

    rng = np.random.default_rng(seed)
    n = len(keys)
    t = time.perf_counter()
    entries = make_entries(keys, rng.integers(0, 10_001, n, dtype=np.int32),
                           rng.integers(1, 4, n, dtype=np.int8),
                           rng.integers(0, 8, n, dtype=np.int8),
                           np.where(rng.random(n) < 0.67, 1_900_000_000, 0),
                           rng.random(n) >= 0.67)
    data = encode(Header(0, 31337, block, 0, 0, "**", SPAM, SNAP), entries)
    return data, entries, time.perf_counter() - t


def in_process(path: Path, n: int, figures: dict) -> None:
    from spamledger.edge import Bundle

    t = time.perf_counter()
    bundle = Bundle.open(path, SECRET)
    figures["open_s"] = time.perf_counter() - t
    t = time.perf_counter()
    Bundle.open(path, SECRET, verify_root=True)
    figures["open_verified_s"] = time.perf_counter() - t
    rng = np.random.default_rng(7)
    for size in (10_000, 100_000):
        asked = numbers(np.where(rng.random(size) < 0.5, rng.integers(0, n, size),
                                 rng.integers(n, 2 * n, size)))
        rounds = max(1, 300_000 // size)
        t = time.perf_counter()
        for _ in range(rounds):
            found = bundle.lookup_many(asked).found
        figures[f"many_{size}"] = size * rounds / (time.perf_counter() - t)
        figures[f"found_{size}"] = float(found.mean())
        t = time.perf_counter()
        for _ in range(rounds):
            bundle.prefixes(asked)
        figures[f"hash_{size}"] = size * rounds / (time.perf_counter() - t)
    secret, sample = SECRET.encode(), asked[:50_000]
    t = time.perf_counter()
    for num in sample:
        hmac.digest(secret, num.encode(), "sha256")
    figures["hmac_loop"] = len(sample) / (time.perf_counter() - t)
    single = numbers(rng.integers(0, 2 * n, 20_000))
    lat = np.empty(len(single))
    for i, num in enumerate(single):
        t0 = time.perf_counter_ns()
        bundle.lookup(num)
        lat[i] = (time.perf_counter_ns() - t0) / 1000
    figures["single_p50_us"], figures["single_p99_us"] = np.percentile(lat, [50, 99])


def deltas(keys: np.ndarray, data: bytes, entries, figures: dict) -> None:
    from spamledger.edge import Header, apply_delta, encode
    from spamledger.edge._format import DELTA, Entries, delta_entries

    rng = np.random.default_rng(11)
    changed = entries.records.copy()
    idx = rng.choice(len(changed), size=max(1, len(changed) // 100), replace=False)
    changed["score"][idx] = (changed["score"][idx] + 1) % 10_001
    new = Entries(entries.keys, changed)
    t = time.perf_counter()
    full = encode(Header(0, 31337, 2, 0, 0, "**", SPAM, SNAP), new)
    delta = encode(Header(DELTA, 31337, 2, 1, 0, "**", SPAM, SNAP, Header.unpack(full).root),
                   delta_entries(entries, new))
    figures["delta_build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    applied = apply_delta(data, delta)
    figures["delta_apply_s"] = time.perf_counter() - t
    figures["delta_bytes"], figures["delta_equal"] = len(delta), applied == full


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sidecar(path: Path, n: int, rate: int, seconds: float, figures: dict) -> None:
    port = _port()
    env = dict(os.environ, SPAMLEDGER_CONSORTIUM_SECRET=SECRET)
    proc = subprocess.Popen([sys.executable, "-m", "spamledger._cli", "--log-level", "WARNING",
                             "edge", "serve", str(path), "--edge-port", str(port)], env=env,
                            cwd=ROOT)
    try:
        _wait(port)
        figures["closed_rate"], closed = _closed(port, n, min(seconds, 5.0))
        figures["closed_p50_ms"], figures["closed_p99_ms"] = np.percentile(closed, [50, 99])
        lat, errors = _load(port, n, rate, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    figures["side_sent"], figures["side_errors"] = len(lat) + errors, errors
    figures["side_rate"] = len(lat) / seconds
    figures["side_p50_ms"], figures["side_p99_ms"], figures["side_max_ms"] = (
        [*np.percentile(lat, [50, 99]).tolist(), float(np.max(lat))])


def _wait(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("sidecar did not start")


def _request(sock: socket.socket, path: str) -> bool:
    """One keep-alive GET on a raw socket (http.client would cost the client more CPU than
    the server spends); True on a 200."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head.startswith(b"HTTP/1.1 200")


def _load(port: int, n: int, rate: int, seconds: float,
          clients: int = 4) -> tuple[np.ndarray, int]:
    """Open-loop load: request i is due at start + i/rate; latency counts from when it was
    due, so a stalled server cannot hide its queue (no coordinated omission)."""
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(slot: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        rng = np.random.default_rng(slot)
        mine = []
        for i in range(slot, total, clients):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            try:
                ok = _request(sock, f"/v1/lookup/{number(int(rng.integers(0, 2 * n)))}")
            except OSError:
                ok = False
                sock.close()
                sock = socket.create_connection(("127.0.0.1", port))
            if ok:
                mine.append((time.perf_counter() - due) * 1000)
            else:
                with lock:
                    errors[0] += 1
        sock.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client, args=(s,)) for s in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return np.array(lat), errors[0]


def _closed(port: int, n: int, seconds: float) -> tuple[float, np.ndarray]:
    """One client, back to back: the sidecar's rate and latency with no queue."""
    sock, lat = socket.create_connection(("127.0.0.1", port)), []
    rng, end = np.random.default_rng(3), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        _request(sock, f"/v1/lookup/{number(int(rng.integers(0, 2 * n)))}")
        lat.append((time.perf_counter() - t) * 1000)
    sock.close()
    return len(lat) / seconds, np.array(lat)


def report(n: int, f: dict, args) -> str:
    per = (f["bytes"] - 128) / n
    load = os.getloadavg()
    rows = [
        ("numbers in the bundle", f"{n:,}", ""),
        ("file size", f"{f['bytes'] / 1e6:,.1f} MB", f"**{per:.1f} bytes per number** "
                                                       f"(goal ≤ 24: {per / 24:.2f}× of it)"),
        ("keyed hashing of the ledger (numpy HMAC-SHA256)", f"{f['hash_all_s']:.1f} s",
         f"{n / f['hash_all_s']:,.0f} numbers/s"),
        ("build: sort, pack, Merkle root", f"{f['build_s']:.2f} s",
         f"{n / f['build_s']:,.0f} numbers/s"),
        ("open (mmap, structure checks)", f"{f['open_s'] * 1000:.1f} ms",
         f"goal < 1 s: {f['open_s']:.4f}× of it"),
        ("open with the whole root verified", f"{f['open_verified_s']:.2f} s", ""),
        ("`lookup_many`, batches of 10k, incl. keyed hashing", f"{f['many_10000']:,.0f}/s",
         f"{f['many_10000'] / 300_000:.2f}× the 300k/s goal; hashing alone "
         f"{f['hash_10000']:,.0f}/s"),
        ("`lookup_many`, batches of 100k, incl. keyed hashing", f"{f['many_100000']:,.0f}/s",
         f"{f['many_100000'] / 300_000:.2f}× the 300k/s goal; hashing alone "
         f"{f['hash_100000']:,.0f}/s; one `hmac.digest` call per number: "
         f"{f['hmac_loop']:,.0f}/s"),
        ("single `lookup` p50 / p99", f"{f['single_p50_us']:.1f} / {f['single_p99_us']:.1f} µs",
         f"p99 {f['single_p99_us'] / 50:.2f}× the 50 µs goal"),
        ("delta of 1% changed: build / apply", f"{f['delta_build_s']:.2f} / "
         f"{f['delta_apply_s']:.2f} s", f"{f['delta_bytes'] / 1e6:.1f} MB; applied == full "
                                       f"build: {f['delta_equal']}"),
        (f"sidecar at {args.rate} req/s for {args.seconds:.0f} s: p50 / p99 / max",
         f"{f['side_p50_ms']:.2f} / {f['side_p99_ms']:.2f} / {f['side_max_ms']:.1f} ms",
         f"p99 {f['side_p99_ms'] / 2:.2f}× the 2 ms goal; served {f['side_rate']:.0f} req/s, "
         f"{f['side_errors']} errors of {f['side_sent']}"),
        ("sidecar, one client back to back: rate, p50 / p99",
         f"{f['closed_rate']:,.0f} req/s, {f['closed_p50_ms']:.2f} / "
         f"{f['closed_p99_ms']:.2f} ms", "no queue: what one request costs"),
    ]
    lines = ["# Edge bundles", "",
             f"`python -m bench.edge --numbers {n}` on {platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}; load average "
             f"{load[0]:.1f} when it finished (the machine is shared: compare ratios, not "
             "absolute figures across runs).", "",
             "| what | figure | ratio / note |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "How it is measured: see the docstring of `bench/edge.py`. The sidecar load "
              "is open-loop from 4 keep-alive raw-socket clients on the same two cores (latency "
              "counted from when each request was due), so client and server share the CPU.",
              ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    n, f = args.numbers, {}
    keys, f["hash_all_s"] = keyed(n)
    print(f"keyed {n:,} numbers in {f['hash_all_s']:.1f} s", flush=True)
    data, entries, f["build_s"] = build(keys, 1, 1)
    f["bytes"] = len(data)
    print(f"built {len(data):,} bytes in {f['build_s']:.2f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "all.bundle"
        path.write_bytes(data)
        deltas(keys, data, entries, f)
        del keys, entries
        in_process(path, n, f)
        print(f"in process: {f}", flush=True)
        sidecar(path, n, args.rate, args.seconds, f)
    text = report(n, f, args)
    print(text)
    OUT_MD.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
