import json

import rlp
from eth_account import Account

from node import besu_qbft_genesis, decode_qbft_extra_data, qbft_extra_data
from spamledger._cli import main


def test_extra_data_has_the_qbft_field_layout():
    # [32-byte vanity, [validators], vote (empty), round (4 bytes), seals (empty list)]
    addr = "0xc2ab482b506de561668e07f04547232a72897daf"
    fields = rlp.decode(bytes.fromhex(qbft_extra_data([addr])[2:]))
    assert fields[0] == b"\x00" * 32
    assert fields[1] == [bytes.fromhex(addr[2:])]
    assert fields[2] == b""
    assert fields[3] == b"\x00" * 4
    assert fields[4] == []


def test_genesis_decodes_to_the_validator_set():
    validators = [Account.create().address for _ in range(4)]
    genesis = besu_qbft_genesis(2025, validators)
    assert sorted(decode_qbft_extra_data(genesis["extraData"])) == sorted(validators)
    assert genesis["config"]["qbft"]["blockperiodseconds"] > 0
    assert genesis["config"]["chainId"] == 2025


def test_cli_writes_genesis_from_keystores(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPAMLEDGER_KEYSTORE_PASSWORD", "test-password")
    monkeypatch.setattr("node._keys.DEFAULT_SCRYPT_N", 1 << 10)
    assert main(["--data-dir", str(tmp_path), "node", "keys", "val-us", "val-in"]) == 0
    listed = dict(line.split("\t") for line in capsys.readouterr().out.split("\n") if line)
    out = tmp_path / "genesis.json"
    assert main(["--data-dir", str(tmp_path), "node", "genesis",
                 "--validators", "val-us", "val-in", "--out", str(out)]) == 0
    genesis = json.loads(out.read_text())
    decoded = {a.lower() for a in decode_qbft_extra_data(genesis["extraData"])}
    assert decoded == {listed["val-us"].lower(), listed["val-in"].lower()}
