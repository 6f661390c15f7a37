"""Deployment entry points used by the CLI, the demo and the tests."""

from __future__ import annotations

import logging
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from migrations._runner import run_migrations
from node import Deployment, connect, ensure_keystores, keystore_dir, resolve_password
from spamledger._settings import Settings

logger = logging.getLogger(__name__)

LOCAL_CHAIN_IDS = frozenset({31337})
# Enough ether for a long demo or test run; only ever set on a local development chain.
DEV_BALANCE_WEI = 10**24


def fund_dev_accounts(w3: Web3, addresses: list[str]) -> None:
    """Give accounts a balance on a local Anvil chain (refuses on any other chain)."""
    if w3.eth.chain_id not in LOCAL_CHAIN_IDS:
        raise ValueError(f"refusing to mint ether on chain {w3.eth.chain_id}: not a local chain")
    for address in addresses:
        if w3.eth.get_balance(address) < DEV_BALANCE_WEI // 2:  # type: ignore[arg-type]
            w3.provider.make_request("anvil_setBalance",  # type: ignore[arg-type]
                                     [address, hex(DEV_BALANCE_WEI)])


def deploy(w3: Web3, data_dir: Any, deployer: LocalAccount,
           params: dict[str, Any] | None = None) -> Deployment:
    """Run every pending migration against ``w3``; returns the deployment record."""
    chain_id = w3.eth.chain_id
    deployment = Deployment.open(data_dir, chain_id,
                                 network="local" if chain_id in LOCAL_CHAIN_IDS else "remote")
    if chain_id in LOCAL_CHAIN_IDS:
        fund_dev_accounts(w3, [deployer.address])
    return run_migrations(w3, deployment, deployer, params)


def deploy_with_settings(settings: Settings, deployer_name: str = "governance") -> Deployment:
    """``spamledger deploy``: the deployer's keystore from the data dir (created on a dev chain)."""
    w3 = connect(settings.rpc_url)
    password = resolve_password(settings.data_dir, settings.keystore_password,
                                create=w3.eth.chain_id in LOCAL_CHAIN_IDS)
    accounts = ensure_keystores(keystore_dir(settings.data_dir), [deployer_name], password)
    return deploy(w3, settings.data_dir, accounts[deployer_name])


def migrate_with_settings(settings: Settings, deployer_name: str = "governance") -> Deployment:
    """``spamledger node migrate``: v1 -> v2 with the governance keystore of the data dir."""
    from migrations._upgrade import migrate

    w3 = connect(settings.rpc_url)
    password = resolve_password(settings.data_dir, settings.keystore_password)
    accounts = ensure_keystores(keystore_dir(settings.data_dir), [deployer_name], password)
    return migrate(w3, settings.data_dir, accounts[deployer_name])
