"""Disputes: evidence to IPFS, the dispute opened on-chain by the relayer, state from the index.

The evidence CID on-chain names a JSON manifest listing each uploaded file's CID, name, type
and size; the business identity never leaves the API (on-chain it is a SHA-256 claimant id).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.logs import DISCARD

from api._auth import Principal
from api._chain import jsonable
from api._context import Context
from api._errors import Conflict, UpstreamUnavailable
from api._models import ArbiterVote, Dispute, DisputeFiling
from api._reputation import is_expired
from api._schemas import ArbiterVoteOut, DisputeOut
from spamledger._numbers import Number
from spamledger._types import Verdict

logger = logging.getLogger(__name__)

DISPUTE = "Dispute"
DISPUTE_OPEN = "openDispute"
DISPUTE_OPENED = "DisputeOpened"


def open_dispute(ctx: Context, who: Principal, number: Number, business: str,
                 claimant: str, files: list[tuple[str, str, bytes]]) -> dict[str, Any]:
    """Upload the files and a manifest, open the dispute on-chain, record the filing."""
    key = ctx.hasher.hex(number.e164)
    chain = ctx.chain.get()
    _check_disputable(chain, key)
    evidence = ctx.evidence.get()
    listed = [{"name": name, "content_type": ctype, "size": len(data),
               "cid": evidence.put(data, ctype)} for name, ctype, data in files]
    manifest = json.dumps({"kind": "spamledger.dispute.evidence", "version": 1,
                           "files": listed}, sort_keys=True).encode()
    cid = evidence.put(manifest, "application/json")
    receipt = chain.transact(DISPUTE, DISPUTE_OPEN, bytes.fromhex(key[2:]),
                             bytes.fromhex(claimant[2:]), cid)
    dispute_id = _dispute_id(chain, receipt)
    tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    with ctx.session_factory() as session, session.begin():
        session.add(DisputeFiling(dispute_id=dispute_id, number_key=key, business=business,
                                  evidence_cid=cid, files=json.dumps(listed), tx_hash=tx_hash,
                                  api_key_id=who.key_id, created_at=time.time()))
    logger.info("dispute %s opened for %s… in %s", dispute_id, key[:10], tx_hash)
    return {"dispute_id": dispute_id, "number_key": key, "evidence_cid": cid,
            "tx_hash": tx_hash, "block_number": int(receipt["blockNumber"]), "files": listed}


def _check_disputable(chain, key: str) -> None:
    """Refuse before uploading anything when the contract would refuse anyway."""
    open_id = int(chain.call(DISPUTE, "openDisputeOf", bytes.fromhex(key[2:])))
    if open_id:
        raise Conflict(f"dispute {open_id} is already open for this number")
    record = chain.record(key)
    verdict = int(record["verdict"])
    if verdict not in (Verdict.SUSPICIOUS, Verdict.SPAM):
        raise Conflict(f"nothing to dispute: the number's verdict is "
                       f"{Verdict(verdict).name.lower()}")
    # SpamRegistry's one expiry rule, at the chain's clock (the latest block: the dispute's
    # own block can only be later), not the API's.
    expires, now = int(record["expiresAt"]), chain.block_time()
    if is_expired(expires, now):
        raise Conflict(f"nothing to dispute: the number's record expired at {expires} "
                       f"(chain time {now}); an expired record holds no verdict")


def _dispute_id(chain, receipt) -> int:
    event = getattr(chain.ledger.contract(DISPUTE).events, DISPUTE_OPENED)()
    logs = event.process_receipt(receipt, errors=DISCARD)
    if not logs:
        raise UpstreamUnavailable(f"transaction {receipt['transactionHash'].hex()} emitted "
                                  f"no {DISPUTE_OPENED}")
    args = jsonable(dict(logs[0]["args"]))
    for name in ("id", "disputeId", "dispute"):
        if name in args:
            return int(args[name])
    return int(next(v for v in args.values() if isinstance(v, int)))


def voting_open(status: str, deadline: int, now: float | None = None) -> bool:
    """Whether an open round or dispute still takes votes at ``now`` (default: the API's
    clock): both contracts refuse a vote once ``block.timestamp > deadline``."""
    return status == "open" and (time.time() if now is None else now) <= deadline


def dispute_out(session: Session, row: Dispute) -> DisputeOut:
    votes = session.scalars(select(ArbiterVote).where(ArbiterVote.dispute_id == row.dispute_id)
                            .order_by(ArbiterVote.block_number, ArbiterVote.log_index)).all()
    return DisputeOut(
        dispute_id=row.dispute_id, number_key=row.number_key, status=row.status,
        voting_open=voting_open(row.status, row.deadline),
        evidence_cid=row.evidence_cid, claimant_hash=row.claimant_hash, deadline=row.deadline,
        uphold_weight=row.uphold_weight, reject_weight=row.reject_weight,
        opened_block=row.opened_block, opened_tx=row.opened_tx,
        decided_block=row.decided_block, decided_tx=row.decided_tx,
        arbiter_votes=[ArbiterVoteOut(arbiter=v.arbiter, uphold=v.uphold, weight=v.weight,
                                      block_number=v.block_number, tx_hash=v.tx_hash)
                       for v in votes])
