"""The report path of the oracle service: flagged numbers decided by signed reports.

With ``oracle_vote_path = report`` the numbers :class:`~oracle.service._votes.VoteService`
selects are not given ``Consensus`` rounds one by one: they become *pending* keys this
operator observes in the off-chain exchange (:mod:`oracle.service._exchange`) until a
``ReportConsensus`` report settles them. Each push, for the report sequence number ``seq``
the contract has not used yet:

1. settle the seq worked on before if it landed: keys finalized or expired by it leave the
   pending set; keys it skipped (a Consensus round open, a locked record, a pending dispute)
   go to the vote path; a key left out of too many landed reports goes to the vote path too;
2. observe: publish this operator's votes on its pending keys and on the keys the other
   operators observed for ``seq`` (its own score where it has the number, else an abstention);
3. lead: the seq's leader proposes a report once every active validator observed the same
   keys, or after a few pushes with the quorum weight observed;
4. sign: a listed signer checks its row against its own observation and signs;
5. submit: whoever holds every signature sends the report (an outbox action, sent once).

Everything this operator must remember across a restart (pending keys, its observation, the
seq) is in the outbox database before it is posted or sent; posting again is harmless.

Example::

    votes.use_report_path(ReportPath(votes, exchange))
    votes.push(rows)      # pending keys -> observations -> report -> ReportConsensus
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from node._report import CONTRACT, MAX_REPORT_KEYS, ReportVote, free_seq, report_tuple, round_of
from oracle.service._chain import ROUND_OPEN
from oracle.service._evidence import build_evidence
from oracle.service._exchange import Observation, ReportExchange, ReportMismatch, observation_doc
from oracle.service._outbox import MINED
from oracle.service._scored import ScoredNumber
from spamledger._types import Verdict

if TYPE_CHECKING:
    from oracle.service._votes import PushReport, VoteService

logger = logging.getLogger(__name__)

PENDING = "report_pending"  # {key hex: {"country", "score", "confidence", "category", "tries"}}
SEQ = "report_seq"  # the seq this operator works on
OWN = "report_own"  # this operator's observation for SEQ, as published
LEAD = "report_lead"  # "<seq>:<pushes>" the leader has waited on SEQ
STALL = "report_stall"  # "<seq>:<pushes>" this operator has seen SEQ not land
MAX_KEYS = MAX_REPORT_KEYS
MAX_TRIES = 3  # landed reports a pending key may miss before it goes to the vote path


@dataclass(frozen=True)
class ReportPolicy:
    """When the leader proposes and how long a report stays valid."""

    wait_pushes: int = 2  # pushes the leader waits for every validator before quorum will do
    ttl: int = 3600
    seqs_per_push: int = 8  # a push goes on with the next seq when one lands in it
    stall_pushes: int = 8  # pushes without the seq landing before pending keys use votes


class ReportPath:
    """One operator's report path (see the module notes)."""

    def __init__(self, votes: VoteService, exchange: ReportExchange,
                 policy: ReportPolicy = ReportPolicy()):
        self.votes, self.exchange, self.policy = votes, exchange, policy
        self.chain, self.outbox = votes.chain, votes.outbox
        self.ledger = votes.chain.ledger
        stored = self.outbox.get_meta(OWN, "")
        if stored:
            self.exchange.remember(_observation(json.loads(stored)))

    # -- the push ---------------------------------------------------------------------------

    def push(self, chosen: Mapping[bytes, ScoredNumber], report: PushReport
             ) -> dict[bytes, ScoredNumber]:
        """Run one exchange step; returns the keys the vote path must take instead."""
        direct = self.add_pending(chosen)
        for _ in range(self.policy.seqs_per_push):
            seq = self.current_seq(direct)
            report.report_seq = seq
            self.observe(seq)
            self.lead(seq)
            self.sign(seq, report)
            if not self.submit(seq):
                break
            report.reported += self.settle(seq, direct)  # landed: go on with the next seq
            self.outbox.set_meta(SEQ, str(seq + 1))
        self.fall_back_if_stalled(report.report_seq, direct)
        return direct

    def fall_back_if_stalled(self, seq: int, direct: dict[bytes, ScoredNumber]) -> int:
        """Liveness: when ``seq`` has not landed after ``stall_pushes`` pushes with keys
        waiting (a leader that never proposes, a signer that refuses or is gone), this
        operator's pending keys go to the vote path. Returns how many went."""
        pending = self.pending()
        at, _, count = (self.outbox.get_meta(STALL, "") or "").partition(":")
        # Only pushes with keys waiting count: an idle operator's seq does not go stale.
        pushes = (int(count) + 1 if at == str(seq) else 1) if pending else 0
        self.outbox.set_meta(STALL, f"{seq}:{pushes}")
        if pushes < self.policy.stall_pushes or not pending:
            return 0
        for hex_key in list(pending):
            pending.pop(hex_key)
            row = self.votes._table.get(bytes.fromhex(hex_key))
            if row is not None:
                direct[bytes.fromhex(hex_key)] = row
        self._save_pending(pending)
        logger.warning("report %d has not landed in %d pushes: %d pending key(s) go to the "
                       "vote path", seq, pushes, len(direct))
        return len(direct)

    def pending(self) -> dict[str, dict[str, Any]]:
        return dict(json.loads(self.outbox.get_meta(PENDING, "{}") or "{}"))

    def _save_pending(self, pending: Mapping[str, Any]) -> None:
        self.outbox.set_meta(PENDING, json.dumps(pending, sort_keys=True))

    def add_pending(self, chosen: Mapping[bytes, ScoredNumber]) -> dict[bytes, ScoredNumber]:
        """Chosen keys become pending; a key with a Consensus round open, or one nothing
        on-chain needs correcting for, is not (the first goes to the vote path)."""
        pending, direct = self.pending(), {}
        for key, row in chosen.items():
            if self.chain.current_round(key).status == ROUND_OPEN:
                direct[key] = row
            elif row.verdict >= Verdict.SUSPICIOUS or self.votes._registry_flags(key):
                pending[key.hex()] = {"country": row.country or self.votes.op.country,
                                      "score": row.score_bps,
                                      "confidence": row.confidence_bps,
                                      "category": int(row.category), "tries": 0}
        self._save_pending(pending)
        return direct

    def current_seq(self, direct: dict[bytes, ScoredNumber]) -> int:
        """The first seq the contract has not used; settles the one worked on if it landed."""
        worked = int(self.outbox.get_meta(SEQ, "0") or 0)
        if worked and self.chain.call(CONTRACT, "seqUsed", worked):
            self.settle(worked, direct)
        seq = free_seq(self.ledger, max(1, worked))
        self.outbox.set_meta(SEQ, str(seq))
        return seq

    def settle(self, seq: int, direct: dict[bytes, ScoredNumber]) -> int:
        """Apply landed report ``seq`` to the pending keys; returns the keys it finalized."""
        round_id, head = round_of(seq), self.chain.block_number()
        start = self.ledger.deployment.first_block()
        done = {bytes(e["args"]["numberKey"]).hex(): name
                for name in ("RoundFinalized", "RoundExpired", "ReportKeySkipped")
                for e in self.chain.events(CONTRACT, name, start, head, round=round_id)}
        pending, own = self.pending(), self.exchange.own(seq)
        observed = {k.hex() for k in own.items} if own is not None and own.seq == seq else set()
        for hex_key in list(pending):
            outcome = done.get(hex_key)
            if outcome in ("RoundFinalized", "RoundExpired"):
                del pending[hex_key]
                continue
            if hex_key not in observed:
                continue  # not in this operator's observation for seq: no try spent
            pending[hex_key]["tries"] = pending[hex_key].get("tries", 0) + 1
            if outcome == "ReportKeySkipped" or pending[hex_key]["tries"] >= MAX_TRIES:
                entry = pending.pop(hex_key)
                row = self.votes._table.get(bytes.fromhex(hex_key))
                if row is not None:
                    direct[bytes.fromhex(hex_key)] = row
                logger.warning("key %s… goes to the vote path (%s)", hex_key[:12],
                               outcome or f"missed {entry['tries']} reports")
        self._save_pending(pending)
        return sum(1 for v in done.values() if v == "RoundFinalized")

    # -- observe ----------------------------------------------------------------------------

    def observe(self, seq: int) -> Observation:
        """Publish this operator's observation for ``seq`` when it changed (or the relay
        lost it)."""
        items: dict[bytes, tuple[str, ReportVote]] = {}
        for hex_key, p in self.pending().items():
            items[bytes.fromhex(hex_key)] = (p["country"], ReportVote(
                int(p["score"]), int(p["confidence"]), int(p["category"])))
        others = self.exchange.observations(seq)
        for sender, obs in others.items():
            if sender.lower() == self.exchange.address.lower():
                continue
            for key, (country, _vote) in obs.items.items():
                if key not in items:
                    items[key] = self._answer(key, country)
        own = self.exchange.own(seq)
        wanted = dict(sorted(items.items())[:MAX_KEYS])
        if own is not None and own.seq == seq and own.items == wanted and \
                self.exchange.address in others:
            return own
        if not wanted:
            return own or Observation(self.exchange.address, seq, self.votes.model_hash, "", {})
        items = wanted
        cid = self._evidence(seq, items)
        obs = self.exchange.publish(seq, items, self.votes.model_hash, cid)
        self.outbox.set_meta(OWN, json.dumps(_observation_json(obs)))
        return obs

    def _answer(self, key: bytes, country: str) -> tuple[str, ReportVote]:
        """This operator's answer to a key another operator observed: its score where it
        has the number (with the country it knows), else an abstention."""
        row = self.votes._table.get(key)
        if row is None:
            return country, ReportVote(0, 0, 0, abstain=True)
        return (row.country or country, ReportVote(row.score_bps, row.confidence_bps,
                                                   int(row.category)))

    def _evidence(self, seq: int, items: Mapping[bytes, tuple[str, ReportVote]]) -> str:
        """One evidence document for the whole observation: a summary per scored key."""
        if self.votes.evidence is None:
            return ""
        docs = []
        for key, (_country, vote) in sorted(items.items()):
            row = self.votes._table.get(key)
            if row is None or vote.abstain:
                continue
            docs.append(build_evidence(
                number_key="0x" + key.hex(), operator=self.votes.op.name,
                country=self.votes.op.country, model_hash="0x" + self.votes.model_hash.hex(),
                score_bps=vote.score, verdict=int(row.verdict), category=int(vote.category),
                confidence=vote.confidence, features=row.features, reasons=list(row.reasons),
                reports=row.reports))
        if not docs:
            return ""
        return self.votes.evidence.put({"type": "spamledger.observation-evidence/1",
                                        "seq": seq, "operator": self.votes.op.name,
                                        "documents": docs})

    # -- lead, sign, submit -----------------------------------------------------------------

    def lead(self, seq: int) -> dict[str, Any] | None:
        """As the seq's leader, propose the report when the observations are ready."""
        if self.exchange.leader(seq).lower() != self.exchange.address.lower():
            return None
        if self.exchange.proposal(seq) is not None:
            return None
        obs = self.exchange.observations(seq)
        waited = self._waited(seq)
        active = {a.lower() for a, w in self.exchange.validators().items() if w > 0}
        union = set().union(*(o.items for o in obs.values())) if obs else set()
        converged = {a.lower() for a in obs} >= active and all(
            set(o.items) >= set(sorted(union)[:MAX_KEYS]) for o in obs.values())
        if not converged and waited < self.policy.wait_pushes:
            return None
        evidence = self.votes.evidence

        def put(raws: list[bytes]) -> str:
            return evidence.put(observation_doc(raws)) if evidence is not None else ""

        return self.exchange.assemble(seq, self.chain.now() + self.policy.ttl, put)

    def _waited(self, seq: int) -> int:
        at, _, count = (self.outbox.get_meta(LEAD, "") or "").partition(":")
        pushes = int(count) + 1 if at == str(seq) else 0
        self.outbox.set_meta(LEAD, f"{seq}:{pushes}")
        return pushes

    def sign(self, seq: int, report: PushReport) -> bool:
        """Sign the leader's proposal when it carries this operator's observation."""
        proposal = self.exchange.proposal(seq)
        me = self.exchange.address
        if proposal is None or me not in proposal["signers"]:
            return False
        if me in self.exchange.signatures(seq, proposal):
            return False
        own = self.exchange.own(seq)
        if own is None:
            logger.warning("report %d lists %s but this operator has no observation for it",
                           seq, me)
            return False
        known = {k: r.country for k in proposal["numberKeys"]
                 if (r := self.votes._table.get(bytes(k))) is not None and r.country}
        try:
            self.exchange.sign(proposal, own, known)
        except ReportMismatch as exc:
            logger.error("report %d not signed: %s", seq, exc)
            report.reasons["report refused"] = report.reasons.get("report refused", 0) + 1
            return False
        return True

    def submit(self, seq: int) -> bool:
        """Send report ``seq`` once every signer signed; True when it landed (by anyone)."""
        if self.chain.call(CONTRACT, "seqUsed", seq):
            return True
        proposal = self.exchange.proposal(seq)
        if proposal is None:
            return False
        sigs = self.exchange.signatures(seq, proposal)
        if set(sigs) != set(proposal["signers"]):
            return False
        action_id = f"report:{self.chain.chain_id}:{self.exchange.contract}:{seq}"
        action = self.outbox.plan(action_id, "report", {"seq": seq,
                                                        "keys": len(proposal["numberKeys"])})
        if action.state not in (MINED, "failed"):
            self.chain.send([action_id], CONTRACT, "submitReport", report_tuple(proposal),
                            [sigs[s] for s in proposal["signers"]])
        return bool(self.chain.call(CONTRACT, "seqUsed", seq))

    def landed(self, action: Any) -> int | None:
        """For the submitter's reconcile: 0 when a report action's seq is used already."""
        if action.kind != "report":
            return None
        return 0 if self.chain.call(CONTRACT, "seqUsed", action.payload["seq"]) else None


def _observation_json(obs: Observation) -> dict[str, Any]:
    return {"sender": obs.sender, "seq": obs.seq, "modelHash": obs.model_hash.hex(),
            "evidenceCid": obs.evidence_cid,
            "items": [[k.hex(), c, v.score, v.confidence, int(v.category), v.abstain]
                      for k, (c, v) in sorted(obs.items.items())]}


def _observation(doc: Mapping[str, Any]) -> Observation:
    return Observation(doc["sender"], int(doc["seq"]), bytes.fromhex(doc["modelHash"]),
                       doc["evidenceCid"],
                       {bytes.fromhex(k): (c, ReportVote(s, conf, cat, ab))
                        for k, c, s, conf, cat, ab in doc["items"]})


class ActiveValidators:
    """Active validators (address -> weight) read from the chain through ``call`` (a
    ``Ledger.call``-like function), kept for ``ttl`` seconds (one push reads them once, not
    once per relay message)."""

    def __init__(self, call: Any, ttl: float = 5.0):
        self.read, self.ttl = call, ttl
        self._at: float = -1e9
        self._value: dict[str, int] = {}

    def __call__(self) -> dict[str, int]:
        import time

        if time.monotonic() - self._at > self.ttl:
            addresses = self.read("ValidatorSet", "activeValidators")
            self._value = {a: int(self.read("ValidatorSet", "activeValidator", a)[1])
                           for a in addresses}
            self._at = time.monotonic()
        return dict(self._value)


def relay_board(ledger: Any) -> Any:
    """A relay board checking messages against ``ledger``'s ReportConsensus and validators
    (a ``node.Ledger`` or the service's ``Chain``)."""
    from oracle.service._relay import RelayBoard

    ledger = getattr(ledger, "ledger", ledger)
    return RelayBoard(int(ledger.w3.eth.chain_id), ledger.deployment.address(CONTRACT),
                      ActiveValidators(ledger.call))


def report_path_for(votes: VoteService, relay: Any,
                    policy: ReportPolicy = ReportPolicy()) -> ReportPath:
    """The report path of ``votes``' operator, talking to the others through ``relay``."""
    chain = votes.chain
    exchange = ReportExchange(
        chain.account, relay, chain.chain_id, chain.ledger.deployment.address(CONTRACT),
        validators=ActiveValidators(chain.call),
        quorum_bps=int(chain.call("Consensus", "quorumBps")),
        approved=lambda owner, model: chain.model_approved(model, owner))
    return ReportPath(votes, exchange, policy)
