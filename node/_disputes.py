"""Disputes as arbiters and the regulator see them: read a case, its votes, its outcome.

The contract decides who may vote (``Dispute.vote``: arbiters outside the record's flagging
country, and regulators) and when a case can be resolved; these helpers only read and
decode, and :func:`node.vote_dispute` / :func:`node.resolve_dispute` send.

Example::

    case = read_dispute(ledger, 3)
    case.status_name  # "open"
    [v["arbiter"] for v in dispute_votes(ledger, 3)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from node._client import Ledger
from node._consortium import country_str

STATUS_NAMES = ("none", "open", "upheld", "rejected", "expired")


@dataclass(frozen=True)
class DisputeCase:
    """``Dispute.getDispute`` decoded, with its evidence CID."""

    id: int
    number_key: str
    claimant: str
    opened_at: int
    deadline: int
    status: int
    majority_country: str
    record_round: int
    uphold_weight: int
    reject_weight: int
    eligible_weight: int
    vote_count: int
    evidence_cid: str

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status] if self.status < len(STATUS_NAMES) else str(self.status)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status": self.status_name}


def dispute_count(ledger: Ledger) -> int:
    return int(ledger.call("Dispute", "disputeCount"))


def read_dispute(ledger: Ledger, dispute_id: int) -> DisputeCase | None:
    """The case, or None when no dispute has this id."""
    raw = ledger.call("Dispute", "getDispute", int(dispute_id))
    if int(raw[4]) == 0:
        return None
    return DisputeCase(
        id=int(dispute_id), number_key="0x" + bytes(raw[0]).hex(),
        claimant="0x" + bytes(raw[1]).hex(), opened_at=int(raw[2]), deadline=int(raw[3]),
        status=int(raw[4]), majority_country=country_str(raw[5]), record_round=int(raw[6]),
        uphold_weight=int(raw[7]), reject_weight=int(raw[8]), eligible_weight=int(raw[9]),
        vote_count=int(raw[10]),
        evidence_cid=str(ledger.call("Dispute", "evidenceOf", int(dispute_id))))


def list_disputes(ledger: Ledger, status: str | None = None) -> list[DisputeCase]:
    """Every case, or those with ``status`` (a name from :data:`STATUS_NAMES`)."""
    cases = (read_dispute(ledger, i) for i in range(1, dispute_count(ledger) + 1))
    return [c for c in cases if c is not None and (status is None or c.status_name == status)]


def dispute_votes(ledger: Ledger, dispute_id: int, from_block: int = 0) -> list[dict[str, Any]]:
    """The votes cast on a case, from its ``DisputeVoteCast`` events, in chain order."""
    return [{"arbiter": ev["args"]["arbiter"], "country": country_str(ev["args"]["country"]),
             "weight": int(ev["args"]["weight"]), "uphold": bool(ev["args"]["uphold"]),
             "block": int(ev["blockNumber"])}
            for ev in ledger.events("Dispute", "DisputeVoteCast", from_block=from_block,
                                    id=int(dispute_id))]


def quorum_weight(ledger: Ledger, case: DisputeCase) -> int:
    """Weight one side needs to decide the case before its deadline."""
    bps = int(ledger.call("Dispute", "quorumBps"))
    return -(-bps * case.eligible_weight // 10_000)
