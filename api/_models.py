"""SQL tables of the API: the chain index, API keys and subscriber reports.

Chain-derived rows carry the block, transaction hash and log index of the event that wrote
them. Append-only tables (events, votes, arbiter votes, governance) are unique on
``(tx_hash, log_index)`` so replaying a block range can never duplicate a row; state tables
(validators, rounds, records, disputes) are keyed by their entity and overwritten in place.
The schema itself is created by the Alembic migrations in ``migrations/db``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

HASH = 66  # "0x" + 64 hex digits
ADDRESS = 42


class Base(DeclarativeBase):
    """Declarative base of every API table."""


class _Located:
    """Where on the chain a row came from."""

    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tx_hash: Mapped[str] = mapped_column(String(HASH), nullable=False)
    log_index: Mapped[int] = mapped_column(Integer, nullable=False)


class IndexCursor(Base):
    """The last block fully indexed, per stream (one stream per deployment)."""

    __tablename__ = "index_cursor"
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    head_block: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)


class ChainEvent(_Located, Base):
    """Every decoded contract event, verbatim: the audit trail and export source."""

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_chain_events_tx_log"),
        Index("ix_chain_events_block", "block_number", "log_index"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract: Mapped[str] = mapped_column(String(64), nullable=False)
    address: Mapped[str] = mapped_column(String(ADDRESS), nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    block_time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    number_key: Mapped[str | None] = mapped_column(String(HASH), index=True)
    args: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON


class Validator(Base):
    """Current state of each validator (operator) account."""

    __tablename__ = "validators"
    address: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    country: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    weight: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tx_hash: Mapped[str] = mapped_column(String(HASH), nullable=False)


class RoleEvent(_Located, Base):
    """A role granted or revoked (AccessControl), in chain order."""

    __tablename__ = "role_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", name="uq_role_events_tx_log"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(HASH), nullable=False)
    account: Mapped[str] = mapped_column(String(ADDRESS), nullable=False, index=True)
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)


class Model(Base):
    """A registered scoring model and its approval state, per owner (ModelRegistry binds a
    model to the validator that registered it: two owners of one hash are two rows)."""

    __tablename__ = "models"
    model_hash: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    owner: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    country: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    metrics_cid: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="registered")
    approvals: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tx_hash: Mapped[str] = mapped_column(String(HASH), nullable=False)


class Round(Base):
    """A consensus round for one number key."""

    __tablename__ = "rounds"
    number_key: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    round_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # per number key
    country: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    deadline: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    vote_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    score: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[int | None] = mapped_column(Integer)
    weight: Mapped[int | None] = mapped_column(BigInteger)
    opened_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    opened_tx: Mapped[str] = mapped_column(String(HASH), nullable=False)
    finalized_block: Mapped[int | None] = mapped_column(BigInteger)
    finalized_tx: Mapped[str | None] = mapped_column(String(HASH))


class Vote(_Located, Base):
    """One counted validator vote in a round."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", name="uq_votes_tx_log"),
                      Index("ix_votes_key_round", "number_key", "round_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number_key: Mapped[str] = mapped_column(String(HASH), nullable=False)
    round_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    validator: Mapped[str] = mapped_column(String(ADDRESS), nullable=False)
    country: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    weight: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    score: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    confidence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    category: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    abstain: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    model_hash: Mapped[str] = mapped_column(String(HASH), nullable=False, default="")
    evidence_cid: Mapped[str] = mapped_column(String(128), nullable=False, default="")


class RegistryRecord(Base):
    """The current SpamRegistry record of a number key."""

    __tablename__ = "registry_records"
    number_key: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    verdict: Mapped[int] = mapped_column(Integer, nullable=False)
    category: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    round_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    finalized_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    dispute_status: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    majority_country: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tx_hash: Mapped[str] = mapped_column(String(HASH), nullable=False)


class Epoch(_Located, Base):
    """A committed per-country epoch snapshot (Merkle root of the score table)."""

    __tablename__ = "epochs"
    __table_args__ = (UniqueConstraint("country", "epoch", name="uq_epochs_country_epoch"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(8), nullable=False)
    epoch: Mapped[int] = mapped_column(BigInteger, nullable=False)
    root: Mapped[str] = mapped_column(String(HASH), nullable=False)
    cid: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    model_hash: Mapped[str] = mapped_column(String(HASH), nullable=False, default="")
    leaf_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    committer: Mapped[str] = mapped_column(String(ADDRESS), nullable=False, default="")
    # "" until the snapshot table was fetched from IPFS: loaded, root_mismatch, unreadable
    # (only for content that verifies against its CID but is no snapshot), erased.
    leaves_status: Mapped[str] = mapped_column(String(16), nullable=False, default="",
                                               server_default="")
    # Transient failures (IPFS down or erroring, database hiccup) keep the epoch pending:
    load_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default="0")
    next_attempt_at: Mapped[float] = mapped_column(Float, nullable=False, default=0.0,
                                                   server_default="0")
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="",
                                            server_default="")


class EpochLeaf(Base):
    """One leaf of a loaded epoch snapshot, with its Merkle proof (hex, comma-joined)."""

    __tablename__ = "epoch_leaves"
    epoch_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_key: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    verdict: Mapped[int] = mapped_column(Integer, nullable=False)
    category: Mapped[int] = mapped_column(Integer, nullable=False)
    proof: Mapped[str] = mapped_column(Text, nullable=False, default="")


class Dispute(Base):
    """A dispute and its current outcome."""

    __tablename__ = "disputes"
    dispute_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number_key: Mapped[str] = mapped_column(String(HASH), nullable=False, index=True)
    claimant_hash: Mapped[str] = mapped_column(String(HASH), nullable=False, default="")
    evidence_cid: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    deadline: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    majority_country: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    record_round: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    eligible_weight: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    uphold_weight: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    reject_weight: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    opened_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    opened_tx: Mapped[str] = mapped_column(String(HASH), nullable=False)
    decided_block: Mapped[int | None] = mapped_column(BigInteger)
    decided_tx: Mapped[str | None] = mapped_column(String(HASH))


class ArbiterVote(_Located, Base):
    """One arbiter's vote on a dispute."""

    __tablename__ = "arbiter_votes"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", name="uq_arbiter_votes_tx_log"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    arbiter: Mapped[str] = mapped_column(String(ADDRESS), nullable=False)
    country: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    uphold: Mapped[bool] = mapped_column(Boolean, nullable=False)
    weight: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class GovernanceEvent(_Located, Base):
    """A governance change (weights, quorum, thresholds, admissions, model approvals)."""

    __tablename__ = "governance_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", name="uq_governance_tx_log"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract: Mapped[str] = mapped_column(String(64), nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    args: Mapped[str] = mapped_column(Text, nullable=False)


class DisputeFiling(Base):
    """What the API sent on a business's behalf (off-chain: business identity, files)."""

    __tablename__ = "dispute_filings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    number_key: Mapped[str] = mapped_column(String(HASH), nullable=False)
    business: Mapped[str] = mapped_column(String(200), nullable=False)
    evidence_cid: Mapped[str] = mapped_column(String(128), nullable=False)
    files: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of {name, cid, size}
    tx_hash: Mapped[str] = mapped_column(String(HASH), nullable=False)
    api_key_id: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; the key itself is shown once."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    country: Mapped[str] = mapped_column(String(8), nullable=False)  # "*" = every country
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    # Keystore name (under data_dir/keystore) the console signs with for this key; "" = none.
    signer: Mapped[str] = mapped_column(String(64), nullable=False, default="",
                                        server_default="")


class ConsoleSession(Base):
    """A signed-in console session: the SHA-256 of its cookie token, its CSRF token, expiry."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    csrf: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)


class Report(Base):
    """A subscriber complaint or "not spam" vote, kept for the operator's oracle."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_reporter_time", "reporter_hash", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(20), nullable=False, index=True)  # E.164
    country: Mapped[str] = mapped_column(String(8), nullable=False)
    label: Mapped[str] = mapped_column(String(16), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    source: Mapped[str] = mapped_column(String(32), nullable=False, default="user")
    reporter_hash: Mapped[str] = mapped_column(String(HASH), nullable=False)
    ts: Mapped[float] = mapped_column(Float, nullable=False)
    api_key_id: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class RelayMessage(Base):
    """A signed report-path message (observation, proposal, signature) the API relays between
    operators: the latest per (seq, kind, sender), checked on arrival (``api._relay``)."""

    __tablename__ = "relay_messages"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    sender: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[float] = mapped_column(Float, nullable=False)
