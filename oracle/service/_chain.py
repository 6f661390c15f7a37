"""The contract reads and writes of one operator's oracle, in one place.

Reads go through :class:`node.Ledger` with bounded retries; writes go through the
:class:`~oracle.service._submit.Submitter` so each one is an outbox action sent exactly once.

Example::

    chain = Chain(ledger, account, outbox, RetryPolicy())
    chain.current_round(key).status == ROUND_OPEN
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from node._consortium import country_bytes, country_str
from oracle.service._errors import ChainUnavailable
from oracle.service._outbox import Outbox
from oracle.service._retry import RetryPolicy, chain_transient
from oracle.service._submit import Submitter

logger = logging.getLogger(__name__)

ROUND_NONE, ROUND_OPEN, ROUND_FINALIZED, ROUND_EXPIRED = 0, 1, 2, 3
BPS = 10_000
MAX_BUNDLE = 64


@dataclass(frozen=True)
class RoundInfo:
    """``Consensus.currentRound`` of a key."""

    id: int
    opened_at: int
    deadline: int
    status: int
    country: str
    vote_count: int
    eligible_weight: int = 0


class Chain:
    """One operator's view of the SpamLedger contracts."""

    def __init__(self, ledger: Any, account: Any, outbox: Outbox, retry: RetryPolicy):
        self.ledger, self.account, self.outbox, self.retry = ledger, account, outbox, retry
        self.w3 = ledger.w3
        self.submitter = Submitter(self.w3, account, outbox, retry)
        self.chain_id = int(self._read(lambda: self.w3.eth.chain_id, "read the chain id"))
        self.consensus = ledger.contract("Consensus")
        self.address = account.address

    def _read(self, fn: Any, what: str) -> Any:
        return self.retry.call(fn, what, chain_transient(),
                               lambda w, e: ChainUnavailable(f"chain unreachable: {w}: {e}"))

    def call(self, name: str, fn: str, *args: Any) -> Any:
        """A read-only contract call with retries."""
        return self._read(lambda: self.ledger.call(name, fn, *args), f"call {name}.{fn}")

    def events(self, name: str, event: str, from_block: int, to_block: int,
               **filters: Any) -> list[Any]:
        return self._read(lambda: self.ledger.events(name, event, from_block, to_block,
                                                     **filters), f"read {name}.{event}")

    def block_number(self) -> int:
        return int(self._read(lambda: self.w3.eth.block_number, "read the block number"))

    def now(self) -> int:
        """Timestamp of the latest block (the contracts' clock)."""
        block = self._read(lambda: self.w3.eth.get_block("latest"), "read the latest block")
        return int(block["timestamp"])

    # -- Consensus ----------------------------------------------------------------------

    def current_round(self, key: bytes) -> RoundInfo:
        r = self.call("Consensus", "currentRound", key)
        return RoundInfo(id=int(r[0]), opened_at=int(r[1]), deadline=int(r[2]),
                         status=int(r[3]), country=country_str(r[4]), vote_count=int(r[6]),
                         eligible_weight=int(r[7]))

    def has_voted(self, key: bytes, round_id: int, validator: str | None = None) -> bool:
        """True when ``validator`` (default: this operator) was counted or contested in round
        ``round_id`` of ``key``. Consensus keeps the seats of a key's open round only; for a
        closed round the answer comes from the round's ``VoteCast``/``VoteContested`` events."""
        who = validator or self.address
        if self.call("Consensus", "hasVoted", key, round_id, who):
            return True
        current = self.current_round(key)
        if current.status == ROUND_OPEN and current.id == round_id:
            return False  # read after the seat check: a round closing in between goes below
        if round_id <= 0 or round_id > current.id:
            return False
        start = self.ledger.deployment.first_block()
        return any(self.events("Consensus", name, start, self.block_number(), numberKey=key,
                               round=round_id, validator=who)
                   for name in ("VoteCast", "VoteContested"))

    def quorum_reached(self, key: bytes) -> bool:
        """The contract's own early-finalization test, read from its state: counted plus
        contesting weight against the weight that could vote when the round opened."""
        tally = self.call("Consensus", "tallyOf", key)
        quorum = int(self.call("Consensus", "quorumBps"))
        eligible = self.current_round(key).eligible_weight
        return (int(tally[0]) + int(tally[3])) * BPS >= quorum * eligible

    def validator(self, address: str | None = None) -> tuple[str, int]:
        """(country, weight) of an active validator; weight 0 when not active."""
        country, weight = self.call("ValidatorSet", "activeValidator", address or self.address)
        return country_str(country), int(weight)

    # -- models -------------------------------------------------------------------------

    def model_status(self, model_hash: bytes, owner: str | None = None) -> int:
        """ModelRegistry status of ``owner``'s (default: this operator's) registration of
        ``model_hash``: 0 none, 1 pending, 2 approved, 3 revoked."""
        return int(self.call("ModelRegistry", "getModel", owner or self.address, model_hash)[2])

    def model_approved(self, model_hash: bytes, owner: str | None = None) -> bool:
        """True when ``owner`` (default: this operator) may vote with ``model_hash``."""
        return bool(self.call("ModelRegistry", "isApproved", owner or self.address, model_hash))

    # -- epochs -------------------------------------------------------------------------

    def next_epoch(self, country: str) -> int:
        """The epoch number ``SnapshotRegistry`` accepts next for ``country`` (sequential)."""
        return int(self.call("SnapshotRegistry", "latestEpoch", country_bytes(country))) + 1

    # -- writes -------------------------------------------------------------------------

    def send(self, action_ids: list[str], contract: str, fn: str, *args: Any,
             fail_on_revert: bool = True) -> dict[str, Any] | None:
        """Send ``contract.fn(*args)`` for outbox ``action_ids`` (see ``Submitter.send``)."""
        return self.submitter.send(action_ids, self.ledger.contract(contract), fn, args,
                                   fail_on_revert=fail_on_revert)
