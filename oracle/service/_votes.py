"""Votes, rounds and finalization: the cross-country picture, as the contract counts it.

For each push the oracle

1. picks the numbers that matter: a verdict changed since it last saw the number (a new
   spam number is a change from unknown), or a suspicious number that reached subscribers
   in several countries;
2. opens a round for each flagged one that has none open (``Consensus.openRound``);
3. answers rounds other countries opened (read from ``RoundOpened`` events): with its own
   score where it has data, as an abstention where it has none;
4. signs one EIP-712 ``ScoreVote`` per (number, round), the number's country and the
   evidence CID inside, and submits them in ``castVotes`` bundles; a bundle that would revert
   is split until the bad vote is isolated and failed with its decoded reason; a vote the
   contract skips (``VoteSkipped``: counted already, e.g. relayed first by someone else) is
   settled, one skipped because its round closed is failed;
5. finalizes the rounds the contract's own state shows at quorum, up to 64 in one
   ``Consensus.finalizeMany`` (one transaction base per batch; a round closed first by
   someone else is skipped, not a revert).

Every step is an outbox action with a deterministic id, so a restart resumes and never
doubles. The oracle never computes the tally: the contract does.

Example::

    votes = VoteService(operator, chain, hasher, evidence, model_hash, VotePolicy())
    report = votes.push(scored_numbers)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from web3.logs import DISCARD

from node._consortium import country_bytes, country_str
from oracle.service._chain import MAX_BUNDLE, ROUND_OPEN, Chain
from oracle.service._evidence import EvidenceWriter, build_evidence
from oracle.service._operator import Operator
from oracle.service._outbox import MINED, SIGNED, Action
from oracle.service._scored import ScoredNumber, model_hash_bytes
from oracle.service._submit import WouldRevert
from spamledger._types import Verdict

logger = logging.getLogger(__name__)

CURSOR = "rounds_cursor"

SKIP_ALREADY_COUNTED = 1
SKIP_REASONS = {1: "already counted", 2: "round closed", 3: "signer not eligible in the round"}


@dataclass(frozen=True)
class VotePolicy:
    """Which numbers get votes and how they are sent."""

    batch_size: int = 40
    vote_ttl: int = 3600
    cross_border_min: int = 2

    @classmethod
    def from_settings(cls, settings: Any) -> VotePolicy:
        return cls(batch_size=max(1, min(MAX_BUNDLE, settings.service_batch_size)),
                   vote_ttl=settings.service_vote_ttl,
                   cross_border_min=settings.service_cross_border_min)


@dataclass
class PushReport:
    """What one push did (counts of actions, by kind)."""

    selected: int = 0
    opened: int = 0
    votes_planned: int = 0
    abstained: int = 0
    votes_mined: int = 0
    finalized: int = 0
    reported: int = 0  # numbers finalized by signed reports (report path)
    report_seq: int = 0  # the report sequence number worked on (report path)
    failed: list[str] = field(default_factory=list)  # actions that failed in this push
    reasons: dict[str, int] = field(default_factory=dict)  # why they failed, counted


class VoteService:
    """One operator's votes on the Consensus contract."""

    def __init__(self, operator: Operator, chain: Chain, hasher: Any,
                 evidence: EvidenceWriter | None, model_hash: str | bytes,
                 policy: VotePolicy):
        self.op, self.chain, self.hasher, self.evidence = operator, chain, hasher, evidence
        self.policy = policy
        self.outbox = chain.outbox
        self.set_model(model_hash)
        self._table: dict[bytes, ScoredNumber] = {}
        self._round_country: dict[bytes, str] = {}
        self._seen: list[tuple[str, int, int]] = []
        self.reports: Any = None  # a ReportPath when the report path is on

    def use_report_path(self, path: Any) -> None:
        """Send selected numbers through signed reports (:class:`ReportPath`); the vote path
        stays for keys the report path hands back and for others' rounds."""
        self.reports = path

    def set_model(self, model_hash: str | bytes) -> None:
        self.model_hash = model_hash_bytes(model_hash)

    # -- the whole push ---------------------------------------------------------------------

    def push(self, rows: Iterable[ScoredNumber]) -> PushReport:
        """Vote on what matters in ``rows``, answer others' rounds, send, finalize."""
        report = PushReport()
        failed_before = {a.id for a in self.outbox.actions(["failed"])}
        rows = list(rows)
        logger.info("push: start (%d scored numbers; outbox %s)", len(rows),
                    self.outbox.counts())
        self.chain.submitter.reconcile(self._already_done)
        keyed = self.remember(rows)
        chosen = self.select(keyed)
        report.selected = len(chosen)
        if self.reports is not None:
            chosen = self.reports.push(chosen, report)
        todo = []
        for key, row in chosen.items():
            round_id = self.ensure_round(key, row, report)
            if round_id is not None:
                todo.append((key, round_id, row))
        report.votes_planned += self.plan_votes(todo)
        self.outbox.record_published(self._seen)
        self.answer_open_rounds(report)
        report.votes_mined = self.send_votes()
        report.finalized = self.finalize_ready()
        self._report_failures(report, failed_before)
        logger.info("push: %d selected, %d opened, %d voted (%d abstained), %d mined, "
                    "%d finalized, %d finalized by reports", report.selected, report.opened,
                    report.votes_planned, report.abstained, report.votes_mined,
                    report.finalized, report.reported)
        return report

    def _report_failures(self, report: PushReport, failed_before: set[str]) -> None:
        """Name this push's failures; a failed vote's number is not remembered as voted, so
        the push after ``clear_failed`` selects it again."""
        new = [a for a in self.outbox.actions(["failed"]) if a.id not in failed_before]
        report.failed = [a.id for a in new]
        for action in new:
            reason = (action.error or "unknown").split("(")[0]
            report.reasons[reason] = report.reasons.get(reason, 0) + 1
        self.outbox.forget_published(a.payload["numberKey"] for a in new
                                     if a.kind == "vote" and "numberKey" in a.payload)

    def remember(self, rows: Iterable[ScoredNumber]) -> dict[bytes, ScoredNumber]:
        """Key the rows and keep them as this operator's latest table (for answering)."""
        keyed = {self.hasher.key(r.e164): r for r in rows}
        self._table.update(keyed)
        return keyed

    def select(self, keyed: Mapping[bytes, ScoredNumber]) -> dict[bytes, ScoredNumber]:
        """The numbers that get a per-number vote.

        - a verdict that changed since this operator last saw the number;
        - a number seen for the first time as spam (unknown -> spam is a change), or as
          suspicious when it reached subscribers in several countries.

        Other flagged numbers (domestic, suspicious) reach the chain through the epoch
        snapshot. Every row's verdict is remembered, so the next push can tell what changed.
        """
        last = self.outbox.published(k.hex() for k in keyed)
        chosen, seen = {}, []
        for key, row in keyed.items():
            before = last.get(key.hex())
            if before is None:
                crosses = row.countries_reached >= self.policy.cross_border_min
                if row.verdict == Verdict.SPAM or (row.verdict == Verdict.SUSPICIOUS
                                                   and crosses):
                    chosen[key] = row
            elif before[0] != int(row.verdict):
                chosen[key] = row
            if before is None or before[0] != int(row.verdict):
                seen.append((key.hex(), int(row.verdict), row.score_bps))
        self._seen = seen
        return chosen

    # -- rounds ------------------------------------------------------------------------------

    def ensure_round(self, key: bytes, row: ScoredNumber, report: PushReport) -> int | None:
        """The open round of ``key``, opening one when the number is flagged."""
        current = self.chain.current_round(key)
        if current.status == ROUND_OPEN and current.deadline >= self.chain.now():
            return current.id
        if current.status == ROUND_OPEN:  # past its deadline: close it before a new one
            self._finalize(key, current.id)
            current = self.chain.current_round(key)
        if row.verdict < Verdict.SUSPICIOUS and not self._registry_flags(key):
            return None  # nothing on-chain to correct and nothing to flag
        action_id = f"open:{self.chain.chain_id}:{key.hex()}:{current.id + 1}"
        action = self.outbox.plan(action_id, "open", {"key": key.hex(),
                                                      "round": current.id + 1})
        if action.state not in (MINED, "failed"):
            receipt = self.chain.send([action_id], "Consensus", "openRound", key,
                                      country_bytes(row.country or self.op.country))
            report.opened += int(receipt is not None and receipt["status"] == 1)
        after = self.chain.current_round(key)
        return after.id if after.status == ROUND_OPEN else None

    def _registry_flags(self, key: bytes) -> bool:
        return int(self.chain.call("SpamRegistry", "verdictOf", key)) >= Verdict.SUSPICIOUS

    def answer_open_rounds(self, report: PushReport) -> int:
        """Vote (or abstain) on every round opened since the last look."""
        start = int(self.outbox.get_meta(CURSOR, "0") or 0)
        head = self.chain.block_number()
        if start > head:
            return 0
        todo = []
        for log in self.chain.events("Consensus", "RoundOpened", start, head):
            key, round_id = bytes(log["args"]["numberKey"]), int(log["args"]["round"])
            if self._wants_answer(key, round_id):
                self._round_country[key] = country_str(log["args"]["country"])
                todo.append((key, round_id, self._table.get(key)))
        planned = self.plan_votes(todo)
        report.votes_planned += planned
        report.abstained += sum(1 for _, _, row in todo if row is None)
        self.outbox.set_meta(CURSOR, str(head + 1))
        return planned

    def _wants_answer(self, key: bytes, round_id: int) -> bool:
        current = self.chain.current_round(key)
        if current.status != ROUND_OPEN or current.id != round_id:
            return False
        return not (self.outbox.find(self.vote_id(key, round_id))
                    or self.chain.has_voted(key, round_id))

    # -- votes -------------------------------------------------------------------------------

    def vote_id(self, key: bytes, round_id: int) -> str:
        return (f"vote:{self.chain.chain_id}:{self.chain.consensus.address}:{key.hex()}:"
                f"{round_id}")

    def plan_vote(self, key: bytes, round_id: int, row: ScoredNumber | None) -> bool:
        """Plan this operator's vote for (key, round): its score, or an abstention."""
        return self.plan_votes([(key, round_id, row)]) == 1

    def plan_votes(self, items: Sequence[tuple[bytes, int, ScoredNumber | None]]) -> int:
        """Plan votes not planned yet; evidence documents go to IPFS in one batch.
        Returns how many were planned."""
        new = [(k, r, row) for k, r, row in items if self.outbox.find(self.vote_id(k, r)) is None]
        scored = [(k, row) for k, _, row in new if row is not None]
        cids = dict(zip([k for k, _ in scored], self._evidence_cids(scored), strict=True))
        self.outbox.plan_many([(self.vote_id(k, r), "vote", self._vote_body(k, r, row,
                                                                             cids.get(k, "")))
                               for k, r, row in new])
        return len(new)

    def _country_of(self, key: bytes, row: ScoredNumber | None) -> str:
        """The number's country as this operator knows it: its own row's country, else the
        country the round was opened with (an abstention does not judge the country)."""
        if row is not None and row.country:
            return row.country
        if key in self._round_country:
            return self._round_country[key]
        return self.chain.current_round(key).country or self.op.country

    def _vote_body(self, key: bytes, round_id: int, row: ScoredNumber | None,
                   cid: str) -> dict[str, Any]:
        country = self._country_of(key, row)
        if row is None:
            return {"numberKey": key.hex(), "country": country, "round": round_id, "score": 0,
                    "confidence": 0, "category": 0, "abstain": True,
                    "modelHash": self.model_hash.hex(), "evidenceCid": ""}
        return {"numberKey": key.hex(), "country": country, "round": round_id,
                "score": row.score_bps,
                "confidence": row.confidence_bps, "category": int(row.category),
                "abstain": False, "modelHash": self.model_hash.hex(), "evidenceCid": cid}

    def _evidence_cids(self, scored: list[tuple[bytes, ScoredNumber]]) -> list[str]:
        if self.evidence is None:
            return [""] * len(scored)
        docs = [build_evidence(number_key="0x" + key.hex(), operator=self.op.name,
                               country=self.op.country,
                               model_hash="0x" + self.model_hash.hex(),
                               score_bps=row.score_bps, verdict=int(row.verdict),
                               category=int(row.category), confidence=row.confidence_bps,
                               features=row.features, reasons=list(row.reasons),
                               reports=row.reports) for key, row in scored]
        return self.evidence.put_many(docs)

    def sign_pending(self) -> tuple[list[Action], list[Action]]:
        """Sign planned votes (and re-sign stored ones whose deadline is near), in one
        database transaction; returns (signed now, signed by an earlier run)."""
        now = self.chain.now()
        fresh: list[Action] = []
        resumed: list[Action] = []
        signed: list[tuple[str, dict[str, Any]]] = []
        for action in self.outbox.actions(["planned", SIGNED], kind="vote"):
            if action.state == SIGNED and action.payload.get("deadline", 0) > now + 30:
                resumed.append(action)
            else:
                body = self._signed_body(action, now + self.policy.vote_ttl)
                signed.append((action.id, body))
                target = resumed if action.state == SIGNED else fresh
                target.append(Action(action.id, "vote", body, SIGNED))
        if signed:
            self.outbox.mark_signed_many(signed)
        return fresh, resumed

    def _signed_body(self, action: Action, deadline: int) -> dict[str, Any]:
        import node

        body = dict(action.payload, deadline=deadline)
        signature = node.sign_score_vote(self.chain.account, _vote_dict(body),
                                         self.chain.chain_id, self.chain.consensus.address)
        body["signature"] = signature.hex()
        return body

    def send_votes(self) -> int:
        """Submit every signed vote in bundles; returns how many were mined.

        Votes signed in this call were never sent, so they go straight into bundles (a
        bundle that would revert is split); votes left signed by an earlier run are first
        checked against the contract (counted already? round still open?).
        """
        fresh, resumed = self.sign_pending()
        ready = fresh + [a for a in resumed if self._still_wanted(a)]
        mined = 0
        for i in range(0, len(ready), self.policy.batch_size):
            mined += self._send_bundle(ready[i:i + self.policy.batch_size])
        return mined

    def _still_wanted(self, action: Action) -> bool:
        """False (and settled) when the contract already counts it or cannot any more."""
        key, round_id = bytes.fromhex(action.payload["numberKey"]), action.payload["round"]
        if self.chain.has_voted(key, round_id):
            self.outbox.mark_mined(action.id, None)
            return False
        current = self.chain.current_round(key)
        if current.status != ROUND_OPEN or current.id != round_id:
            self.outbox.mark_failed(action.id, f"round {round_id} is no longer open")
            return False
        return True

    def _send_bundle(self, actions: list[Action]) -> int:
        votes = [_vote_tuple(a.payload) for a in actions]
        sigs = [bytes.fromhex(a.payload["signature"]) for a in actions]
        ids = [a.id for a in actions]
        try:
            receipt = self.chain.send(ids, "Consensus", "castVotes", votes, sigs,
                                      fail_on_revert=False)
        except WouldRevert as exc:
            if len(actions) == 1 and exc.reason.startswith("AlreadyVoted("):
                # Counted already (e.g. sent by an earlier instance whose state was lost).
                self.outbox.mark_mined(ids[0], None)
                return 0
            if len(actions) == 1:
                self.outbox.mark_failed(ids[0], exc.reason)
                logger.error("vote %s refused: %s", ids[0], exc.reason)
                return 0
            half = len(actions) // 2
            return self._send_bundle(actions[:half]) + self._send_bundle(actions[half:])
        if receipt is None or receipt["status"] != 1:
            return 0
        return len(ids) - self._settle_skipped(receipt, actions)

    def _settle_skipped(self, receipt: Any, actions: list[Action]) -> int:
        """Votes the bundle skipped: counted already (relayed by someone else) stay mined;
        the others (round closed, signer not eligible) are failed with the reason.
        Returns how many were not counted by this bundle."""
        skipped = self.chain.consensus.events.VoteSkipped().process_receipt(receipt,
                                                                         errors=DISCARD)
        by_vote = {(a.payload["numberKey"], int(a.payload["round"])): a for a in actions}
        for log in skipped:
            args = log["args"]
            action = by_vote.get((bytes(args["numberKey"]).hex(), int(args["round"])))
            if action is None or args["validator"].lower() != self.chain.address.lower():
                continue
            reason = SKIP_REASONS.get(int(args["reason"]), str(args["reason"]))
            if int(args["reason"]) != SKIP_ALREADY_COUNTED:
                self.outbox.mark_failed(action.id, f"skipped by the contract: {reason}")
            logger.warning("vote %s skipped by the contract: %s", action.id, reason)
        return len(skipped)

    def _already_done(self, action: Action) -> int | None:
        if action.kind == "report" and self.reports is not None:
            return self.reports.landed(action)
        return self._vote_already_counted(action)

    def _vote_already_counted(self, action: Action) -> int | None:
        if action.kind != "vote":
            return None
        key = bytes.fromhex(action.payload["numberKey"])
        return 0 if self.chain.has_voted(key, action.payload["round"]) else None

    # -- finalization -----------------------------------------------------------------------

    def finalize_ready(self) -> int:
        """Finalize every round this operator voted in that the contract shows at quorum
        (or past its deadline, where the contract finalizes or expires it)."""
        done, now, fresh = 0, self.chain.now(), []
        for key, round_id in self._my_open_rounds():
            current = self.chain.current_round(key)
            if current.status != ROUND_OPEN or current.id != round_id:
                self._closed_elsewhere(key, round_id)
                continue
            if current.deadline >= now and not self.chain.quorum_reached(key):
                continue
            action_id = self._finalize_id(key, round_id)
            action = self.outbox.plan(action_id, "finalize",
                                      {"key": key.hex(), "round": round_id})
            if action.state == SIGNED:  # a send a crash interrupted: that very transaction
                done += self._finalize(key, round_id)
            elif action.state == "planned":
                fresh.append((action_id, key))
        for i in range(0, len(fresh), MAX_BUNDLE):
            done += self._finalize_batch(fresh[i:i + MAX_BUNDLE])
        return done

    def _finalize_batch(self, batch: list[tuple[str, bytes]]) -> int:
        """``Consensus.finalizeMany`` for up to ``MAX_BUNDLE`` rounds: one transaction base
        for the batch, not one per round (about 38k gas less per round). A round someone
        else closed first is skipped by the contract, not a revert. Returns the rounds this
        transaction closed (finalized or expired)."""
        receipt = self.chain.send([a for a, _ in batch], "Consensus", "finalizeMany",
                                  [k for _, k in batch])
        if receipt is None or receipt["status"] != 1:
            return 0
        events = self.chain.consensus.events
        return sum(len(ev().process_receipt(receipt, errors=DISCARD))
                   for ev in (events.RoundFinalized, events.RoundExpired))

    def _finalize_id(self, key: bytes, round_id: int) -> str:
        return f"finalize:{self.chain.chain_id}:{key.hex()}:{round_id}"

    def _finalize(self, key: bytes, round_id: int) -> int:
        action_id = self._finalize_id(key, round_id)
        action = self.outbox.plan(action_id, "finalize", {"key": key.hex(), "round": round_id})
        if action.state not in ("planned", SIGNED):
            return 0
        receipt = self.chain.send([action_id], "Consensus", "finalize", key)
        return int(receipt is not None and receipt["status"] == 1)

    def _closed_elsewhere(self, key: bytes, round_id: int) -> None:
        """Another account finalized the round: remember it, so it is not checked again."""
        action_id = self._finalize_id(key, round_id)
        action = self.outbox.plan(action_id, "finalize", {"key": key.hex(), "round": round_id,
                                                          "by": "another account"})
        if action.state in ("planned", SIGNED):
            self.outbox.mark_mined(action_id, None)

    def _my_open_rounds(self) -> list[tuple[bytes, int]]:
        rounds = set()
        for action in self.outbox.actions([MINED], kind="vote"):
            key = bytes.fromhex(action.payload["numberKey"])
            if self.outbox.find(self._finalize_id(key, action.payload["round"])) is None:
                rounds.add((key, int(action.payload["round"])))
        return sorted(rounds)


def _vote_dict(body: Mapping[str, Any]) -> dict[str, Any]:
    """The EIP-712 message of a stored vote body."""
    return {"numberKey": bytes.fromhex(body["numberKey"]),
            "country": country_bytes(body["country"]), "round": int(body["round"]),
            "score": int(body["score"]), "confidence": int(body["confidence"]),
            "category": int(body["category"]), "abstain": bool(body["abstain"]),
            "modelHash": bytes.fromhex(body["modelHash"]),
            "evidenceCid": str(body["evidenceCid"]), "deadline": int(body["deadline"])}


def _vote_tuple(body: Mapping[str, Any]) -> tuple[Any, ...]:
    import node

    return node.vote_tuple(_vote_dict(body))
