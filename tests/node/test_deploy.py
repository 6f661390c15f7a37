"""Deployment through the migrations on a real Anvil, and persistence across kill -9."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from migrations import deploy, discover_steps, fund_dev_accounts
from node import AnvilNode, ContractRevert, Deployment, Ledger, MissingRole, connect
from tests.conftest import VALIDATOR_WEIGHTS, free_port


def test_every_migration_is_applied_and_recorded(consortium):
    record = json.loads(consortium.deployment.path.read_text())
    steps = [m.__name__.rsplit(".", 1)[-1] for m in discover_steps()]
    assert [s for s in steps if record["steps"][s]["status"] == "applied"] == steps
    for name, info in record["contracts"].items():
        assert consortium.w3.eth.get_code(info["address"]), name
        assert len(info["bytecode_sha256"]) == 64 and info["block"] > 0


def test_rerunning_the_migrations_sends_nothing(consortium):
    nonce = consortium.w3.eth.get_transaction_count(consortium.governance.address)
    again = deploy(consortium.w3, consortium.data_dir, consortium.governance)
    assert again.contracts == consortium.deployment.contracts
    assert consortium.w3.eth.get_transaction_count(consortium.governance.address) == nonce


def test_consortium_weights_are_on_chain(consortium):
    total = consortium.ledger.call("ValidatorSet", "totalActiveWeight")
    assert total == sum(VALIDATOR_WEIGHTS.values())
    assert consortium.ledger.call("ValidatorSet", "isValidator",
                                  consortium.validators["IN"].address)


def test_registry_writers_are_exactly_the_round_contracts_and_dispute(consortium):
    role = consortium.ledger.call("ValidatorSet", "REGISTRY_WRITER_ROLE")
    for name in ("Consensus", "ReportConsensus", "Dispute"):
        assert consortium.ledger.call("ValidatorSet", "hasRole", role,
                                      consortium.deployment.address(name))
    assert not consortium.ledger.call("ValidatorSet", "hasRole", role,
                                      consortium.governance.address)


def test_account_without_role_gets_decoded_missing_role(consortium):
    outsider = Account.create()
    fund_dev_accounts(consortium.w3, [outsider.address])
    with pytest.raises(MissingRole) as info:
        consortium.ledger.transact("ValidatorSet", "admitValidator", outsider.address,
                                   b"US", 10, account=outsider)
    assert info.value.error_name == "AccessControlUnauthorizedAccount"
    assert outsider.address in str(info.value)
    assert "GOVERNANCE_ROLE" in str(info.value)


def test_custom_error_is_decoded_with_arguments(consortium):
    with pytest.raises(ContractRevert) as info:
        consortium.ledger.transact("ValidatorSet", "admitValidator",
                                   consortium.validators["US"].address, b"US", 10)
    assert info.value.error_name == "ValidatorExists"


@pytest.mark.slow
def test_chain_state_survives_kill_9_and_restart(tmp_path):
    node = AnvilNode(tmp_path, port=free_port(), state_interval=1)
    node.start()
    try:
        w3 = connect(node.rpc_url)
        governance = Account.create()
        fund_dev_accounts(w3, [governance.address])
        deployment = deploy(w3, tmp_path, governance)
        Ledger(w3, deployment, governance).transact(
            "ValidatorSet", "admitValidator", Account.create().address, b"GB", 77)
        node.wait_for_dump()
        node.kill()
        node.start()
        w3 = connect(node.rpc_url)
        reloaded = Deployment.load(tmp_path)
        ledger = Ledger(w3, reloaded, governance)
        assert ledger.call("ValidatorSet", "totalActiveWeight") == 77
        for info in reloaded.contracts.values():
            assert w3.eth.get_code(info["address"])
        # And the migrations know it: nothing more to send.
        nonce = w3.eth.get_transaction_count(governance.address)
        deploy(w3, tmp_path, governance)
        assert w3.eth.get_transaction_count(governance.address) == nonce
    finally:
        node.stop()


def test_stale_nonce_cache_recovers_when_another_client_used_the_key(consortium):
    other = Ledger(consortium.w3, consortium.deployment, consortium.governance)
    first = Account.create().address
    consortium.ledger.transact("ValidatorSet", "setArbiter", first, b"DE", 5)
    # A second client sends from the same key: the first client's cached nonce is now stale.
    second = Account.create().address
    other.transact("ValidatorSet", "setArbiter", second, b"JP", 5)
    consortium.ledger.transact("ValidatorSet", "removeArbiter", first)
    other.transact("ValidatorSet", "removeArbiter", second)
    assert consortium.ledger.call("ValidatorSet", "arbiterOf", first)[1] == 0
