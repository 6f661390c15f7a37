"""`node start` on a port another chain holds fails with one line instead of reporting the
other chain as its own."""

from __future__ import annotations

from spamledger._cli import main


def test_node_start_on_a_busy_port_fails_and_names_the_port(anvil, tmp_path, capsys):
    code = main(["--data-dir", str(tmp_path), "node", "start", "--no-ipfs",
                 "--anvil-port", str(anvil.port)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"127.0.0.1:{anvil.port} is in use" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "chain" / "anvil.pid").exists()
