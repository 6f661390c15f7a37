"""`spamledger demo` end to end, as `make demo` runs it (default scale; slow: about four
minutes on an idle machine)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from node._process import pid_alive


@pytest.mark.slow
@pytest.mark.timeout(2700)  # trains eight models (alone, then with peers) at scale 0.8
def test_demo_runs_every_user_story_and_leaves_no_process(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "spamledger._cli", "demo", "--out", str(out)],
        capture_output=True, text=True, timeout=2600,
        env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "All user stories passed." in proc.stdout
    assert "All demo processes stopped." in proc.stdout
    assert "Consortium learning" in proc.stdout
    # Every operator learnt from the three others' approved models, fetched from IPFS.
    assert "Peer models fetched from IPFS and hash-checked: 12 (4 operators)" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("Web console was at http://")
    assert not (out / "demo-services.json").exists()
    assert _processes_mentioning(str(out)) == []


def _processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line names ``text`` (chain, IPFS, API)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and pid_alive(int(entry)):
            found.append(int(entry))
    return found
