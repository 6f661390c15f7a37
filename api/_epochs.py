"""Epoch snapshot leaves: fetched from IPFS, checked against the committed root, indexed.

An ``EpochCommitted`` event carries only the root and the snapshot's CID. The table itself
(Parquet: ``number_key`` binary(32), ``score``, ``verdict``, ``category``; written by the
oracle) is fetched through the verifying evidence store, its Merkle tree rebuilt, and only
when the rebuilt root equals the committed root are the leaves stored with their proofs, so
every proof the API hands out verifies on-chain with ``SnapshotRegistry.verifyLeaf``.
Proofs are stored per leaf (about 1.3 KB a leaf at a million leaves): reads stay one query.

A failure is final only when the content itself says so: bytes that verify against the CID
but are no snapshot (``unreadable``), a rebuilt root other than the committed one
(``root_mismatch``), a document erased on request (``erased``). Anything else (IPFS
unreachable, erroring, timing out or serving bytes that do not match the CID; the database
failing midway) keeps the epoch pending, retried after ``index_epoch_retry_seconds``
doubling per attempt up to an hour, with the attempt count and last error on the row for
``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, func, select

from api._db import session_scope
from api._errors import ApiError
from api._models import Epoch, EpochLeaf
from api._readmodel import notify

logger = logging.getLogger(__name__)

LOADED, MISMATCH, UNREADABLE, ERASED = "loaded", "root_mismatch", "unreadable", "erased"
PENDING = ""
RETRY_MAX_SECONDS = 3600.0
_BATCH = 5000


class _Transient(Exception):
    """A failure that says nothing about the snapshot itself: try again later."""


@dataclass(frozen=True)
class EpochBacklog:
    """Epochs whose leaves are not loaded yet, and how many of them failed transiently."""

    pending: int
    retrying: int
    last_error: str


def epoch_backlog(session) -> EpochBacklog:
    """Pending and retrying epochs (for ``/healthz`` and ``/metrics``)."""
    pending = session.scalar(select(func.count(Epoch.id))
                             .where(Epoch.leaves_status == PENDING)) or 0
    failing = session.execute(select(Epoch.last_error).where(
        Epoch.leaves_status == PENDING, Epoch.load_attempts > 0)
        .order_by(Epoch.next_attempt_at.desc())).scalars().all()
    return EpochBacklog(int(pending), len(failing), failing[0] if failing else "")


def load_pending_epochs(engine: Engine, evidence, limit: int = 10,
                        retry_seconds: float = 5.0) -> int:
    """Load the leaves of up to ``limit`` committed epochs that are pending and due; returns
    how many were tried. A transient failure leaves the epoch pending, due again after
    ``retry_seconds`` doubled per earlier attempt (at most :data:`RETRY_MAX_SECONDS`)."""
    now = time.time()
    with session_scope(engine) as session:
        pending = session.scalars(select(Epoch).where(Epoch.leaves_status == PENDING,
                                                      Epoch.next_attempt_at <= now)
                                  .order_by(Epoch.block_number).limit(limit)).all()
    for epoch in pending:
        try:
            status = _load(engine, evidence, epoch)
        except _Transient as exc:
            delay = _retry_later(engine, epoch, str(exc.__cause__ or exc), retry_seconds)
            logger.warning("epoch %s/%s snapshot %s not loaded (attempt %d, retry in %.0fs): "
                           "%s", epoch.country, epoch.epoch, epoch.cid,
                           epoch.load_attempts + 1, delay, exc.__cause__ or exc)
            continue
        logger.info("epoch %s/%s (%s): %s", epoch.country, epoch.epoch, epoch.cid, status)
    return len(pending)


def _retry_later(engine: Engine, epoch: Epoch, error: str, retry_seconds: float) -> float:
    delay = min(max(retry_seconds, 0.0) * 2 ** epoch.load_attempts, RETRY_MAX_SECONDS)
    try:
        with session_scope(engine) as session:
            row = _row(session, epoch.id)
            row.load_attempts += 1
            row.next_attempt_at = time.time() + delay
            row.last_error = error[:1000]
    except ApiError as exc:  # the database is down too: the epoch simply stays pending
        logger.warning("epoch %s/%s retry not recorded: %s", epoch.country, epoch.epoch,
                       exc.detail)
    return delay


def _fetch(evidence, cid: str) -> bytes | str:
    """The snapshot bytes, or a final status (``erased``); :class:`_Transient` otherwise."""
    from node import ipfs

    try:
        return bytes(evidence.get(cid))
    except ipfs.Erased:
        return ERASED
    except (ipfs.EvidenceError, ApiError, OSError) as exc:
        raise _Transient(f"fetching {cid}: {type(exc).__name__}") from exc


def _load(engine: Engine, evidence, epoch: Epoch) -> str:
    from oracle.service import MerkleTree

    data = _fetch(evidence, epoch.cid)
    if isinstance(data, str):
        logger.warning("epoch %s/%s snapshot %s was erased", epoch.country, epoch.epoch,
                       epoch.cid)
        return _mark(engine, epoch.id, data)
    try:
        rows = _read(data)
        tree = MerkleTree.build(rows)
    except Exception as exc:  # bytes that verify against the CID but are no snapshot
        logger.error("epoch %s/%s snapshot %s unreadable: %s", epoch.country, epoch.epoch,
                     epoch.cid, exc)
        return _mark(engine, epoch.id, UNREADABLE)
    if "0x" + tree.root.hex() != epoch.root:
        logger.error("epoch %s/%s: snapshot %s has root 0x%s, chain committed %s",
                     epoch.country, epoch.epoch, epoch.cid, tree.root.hex(), epoch.root)
        return _mark(engine, epoch.id, MISMATCH)
    try:
        with session_scope(engine) as session:
            for start in range(0, len(rows), _BATCH):
                session.add_all(_leaf(epoch.id, tree, row)
                                for row in rows[start:start + _BATCH])
                session.flush()
            _row(session, epoch.id).leaves_status = LOADED
    except ApiError as exc:  # the database failed midway: nothing was committed
        raise _Transient(f"storing leaves: {exc.detail}") from exc
    notify()  # this process's read models; the indexer signals the others
    return LOADED


def _leaf(epoch_id: int, tree, row: tuple[bytes, int, int, int]) -> EpochLeaf:
    key, score, verdict, category = row
    return EpochLeaf(epoch_id=epoch_id, number_key="0x" + key.hex(), score=score,
                     verdict=verdict, category=category,
                     proof=",".join("0x" + p.hex() for p in tree.proof(key)))


def _mark(engine: Engine, epoch_id: int, status: str) -> str:
    with session_scope(engine) as session:
        _row(session, epoch_id).leaves_status = status
    return status


def _row(session, epoch_id: int) -> Epoch:
    row = session.get(Epoch, epoch_id)
    if row is None:  # the indexer wrote it in an earlier transaction; it cannot vanish
        raise LookupError(f"epoch row {epoch_id} disappeared")
    return row


def _read(data: bytes) -> list[tuple[bytes, int, int, int]]:
    table = pq.read_table(pa.BufferReader(data),
                          columns=["number_key", "score", "verdict", "category"])
    cols = [table.column(c).to_pylist() for c in ("number_key", "score", "verdict",
                                                  "category")]
    return [(bytes(k), int(s), int(v), int(c)) for k, s, v, c in zip(*cols, strict=True)]
