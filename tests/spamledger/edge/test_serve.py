"""The sidecar as a real process: answers, limits, and reloads under load that lose nothing."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from spamledger.edge import Header, write_atomic
from spamledger.edge._format import DELTA, delta_entries, encode
from tests.conftest import free_port
from tests.spamledger.edge.helpers import SECRET, SNAP, SPAM, entries, numbers


def start(path: Path, port: int, deltas: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ, SPAMLEDGER_CONSORTIUM_SECRET=SECRET)
    cmd = [sys.executable, "-m", "spamledger._cli", "--log-level", "WARNING", "edge", "serve",
           str(path), "--edge-port", str(port), "--edge-poll-seconds", "0.05"]
    proc = subprocess.Popen(cmd + (["--deltas", str(deltas)] if deltas else []), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get(port, "/healthz")
            return proc
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                stop(proc)
                raise AssertionError(err) from None
            time.sleep(0.1)
    stop(proc)
    raise AssertionError("sidecar did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def get(port: int, path: str, body: bytes | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST" if body is not None else "GET", path, body=body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def full(nums: list[str], block: int, seed: int) -> tuple[bytes, object]:
    e = entries(nums, seed)
    return encode(Header(0, 31337, block, 0, 0, "US", SPAM, SNAP), e), e


@pytest.fixture
def served(tmp_path: Path):
    path = tmp_path / "us.bundle"
    data, e = full(numbers(3000), 10, 1)
    write_atomic(path, data)
    (tmp_path / "deltas").mkdir()
    proc = start(path, port := free_port(), tmp_path / "deltas")
    yield path, port, e
    stop(proc)


def test_sidecar_answers_single_and_batch_and_refuses_bad_input(served):
    _path, port, _ = served
    status, body = get(port, "/v1/lookup/+14150000005")
    assert status == 200 and body["block"] == 10 and body["verdict"] in (
        "spam", "suspicious", "not_spam", "unknown")
    status, body = get(port, "/v1/lookup", json.dumps({"numbers": numbers(5)}).encode())
    assert status == 200 and len(body["results"]) == 5
    assert get(port, "/v1/lookup", b"{not json")[0] == 400
    assert get(port, "/v1/lookup", json.dumps({"numbers": [1, 2]}).encode())[0] == 400
    assert get(port, "/v1/lookup/" + "9" * 65)[0] == 422
    assert get(port, "/nope")[0] == 404


@pytest.mark.slow
def test_reload_under_load_loses_no_request_and_never_goes_back(served, tmp_path: Path):
    path, port, _first = served
    stop_load = threading.Event()
    seen: list[list[int]] = [[] for _ in range(4)]
    failures: list[str] = []
    asked = numbers(3000)[::11]

    def load(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = 0
        while not stop_load.is_set():
            try:
                conn.request("GET", f"/v1/lookup/{asked[i % len(asked)]}")
                resp = conn.getresponse()
                body = json.loads(resp.read())
                if resp.status != 200:
                    failures.append(f"{resp.status} {body}")
                seen[slot].append(body["block"])
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            i += 1
        conn.close()

    threads = [threading.Thread(target=load, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        second, e2 = full(numbers(3200), 20, 2)
        write_atomic(path, second)  # a new full bundle
        _wait_block(port, 20)
        write_atomic(path, b"SLEDGE\x00\x01 truncated")  # refused: old one keeps serving
        time.sleep(0.5)
        assert get(port, "/healthz")[1]["block"] == 20
        write_atomic(path, second)
        third, e3 = full(numbers(3100, start=100), 30, 3)
        root = Header.unpack(third).root
        write_atomic(tmp_path / "deltas" / "0030.delta",
                     encode(Header(DELTA, 31337, 30, 20, 0, "US", SPAM, SNAP, root),
                            delta_entries(e2, e3)))  # a delta lands
        _wait_block(port, 30)
        time.sleep(0.5)
    finally:
        stop_load.set()
        for t in threads:
            t.join()
    assert failures == []
    assert all(s == sorted(s) for s in seen), "a request saw an older bundle after a newer one"
    blocks = {b for s in seen for b in s}
    assert blocks <= {10, 20, 30} and {10, 30} <= blocks
    assert sum(len(s) for s in seen) > 100
    assert path.read_bytes() == third  # the delta was applied onto the file, atomically
    health = get(port, "/healthz")[1]
    assert health["refused"] >= 1 and health["reloads"] >= 2


def _wait_block(port: int, block: int) -> None:
    deadline = time.monotonic() + 30
    while get(port, "/healthz")[1]["block"] != block:
        assert time.monotonic() < deadline, f"sidecar never served block {block}"
        time.sleep(0.05)
