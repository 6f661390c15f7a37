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

# Known-good encodings from Besu itself (hyperledger/besu, read at commit
# 3fd224e2e49ddd68aa61755525593a0a60c65507, and its documentation), not from this module.
#
# Besu's QBFT documentation, https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft
# ("Sample QBFT genesis file"): four validators, no vote, round 0, no seals.
BESU_DOCS_VALIDATORS = ["0x64a702e6263b7297a96638cac6ae65e6541f4169",
                        "0x3923390ad55e90c237593b3b0e401f3b08a03185",
                        "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692",
                        "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78"]
BESU_DOCS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e626"
    "3b7297a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f4"
    "33e5b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78c080c0")

# Same page ("Extra data"): `besu rlp encode --type=QBFT_EXTRA_DATA` of one validator.
BESU_DOCS_ONE_VALIDATOR = "0x9811ebc35d7b06b3fa8dc5809a1f9c52751e1deb"
BESU_DOCS_ONE_VALIDATOR_EXTRA_DATA = (
    "0xf83aa00000000000000000000000000000000000000000000000000000000000000000d5949811ebc35d7b06b3fa8d"
    "c5809a1f9c52751e1debc080c0")

# Besu's `rlp encode` / `rlp decode` CLI tests,
# https://github.com/hyperledger/besu/blob/main/app/src/test/java/org/hyperledger/besu/cli/subcommands/rlp/RLPSubCommandTest.java
# canEncodeToQbftExtraData: the validators in the order given, QBFT genesis layout.
BESU_CLI_QBFT_VALIDATORS = ["0xbe068f726a13c8d46c44be6ce9d275600e1735a4",
                            "0x5ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193"]
BESU_CLI_QBFT_EXTRA_DATA = (
    "0xf84fa00000000000000000000000000000000000000000000000000000000000000000ea94be068f726a13c8d"
    "46c44be6ce9d275600e1735a4945ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193c080c0")
# decodeQBFTWithoutPathMustWriteToStandardOutput: decoded with --type QBFT_EXTRA_DATA.
BESU_CLI_QBFT_DECODE_VALIDATORS = ["0x241f804efb46f71acaa5be94a62f7798e89c3724",
                                   "0x6cdf72da457453063ea92e7fa5ac30afbcec28cd"]
BESU_CLI_QBFT_DECODE_EXTRA_DATA = (
    "0xf84fa00000000000000000000000000000000000000000000000000000000000000000ea94241f804efb46f71acaa"
    "5be94a62f7798e89c3724946cdf72da457453063ea92e7fa5ac30afbcec28cdc080c0")
# encodeWithoutPathMustWriteToStandardOutput (default --type IBFT_EXTRA_DATA): the same two
# validators in IBFT 2.0's genesis layout (vote an empty string, 4-byte round: ...808400000000c0).
BESU_CLI_IBFT2_EXTRA_DATA = (
    "0xf853a00000000000000000000000000000000000000000000000000000000000000000ea94be068f726a13c8d"
    "46c44be6ce9d275600e1735a4945ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193808400000000c0")

# Besu's QbftExtraDataCodecTest.RAW_HEX_ENCODING_STRING, in
# consensus/qbft/src/test/java/org/hyperledger/besu/consensus/qbft/QbftExtraDataCodecTest.java:
# vanity 0x01..0x20, validators 0x..01 and 0x..02, an add vote for 0x..01, round 0xFEDCBA,
# seals (r=1, s=10, v=0), (r=10, s=1, v=0).
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


def test_encoding_matches_besus_rlp_encode_cli_for_qbft():
    data = QbftExtraData(validators=BESU_CLI_QBFT_VALIDATORS)
    assert "0x" + encode_qbft_extra_data(data).hex() == BESU_CLI_QBFT_EXTRA_DATA


def test_decoding_matches_besus_rlp_decode_cli_for_qbft():
    assert [a.lower() for a in decode_qbft_extra_data(BESU_CLI_QBFT_DECODE_EXTRA_DATA)] == \
        BESU_CLI_QBFT_DECODE_VALIDATORS
    assert [a.lower() for a in decode_qbft_extra_data(BESU_CLI_QBFT_EXTRA_DATA)] == \
        BESU_CLI_QBFT_VALIDATORS


def test_genesis_extra_data_equals_besus_for_the_same_validators():
    """What `spamledger node genesis` writes (validators ascending, as Besu's docs ask)."""
    assert qbft_extra_data([BESU_DOCS_ONE_VALIDATOR]) == BESU_DOCS_ONE_VALIDATOR_EXTRA_DATA
    # Given in either order, the genesis lists them ascending: Besu's decode vector is ascending.
    assert qbft_extra_data(BESU_CLI_QBFT_DECODE_VALIDATORS[::-1]) == BESU_CLI_QBFT_DECODE_EXTRA_DATA
    genesis = besu_qbft_genesis(1337, [BESU_DOCS_ONE_VALIDATOR])
    assert genesis["extraData"] == BESU_DOCS_ONE_VALIDATOR_EXTRA_DATA


def test_besus_ibft2_genesis_is_refused_as_qbft():
    """Besu's own IBFT 2.0 encoding of the same validators does not decode as QBFT."""
    with pytest.raises(QbftExtraDataError):
        parse_qbft_extra_data(BESU_CLI_IBFT2_EXTRA_DATA)


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
