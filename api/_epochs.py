"""Epoch snapshot leaves: fetched from IPFS, checked against the committed root, indexed.

An ``EpochCommitted`` event carries only the root and the snapshot's CID. The table itself
(Parquet: ``number_key`` binary(32), ``score``, ``verdict``, ``category``; written by the
oracle) is fetched through the verifying evidence store, its Merkle tree rebuilt, and only
when the rebuilt root equals the committed root are the leaves stored with their proofs, so
every proof the API hands out verifies on-chain with ``SnapshotRegistry.verifyLeaf``.
Proofs are stored per leaf (about 1.3 KB a leaf at a million leaves): reads stay one query.
"""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from api._db import session_scope
from api._models import Epoch, EpochLeaf

logger = logging.getLogger(__name__)

LOADED, MISMATCH, UNREADABLE = "loaded", "root_mismatch", "unreadable"
_BATCH = 5000


def load_pending_epochs(engine: Engine, evidence, limit: int = 10) -> int:
    """Load the leaves of up to ``limit`` committed epochs not loaded yet; returns how many."""
    with session_scope(engine) as session:
        pending = session.scalars(select(Epoch).where(Epoch.leaves_status == "")
                                  .order_by(Epoch.block_number).limit(limit)).all()
    for epoch in pending:
        status = _load(engine, evidence, epoch)
        logger.info("epoch %s/%s (%s): %s", epoch.country, epoch.epoch, epoch.cid, status)
    return len(pending)


def _load(engine: Engine, evidence, epoch: Epoch) -> str:
    from oracle.service import MerkleTree

    try:
        rows = _read(evidence.get(epoch.cid))
        tree = MerkleTree.build(rows)
    except Exception as exc:  # missing, tampered, erased or malformed: all leave no leaves
        logger.warning("epoch %s/%s snapshot %s unreadable: %s", epoch.country, epoch.epoch,
                       epoch.cid, exc)
        return _mark(engine, epoch.id, UNREADABLE)
    if "0x" + tree.root.hex() != epoch.root:
        logger.error("epoch %s/%s: snapshot %s has root 0x%s, chain committed %s",
                     epoch.country, epoch.epoch, epoch.cid, tree.root.hex(), epoch.root)
        return _mark(engine, epoch.id, MISMATCH)
    with session_scope(engine) as session:
        for start in range(0, len(rows), _BATCH):
            session.add_all(_leaf(epoch.id, tree, row) for row in rows[start:start + _BATCH])
            session.flush()
        _row(session, epoch.id).leaves_status = LOADED
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
