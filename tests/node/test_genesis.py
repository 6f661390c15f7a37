import json

import pytest
import rlp
from eth_account import Account

from node import besu_qbft_genesis, decode_qbft_extra_data, qbft_extra_data
from node._genesis import (
    QbftExtraData,
    QbftExtraDataError,
    QbftVote,
    encode_qbft_extra_data,
    parse_qbft_extra_data,
)
from spamledger._cli import main

# Besu's QBFT documentation (private-networks/how-to/configure/consensus/qbft, "Block header
# validator selection" genesis): four validators, no vote, round 0, no seals.
BESU_DOCS_VALIDATORS = ["0x64a702e6263b7297a96638cac6ae65e6541f4169",
                        "0x3923390ad55e90c237593b3b0e401f3b08a03185",
                        "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692",
                        "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78"]
BESU_DOCS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e626"
    "3b7297a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f4"
    "33e5b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78c080c0")

# Besu's QbftExtraDataCodecTest.RAW_HEX_ENCODING_STRING: vanity 0x01..0x20, validators 0x..01
# and 0x..02, an add vote for 0x..01, round 0xFEDCBA, seals (r=1, s=10, v=0), (r=10, s=1, v=0).
BESU_CODEC_TEST_HEX = (
    "0xf8f0a00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20ea940000000000000000"
    "000000000000000000000001940000000000000000000000000000000000000002d7940000000000000000"
    "00000000000000000000000181ff83fedcbaf886b841000000000000000000000000000000000000000000"
    "0000000000000000000001000000000000000000000000000000000000000000000000000000000000000a"
    "00b841000000000000000000000000000000000000000000000000000000000000000a0000000000000000"
    "00000000000000000000000000000000000000000000000100")


def _seal(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


BESU_CODEC_TEST_DATA = QbftExtraData(
    validators=["0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02"],
    vanity=bytes(range(1, 33)), vote=QbftVote("0x" + "00" * 19 + "01", add=True),
    round=0xFEDCBA, seals=[_seal(1, 10, 0), _seal(10, 1, 0)])


def test_genesis_encoding_matches_besus_documented_qbft_extra_data():
    data = QbftExtraData(validators=BESU_DOCS_VALIDATORS)
    assert "0x" + encode_qbft_extra_data(data).hex() == BESU_DOCS_EXTRA_DATA


def test_decoding_besus_documented_genesis_gives_its_validators_and_no_vote():
    data = parse_qbft_extra_data(BESU_DOCS_EXTRA_DATA)
    assert [a.lower() for a in data.validators] == BESU_DOCS_VALIDATORS
    assert (data.vote, data.round, data.seals, data.vanity) == (None, 0, [], b"\x00" * 32)


def test_encoding_matches_besus_codec_test_vector():
    assert "0x" + encode_qbft_extra_data(BESU_CODEC_TEST_DATA).hex() == BESU_CODEC_TEST_HEX


def test_decoding_besus_codec_test_vector_gives_every_field():
    data = parse_qbft_extra_data(BESU_CODEC_TEST_HEX)
    assert data.vanity == BESU_CODEC_TEST_DATA.vanity
    assert [a.lower() for a in data.validators] == BESU_CODEC_TEST_DATA.validators
    assert data.vote == QbftVote(BESU_CODEC_TEST_DATA.vote.recipient, add=True)
    assert data.round == 0xFEDCBA
    assert data.seals == BESU_CODEC_TEST_DATA.seals


def test_genesis_extra_data_ends_with_empty_vote_list_round_zero_and_no_seals():
    addr = "0xc2ab482b506de561668e07f04547232a72897daf"
    extra = qbft_extra_data([addr])
    assert extra.endswith("c080c0")
    fields = rlp.decode(bytes.fromhex(extra[2:]))
    assert fields == [b"\x00" * 32, [bytes.fromhex(addr[2:])], [], b"", []]


def test_ibft2_layout_is_refused_as_qbft():
    """The layout this module wrote before: empty byte string as vote, 4-byte round."""
    addr = bytes.fromhex("c2ab482b506de561668e07f04547232a72897daf")
    ibft2 = rlp.encode([b"\x00" * 32, [addr], b"", b"\x00" * 4, []])
    with pytest.raises(QbftExtraDataError):
        parse_qbft_extra_data(ibft2)


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
