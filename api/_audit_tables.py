"""Verify the index's votes, rounds, disputes and arbiter votes of a number against the chain.

The expected rows are rebuilt from the chain's own events for the number (every event with
an indexed ``numberKey``, read from the node by block and log index), replayed through the
same projection handlers the indexer uses into a scratch in-memory database. The served
rows are then compared with them, row by row and field by field: a forged row (no chain
event behind it), a missing row and an altered field each fail, naming the row and fields.
Nothing of the index is used to build the expected side.

Example::

    checks = table_checks(chain_events, session, key)   # one Check per table
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from api._models import ArbiterVote, Base, Dispute, RegistryRecord, Round, Vote
from api._projections import Located, apply
from api._schemas import Check

logger = logging.getLogger(__name__)

ChainEvents = dict[tuple[int, int], tuple[str, str, str, dict[str, Any]]]
_MAX_LISTED = 10
_SCRATCH_TABLES = [Base.metadata.tables[m.__tablename__]
                   for m in (Round, Vote, Dispute, ArbiterVote, RegistryRecord)]


def _round_key(r: Round) -> tuple[Any, ...]:
    return (r.round_id,)


def _vote_key(v: Vote) -> tuple[Any, ...]:
    return (v.block_number, v.log_index)


def _dispute_key(d: Dispute) -> tuple[Any, ...]:
    return (d.dispute_id,)


def _arbiter_key(v: ArbiterVote) -> tuple[Any, ...]:
    return (v.block_number, v.log_index)


# table label, model, row identity, identity label, columns compared
_TABLES: tuple[tuple[str, Any, Callable[[Any], tuple[Any, ...]], str, tuple[str, ...]], ...] = (
    ("rounds", Round, _round_key, "round {0}",
     ("country", "deadline", "vote_count", "status", "score", "verdict", "category", "weight",
      "opened_block", "opened_tx", "finalized_block", "finalized_tx")),
    ("votes", Vote, _vote_key, "block {0} log {1}",
     ("number_key", "round_id", "validator", "country", "weight", "score", "confidence",
      "category", "abstain", "model_hash", "evidence_cid", "tx_hash")),
    ("disputes", Dispute, _dispute_key, "dispute {0}",
     ("number_key", "claimant_hash", "evidence_cid", "status", "deadline", "majority_country",
      "record_round", "eligible_weight", "uphold_weight", "reject_weight", "opened_block",
      "opened_tx", "decided_block", "decided_tx")),
    ("arbiter votes", ArbiterVote, _arbiter_key, "block {0} log {1}",
     ("dispute_id", "arbiter", "country", "uphold", "weight", "tx_hash")),
)


def table_checks(events: ChainEvents, session: Session, key: str) -> list[Check]:
    """One check per table: the index's rows of ``key`` equal the chain events' replay."""
    expected = _replay(events)
    served = _served_rows(session, key)
    return [_compare(label, ident, columns, expected[label], served[label])
            for label, _model, _key, ident, columns in _TABLES]


def _replay(events: ChainEvents) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """The rows the indexer's projections make of ``events``, in a scratch database."""
    scratch = create_engine("sqlite://")
    try:
        Base.metadata.create_all(scratch, tables=_SCRATCH_TABLES)
        with Session(scratch) as session:
            for (block, log_index), (contract, name, tx, args) in sorted(events.items()):
                apply(session, Located(contract=contract, event=name, args=args,
                                       block_number=block, block_time=0, tx_hash=tx,
                                       log_index=log_index))
                session.flush()
            dispute_ids = [d.dispute_id for d in session.scalars(select(Dispute))]
            return _rows(session, None, dispute_ids)
    finally:
        scratch.dispose()


def _served_rows(session: Session, key: str) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    dispute_ids = list(session.scalars(select(Dispute.dispute_id)
                                       .where(Dispute.number_key == key)))
    return _rows(session, key, dispute_ids)


def _rows(session: Session, key: str | None,
          dispute_ids: Iterable[int]) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    ids = list(dispute_ids)
    out = {}
    for label, model, identity, _ident, columns in _TABLES:
        query = select(model)
        if model is ArbiterVote:
            query = query.where(ArbiterVote.dispute_id.in_(ids))
        elif key is not None:
            query = query.where(model.number_key == key)
        out[label] = {identity(row): {c: getattr(row, c) for c in columns}
                      for row in session.scalars(query)}
    return out


def _compare(label: str, ident: str, columns: tuple[str, ...],
             chain: dict[tuple[Any, ...], dict[str, Any]],
             index: dict[tuple[Any, ...], dict[str, Any]]) -> Check:
    problems = []
    for where in sorted(set(chain) | set(index)):
        name = ident.format(*where)
        ours, theirs = index.get(where), chain.get(where)
        if ours is None:
            problems.append(f"{name}: on the chain, missing from the index")
        elif theirs is None:
            problems.append(f"{name}: in the index, no chain event behind it")
        else:
            fields = [f"{c} index {ours[c]!r}, chain {theirs[c]!r}" for c in columns
                      if ours[c] != theirs[c]]
            if fields:
                problems.append(f"{name}: " + ", ".join(fields))
    more = (f" (and {len(problems) - _MAX_LISTED} more)"
            if len(problems) > _MAX_LISTED else "")
    return Check(name=f"served {label} = chain events", ok=not problems,
                 detail="; ".join(problems[:_MAX_LISTED]) + more if problems else
                 f"{len(index)} row(s) equal the replay of the chain's events")
