"""What the business, arbiter and operator console pages show, and the signed actions.

Arbiter votes and model approvals are signed on the server with the keystore the API key is
bound to (``spamledger api keys create --signer NAME``); the keystore password comes from
the server's settings (``keystore_password`` or ``data_dir/keystore/.password``) and never
reaches the browser. The contracts decide who may vote or approve: a refusal is shown as the
contract's custom error.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api._auth import ANY_COUNTRY, Principal
from api._context import Context
from api._disputes import dispute_out
from api._errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
    UpstreamUnavailable,
)
from api._models import (
    ArbiterVote,
    ChainEvent,
    Dispute,
    DisputeFiling,
    Epoch,
    GovernanceEvent,
    RegistryRecord,
    Round,
    Vote,
)

logger = logging.getLogger(__name__)

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_accounts: dict[tuple[str, float], Any] = {}
_accounts_lock = threading.Lock()


# ------------------------------------------------------------------------------ signers


def signer_path(ctx: Context, who: Principal) -> Path:
    """The keystore file of the key's signer; Forbidden when the key has none."""
    import node

    if not who.signer:
        raise Forbidden("this API key has no signer keystore: create it with `spamledger api "
                        "keys create --signer NAME` to vote or approve from the console")
    return Path(node.keystore_dir(ctx.settings.data_dir)) / f"{who.signer}.json"


def signer_address(ctx: Context, who: Principal) -> str | None:
    """The signer's address read from its keystore (no decryption); None without one."""
    if not who.signer:
        return None
    path = signer_path(ctx, who)
    try:
        blob = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Forbidden(f"signer keystore {who.signer!r} is missing or unreadable") from exc
    from eth_utils import to_checksum_address

    return str(to_checksum_address("0x" + str(blob.get("address", "")).removeprefix("0x")))


def signer_account(ctx: Context, who: Principal) -> Any:
    """The signer's decrypted account (cached per keystore file and modification time)."""
    import node

    path = signer_path(ctx, who)
    try:
        cache_key = (str(path), path.stat().st_mtime)
    except OSError as exc:
        raise Forbidden(f"signer keystore {who.signer!r} is missing") from exc
    with _accounts_lock:
        if cache_key not in _accounts:
            try:
                password = node.resolve_password(ctx.settings.data_dir,
                                                 ctx.settings.keystore_password)
                _accounts[cache_key] = node.load_account(path, password)
            except node.NodeError as exc:
                raise Forbidden(f"signer keystore {who.signer!r}: {exc}") from exc
        return _accounts[cache_key]


# ------------------------------------------------------------------------------- business


def filings(session: Session, who: Principal) -> list[dict[str, Any]]:
    """The disputes this key filed, newest first, with their indexed status."""
    query = select(DisputeFiling).order_by(DisputeFiling.created_at.desc()).limit(100)
    if who.role != "admin":
        query = query.where(DisputeFiling.api_key_id == who.key_id)
    out = []
    for f in session.scalars(query).all():
        row = session.get(Dispute, f.dispute_id) if f.dispute_id is not None else None
        out.append({"dispute_id": f.dispute_id, "business": f.business,
                    "status": row.status if row else "waiting for the indexer",
                    "created_at": f.created_at, "tx_hash": f.tx_hash})
    return out


def business_dispute(session: Session, who: Principal, dispute_id: int) -> dict[str, Any]:
    """A dispute this key filed: filing, indexed state and votes, the registry record."""
    filing = session.scalars(select(DisputeFiling)
                             .where(DisputeFiling.dispute_id == dispute_id)).first()
    if filing is None or (who.role != "admin" and filing.api_key_id != who.key_id):
        raise Forbidden("a business key may only follow the disputes it filed")
    row = session.get(Dispute, dispute_id)
    return {"filing": filing, "files": json.loads(filing.files),
            "dispute": dispute_out(session, row) if row else None,
            "record": session.get(RegistryRecord, filing.number_key)}


# -------------------------------------------------------------------------------- arbiter


def arbiter_view(ctx: Context, session: Session, who: Principal) -> dict[str, Any]:
    """Open disputes with what an arbiter weighs: record, votes behind it, evidence, tally,
    deadline, and whether this key's signer may still vote."""
    address = signer_address(ctx, who)
    seat = _arbiter_seat(ctx, address)
    quorum_bps = _chain_value(ctx, "Dispute", "quorumBps")
    cases = []
    for d in session.scalars(select(Dispute).where(Dispute.status == "open")
                             .order_by(Dispute.deadline)).all():
        voted = address is not None and session.scalars(
            select(ArbiterVote).where(ArbiterVote.dispute_id == d.dispute_id,
                                      ArbiterVote.arbiter == address)).first() is not None
        eligible, why = _eligible(who, seat, d.majority_country, voted)
        cases.append({"dispute": dispute_out(session, d), "row": d, "eligible": eligible,
                      "why": why, "record": session.get(RegistryRecord, d.number_key),
                      "votes": _record_votes(session, d.number_key, d.record_round),
                      "evidence": evidence_listing(ctx, d.evidence_cid),
                      "quorum_weight": (-(-int(quorum_bps) * d.eligible_weight // 10_000)
                                        if isinstance(quorum_bps, int) else None)})
    return {"address": address, "seat": seat, "cases": cases}


def _arbiter_seat(ctx: Context, address: str | None) -> dict[str, Any] | None:
    """The signer's arbiter country and weight on-chain (None: not an arbiter)."""
    if address is None:
        return None
    from node._consortium import country_str

    try:
        country, weight = ctx.chain.get().call("ValidatorSet", "arbiterOf", address)
    except ApiError as exc:
        return {"country": "", "weight": 0, "error": exc.detail}
    return {"country": country_str(country), "weight": int(weight)} if weight else None


def _eligible(who: Principal, seat: dict[str, Any] | None, flagging: str,
              voted: bool) -> tuple[bool, str]:
    if voted:
        return False, "this signer has voted on this dispute"
    if seat is None and who.role not in ("regulator", "admin"):
        return False, "this key's signer is not an arbiter"
    if seat is not None and seat["country"] == flagging:
        return False, f"arbiters from the flagging country ({flagging}) may not vote"
    return True, ""


def _record_votes(session: Session, key: str, round_id: int) -> list[Vote]:
    return list(session.scalars(select(Vote).where(Vote.number_key == key,
                                                   Vote.round_id == round_id)
                                .order_by(Vote.log_index)).all())


def fetch_evidence(ctx: Context, cid: str) -> bytes:
    """The bytes of ``cid`` through the verifying store, store failures as API errors: a
    malformed CID is :class:`Unprocessable`; an unreachable node, content that does not hash
    to its CID or an erased block is :class:`UpstreamUnavailable` (503)."""
    from node import ipfs

    try:
        return ctx.evidence.get().get(cid)
    except ValueError as exc:  # ipfs.InvalidCid, or a CID the multibase decoder refuses
        raise Unprocessable(f"{cid[:80]!r} is not a content identifier: {exc}") from exc
    except ipfs.EvidenceError as exc:
        raise UpstreamUnavailable(f"evidence {cid[:80]}: {type(exc).__name__}: {exc}") from exc


def evidence_listing(ctx: Context, cid: str) -> dict[str, Any]:
    """A dispute's evidence manifest, fetched and CID-verified: its files, or the error."""
    try:
        data = fetch_evidence(ctx, cid)
    except ApiError as exc:
        return {"cid": cid, "ok": False, "error": exc.detail, "files": []}
    try:
        doc = json.loads(data)
    except ValueError:
        return {"cid": cid, "ok": True, "error": "", "files": []}
    files = doc.get("files", []) if isinstance(doc, dict) else []
    return {"cid": cid, "ok": True, "error": "",
            "files": [f for f in files if isinstance(f, dict) and "cid" in f]}


def cast_vote(ctx: Context, who: Principal, dispute_id: int, uphold: bool) -> str:
    """Sign and send the vote, then decide the case if a side reached quorum; what happened."""
    account = signer_account(ctx, who)
    chain = ctx.chain.get()
    chain.transact_as(account, "Dispute", "vote", dispute_id, uphold)
    logger.info("console: %s voted %s on dispute %d", account.address,
                "uphold" if uphold else "reject", dispute_id)
    try:
        chain.transact_as(account, "Dispute", "resolve", dispute_id)
    except Conflict as exc:
        if "DecisionPending" in exc.detail:
            return "voted; the dispute waits for more votes"
        raise
    status = int(chain.call("Dispute", "getDispute", dispute_id)[4])
    return f"voted; the dispute is now {('none', 'open', 'upheld', 'rejected', 'expired')[status]}"


# ------------------------------------------------------------------------------- operator


def operator_view(ctx: Context, session: Session, who: Principal) -> dict[str, Any]:
    """Models awaiting this country's approval, the model each country votes with, the open
    rounds this operator's validator still has to vote on and those it has voted on, and
    the epoch history. Rounds and epochs stay within the key's country scope."""
    address = signer_address(ctx, who)
    validator_country = _validator_country(ctx, address)
    scope = who.country if who.country != ANY_COUNTRY else None
    country = validator_country or scope or ""
    return {"address": address, "country": country, "scope": scope,
            "validator": bool(validator_country),
            "models": _models(session, address, country),
            "in_use": _models_in_use(session),
            "duties": round_duties(session, address, scope),
            "epochs": list(session.scalars(select(Epoch).where(Epoch.country == (scope or country))
                                           .order_by(Epoch.epoch.desc()).limit(50)).all())}


ROUNDS_SHOWN = 200


def round_duties(session: Session, validator: str | None,
                 country: str | None) -> dict[str, Any]:
    """Open rounds (of ``country``; None: every country) split by whether ``validator``
    has voted in them: ``pending`` (no vote yet, soonest deadline first, ``late`` once the
    deadline passed; ``pending_total`` of them in all) and ``voted`` (with its vote:
    counted, or contesting the round's country). Without a validator every open round is
    ``pending`` and ``known`` is False."""
    now = max(int(time.time()), _newest_block_time(session))
    open_rounds = select(Round).where(Round.status == "open")
    if country:
        open_rounds = open_rounds.where(Round.country == country)
    voted: list[dict[str, Any]] = []
    if validator:
        open_rounds = open_rounds.where(~_voted_by(validator))
        contested = _contested(session, validator, country)
        if contested:
            open_rounds = open_rounds.where(~or_(*(
                (Round.number_key == r.number_key) & (Round.round_id == r.round_id)
                for r, _cc in contested)))
        voted = _voted_rounds(session, validator, country) + [
            {"round": r, "vote": None, "contested": cc} for r, cc in contested]
    pending = session.scalars(open_rounds.order_by(Round.deadline, Round.number_key)
                              .limit(ROUNDS_SHOWN)).all()
    total = int(session.scalar(select(func.count()).select_from(open_rounds.subquery())) or 0)
    return {"known": bool(validator), "now": now, "voted": voted, "pending_total": total,
            "pending": [{"round": r, "late": r.deadline < now} for r in pending]}


def _voted_by(validator: str) -> Any:
    """SQL: ``validator`` has a counted vote in the round (addresses in any letter case)."""
    return (select(Vote.id).where(Vote.number_key == Round.number_key,
                                  Vote.round_id == Round.round_id,
                                  func.lower(Vote.validator) == validator.lower()).exists())


def _voted_rounds(session: Session, validator: str, country: str | None) -> list[dict[str, Any]]:
    """Open rounds with ``validator``'s counted vote, soonest deadline first."""
    query = (select(Round, Vote).join(Vote, (Vote.number_key == Round.number_key)
                                      & (Vote.round_id == Round.round_id))
             .where(Round.status == "open", func.lower(Vote.validator) == validator.lower()))
    if country:
        query = query.where(Round.country == country)
    return [{"round": r, "vote": v, "contested": ""} for r, v in session.execute(
        query.order_by(Round.deadline, Round.number_key).limit(ROUNDS_SHOWN)).all()]


def _contested(session: Session, validator: str,
               country: str | None) -> list[tuple[Round, str]]:
    """Open rounds (of ``country``) where ``validator``'s vote signed another country, with
    that country: the vote took its seat (the validator has voted) but is logged as
    ``VoteContested``, not counted among the votes. Such votes are rare."""
    query = (select(Round, ChainEvent)
             .join(ChainEvent, ChainEvent.number_key == Round.number_key)
             .where(ChainEvent.event == "VoteContested", Round.status == "open"))
    if country:
        query = query.where(Round.country == country)
    found: dict[tuple[str, int], tuple[Round, str]] = {}
    for r, e in session.execute(query).all():
        a = json.loads(e.args)
        if (str(a.get("validator", "")).lower() == validator.lower()
                and int(a.get("round", -1)) == r.round_id):
            found[(r.number_key, r.round_id)] = (r, _country_text(a.get("signedCountry", "")))
    return list(found.values())


def _newest_block_time(session: Session) -> int:
    found = session.scalar(select(ChainEvent.block_time)
                           .order_by(ChainEvent.block_number.desc()).limit(1))
    return int(found or 0)


def _validator_country(ctx: Context, address: str | None) -> str:
    if address is None:
        return ""
    from node._consortium import country_str

    try:
        country, weight = ctx.chain.get().call("ValidatorSet", "activeValidator", address)
    except ApiError:
        return ""
    return country_str(country) if weight else ""


def _models(session: Session, me: str | None, country: str) -> list[dict[str, Any]]:
    """Every registered (owner, model) with its status, approving countries and whether this
    operator's country may still approve it, from the indexed ModelRegistry events (the
    contract itself refuses an approval it does not allow)."""
    models: dict[tuple[str, str], dict[str, Any]] = {}
    for e in session.scalars(select(GovernanceEvent)
                             .where(GovernanceEvent.event.in_(MODEL_EVENTS))
                             .order_by(GovernanceEvent.block_number,
                                       GovernanceEvent.log_index)).all():
        a = json.loads(e.args)
        ident = (str(a.get("owner")), str(a.get("modelHash")))
        if e.event == "ModelRegistered":
            models[ident] = {"owner": ident[0], "model_hash": ident[1], "status": "pending",
                             "country": _country_text(a["country"]), "approvals": 0,
                             "approved_by": set(), "block_number": e.block_number}
        elif ident in models:
            _apply_model_event(models[ident], e.event, a)
    out = []
    for m in models.values():
        m["approved_here"] = country in m.pop("approved_by")
        m["may_approve"] = (bool(me) and bool(country) and m["country"] != country
                            and not m["approved_here"] and m["status"] != "revoked")
        out.append(m)
    return out


MODEL_EVENTS = ("ModelRegistered", "ModelApprovalAdded", "ModelApproved", "ModelRevoked")


def _apply_model_event(model: dict[str, Any], event: str, a: dict[str, Any]) -> None:
    if event == "ModelApprovalAdded":
        model["approvals"] = int(a["approvals"])
        model["approved_by"].add(_country_text(a["country"]))
    elif event == "ModelApproved":
        model["status"] = "approved"
    elif event == "ModelRevoked":
        model["status"] = "revoked"


def _country_text(raw: Any) -> str:
    text = str(raw)
    if text.startswith("0x") and len(text) == 6:
        return bytes.fromhex(text[2:]).decode("ascii", "replace")
    return text


def _models_in_use(session: Session) -> dict[str, str]:
    """Per country, the model of its validators' latest scoring vote (what is in use)."""
    out: dict[str, str] = {}
    for country, model in session.execute(
            select(Vote.country, Vote.model_hash).where(Vote.abstain.is_(False))
            .order_by(Vote.block_number, Vote.log_index)).all():
        out[country] = model
    return dict(sorted(out.items()))


def approve(ctx: Context, who: Principal, owner: str, model_hash: str) -> str:
    """Sign and send the approval of ``owner``'s ``model_hash``; what happened."""
    if not _ADDRESS.match(owner):
        raise Unprocessable(f"owner: {owner[:50]!r} is not an address (0x and 40 hex digits)")
    if not _HASH.match(model_hash):
        raise Unprocessable(f"model_hash: {model_hash[:70]!r} is not 0x and 64 hex digits")
    account = signer_account(ctx, who)
    from eth_utils import to_checksum_address

    ctx.chain.get().transact_as(account, "ModelRegistry", "approveModel",
                                to_checksum_address(owner), bytes.fromhex(model_hash[2:]))
    logger.info("console: %s approved model %s of %s", account.address, model_hash[:10], owner)
    return f"approved model {model_hash[:12]}… of {owner}"


def _chain_value(ctx: Context, contract: str, fn: str) -> Any:
    try:
        return int(ctx.chain.get().call(contract, fn))
    except ApiError as exc:
        return exc.detail


def dispute_or_404(session: Session, dispute_id: int) -> Dispute:
    row = session.get(Dispute, dispute_id)
    if row is None:
        raise NotFound(f"dispute {dispute_id} is not (yet) indexed")
    return row
