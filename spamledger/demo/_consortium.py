"""The demo consortium: keystores, deployment and admission of its members."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from migrations import deploy, fund_dev_accounts
from node import (
    Deployment,
    Ledger,
    admit_consortium,
    connect,
    ensure_keystores,
    keystore_dir,
    resolve_password,
)
from spamledger._settings import Settings

logger = logging.getLogger(__name__)

# Operator weights (basis points of the consortium): cross-country, no country alone at quorum.
OPERATORS = {"US": 3500, "IN": 3000, "BR": 2000, "GB": 1500}
ARBITERS = {"DE": 1000, "JP": 1000}
MEMBERS = ["governance", "relayer", "regulator",
           *(f"arbiter-{cc.lower()}" for cc in ARBITERS), *(cc.lower() for cc in OPERATORS)]


@dataclass
class DemoConsortium:
    """The deployed ledger and every member's account."""

    w3: Any
    deployment: Deployment
    ledger: Ledger
    accounts: dict[str, LocalAccount]

    def operator(self, country: str) -> LocalAccount:
        return self.accounts[country.lower()]

    def arbiters(self) -> list[LocalAccount]:
        return [self.accounts[f"arbiter-{cc.lower()}"] for cc in ARBITERS]


# The demo's throwaway keys sit next to their generated password file, so the full scrypt
# cost (~1 s and 256 MB per key) buys nothing here; real operators keep the default.
DEMO_SCRYPT_N = 1 << 14


def create_keys(settings: Settings) -> dict[str, LocalAccount]:
    """Every member's keystore under the data dir (a local password file for the demo)."""
    password = resolve_password(settings.data_dir, settings.keystore_password, create=True)
    return ensure_keystores(keystore_dir(settings.data_dir), MEMBERS, password,
                            scrypt_n=DEMO_SCRYPT_N)


def deploy_and_admit(settings: Settings, accounts: dict[str, LocalAccount]) -> DemoConsortium:
    """Fund (local chain only), run the migrations, admit operators, arbiters and roles."""
    w3 = connect(settings.rpc_url)
    fund_dev_accounts(w3, [a.address for a in accounts.values()])
    deployment = deploy(w3, settings.data_dir, accounts["governance"])
    ledger = Ledger(w3, deployment, accounts["governance"])
    admit_consortium(
        ledger,
        validators={accounts[cc.lower()].address: (cc, w) for cc, w in OPERATORS.items()},
        arbiters={accounts[f"arbiter-{cc.lower()}"].address: (cc, w)
                  for cc, w in ARBITERS.items()},
        relayers=[accounts["relayer"].address], regulators=[accounts["regulator"].address])
    return DemoConsortium(w3, deployment, ledger, accounts)


def gas_spent(consortium: DemoConsortium, from_block: int = 0) -> dict[str, int]:
    """Gas used per sender role over the demo's blocks (for the report)."""
    by_address = {a.address: name for name, a in consortium.accounts.items()}
    totals: dict[str, int] = {}
    w3 = consortium.w3
    for number in range(from_block, w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            name = by_address.get(tx["from"], "other")
            totals[name] = totals.get(name, 0) + int(receipt["gasUsed"])
    return totals
