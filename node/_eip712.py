"""EIP-712 ``ScoreVote`` signing and hashing, exactly as ``Consensus`` verifies it.

The domain binds a signature to one chain (``chainId``) and one contract
(``verifyingContract``); the vote binds it to one round. Types come from
``spamledger._types`` so the oracle, the API and the tests share them.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from spamledger._types import EIP712_DOMAIN_NAME, EIP712_DOMAIN_VERSION, SCORE_VOTE_TYPES

VOTE_FIELDS = tuple(f["name"] for f in SCORE_VOTE_TYPES["ScoreVote"])
"""The ScoreVote fields in the type's order (``country`` is the number's ISO country, 2 bytes)."""


def domain(chain_id: int, consensus_address: str) -> dict[str, Any]:
    return {"name": EIP712_DOMAIN_NAME, "version": EIP712_DOMAIN_VERSION,
            "chainId": chain_id, "verifyingContract": consensus_address}


def _message(vote: dict[str, Any]) -> dict[str, Any]:
    missing = [f for f in VOTE_FIELDS if f not in vote]
    if missing:
        raise ValueError(f"ScoreVote lacks field(s): {', '.join(missing)}")
    return {f: vote[f] for f in VOTE_FIELDS}


def _signable(vote: dict[str, Any], chain_id: int, consensus_address: str) -> Any:
    return encode_typed_data(domain_data=domain(chain_id, consensus_address),
                             message_types=SCORE_VOTE_TYPES, message_data=_message(vote))


def sign_score_vote(account: LocalAccount, vote: dict[str, Any], chain_id: int,
                    consensus_address: str) -> bytes:
    """65-byte signature (r, s, v) of ``vote`` under the Consensus contract's domain."""
    signed = account.sign_message(_signable(vote, chain_id, consensus_address))
    return bytes(signed.signature)


def recover_score_vote(vote: dict[str, Any], signature: bytes, chain_id: int,
                       consensus_address: str) -> str:
    """The address that signed ``vote`` (for audits: recompute what the contract checked)."""
    return str(Account.recover_message(_signable(vote, chain_id, consensus_address),
                                       signature=signature))


def vote_tuple(vote: dict[str, Any]) -> tuple[Any, ...]:
    """The vote as the ABI tuple ``Consensus`` takes, in the type's field order."""
    return tuple(_message(vote)[f] for f in VOTE_FIELDS)
