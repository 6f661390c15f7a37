import subprocess
import sys

import pytest

from spamledger._cli import main


def test_unknown_subcommand_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_unknown_option_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["node", "status", "--no-such-flag"])
    assert info.value.code == 2


@pytest.mark.parametrize("group", ["node", "deploy", "gov", "oracle", "api", "audit", "demo"])
def test_every_group_has_help(group, capsys):
    with pytest.raises(SystemExit) as info:
        main([group, "--help"])
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_console_script_runs_as_a_process():
    proc = subprocess.run([sys.executable, "-m", "spamledger._cli", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "node" in proc.stdout and "demo" in proc.stdout


def test_unreachable_chain_is_one_line_naming_the_url(capsys, tmp_path):
    code = main(["--data-dir", str(tmp_path), "deploy", "--rpc-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert "http://127.0.0.1:9" in err and "spamledger node start" in err
