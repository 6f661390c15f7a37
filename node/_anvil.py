"""The local chain: one Anvil process on loopback, its state persisted under the data dir.

Anvil stands in for the consortium's PoA network here (see ``node/_genesis.py`` for the
production path). ``--state`` reloads the chain at start and ``--state-interval`` dumps it
every N seconds, so a restart, also after ``kill -9``, keeps contracts and history (up to the
last dump).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from node._errors import AnvilError
from node._process import pid_alive, read_pid, stop_pid, wait_until, write_pid

logger = logging.getLogger(__name__)

_REPO_ROOT = Path(__file__).resolve().parents[1]
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def anvil_binary() -> Path:
    """The native Anvil binary from npm (``@foundry-rs/anvil-linux-<arch>``), or from PATH.

    The native binary is started directly, not the npm ``bin.mjs`` wrapper, so the PID we
    record is the chain itself and a signal reaches it.
    """
    arch = _ARCH.get(platform.machine(), platform.machine())
    package = _REPO_ROOT / "node_modules" / "@foundry-rs" / f"anvil-linux-{arch}"
    candidate = package / "bin" / "anvil"
    if candidate.exists():
        return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise AnvilError(f"anvil not found at {candidate} or on PATH; run `make setup`")


@dataclass
class AnvilNode:
    """A managed Anvil process; files live in ``data_dir/chain``."""

    data_dir: Path
    port: int = 8545
    chain_id: int = 31337
    state_interval: int = 1
    host: str = "127.0.0.1"
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def dir(self) -> Path:
        return Path(self.data_dir) / "chain"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def pid_file(self) -> Path:
        return self.dir / "anvil.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "anvil.log"

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid and pid_alive(pid) else None

    def start(self, timeout: float = 30.0) -> int:
        """Start Anvil (no-op if ours is running); returns its PID once the RPC answers."""
        running = self.pid()
        if running:
            return running
        self.dir.mkdir(parents=True, exist_ok=True)
        self._check_port_free()
        self._guard_state_file()
        cmd = [str(anvil_binary()), "--host", self.host, "--port", str(self.port),
               "--chain-id", str(self.chain_id), "--state", str(self.state_file),
               "--state-interval", str(self.state_interval), "--accounts", "1"]
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self._proc = proc
        write_pid(self.pid_file, proc.pid)
        if not wait_until(lambda: self._answers() or proc.poll() is not None, timeout):
            self.kill()
            raise AnvilError(f"anvil did not answer on {self.rpc_url} within {timeout:.0f} s; "
                             f"see {self.log_file}")
        if proc.poll() is not None:
            raise AnvilError(f"anvil exited with code {proc.returncode}; see {self.log_file}")
        logger.info("anvil pid %d on %s (state %s)", proc.pid, self.rpc_url, self.state_file)
        return proc.pid

    def _check_port_free(self) -> None:
        """Refuse to start when something else holds the port: its answers would pass for
        ours (another data directory's chain, say) while our Anvil exits unseen."""
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
            try:
                sock.bind((self.host, self.port))
            except OSError as exc:
                raise AnvilError(
                    f"cannot start anvil: {self.host}:{self.port} is in use by another "
                    f"process ({exc.strerror}); stop it or choose another --anvil-port"
                ) from exc

    def _guard_state_file(self) -> None:
        """Keep a copy of the last good state: a kill during a dump can truncate the file."""
        backup = self.state_file.with_suffix(".json.bak")
        if not self.state_file.exists():
            return
        try:
            json.loads(self.state_file.read_bytes())
        except ValueError as exc:
            if backup.exists():
                logger.warning("state file %s is damaged; restoring %s", self.state_file, backup)
                shutil.copyfile(backup, self.state_file)
            else:
                raise AnvilError(
                    f"chain state {self.state_file} is damaged and has no backup") from exc
            return
        shutil.copyfile(self.state_file, backup)

    def _answers(self) -> bool:
        import urllib.request

        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                           "params": []}).encode()
        req = urllib.request.Request(self.rpc_url, data=body,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self, timeout: float = 15.0) -> bool:
        """SIGTERM (Anvil dumps its state on the way out), then SIGKILL after ``timeout``."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        stop_pid(pid, timeout)
        self._reap()
        self.pid_file.unlink(missing_ok=True)
        return True

    def _reap(self) -> None:
        """Collect our child's exit status (no zombie, no ResourceWarning)."""
        if self._proc is not None:
            self._proc.wait(timeout=10)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would; state survives up to the last interval dump."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), 10)
        self._reap()
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> dict[str, object]:
        pid = self.pid()
        return {"running": pid is not None, "pid": pid, "rpc_url": self.rpc_url,
                "answers": bool(pid) and self._answers(), "state_file": str(self.state_file)}

    def wait_for_dump(self) -> None:
        """Sleep past one state interval, so the last transactions are on disk."""
        time.sleep(self.state_interval + 0.5)
