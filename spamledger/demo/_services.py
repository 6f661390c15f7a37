"""The demo's processes: the chain, the IPFS node and the API, each ended by PID.

Ports are the defaults when free, else ones the OS picks, so a demo never collides with a
developer's own node.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from node import AnvilNode
from node._process import pid_alive, stop_pid, wait_until
from spamledger._settings import Settings

logger = logging.getLogger(__name__)


def port_or_free(preferred: int) -> int:
    """``preferred`` if nothing listens on it on loopback, else a free port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            pass
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Services:
    """What the demo started; :meth:`stop` ends all of it."""

    settings: Settings
    anvil: AnvilNode | None = None
    ipfs_started: bool = False
    api_proc: subprocess.Popen[bytes] | None = None
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return Path(self.settings.data_dir) / "demo-services.json"

    def start_chain_and_ipfs(self) -> None:
        from node.ipfs import start_ipfs

        s = self.settings
        self.anvil = AnvilNode(s.data_dir, port=s.anvil_port, chain_id=s.chain_id,
                               state_interval=s.state_interval)
        self.pids["anvil"] = self.anvil.start()
        info = start_ipfs(s)
        self.ipfs_started = True
        self.pids["ipfs"] = info.pid
        self._save()

    def start_api(self, env: dict[str, str], timeout: float = 60.0) -> str:
        """``spamledger api serve`` as a child process; returns its base URL once healthy."""
        s = self.settings
        log = open(Path(s.data_dir) / "api.log", "ab")  # noqa: SIM115 - lives with the child
        cmd = [sys.executable, "-m", "spamledger._cli", "--data-dir", str(s.data_dir),
               "api", "serve", "--api-port", str(s.api_port), "--rpc-url", s.rpc_url,
               "--ipfs-api", s.ipfs_api]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, **env},
                                start_new_session=True)
        self.api_proc = proc
        self.pids["api"] = proc.pid
        self._save()
        url = f"http://127.0.0.1:{s.api_port}"
        if not wait_until(lambda: _healthy(url) or proc.poll() is not None, timeout,
                          step=0.2) or proc.poll() is not None:
            raise RuntimeError(f"the API did not start; see {Path(s.data_dir) / 'api.log'}")
        return url

    def stop(self) -> None:
        """End the API, IPFS and the chain (in that order), whatever happened before."""
        if self.api_proc is not None and self.api_proc.poll() is None:
            stop_pid(self.api_proc.pid, 10)
            self.api_proc.wait(timeout=10)
        if self.ipfs_started:
            from node.ipfs import stop_ipfs

            stop_ipfs(self.settings)
        if self.anvil is not None:
            self.anvil.stop()
        self.state_file.unlink(missing_ok=True)

    def _save(self) -> None:
        self.state_file.write_text(json.dumps(self.pids))


def stop_recorded(settings: Settings) -> list[str]:
    """Stop what a ``--keep`` demo left running (from its state file)."""
    from node.ipfs import stop_ipfs

    path = Path(settings.data_dir) / "demo-services.json"
    stopped = []
    pids: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if pids.get("api") and pid_alive(int(pids["api"])):
        stop_pid(int(pids["api"]), 10)
        stopped.append("api")
    if stop_ipfs(settings):
        stopped.append("ipfs")
    if AnvilNode(settings.data_dir, port=settings.anvil_port).stop():
        stopped.append("chain")
    path.unlink(missing_ok=True)
    return stopped


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def wait_for(predicate: Any, timeout: float, what: str, step: float = 0.5) -> None:
    if not wait_until(predicate, timeout, step):
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def elapsed(t0: float) -> str:
    return f"{time.perf_counter() - t0:.1f} s"
