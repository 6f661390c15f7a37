"""`spamledger dispute list|show|vote|resolve`: arbiters and the regulator decide a dispute
from the command line, with the contract's role checks (real Anvil, session consortium)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from eth_account import Account

from node import (
    Deployment,
    approve_model,
    cast_votes,
    finalize,
    make_vote,
    open_dispute,
    open_round,
    read_record,
    register_model,
    sign_score_vote,
)
from spamledger._cli import main
from spamledger._types import Category, Verdict

PASSWORD = "dispute-cli-test"


def _write_keystore(directory: Path, name: str, account) -> None:
    blob = Account.encrypt(account.key, PASSWORD, kdf="scrypt", iterations=1 << 10)
    blob["name"] = name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(blob))


@pytest.fixture(scope="module")
def data_dir(consortium, tmp_path_factory) -> Path:
    """A data directory with the consortium's deployment record and its members' keystores."""
    out = tmp_path_factory.mktemp("dispute-cli")
    record = Deployment.path_for(consortium.data_dir, consortium.chain_id)
    target = Deployment.path_for(out, consortium.chain_id)
    target.parent.mkdir(parents=True)
    shutil.copy(record, target)
    for cc, account in {**consortium.arbiters, **consortium.validators}.items():
        _write_keystore(out / "keystore", cc.lower(), account)
    _write_keystore(out / "keystore", "regulator", consortium.regulator)
    return out


@pytest.fixture(scope="module")
def dispute_id(consortium) -> int:
    """A number finalized as spam by the validators (US majority), then disputed."""
    ledger, countries = consortium.ledger, list(consortium.validators)
    models = {cc: hashlib.sha256(f"dispute-cli-model-{cc}".encode()).digest()
              for cc in countries}
    for i, cc in enumerate(countries):
        register_model(ledger, models[cc], f"bafy-card-{cc}", consortium.validators[cc])
        for other in (countries[(i + 1) % 5], countries[(i + 2) % 5]):
            approve_model(ledger, consortium.validators[cc].address, models[cc],
                          consortium.validators[other])
    key = consortium.hasher.key("+14155550177")
    round_id = open_round(ledger, key, "US", account=consortium.validators["US"])
    consensus = consortium.deployment.address("Consensus")
    signed = []
    for cc, account in consortium.validators.items():
        vote = make_vote(key, round_id, country="US", score=9400, category=Category.SCAM,
                         model_hash=models[cc], cid=f"bafy-ev-{cc}")
        signed.append((vote, sign_score_vote(account, vote, consortium.chain_id, consensus)))
    cast_votes(ledger, signed, account=consortium.relayer)
    finalize(ledger, key, account=consortium.relayer)
    assert read_record(ledger, key).verdict == Verdict.SPAM
    return open_dispute(ledger, key, hashlib.sha256(b"a-business").digest(),
                        "bafy-dispute-cli-evidence", account=consortium.relayer)


def _cli(data_dir, anvil, capsys, monkeypatch, *argv):
    monkeypatch.setenv("SPAMLEDGER_KEYSTORE_PASSWORD", PASSWORD)
    capsys.readouterr()
    code = main(["--data-dir", str(data_dir), "dispute", *argv, "--rpc-url", anvil.rpc_url])
    out, err = capsys.readouterr()
    return code, out, err


def test_arbiters_and_the_regulator_decide_a_dispute_from_the_cli(
        consortium, anvil, data_dir, dispute_id, capsys, monkeypatch):
    def cli(*argv):
        return _cli(data_dir, anvil, capsys, monkeypatch, *argv)

    code, out, _ = cli("list")
    assert code == 0
    listed = {c["id"]: c for c in json.loads(out)}
    assert listed[dispute_id]["status"] == "open"
    assert listed[dispute_id]["majority_country"] == "US"
    assert listed[dispute_id]["evidence_cid"] == "bafy-dispute-cli-evidence"

    code, _, err = cli("vote", str(dispute_id), "uphold", "--as", "us")
    assert code == 1 and "NotEligibleArbiter" in err  # a validator is not an arbiter
    assert len(err.strip().splitlines()) == 1

    code, out, err = cli("vote", str(dispute_id), "uphold", "--as", "de")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["uphold_weight"] == 1000 and shown["votes"][0]["country"] == "DE"

    code, _, err = cli("vote", str(dispute_id), "reject", "--as", "de")
    assert code == 1 and "AlreadyVotedOnDispute" in err

    code, _, err = cli("resolve", str(dispute_id), "--as", "regulator")
    assert code == 1 and "DecisionPending" in err  # 1000 of the 1500 quorum

    assert cli("vote", str(dispute_id), "uphold", "--as", "jp")[0] == 0
    code, out, err = cli("resolve", str(dispute_id), "--as", "regulator")
    assert code == 0, err
    assert json.loads(out)["status"] == "upheld"

    code, out, _ = cli("show", str(dispute_id))
    shown = json.loads(out)
    assert shown["status"] == "upheld"
    assert [v["country"] for v in shown["votes"]] == ["DE", "JP"]
    code, out, _ = cli("list")
    assert dispute_id not in {c["id"] for c in json.loads(out)}


def test_an_unknown_dispute_is_one_line(anvil, data_dir, capsys, monkeypatch):
    code, _, err = _cli(data_dir, anvil, capsys, monkeypatch, "show", "999999")
    assert code == 1
    assert err.strip() == "spamledger: error: no dispute 999999 on this chain"
