"""How each contract event changes the SQL index (one handler per event name).

Handlers run inside the indexer's per-range transaction, after the raw event row is added.
State tables are overwritten in place; append-only tables get one row per event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api._models import (
    ArbiterVote,
    Dispute,
    Epoch,
    GovernanceEvent,
    Model,
    RegistryRecord,
    RoleEvent,
    Round,
    Validator,
    Vote,
)

logger = logging.getLogger(__name__)

DISPUTE_STATUS = {0: "none", 1: "open", 2: "upheld", 3: "rejected", 4: "expired"}

# Events that change the consortium's rules: kept in governance_events for the audit trail.
GOVERNANCE_EVENTS = frozenset({
    "ValidatorAdmitted", "ValidatorWeightChanged", "ValidatorDeactivated",
    "ValidatorReactivated", "ValidatorRemoved", "ArbiterSet", "ArbiterRemoved",
    "RoleGranted", "RoleRevoked", "RoleAdminChanged", "ParameterChanged", "ThresholdsChanged",
    "ModelRegistered", "ModelApprovalAdded", "ModelApproved", "ModelRevoked",
    "RegistryWriterChanged",
})


@dataclass(frozen=True, slots=True)
class Located:
    """One decoded event: contract, name, args (JSON-ready) and where it happened."""

    contract: str
    event: str
    args: dict[str, Any]
    block_number: int
    block_time: int
    tx_hash: str
    log_index: int
    address: str = ""


Handler = Callable[[Session, Located], None]
_HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            _HANDLERS[name] = fn
        return fn
    return register


def apply(session: Session, ev: Located) -> None:
    """Apply ``ev`` to the state tables (unknown events are only kept as raw rows)."""
    if ev.event in GOVERNANCE_EVENTS:
        session.add(GovernanceEvent(contract=ev.contract, event=ev.event,
                                    args=json.dumps(ev.args, sort_keys=True),
                                    block_number=ev.block_number, tx_hash=ev.tx_hash,
                                    log_index=ev.log_index))
    handler = _HANDLERS.get(ev.event)
    if handler is not None:
        handler(session, ev)


def _loc(ev: Located) -> dict[str, Any]:
    return {"block_number": ev.block_number, "tx_hash": ev.tx_hash}


@handles("ValidatorAdmitted")
def _admitted(session: Session, ev: Located) -> None:
    a = ev.args
    session.merge(Validator(address=a["validator"], country=a["country"], weight=a["weight"],
                            active=True, **_loc(ev)))


@handles("ValidatorWeightChanged", "ValidatorDeactivated", "ValidatorReactivated",
         "ValidatorRemoved")
def _validator_changed(session: Session, ev: Located) -> None:
    row = session.get(Validator, ev.args["validator"])
    if row is None:
        return
    if ev.event == "ValidatorWeightChanged":
        row.weight = ev.args["newWeight"]
    else:
        row.active = ev.event == "ValidatorReactivated"
    row.block_number, row.tx_hash = ev.block_number, ev.tx_hash


@handles("RoleGranted", "RoleRevoked")
def _role(session: Session, ev: Located) -> None:
    session.add(RoleEvent(contract=ev.contract, role=ev.args["role"], account=ev.args["account"],
                          granted=ev.event == "RoleGranted", log_index=ev.log_index, **_loc(ev)))


@handles("ModelRegistered")
def _model_registered(session: Session, ev: Located) -> None:
    a = ev.args
    session.merge(Model(model_hash=a["modelHash"], country=a["country"], owner=a["owner"],
                        metrics_cid=a["metricsCid"], status="pending", approvals=0, **_loc(ev)))


@handles("ModelApprovalAdded", "ModelApproved", "ModelRevoked")
def _model_changed(session: Session, ev: Located) -> None:
    row = session.get(Model, (ev.args["modelHash"], ev.args["owner"]))
    if row is None:
        return
    if "approvals" in ev.args:
        row.approvals = ev.args["approvals"]
    if ev.event == "ModelApproved":
        row.status = "approved"
    elif ev.event == "ModelRevoked":
        row.status = "revoked"
    row.block_number, row.tx_hash = ev.block_number, ev.tx_hash


@handles("RoundOpened")
def _round_opened(session: Session, ev: Located) -> None:
    a = ev.args
    session.merge(Round(number_key=a["numberKey"], round_id=a["round"], country=a["country"],
                        deadline=a["deadline"], vote_count=0, status="open",
                        opened_block=ev.block_number, opened_tx=ev.tx_hash))


@handles("VoteCast")
def _vote(session: Session, ev: Located) -> None:
    a = ev.args
    session.add(Vote(number_key=a["numberKey"], round_id=a["round"], validator=a["validator"],
                     country=a["country"], weight=a["weight"], score=a["score"],
                     confidence=a["confidence"], category=a["category"], abstain=a["abstain"],
                     model_hash=a["modelHash"], evidence_cid=a["evidenceCid"],
                     log_index=ev.log_index, **_loc(ev)))
    row = session.get(Round, (a["numberKey"], a["round"]))
    if row is not None:
        row.vote_count += 1


@handles("RoundFinalized", "RoundExpired")
def _round_closed(session: Session, ev: Located) -> None:
    a = ev.args
    row = session.get(Round, (a["numberKey"], a["round"]))
    if row is None:
        return
    row.status = "finalized" if ev.event == "RoundFinalized" else "expired"
    row.finalized_block, row.finalized_tx = ev.block_number, ev.tx_hash
    row.vote_count = a["voteCount"]
    if ev.event == "RoundFinalized":
        row.score, row.verdict, row.category = a["score"], a["verdict"], a["category"]
        row.weight = a["totalWeight"]
    else:
        row.weight = a["participatingWeight"]


@handles("RecordFinalized")
def _record(session: Session, ev: Located) -> None:
    a = ev.args
    old = session.get(RegistryRecord, a["numberKey"])
    session.merge(RegistryRecord(
        number_key=a["numberKey"], score=a["score"], verdict=a["verdict"],
        category=a["category"], round_id=a["round"], finalized_at=ev.block_time,
        expires_at=a["expiresAt"], dispute_status=0,
        locked_until=old.locked_until if old else 0, majority_country=a["majorityCountry"],
        **_loc(ev)))


@handles("DisputeStatusChanged", "RecordOverturned")
def _record_changed(session: Session, ev: Located) -> None:
    row = session.get(RegistryRecord, ev.args["numberKey"])
    if row is None:
        return
    if ev.event == "DisputeStatusChanged":
        row.dispute_status = ev.args["status"]
    else:  # mirrors SpamRegistry.applyUpheld
        row.verdict, row.category = 1, 0
        row.locked_until = ev.args["lockedUntil"]
        row.expires_at = max(row.expires_at, row.locked_until)
    row.block_number, row.tx_hash = ev.block_number, ev.tx_hash


@handles("EpochCommitted")
def _epoch(session: Session, ev: Located) -> None:
    a = ev.args
    session.add(Epoch(country=a["country"], epoch=a["epoch"], root=a["root"],
                      cid=a["snapshotCid"], model_hash=a["modelHash"],
                      leaf_count=a["leafCount"], committer=a["committer"],
                      log_index=ev.log_index, **_loc(ev)))


@handles("DisputeOpened")
def _dispute_opened(session: Session, ev: Located) -> None:
    a = ev.args
    session.merge(Dispute(
        dispute_id=a["id"], number_key=a["numberKey"], claimant_hash=a["claimant"],
        evidence_cid=a["evidenceCid"], status="open", deadline=a["deadline"],
        majority_country=a["majorityCountry"], record_round=a["recordRound"],
        eligible_weight=a["eligibleWeight"], uphold_weight=0, reject_weight=0,
        opened_block=ev.block_number, opened_tx=ev.tx_hash))


@handles("DisputeVoteCast")
def _arbiter_vote(session: Session, ev: Located) -> None:
    a = ev.args
    session.add(ArbiterVote(dispute_id=a["id"], arbiter=a["arbiter"], country=a["country"],
                            uphold=a["uphold"], weight=a["weight"], log_index=ev.log_index,
                            **_loc(ev)))
    row = session.get(Dispute, a["id"])
    if row is not None:
        if a["uphold"]:
            row.uphold_weight += a["weight"]
        else:
            row.reject_weight += a["weight"]


@handles("DisputeDecided", "DisputeExpired")
def _dispute_closed(session: Session, ev: Located) -> None:
    a = ev.args
    row = session.get(Dispute, a["id"])
    if row is None:
        return
    if ev.event == "DisputeExpired":
        row.status = "expired"
    else:
        row.status = "upheld" if a["upheld"] else "rejected"
    row.uphold_weight, row.reject_weight = a["upholdWeight"], a["rejectWeight"]
    row.decided_block, row.decided_tx = ev.block_number, ev.tx_hash
