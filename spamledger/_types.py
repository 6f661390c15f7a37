"""Enumerations and EIP-712 types shared by the contracts, the oracle, the node client and the API.

These mirror ``contracts/`` exactly; a test compares them with the compiled ABI and the
contract's own type hash.
"""

from __future__ import annotations

from enum import IntEnum


class Verdict(IntEnum):
    """On-chain verdict codes (``SpamRegistry``)."""

    UNKNOWN = 0
    NOT_SPAM = 1
    SUSPICIOUS = 2
    SPAM = 3


class Category(IntEnum):
    """On-chain category codes; names match the data contract's ``category`` column."""

    NONE = 0
    ROBOCALL = 1
    TELEMARKETING = 2
    SCAM = 3
    WANGIRI = 4
    SURVEY = 5
    DEBT_COLLECTION = 6
    OTHER = 7

    @classmethod
    def from_name(cls, name: str | None) -> Category:
        if not name:
            return cls.NONE
        try:
            return cls[name.strip().upper()]
        except KeyError:
            return cls.OTHER


# Scores on-chain are basis points: 0..10000 == probability 0..1.
SCORE_SCALE = 10_000

EIP712_DOMAIN_NAME = "SpamLedger"
EIP712_DOMAIN_VERSION = "1"

# The typed vote each validator signs; Consensus verifies it on-chain.
SCORE_VOTE_TYPES = {
    "ScoreVote": [
        {"name": "numberKey", "type": "bytes32"},
        {"name": "country", "type": "bytes2"},
        {"name": "round", "type": "uint64"},
        {"name": "score", "type": "uint16"},
        {"name": "confidence", "type": "uint16"},
        {"name": "category", "type": "uint8"},
        {"name": "abstain", "type": "bool"},
        {"name": "modelHash", "type": "bytes32"},
        {"name": "evidenceCid", "type": "string"},
        {"name": "deadline", "type": "uint64"},
    ]
}

# The aggregated report every listed validator signs once; ReportConsensus verifies it.
# ``votes[i * len(signers) + j]`` is signer j's packed vote on key i (see node._report).
REPORT_TYPES = {
    "Report": [
        {"name": "seq", "type": "uint64"},
        {"name": "deadline", "type": "uint64"},
        {"name": "numberKeys", "type": "bytes32[]"},
        {"name": "countries", "type": "bytes2[]"},
        {"name": "signers", "type": "address[]"},
        {"name": "modelHashes", "type": "bytes32[]"},
        {"name": "votes", "type": "uint64[]"},
        {"name": "evidenceCid", "type": "string"},
    ]
}
