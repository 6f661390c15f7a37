"""Session fixtures that start real services once: Anvil and a deployed consortium.

Every process a fixture starts is ended by PID in its finalizer.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from migrations import deploy, fund_dev_accounts
from node import AnvilNode, Deployment, Ledger, connect
from spamledger import NumberHasher

TEST_SECRET = "spamledger-test-consortium-secret"

# Weights of the seed's cross-border scenario: 0.4 / 0.25 / 0.2 / 0.1 / 0.05.
VALIDATOR_WEIGHTS = {"US": 4000, "IN": 2500, "BR": 2000, "GB": 1000, "FR": 500}
ARBITER_COUNTRIES = {"DE": 1000, "JP": 1000}


def free_port() -> int:
    """A free loopback TCP port (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """A real Anvil node on a free loopback port, stopped at the end of the session."""
    node = AnvilNode(tmp_path_factory.mktemp("chain"), port=free_port())
    node.start()
    yield node
    node.stop()


@dataclass
class Consortium:
    """A deployed ledger with a consortium admitted, for tests."""

    w3: Web3
    data_dir: Path
    deployment: Deployment
    ledger: Ledger
    governance: LocalAccount
    validators: dict[str, LocalAccount]
    arbiters: dict[str, LocalAccount]
    relayer: LocalAccount
    regulator: LocalAccount
    hasher: NumberHasher = field(default_factory=lambda: NumberHasher(TEST_SECRET))

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)


@pytest.fixture(scope="session")
def consortium(anvil: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Consortium:
    """Contracts deployed through the migrations; validators, arbiters and roles admitted."""
    return deploy_consortium(anvil, tmp_path_factory.mktemp("ledger"))


def deploy_consortium(anvil: AnvilNode, data_dir: Path) -> Consortium:
    """A fresh deployment on ``anvil`` (its own contracts, accounts and ``data_dir``): tests
    that index the whole ledger use one of their own, so other tests' events stay out."""
    from node import admit_consortium

    w3 = connect(anvil.rpc_url)
    governance = Account.create()
    validators = {cc: Account.create() for cc in VALIDATOR_WEIGHTS}
    arbiters = {cc: Account.create() for cc in ARBITER_COUNTRIES}
    relayer, regulator = Account.create(), Account.create()
    fund_dev_accounts(w3, [a.address for a in [governance, relayer, regulator,
                                               *validators.values(), *arbiters.values()]])
    deployment = deploy(w3, data_dir, governance)
    ledger = Ledger(w3, deployment, governance)
    admit_consortium(ledger, validators={a.address: (cc, VALIDATOR_WEIGHTS[cc])
                                         for cc, a in validators.items()},
                     arbiters={a.address: (cc, ARBITER_COUNTRIES[cc])
                               for cc, a in arbiters.items()},
                     relayers=[relayer.address], regulators=[regulator.address])
    return Consortium(w3, data_dir, deployment, ledger, governance, validators, arbiters,
                      relayer, regulator)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local-mode Spark session (a JVM child process) for the whole run, stopped after."""
    from oracle._engine import DEFAULT_MASTER, spark_session, stop_spark

    session = spark_session(DEFAULT_MASTER)
    try:
        yield session
    finally:
        stop_spark()
