"""Run the embedded IPFS node: js-ipfs from npm, offline, loopback only.

Layout under ``settings.data_dir / "ipfs"``::

    repo/          the js-ipfs repository (IPFS_PATH); created atomically on first start
    ipfs.pid       JSON {"pid", "api", "gateway"}; written to a temp file and renamed
    daemon.log     the node's stdout and stderr
    erasures.jsonl the evidence store's erasure log

The node has no bootstrap peers, no swarm listeners, no MDNS, no preload and runs with
``--offline``; API and gateway listen on 127.0.0.1 only. js-ipfs leaves its ``repo.lock``
directory behind when killed: it is removed only when the PID that held it is dead.

Example::

    info = start_ipfs(settings)     # idempotent: returns the running node if there is one
    ipfs_status(settings).answering
    stop_ipfs(settings)             # SIGTERM, then SIGKILL after a bound
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node._process import pid_alive
from node.ipfs._errors import IpfsDaemonError

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
JSIPFS_CLI = PROJECT_ROOT / "node_modules" / "ipfs" / "src" / "cli.js"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LOOPBACK = "127.0.0.1"

# Loopback only: never route the probe through an HTTP proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Popen objects of nodes this process started: kept so they are reaped (no zombies, no
# ResourceWarning from a collected Popen) and so liveness of our own children is exact.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class IpfsPaths:
    """Where the node keeps its files."""

    root: Path

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def pid_file(self) -> Path:
        return self.root / "ipfs.pid"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"


@dataclass(frozen=True)
class IpfsInfo:
    """A running node: PID, API multiaddr, gateway URL, repo, peer id."""

    pid: int
    api: str
    gateway: str
    repo: Path
    peer_id: str
    already_running: bool = False


@dataclass(frozen=True)
class IpfsStatus:
    """What ``spamledger node status`` reports about IPFS."""

    running: bool
    answering: bool
    pid: int | None
    api: str
    repo: Path
    version: str | None = None


def paths_for(settings: Any) -> IpfsPaths:
    """The node's file layout under ``settings.data_dir``."""
    return IpfsPaths(Path(settings.data_dir).resolve() / "ipfs")


def loopback_port(api_multiaddr: str) -> int:
    """Port of ``/ip4/127.0.0.1/tcp/PORT[/http]``; refuses anything not on loopback."""
    parts = api_multiaddr.strip("/").split("/")
    if len(parts) < 4 or parts[0] != "ip4" or parts[2] != "tcp" or not parts[3].isdigit():
        raise IpfsDaemonError(f"ipfs_api {api_multiaddr!r} is not /ip4/127.0.0.1/tcp/PORT/http")
    if parts[1] != LOOPBACK:
        raise IpfsDaemonError(f"ipfs_api {api_multiaddr!r} is not on {LOOPBACK}: the embedded "
                              f"node listens on loopback only (a remote Kubo is not started)")
    return int(parts[3])


# -- process bookkeeping --------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    return pid_alive(pid)


def _is_our_node(pid: int, paths: IpfsPaths) -> bool:
    """Whether ``pid`` is alive and is a js-ipfs process on this repo (PIDs get reused)."""
    if not _pid_alive(pid):
        return False
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"IPFS_PATH={paths.repo}".encode() in environ


def _read_pid(paths: IpfsPaths) -> int | None:
    try:
        return int(json.loads(paths.pid_file.read_text())["pid"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("unreadable IPFS PID file %s: ignored", paths.pid_file)
        return None


def _find_node(paths: IpfsPaths) -> int | None:
    """PID of the node on this repo: from the PID file, else by scanning ``/proc``.

    The scan covers a lost or stale PID file while the node still runs: removing its
    repo lock then would let a second node open the same repository.
    """
    pid = _read_pid(paths)
    if pid is not None and _is_our_node(pid, paths):
        return pid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() \
                and _is_our_node(int(entry.name), paths):
            logger.warning("IPFS node on %s runs as pid %s without a valid PID file",
                           paths.repo, entry.name)
            return int(entry.name)
    return None


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _exclusive(paths: IpfsPaths) -> Iterator[None]:
    """Serialize start/stop between processes (two `node start` at once)."""
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (paths.root / "control.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _clear_stale(paths: IpfsPaths) -> None:
    """Remove what a dead node left behind: PID file, repo lock, api file."""
    for leftover in (paths.pid_file, paths.repo / "api"):
        leftover.unlink(missing_ok=True)
    lock = paths.repo / "repo.lock"
    if lock.exists():
        logger.warning("removing stale js-ipfs repo lock %s (its process is dead)", lock)
        shutil.rmtree(lock, ignore_errors=True)


# -- repository -----------------------------------------------------------------------------


def _node_config(settings: Any) -> dict[str, Any]:
    """The parts of the js-ipfs config we insist on (merged into the repo's config)."""
    api_port = loopback_port(settings.ipfs_api)
    return {
        "Addresses": {
            "API": f"/ip4/{LOOPBACK}/tcp/{api_port}",
            "Gateway": f"/ip4/{LOOPBACK}/tcp/{int(settings.ipfs_gateway_port)}",
            "RPC": "", "Swarm": [], "Announce": [], "NoAnnounce": [], "Delegates": [],
        },
        "Bootstrap": [],
        "Discovery": {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}},
    }


def _node_binary(settings: Any) -> str:
    wanted = getattr(settings, "ipfs_node_bin", "node")
    found = shutil.which(wanted)
    if not found:
        raise IpfsDaemonError(f"Node.js executable {wanted!r} not found (ipfs_node_bin)")
    if not JSIPFS_CLI.exists():
        raise IpfsDaemonError(f"js-ipfs is not installed ({JSIPFS_CLI} missing): run `npm ci`")
    return found


def _run_init(node_bin: str, repo: Path, config_file: Path) -> None:
    env = {**os.environ, "IPFS_PATH": str(repo)}
    try:
        done = subprocess.run(
            [node_bin, str(JSIPFS_CLI), "init", "--emptyRepo", "--defaultConfig",
             str(config_file)], env=env, capture_output=True, timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise IpfsDaemonError(f"js-ipfs init did not finish in {START_TIMEOUT:.0f}s") from exc
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise IpfsDaemonError(f"js-ipfs init failed ({done.returncode}): {' | '.join(tail)}")


def ensure_repo(settings: Any, node_bin: str) -> IpfsPaths:
    """Create the repository once (in a temp dir, then renamed), then apply our config."""
    paths = paths_for(settings)
    wanted = _node_config(settings)
    if not (paths.repo / "config").exists():
        staging = paths.root / f".repo-init-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        config_file = paths.root / f".init-config-{os.getpid()}.json"
        _write_json_atomic(config_file, wanted)
        try:
            _run_init(node_bin, staging / "repo", config_file)
            shutil.rmtree(paths.repo, ignore_errors=True)
            os.replace(staging / "repo", paths.repo)
        finally:
            config_file.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("initialized IPFS repository %s", paths.repo)
    _apply_config(paths.repo / "config", wanted)
    # The config holds the node's private key.
    os.chmod(paths.repo / "config", 0o600)
    return paths


def _apply_config(config_path: Path, wanted: dict[str, Any]) -> None:
    """Merge ``wanted`` into the repo config (ports may change between starts)."""
    config = json.loads(config_path.read_text())
    merged = {**config, **wanted,
              "Addresses": {**config.get("Addresses", {}), **wanted["Addresses"]}}
    if merged != config:
        _write_json_atomic(config_path, merged)


def _peer_id(paths: IpfsPaths) -> str:
    return str(json.loads((paths.repo / "config").read_text())["Identity"]["PeerID"])


# -- start / stop / status ------------------------------------------------------------------


def _probe(api_multiaddr: str, command: str = "id", timeout: float = 2.0) -> dict[str, Any]:
    """POST ``/api/v0/<command>`` on the loopback API; raises OSError when it fails."""
    url = f"http://{LOOPBACK}:{loopback_port(api_multiaddr)}/api/v0/{command}"
    request = urllib.request.Request(url, method="POST", data=b"")
    with _NO_PROXY.open(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def _answering_peer(api_multiaddr: str) -> str | None:
    try:
        return str(_probe(api_multiaddr)["ID"])
    except (OSError, ValueError, KeyError):
        return None


def _tail(log: Path, lines: int = 4) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(pid: int, settings: Any, paths: IpfsPaths, timeout: float) -> str:
    """Wait until the API answers with this repo's peer id; bounded by ``timeout``."""
    peer = _peer_id(paths)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            raise IpfsDaemonError(f"js-ipfs exited during start-up: {_tail(paths.log)} "
                                  f"(log {paths.log})")
        answered = _answering_peer(settings.ipfs_api)
        if answered == peer:
            return peer
        if answered is not None:
            raise IpfsDaemonError(f"another IPFS node ({answered}) already answers on "
                                  f"{settings.ipfs_api}: choose another ipfs_api port")
        time.sleep(0.2)
    raise IpfsDaemonError(f"js-ipfs did not answer on {settings.ipfs_api} within "
                          f"{timeout:.0f}s (log {paths.log})")


def _spawn(node_bin: str, paths: IpfsPaths) -> int:
    env = {**os.environ, "IPFS_PATH": str(paths.repo)}
    with paths.log.open("ab") as log:
        child = subprocess.Popen(
            [node_bin, str(JSIPFS_CLI), "daemon", "--offline", "--enable-preload=false"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=paths.root, start_new_session=True)
    _CHILDREN[child.pid] = child
    return child.pid


def _info(settings: Any, paths: IpfsPaths, pid: int, peer: str, running: bool) -> IpfsInfo:
    gateway = f"http://{LOOPBACK}:{int(settings.ipfs_gateway_port)}"
    return IpfsInfo(pid, settings.ipfs_api, gateway, paths.repo, peer, running)


def _write_pid_file(paths: IpfsPaths, pid: int, settings: Any) -> None:
    _write_json_atomic(paths.pid_file, {"pid": pid, "api": settings.ipfs_api,
                                        "gateway_port": int(settings.ipfs_gateway_port)})


def start_ipfs(settings: Any, timeout: float = START_TIMEOUT) -> IpfsInfo:
    """Start the embedded node (or return the one already running on this data dir).

    Raises :class:`IpfsDaemonError` naming the cause (port taken, js-ipfs missing, ...).
    """
    paths = paths_for(settings)
    with _exclusive(paths):
        pid = _find_node(paths)
        if pid is not None:
            peer = _wait_ready(pid, settings, paths, timeout)
            _write_pid_file(paths, pid, settings)
            return _info(settings, paths, pid, peer, running=True)
        _clear_stale(paths)
        node_bin = _node_binary(settings)
        ensure_repo(settings, node_bin)
        pid = _spawn(node_bin, paths)
        _write_pid_file(paths, pid, settings)
        try:
            peer = _wait_ready(pid, settings, paths, timeout)
        except IpfsDaemonError:
            _terminate(pid, paths)
            raise
    logger.info("IPFS node %s started (pid %d, API %s)", peer, pid, settings.ipfs_api)
    return _info(settings, paths, pid, peer, running=False)


def _terminate(pid: int, paths: IpfsPaths, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; leaves no stale files behind."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _pid_alive(pid):
            break
    if _pid_alive(pid):
        raise IpfsDaemonError(f"js-ipfs (pid {pid}) survived SIGKILL")
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait()
    _clear_stale(paths)


def stop_ipfs(settings: Any, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the embedded node; returns False if it was not running."""
    paths = paths_for(settings)
    with _exclusive(paths):
        pid = _find_node(paths)
        if pid is None:
            if paths.pid_file.exists():
                _clear_stale(paths)
            return False
        _terminate(pid, paths, timeout)
    logger.info("IPFS node stopped (pid %d)", pid)
    return True


def ipfs_status(settings: Any) -> IpfsStatus:
    """Whether the embedded node runs (PID alive) and answers on its API."""
    paths = paths_for(settings)
    pid = _find_node(paths)
    running = pid is not None
    version = None
    if running:
        try:
            version = str(_probe(settings.ipfs_api, "version")["Version"])
        except (OSError, ValueError, KeyError):
            version = None
    return IpfsStatus(running, version is not None, pid if running else None,
                      settings.ipfs_api, paths.repo, version)
