"""Gas money for consortium accounts: top every account up to a balance, on any chain.

Every account that sends transactions (validators, arbiters, the relayer, the regulator)
pays gas. On a QBFT network the genesis ``alloc`` (``spamledger node genesis --fund``) gives
the first balances; afterwards governance tops accounts up with plain transfers from its own
balance (``spamledger gov fund``). Funding sends only the difference to the target, so
running it twice sends nothing the second time.

Example::

    fund_accounts(ledger, [operator_address], target_wei=10 * ETHER)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from node._client import Ledger

logger = logging.getLogger(__name__)

ETHER = 10**18
DEFAULT_FUND_WEI = 10 * ETHER


@dataclass(frozen=True)
class Funding:
    """What funding did for one account: wei sent now and the balance the chain holds."""

    address: str
    sent_wei: int
    balance_wei: int


def fund_accounts(ledger: Ledger, addresses: Sequence[str],
                  target_wei: int = DEFAULT_FUND_WEI) -> list[Funding]:
    """Top each address up to ``target_wei`` from the ledger's account (idempotent)."""
    out = []
    for address in addresses:
        balance = ledger.balance(address)
        sent = max(0, int(target_wei) - balance)
        if sent:
            ledger.send_value(address, sent)
            logger.info("funded %s with %d wei", address, sent)
        out.append(Funding(address, sent, ledger.balance(address)))
    return out
