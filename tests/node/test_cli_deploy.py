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


def test_node_migrate_prints_what_the_chain_holds_and_a_rerun_changes_nothing(
        anvil, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPAMLEDGER_KEYSTORE_PASSWORD", "cli-test-password")
    monkeypatch.setattr("node._keys.DEFAULT_SCRYPT_N", 1 << 10)
    base = ["--data-dir", str(tmp_path)]
    rpc = ["--rpc-url", anvil.rpc_url]
    assert main([*base, "deploy", *rpc]) == 0
    v1 = json.loads(capsys.readouterr().out)["contracts"]
    operator = Account.create().address
    assert main([*base, "gov", *rpc, "admit", operator, "--country", "br",
                 "--weight", "2000"]) == 0
    capsys.readouterr()
    assert main([*base, "node", "migrate", *rpc]) == 0
    shown = json.loads(capsys.readouterr().out)
    archive = shown["legacy_archive"]
    assert archive["sources"]["Consensus"] == v1["Consensus"]["address"]
    assert archive["leafCount"] > 0 and archive["root"] != "0x" + "00" * 32
    assert shown["contracts"]["Consensus"] != v1["Consensus"]["address"]
    assert shown["v1"]["active_validators"] == 0
    assert shown["v1"]["registry_writers"] == {"Consensus": False, "Dispute": False,
                                               "ReportConsensus": False}
    assert main([*base, "node", "migrate", *rpc]) == 0
    assert json.loads(capsys.readouterr().out) == shown
    assert main([*base, "gov", *rpc, "show"]) == 0
    validators = json.loads(capsys.readouterr().out)["validators"]
    assert [(v["address"], v["country"], v["active"]) for v in validators] == \
        [(operator, "BR", True)]
