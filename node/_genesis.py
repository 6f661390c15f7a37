"""Genesis for the production path: a Besu QBFT network of the consortium's validators.

Anvil stands in for the chain locally; a consortium runs Hyperledger Besu with QBFT. The
validator set of block 0 is RLP-encoded in ``extraData`` the way Besu's
``QbftExtraDataCodec`` writes and reads it::

    [32-byte vanity, [validator addresses], vote, round, [committer seals]]

where an absent vote is an empty RLP *list* (``0xc0``; a vote is ``[recipient, 0xff]`` to add
or ``[recipient, ""]`` to drop), the round is an RLP integer scalar (round 0 is the empty
string ``0x80``; no leading zero bytes) and the seals are 65-byte signatures. A genesis has no
vote, round 0 and no seals, so its extraData ends ``...c080c0``. (IBFT 2.0's layout, an empty
byte string for the vote and a 4-byte round, does not decode as QBFT.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth_utils import to_canonical_address, to_checksum_address

# "Practical Byzantine Fault Tolerance" mixHash that Besu requires for BFT genesis blocks.
QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"

VOTE_ADD = b"\xff"
VANITY_LENGTH = 32
SEAL_LENGTH = 65


class QbftExtraDataError(ValueError):
    """extraData that Besu's QBFT codec would refuse."""


@dataclass(frozen=True)
class QbftVote:
    """A validator vote carried in a block: add (``add=True``) or drop ``recipient``."""

    recipient: str
    add: bool


@dataclass(frozen=True)
class QbftExtraData:
    """The fields of a QBFT header's extraData."""

    validators: list[str]
    vanity: bytes = b"\x00" * VANITY_LENGTH
    vote: QbftVote | None = None
    round: int = 0
    seals: list[bytes] = field(default_factory=list)


def encode_qbft_extra_data(data: QbftExtraData) -> bytes:
    """RLP bytes of ``data`` in QbftExtraDataCodec's layout (validators kept in order)."""
    if len(data.vanity) != VANITY_LENGTH:
        raise QbftExtraDataError(f"vanity must be {VANITY_LENGTH} bytes")
    if data.round < 0 or any(len(s) != SEAL_LENGTH for s in data.seals):
        raise QbftExtraDataError("round must be >= 0 and seals 65 bytes each")
    vote: list[bytes] = ([] if data.vote is None else
                         [to_canonical_address(data.vote.recipient),
                          VOTE_ADD if data.vote.add else b""])
    return bytes(rlp.encode([data.vanity, [to_canonical_address(a) for a in data.validators],
                             vote, data.round, list(data.seals)]))


def parse_qbft_extra_data(extra_data: str | bytes) -> QbftExtraData:
    """Decode extraData as Besu's ``QbftExtraDataCodec.decodeRaw`` does (and as strictly)."""
    raw = (bytes.fromhex(extra_data.removeprefix("0x")) if isinstance(extra_data, str)
           else bytes(extra_data))
    try:
        fields = rlp.decode(raw)
    except rlp.exceptions.DecodingError as exc:
        raise QbftExtraDataError(f"not RLP: {exc}") from exc
    if not isinstance(fields, list) or len(fields) != 5:
        raise QbftExtraDataError("QBFT extraData is a list of five items")
    vanity, validators, vote, round_raw, seals = fields
    if not isinstance(vanity, bytes) or not isinstance(validators, list):
        raise QbftExtraDataError("vanity must be bytes and validators a list")
    if not isinstance(vote, list) or not isinstance(seals, list):
        raise QbftExtraDataError("the vote (empty when none) and the seals must be RLP lists")
    if not isinstance(round_raw, bytes) or round_raw[:1] == b"\x00":
        raise QbftExtraDataError("the round must be an RLP integer scalar")
    return QbftExtraData(validators=[to_checksum_address(a) for a in validators], vanity=vanity,
                         vote=_vote(vote), round=int.from_bytes(round_raw, "big"),
                         seals=[bytes(s) for s in seals])


def _vote(raw: list[Any]) -> QbftVote | None:
    if not raw:
        return None
    if len(raw) != 2 or raw[1] not in (VOTE_ADD, b""):
        raise QbftExtraDataError("a vote is [recipient, 0xff (add) or empty (drop)]")
    return QbftVote(to_checksum_address(raw[0]), add=raw[1] == VOTE_ADD)


def qbft_extra_data(validators: Sequence[str]) -> str:
    """Genesis ``extraData`` naming the initial validators (sorted, as Besu orders them)."""
    addrs = sorted(to_canonical_address(a) for a in validators)
    if not addrs:
        raise ValueError("a QBFT network needs at least one validator")
    data = QbftExtraData(validators=[to_checksum_address(a) for a in addrs])
    return "0x" + encode_qbft_extra_data(data).hex()


def decode_qbft_extra_data(extra_data: str) -> list[str]:
    """The validator addresses in a QBFT ``extraData`` (for checks and audits)."""
    return parse_qbft_extra_data(extra_data).validators


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
