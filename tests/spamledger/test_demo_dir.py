"""The demo honours the one data directory: it lives in ``<data-dir>/demo``."""

from __future__ import annotations

from pathlib import Path

import pytest

from spamledger._cli import main


def test_demo_stop_looks_under_the_data_dir_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "demo", "--stop"]) == 0
    out = capsys.readouterr().out
    assert "nothing was running" in out and str(data / "demo") in out
    assert not (elsewhere / "demo-out").exists()


def test_demo_stop_with_out_uses_that_folder(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), "--stop"]) == 0
    assert str(tmp_path / "d") in capsys.readouterr().out
