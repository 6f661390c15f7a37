"""The reputation read model: every indexed number's answer, serialized once, in memory.

The reputation endpoints answer from a dict ``number key -> pre-rendered JSON``, built from
the index by the same rule as the SQL path (:func:`api._reputation.assemble`), so the answers
are equal; a request only normalizes, hashes, looks up and concatenates bytes. SQL stays the
source for ``verify=chain``, history and audit.

Freshness. The indexer is its own process; after each range that stored events (and after
epoch leaves load) it bumps an in-process counter (:func:`notify`) and, given a path,
atomically replaces a small signal file (:func:`signal_path`). A worker checks the counter and
``stat``s the file on every request (about a microsecond) and, at the latest every
``poll_seconds``, reads the index's high-water signature: the indexer cursor and the set of
loaded epochs. When it moved, the worker updates only the keys touched since its own block
(events since it, disputes opened or decided since it, leaves of newly loaded epochs); a
vanished epoch or an unindexed database means a full rebuild. Reads that race the indexer
converge: the signature is read before the rows, so anything newer is re-read next time.

Example::

    model = ReadModel(engine, signal=signal_path(settings))
    body = model.single("+14155550123", hasher.hex("+14155550123"), with_key=True)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api._db import sessions
from api._models import ChainEvent, Dispute, Epoch, EpochLeaf, IndexCursor, RegistryRecord
from api._reputation import assemble, index_rows
from api._schemas import Reputation

logger = logging.getLogger(__name__)

__all__ = ["ReadModel", "notify", "signal_path", "write_signal"]

SIGNAL_FILE = "index.signal"
_BUILD_CHUNK = 2000
_LOADED = "loaded"
_FOREVER = 1 << 62

_local = {"generation": 0, "rebuild": 0}
_local_lock = threading.Lock()


def notify(path: Path | None = None, rebuild: bool = False) -> None:
    """Tell read models that the index changed: in this process at once, in others through
    the signal file at ``path`` (written atomically) when given. ``rebuild`` makes this
    process's models read everything again (for rows written outside the indexer, as tests
    do)."""
    with _local_lock:
        _local["generation"] += 1
        if rebuild:
            _local["rebuild"] += 1
    if path is not None:
        write_signal(path)


def write_signal(path: Path) -> None:
    """Replace the signal file atomically (a new inode each time: ``stat`` sees it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(f"{time.time_ns()}\n")
    os.replace(tmp, path)


def signal_path(settings) -> Path:
    """Where the indexer of ``settings`` signals index changes to the API workers."""
    return Path(settings.data_dir).resolve() / SIGNAL_FILE


@dataclass(frozen=True)
class _Entry:
    """A key's answer as JSON tails (everything after ``number`` and ``number_key``):
    with and without the round's votes, before and after ``expires_at`` (0: never)."""

    expires_at: int
    single: bytes
    single_expired: bytes
    batch: bytes
    batch_expired: bytes

    def tail(self, now: int, with_votes: bool) -> bytes:
        expired = bool(self.expires_at) and self.expires_at <= now
        if with_votes:
            return self.single_expired if expired else self.single
        return self.batch_expired if expired else self.batch


@dataclass(frozen=True)
class _Signature:
    block: int | None
    epochs: frozenset[int]


def _tail(rep: Reputation) -> bytes:
    body = rep.model_dump(mode="json", exclude_none=True)
    body.pop("number", None)
    body.pop("number_key", None)
    return orjson.dumps(body)[1:]  # drop the opening brace


_UNKNOWN = _tail(Reputation(number="", verdict="unknown", category="none"))


class ReadModel:
    """Answers of every indexed key, refreshed from the index as the indexer advances."""

    def __init__(self, engine: Engine, signal: Path | None = None,
                 poll_seconds: float = 1.0):
        self._sessions = sessions(engine)
        self._signal = signal
        self.poll_seconds = poll_seconds
        self._entries: dict[str, _Entry] = {}
        self._sig: _Signature | None = None
        self._seen_local = -1
        self._seen_rebuild = 0
        self._seen_file: tuple[int, int] | None = None
        self._polled = float("-inf")
        self._lock = threading.Lock()
        self.rebuilds = self.updates = 0

    # ------------------------------------------------------------------ answers

    def single(self, e164: str, key: str, with_key: bool, now: int | None = None) -> bytes:
        """The JSON body of one number's answer (with the round's votes)."""
        self.fresh()
        entry = self._entries.get(key)
        now = int(time.time()) if now is None else now
        tail = _UNKNOWN if entry is None else entry.tail(now, True)
        return _head(e164, key, with_key) + tail

    def many(self, pairs: Iterable[tuple[str, str] | bytes], now: int | None = None) -> bytes:
        """The JSON body of a batch: ``(e164, key)`` pairs answered in order (without votes,
        with keys); ready ``bytes`` items (errors) are passed through."""
        self.fresh()
        get = self._entries.get
        now = int(time.time()) if now is None else now
        parts = []
        for item in pairs:
            if isinstance(item, bytes):
                parts.append(item)
                continue
            e164, key = item
            entry = get(key)
            parts.append(b'{"number":"%s","number_key":"%s",%s' % (
                e164.encode(), key.encode(), _UNKNOWN if entry is None
                else entry.tail(now, False)))
        return b'{"results":[' + b",".join(parts) + b"]}"

    def __len__(self) -> int:
        self.fresh()
        return len(self._entries)

    # ------------------------------------------------------------------ freshness

    def due(self) -> bool:
        """Whether the next answer would first read the index (a signal or a due poll):
        async callers then run :meth:`fresh` in a thread rather than on the event loop."""
        return self._forced() or time.monotonic() >= self._polled + self.poll_seconds

    def fresh(self) -> None:
        """Refresh first if this process or the indexer signalled a change, or the poll is
        due; a due poll that another thread is already running does not wait."""
        if self._forced():
            with self._lock:
                self._refresh()
        elif (time.monotonic() >= self._polled + self.poll_seconds
              and self._lock.acquire(blocking=False)):
            try:
                self._refresh()
            finally:
                self._lock.release()

    def _forced(self) -> bool:
        return (self._sig is None or self._seen_local != _local["generation"]
                or self._file_changed())

    def _file_changed(self) -> bool:
        if self._signal is None:
            return False
        try:
            st = os.stat(self._signal)
        except OSError:
            return False
        return (st.st_ino, st.st_mtime_ns) != self._seen_file

    def _stamp_file(self) -> None:
        if self._signal is None:
            return
        try:
            st = os.stat(self._signal)
            self._seen_file = (st.st_ino, st.st_mtime_ns)
        except OSError:
            self._seen_file = None

    def rebuild(self) -> None:
        """Read every answer again (for index rows written outside the indexer)."""
        with self._lock:
            self._sig = None
            self._refresh()

    def _refresh(self) -> None:
        self._seen_local = _local["generation"]
        if self._seen_rebuild != _local["rebuild"]:
            self._seen_rebuild = _local["rebuild"]
            self._sig = None
        self._stamp_file()
        self._polled = time.monotonic()
        with self._sessions() as session:
            sig = _signature(session)
            old = self._sig
            if old is not None and sig == old:
                return
            if old is None or old.block is None or sig.block is None \
                    or not old.epochs <= sig.epochs or sig.block < old.block:
                self._entries = _render(session, _all_keys(session))
                self.rebuilds += 1
                logger.info("reputation read model built: %d keys at block %s",
                            len(self._entries), sig.block)
            else:
                touched = _touched(session, old.block, sig.epochs - old.epochs)
                self._entries.update(_render(session, touched))
                self.updates += 1
                logger.debug("reputation read model: %d keys updated, block %s -> %s",
                             len(touched), old.block, sig.block)
        self._sig = sig


def _head(e164: str, key: str, with_key: bool) -> bytes:
    if with_key:
        return b'{"number":"%s","number_key":"%s",' % (e164.encode(), key.encode())
    return b'{"number":"%s",' % e164.encode()


def _signature(session: Session) -> _Signature:
    from api._indexer import STREAM

    block = session.scalar(select(IndexCursor.last_block).where(IndexCursor.stream == STREAM))
    epochs = frozenset(session.scalars(select(Epoch.id).where(Epoch.leaves_status == _LOADED)))
    return _Signature(None if block is None else int(block), epochs)


def _all_keys(session: Session) -> set[str]:
    keys = set(session.scalars(select(RegistryRecord.number_key)))
    keys.update(session.scalars(select(EpochLeaf.number_key).distinct()))
    keys.update(session.scalars(select(Dispute.number_key)))
    return keys


def _touched(session: Session, since: int, new_epochs: frozenset[int]) -> set[str]:
    """Keys whose answer may have changed after block ``since``."""
    keys: set[str] = {k for k in session.scalars(select(ChainEvent.number_key).where(
        ChainEvent.block_number > since, ChainEvent.number_key.is_not(None)).distinct()) if k}
    keys.update(session.scalars(select(Dispute.number_key).where(
        (Dispute.opened_block > since) | (Dispute.decided_block > since))))
    if new_epochs:
        keys.update(session.scalars(select(EpochLeaf.number_key).where(
            EpochLeaf.epoch_id.in_(sorted(new_epochs))).distinct()))
    return keys


def _render(session: Session, keys: set[str]) -> dict[str, _Entry]:
    """Each key's answer rendered once, by the SQL path's own rule."""
    out: dict[str, _Entry] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _BUILD_CHUNK):
        chunk = ordered[start:start + _BUILD_CHUNK]
        rows = index_rows(session, set(chunk), with_votes=True)
        for key in chunk:
            out[key] = _entry(key, rows)
    return out


def _entry(key: str, rows) -> _Entry:
    record = rows.records.get(key)
    expires = int(record.expires_at or 0) if record is not None else 0
    single = _tail(assemble("", key, rows, 0, True))
    batch = _tail(assemble("", key, rows, 0, False))
    if batch == single:  # no round votes (epoch leaves, unknown with a dispute): keep one
        batch = single
    if not expires:
        return _Entry(0, single, single, batch, batch)
    return _Entry(expires, single, _tail(assemble("", key, rows, _FOREVER, True)), batch,
                  _tail(assemble("", key, rows, _FOREVER, False)))
