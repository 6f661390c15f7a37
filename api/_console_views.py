"""What the regulator's console pages show: a number's audit trail, the consortium, activity.

The audit page reuses :func:`api._audit.history` (the index) and :func:`api._audit.verify`
(the chain and IPFS: signatures, roles, tallies, registry record, Merkle proofs, evidence
CIDs, and what the API serves compared with the chain); this module only arranges them into
one timeline and the exports. Consortium and activity read the index, and the current
governance parameters from the chain.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api._audit import history, verify
from api._context import Context
from api._errors import ApiError
from api._models import ChainEvent, Dispute, Epoch, GovernanceEvent, Model, Round, Validator, Vote
from api._reputation import category_name, verdict_name
from api._schemas import AuditOut
from spamledger._numbers import Number

logger = logging.getLogger(__name__)

# Event name -> timeline kind (the regulator's categories).
KINDS = {"RoundOpened": "round", "RoundEligibleWeight": "round", "RoundExpired": "round",
         "RoundNoConsensus": "round", "VoteCast": "vote", "VoteContested": "vote",
         "VoteSkipped": "vote", "RoundFinalized": "finalization",
         "RecordFinalized": "finalization", "RecordOverturned": "finalization",
         "DisputeOpened": "dispute", "DisputeVoteCast": "dispute", "DisputeDecided": "dispute",
         "DisputeExpired": "dispute", "DisputeStatusChanged": "dispute"}
TRAIL_COLUMNS = ("section", "block_number", "block_time", "kind", "event", "summary", "tx_hash",
                 "ok", "detail")


def audit(ctx: Context, session: Session, number: Number,
          with_checks: bool = True) -> dict[str, Any]:
    """History and timeline of ``number`` from the index and, ``with_checks``, its
    verification (see :func:`checks`)."""
    trail = history(session, ctx, number)
    view = {"number": number.e164, "number_key": trail.number_key, "history": trail,
            "timeline": timeline(trail), "verify": None, "error": "",
            "generated_at": int(time.time())}
    if with_checks:
        view.update(checks(ctx, session, number))
    return view


def checks(ctx: Context, session: Session, number: Number) -> dict[str, Any]:
    """``{"verify": VerifyOut, "error": ""}``; a chain or IPFS outage gives ``verify`` None
    and the ``error`` instead (never a check passed by default)."""
    try:
        return {"verify": verify(ctx, number, session), "error": ""}
    except ApiError as exc:
        return {"verify": None, "error": exc.detail}


def timeline(trail: AuditOut) -> list[dict[str, Any]]:
    """Every event of the number and every snapshot leaf, in chain order, summarized."""
    rows = [{"block_number": e.block_number, "block_time": e.block_time, "log_index": e.log_index,
             "kind": KINDS.get(e.event, "governance"), "event": e.event,
             "contract": e.contract, "tx_hash": e.tx_hash, "summary": _summary(e.event, e.args),
             "evidence_cid": str(e.args.get("evidenceCid") or "")} for e in trail.events]
    for epoch_leaf in trail.epochs:
        leaf: dict[str, Any] = dict(epoch_leaf)
        rows.append({"block_number": leaf["block_number"], "block_time": 0, "log_index": -1,
                     "kind": "epoch", "event": "EpochLeaf", "contract": "SnapshotRegistry",
                     "tx_hash": leaf["tx_hash"], "evidence_cid": str(leaf["snapshot_cid"]),
                     "summary": f"{leaf['country']} epoch {leaf['epoch']}: score "
                                f"{leaf['score']} {verdict_name(int(leaf['verdict']))}, root "
                                f"{str(leaf['root'])[:18]}…, {len(leaf['proof'])} proof nodes"})
    rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
    return rows


def _summary(event: str, a: dict[str, Any]) -> str:
    """One line a regulator reads: who, what, how much."""
    if event == "VoteCast":
        vote = "abstained" if a.get("abstain") else (
            f"score {a.get('score')} ({category_name(int(a.get('category') or 0))})")
        return (f"round {a.get('round')}: {a.get('validator')} ({_cc(a.get('country'))}, "
                f"weight {a.get('weight')}) {vote}, model {str(a.get('modelHash'))[:18]}…")
    if event in ("RoundFinalized", "RecordFinalized"):
        return (f"round {a.get('round')}: score {a.get('score')} "
                f"{verdict_name(int(a.get('verdict') or 0))}")
    if event == "RoundOpened":
        return f"round {a.get('round')} opened for {_cc(a.get('country'))} by {a.get('opener')}"
    if event == "DisputeOpened":
        return f"dispute {a.get('id')} opened against round {a.get('recordRound')}"
    if event == "DisputeVoteCast":
        side = "uphold" if a.get("uphold") else "reject"
        return (f"dispute {a.get('id')}: {a.get('arbiter')} ({_cc(a.get('country'))}, weight "
                f"{a.get('weight')}) votes {side}")
    if event == "DisputeDecided":
        outcome = "upheld" if a.get("upheld") else "rejected"
        return (f"dispute {a.get('id')} {outcome} ({a.get('upholdWeight')} uphold / "
                f"{a.get('rejectWeight')} reject)")
    shown = {k: v for k, v in a.items() if k != "numberKey"}
    return ", ".join(f"{k}={v}" for k, v in list(shown.items())[:6])


def _cc(raw: Any) -> str:
    """A bytes2 country as logged (``0x5553`` or ``US``) as letters."""
    text = str(raw or "")
    if text.startswith("0x") and len(text) == 6:
        return bytes.fromhex(text[2:]).decode("ascii", "replace")
    return text


def trail_json(view: dict[str, Any]) -> str:
    """The audit trail as one JSON document: timeline, checks, and whether all passed."""
    checks = view["verify"]
    doc = {"number": view["number"], "number_key": view["number_key"],
           "generated_at": view["generated_at"], "timeline": view["timeline"],
           "verified": checks.ok if checks else None, "error": view["error"] or None,
           "checks": [c.model_dump() for c in checks.checks] if checks else []}
    return json.dumps(doc, indent=2, sort_keys=True)


def trail_csv(view: dict[str, Any]) -> str:
    """The audit trail as CSV: one row per timeline entry, then one per check."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TRAIL_COLUMNS)
    writer.writeheader()
    for row in view["timeline"]:
        writer.writerow({"section": "timeline", **{k: row[k] for k in (
            "block_number", "block_time", "kind", "event", "summary", "tx_hash")}})
    checks = view["verify"]
    for check in checks.checks if checks else []:
        writer.writerow({"section": "check", "event": check.name, "ok": check.ok,
                         "detail": check.detail})
    if view["error"]:
        writer.writerow({"section": "check", "event": "verification", "ok": False,
                         "detail": view["error"]})
    return buf.getvalue()


# ---------------------------------------------------------------------------- consortium


def consortium(ctx: Context, session: Session,
               with_parameters: bool = True) -> dict[str, Any]:
    """Validators, arbiters, thresholds and models from the index and, ``with_parameters``,
    the governance parameters (see :func:`parameters`)."""
    validators = session.scalars(select(Validator).order_by(Validator.country)).all()
    arbiters: dict[str, dict[str, Any]] = {}
    thresholds: dict[str, dict[str, Any]] = {}
    for e in _governance(session, ("ArbiterSet", "ArbiterRemoved", "ThresholdsChanged")):
        a = json.loads(e.args)
        if e.event == "ArbiterSet":
            arbiters[a["arbiter"]] = {"address": a["arbiter"], "country": _cc(a["country"]),
                                      "weight": a["weight"], "block_number": e.block_number}
        elif e.event == "ArbiterRemoved":
            arbiters.pop(a["arbiter"], None)
        else:
            thresholds[_cc(a["country"])] = {"spam_bps": a["spamBps"],
                                             "suspicious_bps": a["suspiciousBps"],
                                             "block_number": e.block_number}
    models = session.scalars(select(Model).order_by(Model.block_number)).all()
    return {"validators": validators, "arbiters": sorted(arbiters.values(),
                                                         key=lambda r: r["country"]),
            "parameters": parameters(ctx, session) if with_parameters else None,
            "thresholds": thresholds, "models": models}


def _governance(session: Session, events: tuple[str, ...]) -> list[GovernanceEvent]:
    return list(session.scalars(select(GovernanceEvent)
                                .where(GovernanceEvent.event.in_(events))
                                .order_by(GovernanceEvent.block_number,
                                          GovernanceEvent.log_index)).all())


def parameters(ctx: Context, session: Session) -> list[dict[str, Any]]:
    """Each governance parameter: its value read from the chain now, and the block of its
    last ``ParameterChanged`` in the index (None: unchanged since deployment)."""
    changed = {(e.contract, str(json.loads(e.args).get("name"))): e.block_number
               for e in _governance(session, ("ParameterChanged",))}
    return _parameters(ctx, changed)


def _parameters(ctx: Context, changed: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    """Each governance parameter of ``spamledger gov set``: value on-chain, last change."""
    from node._gov_cli import PARAMETERS, getter_of

    out = []
    chain = None
    try:
        chain = ctx.chain.get()
    except ApiError as exc:
        logger.info("consortium page without the chain: %s", exc.detail)
    for name, (contract, setter, help_text) in PARAMETERS.items():
        getter = getter_of(setter)
        value: Any = "chain unreachable"
        if chain is not None:
            try:
                value = chain.call(contract, getter)
            except ApiError as exc:
                value = f"unreadable: {exc.detail}"
        out.append({"name": name, "contract": contract, "value": value, "help": help_text,
                    "changed_block": changed.get((contract, getter))})
    return out


# ------------------------------------------------------------------------------ activity


def activity(session: Session, country: str | None) -> dict[str, Any]:
    """Rounds finalized per day by verdict and by country, votes per operator, disputes
    opened and decided per day, epoch snapshots; ``country`` limits to one country."""
    rounds = select(Round).where(Round.status == "finalized")
    if country:
        rounds = rounds.where(Round.country == country)
    finalized = session.scalars(rounds).all()
    times = _block_times(session, {r.finalized_block for r in finalized if r.finalized_block})
    by_verdict: dict[str, Counter[str]] = defaultdict(Counter)
    by_country: dict[str, Counter[str]] = defaultdict(Counter)
    for r in finalized:
        day = _day(times.get(r.finalized_block or 0))
        by_verdict[day][verdict_name(int(r.verdict or 0))] += 1
        by_country[day][r.country] += 1
    votes = select(Vote.validator, Vote.country)
    if country:
        votes = votes.where(Vote.number_key.in_(select(Round.number_key)
                                                .where(Round.country == country)))
    per_operator = Counter(f"{cc} {addr}" for addr, cc in session.execute(votes).all())
    return {"by_verdict": _series(by_verdict), "by_country": _series(by_country),
            "per_operator": sorted(per_operator.items(), key=lambda kv: -kv[1]),
            "disputes": _disputes_per_day(session, country),
            "epochs": _epochs(session, country)}


def _block_times(session: Session, blocks: set[int]) -> dict[int, int]:
    if not blocks:
        return {}
    rows = session.execute(select(ChainEvent.block_number, ChainEvent.block_time)
                           .where(ChainEvent.block_number.in_(blocks))).all()
    return {int(b): int(t) for b, t in rows}


def _day(epoch_seconds: int | None) -> str:
    if not epoch_seconds:
        return "unknown"
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d")


def _series(counts: dict[str, Counter[str]]) -> dict[str, Any]:
    """``{"days": [...], "names": [...], "rows": [(day, {name: n}), ...], "max": n}``."""
    days = sorted(counts)
    keys = sorted({k for c in counts.values() for k in c})
    rows = [(d, dict(counts[d])) for d in days]
    most = max((sum(c.values()) for c in counts.values()), default=0)
    return {"days": days, "names": keys, "rows": rows, "max": most}


def _disputes_per_day(session: Session, country: str | None) -> dict[str, Any]:
    query = select(Dispute)
    if country:
        query = query.where(Dispute.majority_country == country)
    disputes = session.scalars(query).all()
    blocks = {d.opened_block for d in disputes} | {d.decided_block for d in disputes
                                                   if d.decided_block}
    times = _block_times(session, blocks)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for d in disputes:
        counts[_day(times.get(d.opened_block))]["opened"] += 1
        if d.decided_block:
            counts[_day(times.get(d.decided_block))][d.status] += 1
    return _series(counts)


def _epochs(session: Session, country: str | None) -> list[Epoch]:
    query = select(Epoch).order_by(Epoch.block_number.desc()).limit(200)
    if country:
        query = query.where(Epoch.country == country)
    return list(session.scalars(query).all())
