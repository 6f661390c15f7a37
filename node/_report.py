"""Signed reports (``ReportConsensus``): build, sign once per validator, submit.

A report carries every listed validator's vote on a batch of number keys; each validator
signs its EIP-712 digest once, anyone submits it with the signatures, and the contract decides
every key by the vote path's rules and emits the vote path's events (``RoundOpened``,
``VoteCast``, ``RoundFinalized``/``RoundExpired``...), with round id ``ROUND_BASE + seq``.

Example::

    report = build_report(seq, [(key, "US"), ...],
                          {us.address: [ReportVote(9100, category=Category.SCAM), None, ...],
                           ...},
                          models={us.address: h_us, ...}, cid=evidence_cid)
    sigs = {a.address: sign_report(a, report, chain_id, address) for a in signers}
    outcome = submit_report(ledger, report, sigs)
    outcome.finalized  # {key: round_id}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

from node._client import Ledger
from node._consortium import country_bytes
from node._ledger_ops import DEFAULT_VOTE_TTL, receipt_event, receipt_events
from spamledger._types import (
    EIP712_DOMAIN_NAME,
    EIP712_DOMAIN_VERSION,
    REPORT_TYPES,
    SCORE_SCALE,
    Category,
)

logger = logging.getLogger(__name__)

CONTRACT = "ReportConsensus"
REPORT_FIELDS = tuple(f["name"] for f in REPORT_TYPES["Report"])
# ReportConsensus: round ids of reports, largest report, packed-vote flag bits.
ROUND_BASE = 1 << 48
MAX_REPORT_KEYS = 128
_ABSTAIN = 1 << 40
_CAST = 1 << 41


@dataclass(frozen=True)
class ReportVote:
    """One validator's vote on one key inside a report (as a ``ScoreVote`` carries it)."""

    score: int = 0
    confidence: int = SCORE_SCALE
    category: int = Category.NONE
    abstain: bool = False

    def packed(self) -> int:
        """The uint64 the contract reads: score, confidence, category, abstain, cast bit."""
        if not (0 <= self.score <= SCORE_SCALE and 0 <= self.confidence <= SCORE_SCALE):
            raise ValueError(f"score/confidence out of range: {self.score}/{self.confidence}")
        if not 0 <= int(self.category) <= 7:
            raise ValueError(f"category out of range: {self.category}")
        return (int(self.score) | int(self.confidence) << 16 | int(self.category) << 32
                | (_ABSTAIN if self.abstain else 0) | _CAST)


def round_of(seq: int) -> int:
    """The round id a report with sequence ``seq`` gives each of its keys."""
    return ROUND_BASE + int(seq)


def build_report(seq: int, keys: Sequence[tuple[bytes, str]],
                 votes: Mapping[str, Sequence[ReportVote | None]], models: Mapping[str, bytes],
                 *, cid: str, deadline: int | None = None) -> dict[str, Any]:
    """A ``Report`` message: keys sorted ascending, signers (the keys of ``votes``, each
    with one entry per key, ``None`` for no vote) sorted ascending, ``models`` the model hash
    each signer's non-abstaining votes come from."""
    if not keys or not votes:
        raise ValueError("a report needs at least one key and one signer")
    if len(keys) > MAX_REPORT_KEYS:
        raise ValueError(f"{len(keys)} keys: a report holds at most {MAX_REPORT_KEYS}")
    order = sorted(range(len(keys)), key=lambda i: bytes(keys[i][0]))
    signers = sorted(votes, key=lambda a: int(a, 16))
    for signer in signers:
        if len(votes[signer]) != len(keys):
            raise ValueError(f"{signer}: {len(votes[signer])} votes for {len(keys)} keys")
    packed = [votes[s][i].packed() if votes[s][i] is not None else 0  # type: ignore[union-attr]
              for i in order for s in signers]
    return {"seq": int(seq),
            "deadline": int(deadline if deadline is not None else time.time() + DEFAULT_VOTE_TTL),
            "numberKeys": [bytes(keys[i][0]) for i in order],
            "countries": [country_bytes(keys[i][1]) for i in order],
            "signers": [Web3.to_checksum_address(s) for s in signers],
            "modelHashes": [bytes(models[s]) for s in signers],
            "votes": packed, "evidenceCid": cid}


def _signable(report: Mapping[str, Any], chain_id: int, address: str) -> Any:
    domain = {"name": EIP712_DOMAIN_NAME, "version": EIP712_DOMAIN_VERSION,
              "chainId": chain_id, "verifyingContract": address}
    return encode_typed_data(domain_data=domain, message_types=REPORT_TYPES,
                             message_data={f: report[f] for f in REPORT_FIELDS})


def sign_report(account: LocalAccount, report: Mapping[str, Any], chain_id: int,
                address: str) -> bytes:
    """65-byte signature (r, s, v) of ``report`` under the ReportConsensus domain."""
    return bytes(account.sign_message(_signable(report, chain_id, address)).signature)


def recover_report(report: Mapping[str, Any], signature: bytes, chain_id: int,
                   address: str) -> str:
    """The address that signed ``report`` (audits recompute what the contract checked)."""
    return str(Account.recover_message(_signable(report, chain_id, address),
                                       signature=bytes(signature)))


def report_tuple(report: Mapping[str, Any]) -> tuple[Any, ...]:
    """The report as the ABI tuple ``submitReport`` takes."""
    return tuple(report[f] for f in REPORT_FIELDS)


def free_seq(ledger: Ledger, start: int = 1) -> int:
    """The first sequence number from ``start`` no report has used yet."""
    seq = max(1, int(start))
    while ledger.call(CONTRACT, "seqUsed", seq):
        seq += 1
    return seq


@dataclass(frozen=True)
class ReportOutcome:
    """What one report did, read from its receipt: ``finalized``/``expired`` key -> round id,
    ``skipped`` key -> the contract's SKIP_* reason."""

    receipt: TxReceipt
    finalized: dict[bytes, int]
    expired: dict[bytes, int]
    skipped: dict[bytes, int]

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"])


def submit_report(ledger: Ledger, report: Mapping[str, Any],
                  signatures: Mapping[str, bytes] | Sequence[bytes],
                  account: LocalAccount | None = None) -> ReportOutcome:
    """Send ``report`` with one signature per signer (a mapping by address, or a sequence in
    the report's signer order); any account may submit."""
    if isinstance(signatures, Mapping):
        by_address = {a.lower(): bytes(s) for a, s in signatures.items()}
        missing = [s for s in report["signers"] if s.lower() not in by_address]
        if missing:
            raise ValueError(f"no signature from {', '.join(missing)}")
        sigs = [by_address[s.lower()] for s in report["signers"]]
    else:
        sigs = [bytes(s) for s in signatures]
    receipt = ledger.transact(CONTRACT, "submitReport", report_tuple(report), sigs,
                              account=account)
    summary = receipt_event(ledger, receipt, CONTRACT, "ReportSubmitted")
    logger.info("report %d: %d finalized, %d expired, %d skipped", int(summary["seq"]),
                summary["finalized"], summary["expired"], summary["skipped"])
    return ReportOutcome(
        receipt,  # type: ignore[arg-type]
        {bytes(a["numberKey"]): int(a["round"])
         for a in receipt_events(ledger, receipt, CONTRACT, "RoundFinalized")},
        {bytes(a["numberKey"]): int(a["round"])
         for a in receipt_events(ledger, receipt, CONTRACT, "RoundExpired")},
        {bytes(a["numberKey"]): int(a["reason"])
         for a in receipt_events(ledger, receipt, CONTRACT, "ReportKeySkipped")})
