"""Reputation answers from the index: registry record, round votes or epoch snapshot leaf.

A number with a finalized record answers from the record (and its round's votes); a number
only present in a committed epoch snapshot answers from the leaf with its Merkle proof
(checkable on-chain against the committed root); anything else is ``unknown``.
"""

from __future__ import annotations

import functools
import hmac
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api._errors import Unprocessable
from api._models import Dispute, Epoch, EpochLeaf, RegistryRecord, Round, Vote
from api._schemas import (
    BatchItemError,
    DisputeSummary,
    EpochSource,
    Reputation,
    RoundSource,
    VoteOut,
)
from spamledger._keyhash import NumberHasher
from spamledger._numbers import InvalidNumber, Number, normalize
from spamledger._types import SCORE_SCALE, Category, Verdict

logger = logging.getLogger(__name__)

# Large IN lists are split: SQLite's variable limit and planner both prefer modest chunks.
_CHUNK = 500


def parse_number(raw: str, country: str | None) -> Number:
    """Normalize ``raw`` or raise 422 naming the problem (too_short, invalid_for_region, ...)."""
    try:
        return normalize(raw, country)
    except InvalidNumber as exc:
        raise Unprocessable(f"invalid number: {exc.reason} ({raw[:64]!r}"
                            f"{', country ' + country if country else ''})") from exc


def verdict_name(code: int) -> str:
    try:
        return Verdict(code).name.lower()
    except ValueError:
        return f"code_{code}"


def category_name(code: int) -> str:
    try:
        return Category(code).name.lower()
    except ValueError:
        return f"code_{code}"


def vote_out(v: Vote) -> VoteOut:
    return VoteOut(validator=v.validator, country=v.country, weight=v.weight, score=v.score,
                   confidence=v.confidence, category=category_name(v.category),
                   abstain=v.abstain, model_hash=v.model_hash, evidence_cid=v.evidence_cid,
                   block_number=v.block_number, tx_hash=v.tx_hash)


def lookup(session: Session, hasher: NumberHasher, number: Number,
           with_votes: bool = True) -> Reputation:
    """The indexed reputation of one normalized number."""
    return lookup_many(session, hasher, [number], with_votes=with_votes)[0]


def is_expired(expires_at: int | None, now: int) -> bool:
    """SpamRegistry's rule, to the second: a record is expired once
    ``expiresAt <= block.timestamp`` (0 means it never expires)."""
    return bool(expires_at) and int(expires_at or 0) <= now


def lookup_many(session: Session, hasher: NumberHasher, numbers: Sequence[Number],
                with_votes: bool = False, now: int | None = None) -> list[Reputation]:
    """Indexed reputations of many numbers, in input order (expiry judged at ``now``)."""
    keys = [hasher.hex(n.e164) for n in numbers]
    rows = index_rows(session, set(keys), with_votes)
    now = int(time.time()) if now is None else now
    return [assemble(number.e164, key, rows, now, with_votes)
            for number, key in zip(numbers, keys, strict=True)]


@dataclass
class IndexRows:
    """Everything the index holds that a set of keys' answers depend on."""

    records: dict[str, RegistryRecord]
    leaves: dict[str, tuple[EpochLeaf, Epoch]]
    disputes: dict[str, Dispute]
    rounds: dict[tuple[str, int], Round]
    votes: dict[tuple[str, int], list[Vote]]


def index_rows(session: Session, keys: set[str], with_votes: bool) -> IndexRows:
    """The records, latest epoch leaves, latest disputes, rounds (and votes) of ``keys``."""
    records = _records(session, keys)
    missing = {k for k in keys if k not in records}
    leaves = _latest_leaves(session, missing) if missing else {}
    disputes = _open_disputes(session, keys)
    pairs = {(r.number_key, r.round_id) for r in records.values()}
    rounds = _rounds(session, pairs) if pairs else {}
    votes = _votes(session, pairs) if with_votes and pairs else {}
    return IndexRows(records, leaves, disputes, rounds, votes)


def assemble(e164: str, key: str, rows: IndexRows, now: int, with_votes: bool) -> Reputation:
    """One number's answer from its index rows (the single rule the read model shares)."""
    record = rows.records.get(key)
    rep = _answer(e164, key, record, rows.leaves.get(key), now)
    if record is not None:
        pair = (key, record.round_id)
        rep.source = _round_source(record, rows.rounds.get(pair),
                                   rows.votes.get(pair, []) if with_votes else None)
    dispute = rows.disputes.get(key)
    if dispute is not None:
        rep.dispute = DisputeSummary(dispute_id=dispute.dispute_id, status=dispute.status)
    return rep


def _answer(e164: str, key: str, record: RegistryRecord | None,
            leaf: tuple[EpochLeaf, Epoch] | None, now: int) -> Reputation:
    if record is not None:
        # Mirrors SpamRegistry.verdictOf: an expired record no longer says anything.
        expired = is_expired(record.expires_at, now)
        return Reputation(
            number=e164, number_key=key,
            verdict="unknown" if expired else verdict_name(record.verdict),
            recorded_verdict=verdict_name(record.verdict),
            score=record.score / SCORE_SCALE, score_bps=record.score,
            category=category_name(record.category), expires_at=record.expires_at or None,
            expired=expired, locked_until=record.locked_until or None)
    if leaf is not None:
        row, epoch = leaf
        return Reputation(
            number=e164, number_key=key, verdict=verdict_name(row.verdict),
            score=row.score / SCORE_SCALE, score_bps=row.score,
            category=category_name(row.category),
            source=EpochSource(country=epoch.country, epoch=epoch.epoch, root=epoch.root,
                               snapshot_cid=epoch.cid, leaf_count=epoch.leaf_count,
                               proof=[p for p in row.proof.split(",") if p],
                               block_number=epoch.block_number, tx_hash=epoch.tx_hash))
    return Reputation(number=e164, number_key=key, verdict="unknown", category="none")


def _round_source(record: RegistryRecord, rnd: Round | None,
                  votes: list[Vote] | None) -> RoundSource:
    return RoundSource(
        round_id=record.round_id,
        block_number=rnd.finalized_block if rnd and rnd.finalized_block else record.block_number,
        tx_hash=rnd.finalized_tx if rnd and rnd.finalized_tx else record.tx_hash,
        votes=[vote_out(v) for v in votes] if votes is not None else None)


def _chunks(items: Iterable) -> Iterable[list]:
    items = list(items)
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def _records(session: Session, keys: set[str]) -> dict[str, RegistryRecord]:
    out: dict[str, RegistryRecord] = {}
    for chunk in _chunks(keys):
        for row in session.scalars(select(RegistryRecord)
                                   .where(RegistryRecord.number_key.in_(chunk))):
            out[row.number_key] = row
    return out


def _latest_leaves(session: Session, keys: set[str]) -> dict[str, tuple[EpochLeaf, Epoch]]:
    out: dict[str, tuple[EpochLeaf, Epoch]] = {}
    for chunk in _chunks(keys):
        rows = session.execute(
            select(EpochLeaf, Epoch).join(Epoch, Epoch.id == EpochLeaf.epoch_id)
            .where(EpochLeaf.number_key.in_(chunk))
            .order_by(Epoch.block_number, Epoch.log_index))
        for leaf, epoch in rows:
            out[leaf.number_key] = (leaf, epoch)  # later epochs overwrite earlier ones
    return out


def _open_disputes(session: Session, keys: set[str]) -> dict[str, Dispute]:
    out: dict[str, Dispute] = {}
    for chunk in _chunks(keys):
        for row in session.scalars(select(Dispute).where(Dispute.number_key.in_(chunk))
                                   .order_by(Dispute.dispute_id)):
            out[row.number_key] = row  # the latest dispute of each number
    return out


def _rounds(session: Session, pairs: set[tuple[str, int]]) -> dict[tuple[str, int], Round]:
    out: dict[tuple[str, int], Round] = {}
    for chunk in _chunks(sorted({k for k, _ in pairs})):
        for row in session.scalars(select(Round).where(Round.number_key.in_(chunk))):
            if (row.number_key, row.round_id) in pairs:
                out[(row.number_key, row.round_id)] = row
    return out


def _votes(session: Session, pairs: set[tuple[str, int]]) -> dict[tuple[str, int], list[Vote]]:
    out: dict[tuple[str, int], list[Vote]] = {}
    for chunk in _chunks(sorted({k for k, _ in pairs})):
        for row in session.scalars(select(Vote).where(Vote.number_key.in_(chunk))
                                   .order_by(Vote.block_number, Vote.log_index)):
            if (row.number_key, row.round_id) in pairs:
                out.setdefault((row.number_key, row.round_id), []).append(row)
    return out


def batch(session: Session, hasher: NumberHasher, raws: Sequence[str],
          country: str | None, now: int | None = None) -> list[Reputation | BatchItemError]:
    """Answers for a batch; invalid numbers get an error entry in place, not a failure."""
    parsed: list[Number | BatchItemError] = []
    for raw in raws:
        try:
            parsed.append(normalize(raw, country))
        except InvalidNumber as exc:
            parsed.append(BatchItemError(input=raw[:64], error=exc.reason, detail=str(exc)))
    good = [p for p in parsed if isinstance(p, Number)]
    answers = iter(lookup_many(session, hasher, good, now=now))
    return [next(answers) if isinstance(p, Number) else p for p in parsed]


def batch_pairs(hasher: NumberHasher, raws: Sequence[str],
                country: str | None) -> list[tuple[str, str] | bytes]:
    """Each raw number as ``(e164, key)`` for the read model, or its error entry as JSON
    bytes, in input order (the error entries :func:`batch` gives)."""
    parsed: list[str | bytes] = []
    for raw in raws:
        try:
            parsed.append(normalize(raw, country).e164)
        except InvalidNumber as exc:
            parsed.append(BatchItemError(input=raw[:64], error=exc.reason, detail=str(exc))
                          .model_dump_json().encode())
    keys = iter(keys_hex(hasher, [p for p in parsed if isinstance(p, str)]))
    return [(p, next(keys)) if isinstance(p, str) else p for p in parsed]


# From this many numbers, keyed hashes are computed in numpy, all at once (below it, one
# hmac call per number is faster: see spamledger/edge/_bundle.py).
_VECTOR_MIN = 4096


def keys_hex(hasher: NumberHasher, e164s: list[str]) -> list[str]:
    """``hasher.hex`` of each E.164 number (vectorised for large batches)."""
    if len(e164s) < _VECTOR_MIN:
        secret, digest = hasher.secret_bytes(), hmac.digest
        return ["0x" + digest(secret, e.encode("ascii"), "sha256").hex() for e in e164s]
    words = _batch_hmac(hasher.secret_bytes()).digests(np.array(e164s, dtype="S16"))
    flat = words.astype(">u4").tobytes().hex()
    return ["0x" + flat[i:i + 64] for i in range(0, len(flat), 64)]


@functools.lru_cache(maxsize=4)
def _batch_hmac(secret: bytes):
    from spamledger.edge._sha256 import BatchHmac

    return BatchHmac(secret)
