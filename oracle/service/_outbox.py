"""The persistent outbox: every on-chain action the oracle intends, exactly once.

Each intended action (a vote for (key, round), opening a round, finalizing, an epoch commit,
a model registration) is a row with a deterministic idempotency id, so planning the same
action twice is a no-op. States::

    planned ──► signed ──► sent ──► mined
                  │          └────► failed (decoded reason)
                  └──────────────► failed

``sent`` is written (with the signed raw transaction, its hash and nonce) *before* the
transaction is broadcast, in the same SQLite transaction for every action it carries. After a
crash, a ``sent`` transaction is reconciled (see :mod:`oracle.service._submit`): its receipt,
or else a rebroadcast of the identical bytes (the nonce makes a double inclusion impossible),
or, when its nonce was consumed by something else, the contract state decides. Nothing is
ever re-signed with a fresh nonce while an older one may still land.

SQLite in WAL mode; one transaction per state change.

Example::

    box = Outbox(op.outbox_path)
    box.plan("vote:31337:0xab..:7", "vote", {"round": 7, ...})
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oracle.service._errors import OutboxError

logger = logging.getLogger(__name__)

PLANNED, SIGNED, SENT, MINED, FAILED = "planned", "signed", "sent", "mined", "failed"
OPEN_STATES = (PLANNED, SIGNED, SENT)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    id       TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    payload  TEXT NOT NULL,
    state    TEXT NOT NULL,
    tx_hash  TEXT,
    block    INTEGER,
    error    TEXT,
    created  REAL NOT NULL,
    updated  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_state ON actions(state, kind);
CREATE INDEX IF NOT EXISTS actions_tx ON actions(tx_hash);
CREATE TABLE IF NOT EXISTS txs (
    hash     TEXT PRIMARY KEY,
    nonce    INTEGER NOT NULL,
    raw      BLOB NOT NULL,
    sent_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS published (
    key      TEXT PRIMARY KEY,
    verdict  INTEGER NOT NULL,
    score    INTEGER NOT NULL,
    updated  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name     TEXT PRIMARY KEY,
    value    TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Action:
    """One outbox row."""

    id: str
    kind: str
    payload: dict[str, Any]
    state: str
    tx_hash: str | None = None
    block: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class SentTx:
    """A transaction recorded as sent: its hash, nonce and signed bytes."""

    hash: str
    nonce: int
    raw: bytes


class Outbox:
    """The outbox database of one operator (one file; safe across process restarts)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: {exc}") from exc

    # -- planning -------------------------------------------------------------------------

    def plan(self, action_id: str, kind: str, payload: dict[str, Any]) -> Action:
        """Record an intended action; if ``action_id`` exists, return it unchanged."""
        return self.plan_many([(action_id, kind, payload)])[0]

    def plan_many(self, items: Iterable[tuple[str, str, dict[str, Any]]]) -> list[Action]:
        """:meth:`plan` for many actions in one database transaction."""
        now, ids = time.time(), []
        with self._tx() as db:
            for action_id, kind, payload in items:
                db.execute("INSERT OR IGNORE INTO actions(id, kind, payload, state, created,"
                           " updated) VALUES (?, ?, ?, ?, ?, ?)",
                           (action_id, kind, _dump(payload), PLANNED, now, now))
                ids.append(action_id)
        return [self.get(i) for i in ids]

    # -- state changes --------------------------------------------------------------------

    def mark_signed(self, action_id: str, payload: dict[str, Any]) -> Action:
        """Store the signed form of a planned action (e.g. its EIP-712 signature)."""
        with self._tx() as db:
            self._require(db, action_id, (PLANNED, SIGNED))
            db.execute("UPDATE actions SET payload=?, state=?, updated=? WHERE id=?",
                       (_dump(payload), SIGNED, time.time(), action_id))
        return self.get(action_id)

    def mark_signed_many(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """:meth:`mark_signed` for many actions in one database transaction."""
        now = time.time()
        with self._tx() as db:
            for action_id, _ in items:
                self._require(db, action_id, (PLANNED, SIGNED))
            db.executemany("UPDATE actions SET payload=?, state=?, updated=? WHERE id=?",
                           [(_dump(p), SIGNED, now, i) for i, p in items])

    def mark_sent(self, action_ids: list[str], tx: SentTx) -> None:
        """Record that ``tx`` carries ``action_ids``; call *before* broadcasting it."""
        now = time.time()
        with self._tx() as db:
            for action_id in action_ids:
                self._require(db, action_id, (PLANNED, SIGNED))
            db.execute("INSERT INTO txs(hash, nonce, raw, sent_at) VALUES (?, ?, ?, ?)",
                       (tx.hash, tx.nonce, tx.raw, now))
            db.executemany("UPDATE actions SET state=?, tx_hash=?, updated=? WHERE id=?",
                           [(SENT, tx.hash, now, i) for i in action_ids])
        logger.debug("outbox: %d action(s) in tx %s nonce %d", len(action_ids), tx.hash,
                     tx.nonce)

    def mark_tx_mined(self, tx_hash: str, block: int) -> int:
        """Every action carried by ``tx_hash`` is mined; returns how many."""
        with self._tx() as db:
            cur = db.execute("UPDATE actions SET state=?, block=?, updated=? "
                             "WHERE tx_hash=? AND state=?",
                             (MINED, block, time.time(), tx_hash, SENT))
            return cur.rowcount

    def mark_tx_failed(self, tx_hash: str, reason: str) -> int:
        """The transaction reverted: its actions fail with ``reason``."""
        with self._tx() as db:
            cur = db.execute("UPDATE actions SET state=?, error=?, updated=? "
                             "WHERE tx_hash=? AND state=?",
                             (FAILED, reason, time.time(), tx_hash, SENT))
            return cur.rowcount

    def mark_mined(self, action_id: str, block: int | None) -> None:
        """One action is on chain (found by contract state, not by its own receipt)."""
        self._set(action_id, MINED, block=block)

    def mark_failed(self, action_id: str, reason: str) -> None:
        """Give an action up with ``reason``."""
        self._set(action_id, FAILED, error=reason)

    def requeue_tx(self, tx_hash: str) -> int:
        """A sent transaction is gone for good (nonce used elsewhere): back to ``signed``."""
        with self._tx() as db:
            cur = db.execute("UPDATE actions SET state=?, tx_hash=NULL, updated=? "
                             "WHERE tx_hash=? AND state=?",
                             (SIGNED, time.time(), tx_hash, SENT))
            return cur.rowcount

    def _set(self, action_id: str, state: str, *, block: int | None = None,
             error: str | None = None) -> None:
        with self._tx() as db:
            self._require(db, action_id, OPEN_STATES)
            db.execute("UPDATE actions SET state=?, block=?, error=?, updated=? WHERE id=?",
                       (state, block, error, time.time(), action_id))

    @staticmethod
    def _require(db: sqlite3.Connection, action_id: str, states: tuple[str, ...]) -> None:
        row = db.execute("SELECT state FROM actions WHERE id=?", (action_id,)).fetchone()
        if row is None:
            raise OutboxError(f"outbox has no action {action_id!r}")
        if row[0] not in states:
            raise OutboxError(f"action {action_id!r} is {row[0]}, expected one of {states}")

    # -- reading --------------------------------------------------------------------------

    def get(self, action_id: str) -> Action:
        row = self._db.execute("SELECT id, kind, payload, state, tx_hash, block, error "
                               "FROM actions WHERE id=?", (action_id,)).fetchone()
        if row is None:
            raise OutboxError(f"outbox has no action {action_id!r}")
        return _action(row)

    def find(self, action_id: str) -> Action | None:
        try:
            return self.get(action_id)
        except OutboxError:
            return None

    def actions(self, states: Iterable[str] = OPEN_STATES,
                kind: str | None = None) -> list[Action]:
        """Actions in ``states`` (optionally of one ``kind``), oldest first."""
        states = tuple(states)
        sql = (f"SELECT id, kind, payload, state, tx_hash, block, error FROM actions "
               f"WHERE state IN ({','.join('?' * len(states))})")
        args: list[Any] = list(states)
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        return [_action(r) for r in self._db.execute(sql + " ORDER BY created, id", args)]

    def sent_txs(self) -> list[SentTx]:
        """Transactions that still carry ``sent`` actions, by nonce."""
        rows = self._db.execute(
            "SELECT DISTINCT t.hash, t.nonce, t.raw FROM txs t JOIN actions a "
            "ON a.tx_hash = t.hash WHERE a.state=? ORDER BY t.nonce", (SENT,)).fetchall()
        return [SentTx(h, n, bytes(r)) for h, n, r in rows]

    def tx_actions(self, tx_hash: str) -> list[Action]:
        rows = self._db.execute("SELECT id, kind, payload, state, tx_hash, block, error "
                                "FROM actions WHERE tx_hash=? ORDER BY id", (tx_hash,))
        return [_action(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Number of actions per state."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM actions GROUP BY state")
        return {state: n for state, n in rows}

    # -- what this operator last voted per number (to push only changed verdicts) -------------

    def published(self, keys: Iterable[str]) -> dict[str, tuple[int, int]]:
        """key hex -> (verdict, score bps) last voted, for the keys that have one."""
        out: dict[str, tuple[int, int]] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            rows = self._db.execute(
                f"SELECT key, verdict, score FROM published WHERE key IN "
                f"({','.join('?' * len(chunk))})", chunk)
            out.update({k: (v, s) for k, v, s in rows})
        return out

    def record_published(self, rows: Iterable[tuple[str, int, int]]) -> None:
        """Remember (key hex, verdict, score) as voted."""
        now = time.time()
        with self._tx() as db:
            db.executemany("INSERT INTO published(key, verdict, score, updated) "
                           "VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                           "verdict=excluded.verdict, score=excluded.score, "
                           "updated=excluded.updated", [(k, v, s, now) for k, v, s in rows])

    def forget_published(self, keys: Iterable[str]) -> None:
        """Forget what was voted for ``keys`` (hex): their next verdict counts as a change."""
        with self._tx() as db:
            db.executemany("DELETE FROM published WHERE key=?", [(k,) for k in keys])

    def forget_failed(self, action_id: str) -> bool:
        """Delete one failed action so it can be planned afresh; True if there was one."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM actions WHERE id=? AND state=?", (action_id, FAILED))
            return cur.rowcount > 0

    def clear_failed(self, kind: str | None = None) -> list[Action]:
        """Delete failed actions (of one ``kind``) so they can be planned afresh; their vote
        numbers are forgotten as published. Returns the cleared actions."""
        cleared = self.actions([FAILED], kind)
        with self._tx() as db:
            db.executemany("DELETE FROM actions WHERE id=?", [(a.id,) for a in cleared])
        self.forget_published(a.payload["numberKey"] for a in cleared
                              if a.kind == "vote" and "numberKey" in a.payload)
        return cleared

    # -- small persistent values (cursors, current model) -----------------------------------

    def get_meta(self, name: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, name: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) "
                       "DO UPDATE SET value=excluded.value", (name, value))


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _action(row: tuple[Any, ...]) -> Action:
    return Action(id=row[0], kind=row[1], payload=json.loads(row[2]), state=row[3],
                  tx_hash=row[4], block=row[5], error=row[6])
