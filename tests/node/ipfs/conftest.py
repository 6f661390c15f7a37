"""A real js-ipfs node for the evidence-store tests, and a loopback proxy that tampers.

The node runs on free loopback ports in a temp data dir and is stopped by PID at the end
of the session.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from node.ipfs import EvidenceStore, IpfsInfo, start_ipfs, stop_ipfs
from spamledger._settings import Settings, load_settings


def free_port() -> int:
    """A free loopback TCP port (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ipfs_settings(data_dir: Path) -> Settings:
    """Settings for a node in ``data_dir`` on fresh loopback ports."""
    return load_settings(overrides={
        "data_dir": data_dir,
        "ipfs_api": f"/ip4/127.0.0.1/tcp/{free_port()}/http",
        "ipfs_gateway_port": free_port(),
    })


@dataclass
class IpfsNode:
    settings: Settings
    info: IpfsInfo

    @property
    def api(self) -> str:
        return str(self.settings.ipfs_api)

    def store(self, **kwargs: object) -> EvidenceStore:
        kwargs.setdefault("timeout", 10.0)
        return EvidenceStore(self.api, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def ipfs_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsNode]:
    """The embedded js-ipfs node, started once per session and stopped by PID."""
    settings = ipfs_settings(tmp_path_factory.mktemp("ipfs-session"))
    info = start_ipfs(settings)
    try:
        yield IpfsNode(settings, info)
    finally:
        stop_ipfs(settings)


@pytest.fixture
def store(ipfs_node: IpfsNode, tmp_path: Path) -> Iterator[EvidenceStore]:
    """A store on the session node with its own erasure log."""
    with ipfs_node.store(erasure_log=tmp_path / "erasures.jsonl") as evidence:
        yield evidence


class _TamperingProxy(BaseHTTPRequestHandler):
    """Forwards every API call to the real node; flips one byte of every ``cat`` body
    (``tamper``) and/or answers ``delay`` seconds late (a slow node)."""

    upstream_port = 0
    tamper = True
    delay = 0.0

    def do_POST(self) -> None:
        body = self._read_body()
        if self.delay:
            time.sleep(self.delay)
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in {"host", "content-length", "transfer-encoding"}}
        upstream.request("POST", self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        if self.tamper and self.path.startswith("/api/v0/cat") and data:
            data = bytes([data[0] ^ 0x01]) + data[1:]
        # The client may have given up waiting (the slow proxy's point).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(answer, data)

    def _answer(self, answer: http.client.HTTPResponse, data: bytes) -> None:
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in {"content-length", "transfer-encoding", "connection",
                                   "trailer", "x-stream-error"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = bytearray()
        while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline().strip():
            pass
        return bytes(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output should show failures only."""


@pytest.fixture
def tampering_proxy(ipfs_node: IpfsNode) -> Iterator[str]:
    """API multiaddr of a loopback proxy in front of the node that alters ``cat`` bytes."""
    yield from _proxy(ipfs_node, tamper=True, delay=0.0)


@pytest.fixture
def slow_proxy(ipfs_node: IpfsNode) -> Iterator[str]:
    """API multiaddr of a loopback proxy that answers every call 3 s late, unaltered."""
    yield from _proxy(ipfs_node, tamper=False, delay=3.0)


def _proxy(ipfs_node: IpfsNode, tamper: bool, delay: float) -> Iterator[str]:
    handler = type("Handler", (_TamperingProxy,),
                   {"upstream_port": int(ipfs_node.api.split("/")[4]), "tamper": tamper,
                    "delay": delay})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"/ip4/127.0.0.1/tcp/{server.server_address[1]}/http"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
