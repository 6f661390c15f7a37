"""The report path's relay in the API: operators' signed messages kept in the database.

The relay is untrusted by design (:mod:`oracle.service._relay`): it checks every message on
arrival (size, items, shape, chain and contract, the envelope signature, the sender an
active validator, a proposal from the seq's leader, a report signature from a listed
signer) and answers a refusal with a 4xx naming why; the operators check every message
again, and ReportConsensus checks the report. Messages live in ``relay_messages`` so every
API worker serves the same ones; seqs older than the newest kept minus ``MAX_SEQS`` are
dropped.

Example::

    board = relay_board(ctx)
    board.post(raw_envelope)          # RelayRefused(status, detail) when refused
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import delete, func, select

from api._context import Context
from api._db import session_scope
from api._models import RelayMessage

logger = logging.getLogger(__name__)

MAX_SEQS = 64


class SqlMessageStore:
    """:class:`oracle.service._relay.MessageStore` on the API database."""

    def __init__(self, session_factory: Any, max_seqs: int = MAX_SEQS):
        self.sessions, self.max_seqs = session_factory, max_seqs

    def get(self, seq: int, kind: str) -> list[tuple[str, bytes]]:
        with session_scope(self.sessions) as session:
            rows = session.execute(select(RelayMessage.sender, RelayMessage.body).where(
                RelayMessage.seq == int(seq), RelayMessage.kind == kind)
                .order_by(RelayMessage.sender)).all()
        return [(sender, body.encode()) for sender, body in rows]

    def put(self, seq: int, kind: str, sender: str, raw: bytes) -> None:
        with session_scope(self.sessions) as session:
            row = session.get(RelayMessage, (int(seq), kind, sender.lower()))
            if row is None:
                session.add(RelayMessage(seq=int(seq), kind=kind, sender=sender.lower(),
                                         body=raw.decode(), received_at=time.time()))
            else:
                row.body, row.received_at = raw.decode(), time.time()
            newest = session.scalar(select(func.max(RelayMessage.seq))) or int(seq)
            session.execute(delete(RelayMessage).where(
                RelayMessage.seq < max(int(seq), int(newest)) - self.max_seqs))


def relay_board(ctx: Context) -> Any:
    """The relay board of this API: the chain's validators and ReportConsensus, messages in
    the database (built once per process)."""
    board = getattr(ctx, "_relay_board", None)
    if board is None:
        from oracle.service._relay import RelayBoard
        from oracle.service._reportpath import ActiveValidators

        ledger = ctx.chain.get().ledger
        board = RelayBoard(int(ledger.w3.eth.chain_id),
                           ledger.deployment.address("ReportConsensus"),
                           ActiveValidators(ledger.call),
                           store=SqlMessageStore(ctx.session_factory))
        ctx._relay_board = board  # type: ignore[attr-defined]
    return board
