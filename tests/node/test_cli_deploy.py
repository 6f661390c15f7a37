"""`spamledger deploy` and `spamledger gov` against a real Anvil, in process."""

from __future__ import annotations

import json

from eth_account import Account

from spamledger._cli import main


def test_deploy_then_govern_from_the_cli(anvil, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPAMLEDGER_KEYSTORE_PASSWORD", "cli-test-password")
    monkeypatch.setattr("node._keys.DEFAULT_SCRYPT_N", 1 << 10)
    base = ["--data-dir", str(tmp_path)]
    rpc = ["--rpc-url", anvil.rpc_url]
    assert main([*base, "deploy", *rpc]) == 0
    record = json.loads(capsys.readouterr().out)
    assert {"ValidatorSet", "Consensus", "Dispute"} <= set(record["contracts"])

    operator = Account.create().address
    assert main([*base, "gov", *rpc, "admit", operator, "--country", "br",
                 "--weight", "2000"]) == 0
    assert main([*base, "gov", *rpc, "set", "quorum-bps", "7000"]) == 0
    capsys.readouterr()
    assert main([*base, "gov", *rpc, "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["validators"] == [{"address": operator, "country": "BR", "weight": 2000,
                                    "active": True, "since": shown["validators"][0]["since"],
                                    "seat": 0}]


def test_revert_is_one_line_naming_the_custom_error(anvil, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPAMLEDGER_KEYSTORE_PASSWORD", "cli-test-password")
    monkeypatch.setattr("node._keys.DEFAULT_SCRYPT_N", 1 << 10)
    base = ["--data-dir", str(tmp_path)]
    rpc = ["--rpc-url", anvil.rpc_url]
    assert main([*base, "deploy", *rpc]) == 0
    capsys.readouterr()
    code = main([*base, "gov", *rpc, "admit", Account.create().address, "--country", "USA",
                 "--weight", "5"])
    err = capsys.readouterr().err
    assert code == 1
    assert "country" in err.lower()
    code = main([*base, "gov", *rpc, "set", "quorum-bps", "20000"])
    assert code == 1
    assert "InvalidParameter" in capsys.readouterr().err
