"""Errors of the ``node`` package (chain, keystores, deployment).

::

    SpamLedgerError
    └── NodeError
        ├── ChainUnreachable     the RPC endpoint does not answer (names the URL)
        ├── AnvilError           the local Anvil process cannot start or stop
        ├── KeystoreError        missing keystore, wrong password, unreadable file
        ├── ArtifactError        a compiled contract is missing (run `make compile`)
        ├── DeploymentError      no deployment record, or one that does not match the chain
        ├── MigrationError       a migration step failed (the record names the step)
        ├── InvalidCountry       not an ISO 3166-1 alpha-2 code
        ├── MembershipError      a membership change the contracts cannot make
        ├── InvalidAddress       neither an account address nor a keystore name
        ├── InsufficientFunds    the sender cannot pay for gas (names account and balance)
        └── ContractRevert       a transaction or call reverted; ``error_name`` and ``args``
            └── MissingRole      ... because the sender lacks a role

``node.ipfs`` has its own ``EvidenceError`` branch.
"""

from __future__ import annotations

from typing import Any

from spamledger._countries import InvalidCountry as _InvalidCountryCode
from spamledger._errors import SpamLedgerError


class NodeError(SpamLedgerError):
    """Base of chain-side errors."""


class ChainUnreachable(NodeError):
    """The JSON-RPC endpoint did not answer."""

    def __init__(self, rpc_url: str, detail: str = ""):
        self.rpc_url = rpc_url
        super().__init__(
            f"chain unreachable at {rpc_url}"
            + (f" ({detail})" if detail else "")
            + "; start the local chain with `spamledger node start` or set SPAMLEDGER_RPC_URL"
        )


class AnvilError(NodeError):
    """The local Anvil node could not be started or stopped."""


class KeystoreError(NodeError):
    """A keystore file is missing, unreadable or the password is wrong."""


class ArtifactError(NodeError):
    """A compiled contract artifact is missing or malformed."""


class DeploymentError(NodeError):
    """The deployment record is missing or does not match the chain."""


class MigrationError(NodeError):
    """A migration step failed; the deployment record names the step."""


class LegacyArchiveError(MigrationError):
    """The v1 history archive cannot be built, read, or does not match its committed root."""


class InvalidCountry(NodeError, _InvalidCountryCode):
    """Not an ISO 3166-1 alpha-2 code (also a :class:`spamledger.InvalidCountry`)."""


class MembershipError(NodeError):
    """A consortium change the contracts cannot make (e.g. moving a validator's country)."""


class InvalidAddress(NodeError, ValueError):
    """Neither a 0x account address nor the name of a keystore."""


class InsufficientFunds(NodeError):
    """The sending account cannot pay for gas; names the account and its balance."""

    def __init__(self, address: str, balance_wei: int, action: str):
        self.address = address
        self.balance_wei = balance_wei
        super().__init__(
            f"account {address} has {balance_wei / 10**18:.6g} ETH ({balance_wei} wei), not "
            f"enough to pay for {action}; fund it with `spamledger gov fund {address}`")


class ContractRevert(NodeError):
    """A contract call reverted with a (decoded, where possible) custom error."""

    def __init__(self, contract: str, function: str, error_name: str,
                 args: tuple[Any, ...] = (), raw: str = ""):
        self.contract = contract
        self.function = function
        self.error_name = error_name
        self.args_ = args
        self.raw = raw
        shown = ", ".join(_short(a) for a in args)
        super().__init__(f"{contract}.{function} reverted: {error_name}({shown})")


class MissingRole(ContractRevert):
    """The sender does not hold the role the function requires."""


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value) if isinstance(value, str) else str(value)
