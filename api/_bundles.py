"""Edge bundle contents from the chain index: the answer the API gives for every number.

A number with a finalized SpamRegistry record answers from the record; a number only in
committed epoch snapshots answers from its latest leaf (the rule of ``api._reputation``).
The bundle block is the index cursor (every event up to it is indexed); a build refuses while
an epoch committed by then still waits for its leaves, since the bundle would then lack them.
The whole read runs in one repeatable-read transaction, so the indexer moving on meanwhile
cannot tear it.

A delta since block ``S`` carries every key whose record changed or that appears in an epoch
committed after ``S`` (records and loaded leaves never change otherwise), as an entry when its
answer is in scope and as a tombstone when it is not; its root is the full build's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select

from api._models import Epoch, EpochLeaf, IndexCursor, RegistryRecord, Round
from spamledger._files import write_atomic
from spamledger.edge._errors import NothingIndexed, SinceAhead, SourceError
from spamledger.edge._format import (
    ALL,
    DELTA,
    FULL,
    TOMBSTONE,
    Entries,
    Header,
    encode,
    make_entries,
    sort_entries,
)

logger = logging.getLogger(__name__)

LOADED, PENDING = "loaded", ""


@dataclass(frozen=True)
class Target:
    """Which chain and contracts a bundle describes (from the deployment record)."""

    chain_id: int
    spam_registry: str
    snapshot_registry: str

    @classmethod
    def from_deployment(cls, deployment) -> Target:
        return cls(int(deployment.chain_id), deployment.address("SpamRegistry"),
                   deployment.address("SnapshotRegistry"))


@dataclass
class Answers:
    """Every key's answer: hex key -> (score, verdict, category, expires, from_epoch, country,
    changed block)."""

    block: int
    rows: dict[str, tuple[int, int, int, int, bool, str, int]]


def read_answers(engine: Engine) -> Answers:
    """Every number's answer at the index cursor, read in one consistent transaction."""
    from api._indexer import STREAM

    level = "REPEATABLE READ" if engine.dialect.name == "postgresql" else "SERIALIZABLE"
    with engine.connect().execution_options(isolation_level=level) as conn, conn.begin():
        cursor = conn.execute(select(IndexCursor.last_block)
                              .where(IndexCursor.stream == STREAM)).scalar()
        if cursor is None:
            raise NothingIndexed("the API index is empty: run `spamledger api index` first")
        block = int(cursor)
        _refuse_pending(conn, Epoch, block)
        rows: dict[str, tuple[int, int, int, int, bool, str, int]] = {}
        leaves = conn.execute(
            select(EpochLeaf.number_key, EpochLeaf.score, EpochLeaf.verdict,
                   EpochLeaf.category, Epoch.country, Epoch.block_number)
            .join(Epoch, Epoch.id == EpochLeaf.epoch_id)
            .where(Epoch.leaves_status == LOADED, Epoch.block_number <= block)
            .order_by(Epoch.block_number, Epoch.log_index))
        for key, score, verdict, category, country, at in leaves:
            rows[key] = (score, verdict, category, 0, True, country, at)  # later epochs win
        records = conn.execute(
            select(RegistryRecord.number_key, RegistryRecord.score, RegistryRecord.verdict,
                   RegistryRecord.category, RegistryRecord.expires_at, Round.country,
                   RegistryRecord.block_number)
            .outerjoin(Round, (Round.number_key == RegistryRecord.number_key)
                       & (Round.round_id == RegistryRecord.round_id))
            .where(RegistryRecord.block_number <= block))
        for key, score, verdict, category, expires, country, at in records:
            rows[key] = (score, verdict, category, expires, False, country or "", at)
    return Answers(block, rows)


def _refuse_pending(conn, epoch_model, block: int) -> None:
    pending = conn.execute(select(epoch_model.country, epoch_model.epoch)
                           .where(epoch_model.leaves_status == PENDING,
                                  epoch_model.block_number <= block)).all()
    if pending:
        names = ", ".join(f"{c}/{e}" for c, e in pending[:5])
        raise SourceError(f"{len(pending)} epoch snapshot(s) committed by block {block} are "
                          f"not loaded yet ({names}); wait for the indexer and build again")


def entries_of(rows: dict, scope: str) -> Entries:
    """The in-scope answers as sorted bundle entries."""
    picked = [(k, r) for k, r in rows.items() if scope == ALL or r[5] == scope]
    keys = np.frombuffer(b"".join(bytes.fromhex(k[2:]) for k, _ in picked),
                         dtype=np.uint8).reshape(len(picked), 32)
    cols = list(zip(*(r for _, r in picked), strict=True)) or [()] * 7
    return make_entries(keys, cols[0], cols[1], cols[2], cols[3], cols[4])


def build(engine: Engine, target: Target, scope: str = ALL,
          since: int | None = None) -> tuple[Header, Entries]:
    """Header (root still empty) and entries of a full bundle, or of a delta since ``since``;
    encode with :func:`~spamledger.edge._format.encode`."""
    answers = read_answers(engine)
    header = Header(FULL, target.chain_id, answers.block, 0, 0, scope, target.spam_registry,
                    target.snapshot_registry)
    full = entries_of(answers.rows, scope)
    if since is None:
        return header, full
    if since > answers.block:
        raise SinceAhead(f"since={since} is after the indexed block {answers.block}")
    root = Header.unpack(encode(header, full)).root
    return (Header(DELTA, target.chain_id, answers.block, since, 0, scope,
                   target.spam_registry, target.snapshot_registry, root),
            _delta(answers.rows, scope, since))


def _delta(rows: dict, scope: str, since: int) -> Entries:
    touched = {k: r for k, r in rows.items() if r[6] > since}
    live = entries_of({k: r for k, r in touched.items() if scope == ALL or r[5] == scope},
                      ALL)
    gone = entries_of({k: r for k, r in touched.items() if scope != ALL and r[5] != scope},
                      ALL)
    gone.records[:] = np.zeros(len(gone), dtype=gone.records.dtype)
    gone.records["verdict"] = TOMBSTONE
    return sort_entries(np.concatenate([live.keys, gone.keys]),
                        np.concatenate([live.records, gone.records]))


def _file_scope(scope: str) -> str:
    return "all" if scope == ALL else scope


def cached_bundle(engine: Engine, target: Target, scope: str, directory: Path,
                  since: int | None = None, keep: int = 3) -> tuple[Path, Header]:
    """The bundle (or delta since ``since``) at the index cursor, built once per block and
    kept under ``directory`` (written atomically; older files of the scope pruned to
    ``keep``)."""
    directory.mkdir(parents=True, exist_ok=True)
    block = _cursor(engine)
    if since is not None and since > block:
        raise SinceAhead(f"since={since} is after the indexed block {block}")
    path = directory / _name(scope, block, since)
    if not path.exists():
        header, entries = build(engine, target, scope, since)
        path = directory / _name(scope, header.block, since)
        write_atomic(path, encode(header, entries))
        _prune(directory, scope, since is not None, keep)
    with path.open("rb") as fh:
        return path, Header.unpack(fh.read(128))


def _name(scope: str, block: int, since: int | None) -> str:
    if since is None:
        return f"{_file_scope(scope)}-{block:012d}.bundle"
    return f"{_file_scope(scope)}-{since:012d}-{block:012d}.delta"


def _prune(directory: Path, scope: str, delta: bool, keep: int) -> None:
    pattern = f"{_file_scope(scope)}-*." + ("delta" if delta else "bundle")
    files = sorted(directory.glob(pattern), key=lambda p: p.name.split("-")[-1])
    for old in files[:-keep * (20 if delta else 1)]:
        old.unlink(missing_ok=True)


def _cursor(engine: Engine) -> int:
    from api._indexer import STREAM

    with engine.connect() as conn:
        block = conn.execute(select(IndexCursor.last_block)
                             .where(IndexCursor.stream == STREAM)).scalar()
    if block is None:
        raise NothingIndexed("the API index is empty: run `spamledger api index` first")
    return int(block)
