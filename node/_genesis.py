"""Genesis for the production path: a Besu QBFT network of the consortium's validators.

Anvil stands in for the chain locally; a consortium runs Hyperledger Besu with QBFT. The
validator set of block 0 is RLP-encoded in ``extraData`` as
``[32-byte vanity, [validator addresses], no vote, round 0 (4 bytes), no seals]``, the
format ``besu rlp encode --type=QBFT_EXTRA_DATA`` produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from eth_utils import to_canonical_address, to_checksum_address

# "Practical Byzantine Fault Tolerance" mixHash that Besu requires for BFT genesis blocks.
QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"


def qbft_extra_data(validators: Sequence[str]) -> str:
    """RLP ``extraData`` naming the initial validators (sorted, as Besu orders them)."""
    addrs = sorted(to_canonical_address(a) for a in validators)
    if not addrs:
        raise ValueError("a QBFT network needs at least one validator")
    return "0x" + rlp.encode([b"\x00" * 32, addrs, b"", b"\x00" * 4, []]).hex()


def decode_qbft_extra_data(extra_data: str) -> list[str]:
    """The validator addresses in a QBFT ``extraData`` (for checks and audits)."""
    fields = rlp.decode(bytes.fromhex(extra_data.removeprefix("0x")))
    return [to_checksum_address(a) for a in fields[1]]


def besu_qbft_genesis(chain_id: int, validators: Sequence[str],
                      alloc: dict[str, int] | None = None, block_period: int = 2,
                      gas_limit: int = 60_000_000) -> dict[str, Any]:
    """A Besu genesis file (as a dict) for a QBFT network of ``validators``.

    ``alloc`` maps addresses to a starting balance in wei (operators pay gas; on a
    permissioned network gas price may be zero, but accounts still need a balance).
    """
    return {
        "config": {
            "chainId": chain_id,
            "berlinBlock": 0,
            "londonBlock": 0,
            "shanghaiTime": 0,
            "zeroBaseFee": True,
            "qbft": {"blockperiodseconds": block_period, "epochlength": 30000,
                     "requesttimeoutseconds": 4},
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": hex(gas_limit),
        "difficulty": "0x1",
        "mixHash": QBFT_MIX_HASH,
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": {to_checksum_address(a).removeprefix("0x"): {"balance": hex(b)}
                  for a, b in (alloc or {}).items()},
        "extraData": qbft_extra_data(validators),
    }
