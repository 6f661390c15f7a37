"""The API as it really runs: ``spamledger api serve`` in a child process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.api.conftest import TEST_SECRET
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``spamledger ARGS`` against ``data_dir``; its stdout."""
    out = subprocess.run([sys.executable, "-m", "spamledger._cli", *args], cwd=ROOT,
                         env=server_env(data_dir, env), capture_output=True, text=True,
                         timeout=120, check=True)
    return out.stdout.strip()


def server_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPAMLEDGER_")}
    env.update({"SPAMLEDGER_DATA_DIR": str(data_dir),
                "SPAMLEDGER_CONSORTIUM_SECRET": TEST_SECRET,
                "SPAMLEDGER_RPC_URL": "http://127.0.0.1:9",
                "SPAMLEDGER_IPFS_API": "/ip4/127.0.0.1/tcp/9/http",
                "SPAMLEDGER_LOG_LEVEL": "WARNING"})
    env.update(extra or {})
    return env


@contextmanager
def served(data_dir: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 120.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``spamledger api serve ARGS`` on a free port: ``(base URL, process)`` once it answers;
    SIGTERM (then SIGKILL) on exit."""
    port = free_port()
    log = open(data_dir / "serve.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "spamledger._cli", "api", "serve",
                             "--api-port", str(port), *args], cwd=ROOT,
                            env=server_env(data_dir, env), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_alive(base, proc, timeout)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()


def wait_alive(base: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"api serve exited with {proc.returncode}")
        try:
            if httpx.get(base + "/livez", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("api serve did not answer /livez")


def raw_request(base: str, head: bytes, body_parts: Iterable[bytes], pause: float = 0.0,
                read_timeout: float = 30.0) -> tuple[int, bytes, float]:
    """Send ``head`` and ``body_parts`` on a raw socket (pausing ``pause`` s after the
    parts); ``(status, response bytes, seconds until the response)``."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as sock:
        began = time.monotonic()
        sock.sendall(head)
        for part in body_parts:
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed before taking the rest
        if pause:
            time.sleep(pause)
        data = b""
        try:
            while b"\r\n\r\n" not in data or not _complete(data):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        took = time.monotonic() - began
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data, took


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False
