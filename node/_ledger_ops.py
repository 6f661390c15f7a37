"""Typed operations on the SpamLedger contracts, shared by the oracle, the API and the tests.

These wrap :class:`~node.Ledger`'s generic ``call``/``transact`` with the argument shapes and
return values of each contract (see ``contracts/README.md``), so callers never build ABI
tuples by hand.

Example::

    round_id = open_round(ledger, key, "US", account=validator)
    vote = make_vote(key, round_id, country="US", score=9100, category=Category.SCAM,
                     model_hash=h, cid=c)
    cast_votes(ledger, [(vote, sign_score_vote(validator, vote, chain_id, consensus))])
    finalize(ledger, key)
    read_record(ledger, key).verdict  # Verdict.SPAM

Many numbers at once: ``open_rounds(ledger, [(key, "US"), ...], account=validator)`` and
``finalize_many(ledger, keys)`` send batches of :data:`MAX_BUNDLE` (one transaction base per
batch); keys the chain no longer admits are skipped by the contract, not reverted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from node._client import Ledger
from node._consortium import country_bytes, country_str
from node._eip712 import vote_tuple
from spamledger._types import Category, Verdict

# Bundles above this revert BundleTooLarge (Consensus.MAX_BUNDLE).
MAX_BUNDLE = 64
DEFAULT_VOTE_TTL = 3600


class DisputeStatus:
    NONE, OPEN, UPHELD, REJECTED, EXPIRED = range(5)


@dataclass(frozen=True)
class Record:
    """A SpamRegistry record, decoded."""

    score: int
    verdict: Verdict
    category: Category
    finalized_at: int
    expires_at: int
    round: int
    dispute_status: int
    locked_until: int
    majority_country: str

    @classmethod
    def from_tuple(cls, raw: Sequence[Any]) -> Record:
        return cls(int(raw[0]), Verdict(raw[1]), Category(raw[2]), int(raw[3]), int(raw[4]),
                   int(raw[5]), int(raw[6]), int(raw[7]), country_str(raw[8]))

    def effective_verdict(self, now: float | None = None) -> Verdict:
        """UNKNOWN when never finalized or expired, as ``SpamRegistry.verdictOf`` says."""
        if self.finalized_at == 0 or (now or time.time()) >= self.expires_at:
            return Verdict.UNKNOWN
        return self.verdict


def receipt_event(ledger: Ledger, receipt: Any, contract: str, event: str) -> Any:
    """The args of the first ``contract.event`` in ``receipt`` (other contracts' logs skipped)."""
    ev = getattr(ledger.contract(contract).events, event)()
    address = ledger.deployment.address(contract).lower()
    for log in receipt["logs"]:
        if log["address"].lower() == address:
            decoded = ev.process_log(log) if _matches(ev, log) else None
            if decoded is not None:
                return decoded["args"]
    raise LookupError(f"no {contract}.{event} event in transaction")


def receipt_events(ledger: Ledger, receipt: Any, contract: str, event: str) -> list[Any]:
    """The args of every ``contract.event`` in ``receipt``, in log order."""
    ev = getattr(ledger.contract(contract).events, event)()
    address = ledger.deployment.address(contract).lower()
    return [ev.process_log(log)["args"] for log in receipt["logs"]
            if log["address"].lower() == address and _matches(ev, log)]


def _matches(ev: Any, log: Any) -> bool:
    from eth_utils import event_abi_to_log_topic

    return bool(log["topics"]) and bytes(log["topics"][0]) == event_abi_to_log_topic(ev.abi)


def read_record(ledger: Ledger, key: bytes, block: Any = "latest") -> Record:
    return Record.from_tuple(ledger.call("SpamRegistry", "get", key, block=block))


def read_records(ledger: Ledger, keys: Sequence[bytes]) -> list[Record]:
    """Batch read, chunked to the contract's ``MAX_BATCH``."""
    out: list[Record] = []
    for i in range(0, len(keys), 1000):
        out.extend(Record.from_tuple(r) for r in
                   ledger.call("SpamRegistry", "getBatch", list(keys[i:i + 1000])))
    return out


def make_vote(key: bytes, round_id: int, *, country: str, score: int = 0,
              confidence: int = 10_000, category: int = Category.NONE, abstain: bool = False,
              model_hash: bytes = b"\x00" * 32, cid: str = "",
              deadline: int | None = None) -> dict[str, Any]:
    """A ``ScoreVote`` dict ready for :func:`node.sign_score_vote`; ``country`` is the
    number's country as the signer knows it (a vote for another country than the round's
    contests the round instead of counting)."""
    return {"numberKey": key, "country": country_bytes(country), "round": int(round_id),
            "score": int(score),
            "confidence": int(confidence), "category": int(category), "abstain": bool(abstain),
            "modelHash": model_hash, "evidenceCid": cid,
            "deadline": int(deadline if deadline is not None else time.time() + DEFAULT_VOTE_TTL)}


def current_round(ledger: Ledger, key: bytes) -> dict[str, Any]:
    r = ledger.call("Consensus", "currentRound", key)
    return {"id": int(r[0]), "opened_at": int(r[1]), "deadline": int(r[2]), "status": int(r[3]),
            "country": country_str(r[4]), "majority_country": country_str(r[5]),
            "vote_count": int(r[6]), "eligible_weight": int(r[7])}


def open_round(ledger: Ledger, key: bytes, country: str,
               account: LocalAccount | None = None) -> int:
    """Open the next round for ``key``; returns its id."""
    receipt = ledger.transact("Consensus", "openRound", key, country_bytes(country),
                              account=account)
    return int(receipt_event(ledger, receipt, "Consensus", "RoundOpened")["round"])


def cast_votes(ledger: Ledger, signed: Sequence[tuple[dict[str, Any], bytes]],
               account: LocalAccount | None = None) -> list[TxReceipt]:
    """Submit signed votes in bundles of at most :data:`MAX_BUNDLE`."""
    receipts = []
    for i in range(0, len(signed), MAX_BUNDLE):
        chunk = signed[i:i + MAX_BUNDLE]
        receipts.append(ledger.transact("Consensus", "castVotes",
                                        [vote_tuple(v) for v, _ in chunk],
                                        [s for _, s in chunk], account=account))
    return receipts  # type: ignore[return-value]


def finalize(ledger: Ledger, key: bytes, account: LocalAccount | None = None) -> TxReceipt:
    return ledger.transact("Consensus", "finalize", key, account=account)  # type: ignore[return-value]


@dataclass(frozen=True)
class BatchOutcome:
    """What :func:`open_rounds` or :func:`finalize_many` did, read from the receipts' events.

    ``done``: key -> round id opened (``RoundOpened``) or closed (``RoundFinalized`` or
    ``RoundExpired``); ``expired``: the closed keys that expired without consensus;
    ``skipped``: key -> the contract's skip reason (``OpenSkipped``/``FinalizeSkipped``; a key
    listed twice keeps its last reason)."""

    receipts: list[TxReceipt]
    done: dict[bytes, int]
    expired: set[bytes]
    skipped: dict[bytes, int]

    @property
    def gas_used(self) -> int:
        return sum(int(r["gasUsed"]) for r in self.receipts)


def open_rounds(ledger: Ledger, items: Sequence[tuple[bytes, str]],
                account: LocalAccount | None = None) -> BatchOutcome:
    """Open the next round of each ``(key, country)`` with ``Consensus.openRounds``, in
    batches of :data:`MAX_BUNDLE`; ``account`` must be an active validator. A key with a
    round open already, a locked record or a pending dispute is skipped (``skipped``)."""
    receipts: list[TxReceipt] = []
    done: dict[bytes, int] = {}
    skipped: dict[bytes, int] = {}
    for i in range(0, len(items), MAX_BUNDLE):
        chunk = items[i:i + MAX_BUNDLE]
        receipt = ledger.transact("Consensus", "openRounds", [k for k, _ in chunk],
                                  [country_bytes(c) for _, c in chunk], account=account)
        receipts.append(receipt)  # type: ignore[arg-type]
        for a in receipt_events(ledger, receipt, "Consensus", "RoundOpened"):
            done[bytes(a["numberKey"])] = int(a["round"])
        for a in receipt_events(ledger, receipt, "Consensus", "OpenSkipped"):
            skipped[bytes(a["numberKey"])] = int(a["reason"])
    return BatchOutcome(receipts, done, set(), skipped)


def finalize_many(ledger: Ledger, keys: Sequence[bytes],
                  account: LocalAccount | None = None) -> BatchOutcome:
    """Close the open round of each key with ``Consensus.finalizeMany`` (the rules of
    :func:`finalize`), in batches of :data:`MAX_BUNDLE`. A key without an open round, short
    of quorum before its deadline or blocked by a pending dispute is skipped."""
    receipts: list[TxReceipt] = []
    done: dict[bytes, int] = {}
    expired: set[bytes] = set()
    skipped: dict[bytes, int] = {}
    for i in range(0, len(keys), MAX_BUNDLE):
        receipt = ledger.transact("Consensus", "finalizeMany", list(keys[i:i + MAX_BUNDLE]),
                                  account=account)
        receipts.append(receipt)  # type: ignore[arg-type]
        for a in receipt_events(ledger, receipt, "Consensus", "RoundFinalized"):
            done[bytes(a["numberKey"])] = int(a["round"])
        for a in receipt_events(ledger, receipt, "Consensus", "RoundExpired"):
            done[bytes(a["numberKey"])] = int(a["round"])
            expired.add(bytes(a["numberKey"]))
        for a in receipt_events(ledger, receipt, "Consensus", "FinalizeSkipped"):
            skipped[bytes(a["numberKey"])] = int(a["reason"])
    return BatchOutcome(receipts, done, expired, skipped)


def register_model(ledger: Ledger, model_hash: bytes, metrics_cid: str,
                   account: LocalAccount) -> None:
    """Register ``model_hash`` as ``account``'s model unless it already did."""
    if ledger.call("ModelRegistry", "getModel", account.address, model_hash)[2] == 0:
        ledger.transact("ModelRegistry", "registerModel", model_hash, metrics_cid,
                        account=account)


def approve_model(ledger: Ledger, owner: str, model_hash: bytes, account: LocalAccount) -> None:
    """Approve ``owner``'s ``model_hash`` as ``account`` (once; models are bound to owners)."""
    if not ledger.call("ModelRegistry", "hasApproved", owner, model_hash, account.address):
        ledger.transact("ModelRegistry", "approveModel", owner, model_hash, account=account)


def commit_epoch(ledger: Ledger, country: str, epoch: int, root: bytes, cid: str,
                 model_hash: bytes, leaf_count: int, account: LocalAccount) -> TxReceipt:
    return ledger.transact("SnapshotRegistry", "commitEpoch", country_bytes(country), epoch,  # type: ignore[return-value]
                           root, cid, model_hash, leaf_count, account=account)


def verify_leaf(ledger: Ledger, country: str, epoch: int, key: bytes, score: int,
                verdict: int, category: int, proof: Sequence[bytes]) -> bool:
    return bool(ledger.call("SnapshotRegistry", "verifyLeaf", country_bytes(country), epoch,
                            key, score, verdict, category, list(proof)))


def open_dispute(ledger: Ledger, key: bytes, claimant_hash: bytes, evidence_cid: str,
                 account: LocalAccount | None = None) -> int:
    """Open a dispute (relayer); returns its id."""
    receipt = ledger.transact("Dispute", "openDispute", key, claimant_hash, evidence_cid,
                              account=account)
    return int(receipt_event(ledger, receipt, "Dispute", "DisputeOpened")["id"])


def vote_dispute(ledger: Ledger, dispute_id: int, uphold: bool,
                 account: LocalAccount) -> TxReceipt:
    return ledger.transact("Dispute", "vote", dispute_id, uphold, account=account)  # type: ignore[return-value]


def resolve_dispute(ledger: Ledger, dispute_id: int,
                    account: LocalAccount | None = None) -> TxReceipt:
    return ledger.transact("Dispute", "resolve", dispute_id, account=account)  # type: ignore[return-value]
