"""`spamledger gov`: every account can be funded, arguments are checked before the chain is
touched, and each command prints what the chain holds afterwards (real Anvil, in process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from node import AnvilNode, Deployment, Ledger, connect, keystore_dir, list_keystores
from spamledger._cli import main
from tests.conftest import free_port


class Cli:
    """The CLI against one data directory and chain, returning (exit code, out, err)."""

    def __init__(self, data_dir: Path, rpc_url: str, capsys: pytest.CaptureFixture[str]):
        self.data_dir, self.rpc_url, self.capsys = data_dir, rpc_url, capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["--data-dir", str(self.data_dir), *argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def gov(self, *argv: str) -> tuple[int, str, str]:
        return self("gov", "--rpc-url", self.rpc_url, *argv)

    def address(self, name: str) -> str:
        return list_keystores(keystore_dir(self.data_dir))[name]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """A chain of its own: these tests fund and admit accounts (no shared state)."""
    node = AnvilNode(tmp_path_factory.mktemp("gov-chain"), port=free_port())
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def deployed(chain: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("gov-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPAMLEDGER_KEYSTORE_PASSWORD", "gov-cli-test")
        mp.setattr("node._keys.DEFAULT_SCRYPT_N", 1 << 10)
        assert main(["--data-dir", str(data_dir), "deploy", "--rpc-url", chain.rpc_url]) == 0
        assert main(["--data-dir", str(data_dir), "node", "keys", "us", "in", "de",
                     "relayer", "regulator", "poor"]) == 0
        yield data_dir


@pytest.fixture
def cli(deployed: Path, chain: AnvilNode, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("SPAMLEDGER_KEYSTORE_PASSWORD", "gov-cli-test")
    return Cli(deployed, chain.rpc_url, capsys)


def _ledger_as(cli: Cli, name: str) -> Ledger:
    from node import load_account

    w3 = connect(cli.rpc_url)
    account = load_account(keystore_dir(cli.data_dir) / f"{name}.json", "gov-cli-test")
    return Ledger(w3, Deployment.load(cli.data_dir, w3.eth.chain_id), account)


def test_an_unfunded_account_gets_one_line_naming_it_and_its_balance(cli):
    code, _, err = cli.gov("--as", "poor", "fund", "us", "--eth", "1")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert cli.address("poor") in err
    assert "has 0 ETH" in err and "gov fund" in err


def test_an_unfunded_validator_transaction_raises_insufficient_funds_not_a_web3_error(cli):
    from node import InsufficientFunds

    assert cli.gov("admit", "poor", "--country", "FR", "--weight", "100")[0] == 0
    ledger = _ledger_as(cli, "poor")
    with pytest.raises(InsufficientFunds) as info:
        ledger.transact("ModelRegistry", "registerModel", b"\x05" * 32, "bafy-card")
    assert info.value.address == cli.address("poor") and info.value.balance_wei == 0


def test_gov_fund_tops_up_every_consortium_account_and_their_first_transaction_goes_through(
        cli):
    code, out, err = cli.gov("fund", "us", "in", "de", "relayer", "regulator", "--eth", "5")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 5
    assert all("balance 5 ETH" in line for line in lines)
    assert cli.gov("admit", "us", "--country", "US", "--weight", "3500")[0] == 0
    ledger = _ledger_as(cli, "us")
    receipt = ledger.transact("ModelRegistry", "registerModel", b"\x07" * 32, "bafy-card")
    assert receipt["status"] == 1
    code, out, _ = cli.gov("fund", "us", "--eth", "5")
    assert code == 0
    assert "(sent 0 ETH)" not in out  # gas was spent, so it tops up again
    assert "balance 5 ETH" in out


def test_admit_accepts_a_keystore_name_and_prints_what_the_chain_holds(cli):
    code, out, err = cli.gov("admit", "in", "--country", "in", "--weight", "2500")
    assert code == 0, err
    assert out.strip() == f"validator {cli.address('in')}: IN weight 2500 active"


def test_admitting_a_validator_again_under_another_country_is_refused(cli):
    assert cli.gov("admit", "us", "--country", "US", "--weight", "3500")[0] == 0
    code, out, err = cli.gov("admit", "us", "--country", "GB", "--weight", "3500")
    assert code == 1
    assert "admitted as US" in err and len(err.strip().splitlines()) == 1
    code, out, _ = cli.gov("show")
    shown = {v["address"]: v["country"] for v in json.loads(out)["validators"]}
    assert shown[cli.address("us")] == "US"


@pytest.mark.parametrize("argv, expected", [
    (["admit", "us", "--country", "usa", "--weight", "10"], "country code: 'usa'"),
    (["admit", "us", "--country", "XX", "--weight", "10"], "country code: 'XX'"),
    (["arbiter", "de", "--country", "ZZ", "--weight", "10"], "country code: 'ZZ'"),
    (["thresholds", "ZZ", "7000", "4000"], "country code: 'ZZ'"),
    (["thresholds", "US", "17000", "4000"], "between 0 and 10000"),
    (["admit", "nobody", "--country", "US", "--weight", "10"], "neither an address"),
    (["admit", "0x1234", "--country", "US", "--weight", "10"], "neither an address"),
    (["admit", "us", "--country", "US", "--weight", "-5"], "between 1 and"),
    (["fund", "us", "--eth", "lots"], "number of ether"),
])
def test_bad_arguments_are_one_line_and_change_nothing(cli, argv, expected):
    code, _, err = cli.gov(*argv)
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert expected in err


def test_set_and_thresholds_print_the_value_read_back(cli):
    code, out, _ = cli.gov("set", "quorum-bps", "7000")
    assert code == 0 and out.strip() == "quorum-bps = 7000 (Consensus.quorumBps)"
    code, out, _ = cli.gov("thresholds", "us", "7100", "4100")
    assert code == 0 and out.strip() == "thresholds US: spam >= 7100, suspicious >= 4100"


def test_chain_flags_and_signer_are_accepted_after_the_action(cli):
    code, out, err = cli("gov", "show", "--rpc-url", cli.rpc_url, "--as", "governance")
    assert code == 0, err
    assert "validators" in json.loads(out)


def test_show_lists_arbiters_roles_parameters_and_thresholds(cli):
    assert cli.gov("arbiter", "de", "--country", "DE", "--weight", "1000")[0] == 0
    assert cli.gov("grant", "relayer", "relayer")[0] == 0
    code, out, _ = cli.gov("grant", "regulator", "regulator")
    assert code == 0
    assert out.strip() == f"regulator role: held by {cli.address('regulator')}"
    shown = json.loads(cli.gov("show")[1])
    assert {"address": cli.address("de"), "country": "DE", "weight": 1000} in shown["arbiters"]
    assert shown["roles"]["relayer"] == [cli.address("relayer")]
    assert shown["roles"]["regulator"] == [cli.address("regulator")]
    assert shown["parameters"]["quorum-bps"] > 0
    assert set(shown["thresholds"]["00"]) == {"spam_bps", "suspicious_bps"}
    report = shown["report_consensus"]
    assert report["address"] == shown["contracts"]["ReportConsensus"]
    assert report["registry_writer"] is True and report["max_keys"] == 128


def test_an_rpc_url_without_a_scheme_is_one_line(cli):
    code, _, err = cli("gov", "--rpc-url", "127.0.0.1:8545", "show")
    assert code == 1
    assert "must start with http://" in err and len(err.strip().splitlines()) == 1


def test_genesis_from_collected_addresses_funds_the_whole_consortium(cli, tmp_path):
    from node import decode_qbft_extra_data

    validators = [Account.create().address for _ in range(3)]
    others = [Account.create().address for _ in range(2)]
    out = tmp_path / "genesis.json"
    code, _, err = cli("node", "genesis", "--validators", *validators, "--fund", *others,
                       "governance", "--out", str(out))
    assert code == 0, err
    genesis = json.loads(out.read_text())
    assert sorted(decode_qbft_extra_data(genesis["extraData"])) == sorted(validators)
    funded = {"0x" + a.lower() for a in genesis["alloc"]}
    assert funded == {a.lower() for a in [*validators, *others, cli.address("governance")]}


def test_a_validator_exports_its_besu_node_key(cli, tmp_path):
    out = tmp_path / "key"
    code, _, err = cli("node", "export-key", "us", "--out", str(out))
    assert code == 0, err
    assert Account.from_key(out.read_text()).address == cli.address("us")
    assert (out.stat().st_mode & 0o777) == 0o600
    assert cli("node", "export-key", "us", "--out", str(out))[0] == 1  # never overwrites
