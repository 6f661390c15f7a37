"""Starting, stopping, restarting and killing the embedded js-ipfs node."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from node.ipfs import EvidenceStore, IpfsDaemonError, ipfs_status, start_ipfs, stop_ipfs
from node.ipfs._daemon import paths_for
from spamledger._settings import Settings

from .conftest import ipfs_settings


@pytest.fixture
def own_node(tmp_path) -> Iterator[Settings]:
    """Settings of a node of this test alone; stopped by PID whatever the test did."""
    settings = ipfs_settings(tmp_path / "data")
    try:
        yield settings
    finally:
        stop_ipfs(settings)


def _wait_dead(settings: Settings, seconds: float = 10) -> None:
    """Until status says not running (it reaps our own killed child, no zombie left)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not ipfs_status(settings).running:
            return
        time.sleep(0.05)
    raise AssertionError("js-ipfs still alive after SIGKILL")


def test_start_is_idempotent_and_status_reports_it(own_node: Settings) -> None:
    assert not ipfs_status(own_node).running
    info = start_ipfs(own_node)
    again = start_ipfs(own_node)
    assert again.already_running and again.pid == info.pid == ipfs_status(own_node).pid
    status = ipfs_status(own_node)
    assert status.running and status.answering and status.version
    assert info.repo == paths_for(own_node).repo and (info.repo / "config").exists()
    assert stop_ipfs(own_node) is True
    assert stop_ipfs(own_node) is False
    assert not ipfs_status(own_node).running
    assert not paths_for(own_node).pid_file.exists()


@pytest.mark.slow
def test_data_survives_restart_and_kill(own_node: Settings) -> None:
    first = start_ipfs(own_node)
    with EvidenceStore(own_node.ipfs_api, timeout=10) as store:
        cid = store.put_json({"survives": "restart"})
    stop_ipfs(own_node)

    second = start_ipfs(own_node)
    assert second.pid != first.pid and second.peer_id == first.peer_id
    with EvidenceStore(own_node.ipfs_api, timeout=10) as store:
        assert store.get_json(cid) == {"survives": "restart"}
        later = store.put_json({"survives": "kill"})

    os.kill(second.pid, signal.SIGKILL)
    _wait_dead(own_node)
    assert (paths_for(own_node).repo / "repo.lock").exists()  # js-ipfs leaves it behind

    third = start_ipfs(own_node)
    assert third.pid != second.pid
    with EvidenceStore(own_node.ipfs_api, timeout=10) as store:
        assert store.get_json(cid) == {"survives": "restart"}
        assert store.get_json(later) == {"survives": "kill"}


def test_lost_pid_file_does_not_orphan_the_node(own_node: Settings) -> None:
    info = start_ipfs(own_node)
    paths_for(own_node).pid_file.unlink()
    assert ipfs_status(own_node).pid == info.pid
    adopted = start_ipfs(own_node)
    assert adopted.already_running and adopted.pid == info.pid
    assert (paths_for(own_node).repo / "repo.lock").exists()  # the live lock was kept
    paths_for(own_node).pid_file.unlink()
    assert stop_ipfs(own_node) is True
    assert not ipfs_status(own_node).running


def test_non_loopback_api_is_refused(own_node: Settings) -> None:
    remote = own_node.replace(ipfs_api="/ip4/10.1.2.3/tcp/5001/http")
    with pytest.raises(IpfsDaemonError, match="loopback"):
        start_ipfs(remote)


def test_port_held_by_another_node_fails_clearly(own_node: Settings, ipfs_node) -> None:
    clash = own_node.replace(ipfs_api=ipfs_node.api)
    with pytest.raises(IpfsDaemonError, match=r"another IPFS node|exited during start-up"):
        start_ipfs(clash)
    assert not ipfs_status(clash).running
