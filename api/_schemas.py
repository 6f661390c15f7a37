"""Request and response bodies (pydantic); requests reject unknown fields."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Report timestamps: not before 2000-01-01, not more than a day ahead of the server clock.
TS_MIN = 946_684_800
TS_FUTURE_SLACK = 86_400


class Strict(BaseModel):
    """Base of request bodies: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    error: str
    detail: str


class VoteOut(BaseModel):
    validator: str
    country: str
    weight: int
    score: int
    confidence: int
    category: str
    abstain: bool
    model_hash: str
    evidence_cid: str
    block_number: int
    tx_hash: str


class RoundSource(BaseModel):
    kind: Literal["round"] = "round"
    round_id: int
    block_number: int
    tx_hash: str
    votes: list[VoteOut] | None = None


class EpochSource(BaseModel):
    kind: Literal["epoch"] = "epoch"
    country: str
    epoch: int
    root: str
    snapshot_cid: str
    leaf_count: int
    proof: list[str]
    block_number: int
    tx_hash: str


class DisputeSummary(BaseModel):
    dispute_id: int
    status: str


class Reputation(BaseModel):
    number: str = Field(description="E.164 form of the number")
    number_key: str | None = Field(
        default=None, description="keyed hash of the number (bytes32 on-chain); only for "
                                  "telco and admin keys")
    verdict: str = Field(description="effective verdict: unknown once the record expired")
    recorded_verdict: str | None = Field(default=None,
                                         description="the verdict stored on-chain")
    score: float | None = Field(default=None, description="probability of spam, 0..1")
    score_bps: int | None = None
    category: str
    expires_at: int | None = None
    expired: bool = False
    locked_until: int | None = None
    dispute: DisputeSummary | None = None
    source: RoundSource | EpochSource | None = None
    chain: dict[str, object] | None = Field(
        default=None, description="the record read directly from SpamRegistry (verify=chain)")
    chain_mismatch: list[str] | None = Field(
        default=None, description="verify=chain: each field where the served record differs "
                                  "from the chain's (empty: they agree)")


class BatchItemError(BaseModel):
    input: str
    error: str
    detail: str


class BatchRequest(Strict):
    numbers: list[str] = Field(min_length=1, description="numbers in any format")
    country: str | None = Field(default=None, min_length=2, max_length=2,
                                description="region for national-format numbers")


class BatchResponse(BaseModel):
    results: list[Reputation | BatchItemError]


class ReportIn(Strict):
    number: str = Field(min_length=1, max_length=64)
    country: str = Field(min_length=2, max_length=2)
    label: Literal["spam", "not_spam"]
    category: Literal["", "robocall", "telemarketing", "scam", "wangiri", "survey",
                      "debt_collection", "other"] = ""
    reporter: str = Field(min_length=1, max_length=128,
                          description="subscriber number or opaque id (stored hashed)")
    source: Literal["user", "ftc", "regulator", "honeypot", "operator"] = "user"
    ts: float | None = Field(default=None, ge=TS_MIN, allow_inf_nan=False,
                             description="epoch seconds (finite, from 2000-01-01 to one day "
                                         "ahead of the server clock); default now")

    @field_validator("ts")
    @classmethod
    def _not_far_future(cls, value: float | None) -> float | None:
        if value is not None and value > time.time() + TS_FUTURE_SLACK:
            raise ValueError(f"must not be more than {TS_FUTURE_SLACK} s in the future")
        return value


class ReportOut(BaseModel):
    id: int
    number: str
    label: str
    accepted: bool = True


class ArbiterVoteOut(BaseModel):
    arbiter: str
    uphold: bool
    weight: int
    block_number: int
    tx_hash: str


class DisputeOut(BaseModel):
    dispute_id: int
    number_key: str
    status: str = Field(description="the chain's status: open, upheld, rejected or expired (a "
                                    "dispute past its deadline stays open until anyone "
                                    "calls resolve)")
    voting_open: bool = Field(
        default=False, description="open and not past its deadline: arbiters can still vote "
                                   "(Dispute.vote refuses once block.timestamp > deadline); "
                                   "open with voting_open false means lapsed, awaiting "
                                   "resolve")
    evidence_cid: str
    claimant_hash: str
    deadline: int
    uphold_weight: int
    reject_weight: int
    opened_block: int
    opened_tx: str
    decided_block: int | None = None
    decided_tx: str | None = None
    arbiter_votes: list[ArbiterVoteOut]
    files: list[dict[str, object]] | None = None


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class VerifyOut(BaseModel):
    number: str
    number_key: str
    ok: bool
    checks: list[Check]


class HistoryEvent(BaseModel):
    contract: str
    event: str
    block_number: int
    block_time: int
    tx_hash: str
    log_index: int
    args: dict[str, object]


class AuditOut(BaseModel):
    number: str
    number_key: str
    rounds: list[dict[str, object]]
    votes: list[VoteOut]
    disputes: list[DisputeOut]
    epochs: list[dict[str, object]]
    events: list[HistoryEvent]


class LegacyEntry(BaseModel):
    """One v1 history entry: a log (event as the v1 contract emitted it) or the number's v1
    record at the last migrated block; ``proven`` is LegacyArchive's answer for its proof."""

    kind: Literal["log", "record"]
    contract: str = ""
    event: str = ""
    block_number: int = 0
    log_index: int = 0
    tx_hash: str = ""
    args: dict[str, object]
    leaf: str
    proof: list[str]
    proven: bool


class LegacyOut(BaseModel):
    number: str
    number_key: str
    migrated: bool
    ok: bool
    archive: dict[str, object] | None
    entries: list[LegacyEntry]


class Health(BaseModel):
    status: str
    database: bool
    chain: bool | None
    ipfs: bool | None
    indexed_block: int | None
    head_block: int | None
    lag_blocks: int | None
    epochs_pending: int | None = Field(
        default=None, description="committed epoch snapshots whose leaves are not loaded yet")
    epochs_retrying: int | None = Field(
        default=None, description="pending epochs whose last load failed transiently (IPFS "
                                  "or database); retried with backoff")
    epoch_error: str | None = Field(default=None,
                                    description="the latest transient epoch load error")
    redis: bool | None = Field(
        default=None, description="whether the Redis shared by the workers' limits answers "
                                  "(null: none configured); while false every worker "
                                  "enforces its strict 1/api_workers share of each limit")


class RelayAccepted(BaseModel):
    """A report-path message the relay checked and kept."""

    kind: str
    seq: int
    sender: str


class RelayMessages(BaseModel):
    """Signed report-path envelopes (``{"body": {...}, "signature": "0x..."}``), each checked
    when it arrived; receivers check them again."""

    messages: list[dict[str, object]]
