"""Regulator audit: a number's complete history from the index, and its verification from
the chain itself.

:func:`verify` trusts nothing in the index: it reads the events from the chain, recovers
each vote's signer from the transaction calldata, checks the signer held the validator role
(with the logged country and weight) in the state before that block, recomputes each
round's tally and verdict, compares the registry record, checks snapshot proofs on-chain
and fetches every evidence CID through the verifying evidence store. Then it compares what
the API SERVES against the chain: the indexed record field by field, every indexed event of
the number by block and log index (missing, forged or altered rows), its votes, rounds,
disputes and arbiter votes against the replay of the chain's events
(:mod:`api._audit_tables`), and the epoch roots the answers carry; any difference fails a
check naming the fields.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api._audit_tables import table_checks
from api._context import Context
from api._disputes import dispute_out, voting_open
from api._errors import UpstreamUnavailable
from api._models import (
    ChainEvent,
    Dispute,
    Epoch,
    EpochLeaf,
    GovernanceEvent,
    IndexCursor,
    RegistryRecord,
    Round,
    Vote,
)
from api._reputation import vote_out
from api._schemas import AuditOut, Check, HistoryEvent, VerifyOut
from spamledger._numbers import Number

logger = logging.getLogger(__name__)


def history(session: Session, ctx: Context, number: Number) -> AuditOut:
    """Every round, vote, finalization, snapshot, dispute and governance change of a number."""
    key = ctx.hasher.hex(number.e164)
    events = session.scalars(select(ChainEvent).where(ChainEvent.number_key == key)
                             .order_by(ChainEvent.block_number, ChainEvent.log_index)).all()
    votes = session.scalars(select(Vote).where(Vote.number_key == key)
                            .order_by(Vote.block_number, Vote.log_index)).all()
    rounds = session.scalars(select(Round).where(Round.number_key == key)
                             .order_by(Round.round_id)).all()
    disputes = session.scalars(select(Dispute).where(Dispute.number_key == key)
                               .order_by(Dispute.dispute_id)).all()
    epochs = session.execute(select(EpochLeaf, Epoch).join(Epoch, Epoch.id == EpochLeaf.epoch_id)
                             .where(EpochLeaf.number_key == key)
                             .order_by(Epoch.block_number)).all()
    touched = {v.validator for v in votes} | {v.model_hash for v in votes if v.model_hash}
    return AuditOut(
        number=number.e164, number_key=key,
        rounds=[_round_dict(r) for r in rounds], votes=[vote_out(v) for v in votes],
        disputes=[dispute_out(session, d) for d in disputes],
        epochs=[_epoch_dict(leaf, epoch) for leaf, epoch in epochs],
        events=[_event_out(e) for e in events] + _governance(session, touched))


def _round_dict(r: Round) -> dict[str, Any]:
    return {"round": r.round_id, "status": r.status, "country": r.country,
            "deadline": r.deadline, "voting_open": voting_open(r.status, r.deadline),
            "score": r.score, "verdict": r.verdict, "category": r.category, "weight": r.weight,
            "vote_count": r.vote_count, "opened_block": r.opened_block,
            "opened_tx": r.opened_tx, "finalized_block": r.finalized_block,
            "finalized_tx": r.finalized_tx}


def _epoch_dict(leaf: EpochLeaf, epoch: Epoch) -> dict[str, Any]:
    return {"country": epoch.country, "epoch": epoch.epoch, "root": epoch.root,
            "snapshot_cid": epoch.cid, "score": leaf.score, "verdict": leaf.verdict,
            "category": leaf.category, "proof": [p for p in leaf.proof.split(",") if p],
            "block_number": epoch.block_number, "tx_hash": epoch.tx_hash}


def _event_out(e: ChainEvent | GovernanceEvent, block_time: int | None = None) -> HistoryEvent:
    return HistoryEvent(contract=e.contract, event=e.event, block_number=e.block_number,
                        block_time=getattr(e, "block_time", block_time or 0),
                        tx_hash=e.tx_hash, log_index=e.log_index, args=json.loads(e.args))


def _governance(session: Session, touched: set[str]) -> list[HistoryEvent]:
    """Governance events naming a validator that voted on the number or a model it used."""
    if not touched:
        return []
    lowered = {t.lower() for t in touched}
    out = []
    for row in session.scalars(select(GovernanceEvent).order_by(GovernanceEvent.block_number,
                                                                GovernanceEvent.log_index)):
        values = {str(v).lower() for v in json.loads(row.args).values()}
        if values & lowered:
            out.append(_event_out(row))
    return out


# ---------------------------------------------------------------- verification from the chain


def verify(ctx: Context, number: Number, session: Session) -> VerifyOut:
    """Recompute the number's record from chain data; one :class:`Check` per fact checked.

    Raises :class:`~api.UpstreamUnavailable` (503) when the chain stops answering midway.
    """
    import requests
    from web3.exceptions import Web3Exception

    try:
        return _verify(ctx, number, session)
    except (Web3Exception, requests.RequestException, OSError) as exc:
        raise UpstreamUnavailable(f"chain failed during verification: "
                                  f"{type(exc).__name__}") from exc


def _verify(ctx: Context, number: Number, session: Session) -> VerifyOut:
    key = ctx.hasher.hex(number.e164)
    chain = ctx.chain.get()
    ledger = chain.ledger
    first = int(chain.deployment.first_block())
    kb = bytes.fromhex(key[2:])
    votes = _round_events(chain, "VoteCast", first, kb)
    finals = _round_events(chain, "RoundFinalized", first, kb)
    checks: list[Check] = []
    checks += [_signature_check(chain, v) for v in votes]
    checks += [_role_check(chain, v) for v in votes]
    checks += [_tally_check(chain, f, [v for v in votes if v["args"]["round"] ==
                                       f["args"]["round"]]) for f in finals]
    checks += _record_check(chain, kb, finals)
    checks += _proof_checks(chain, session, key)
    checks += _evidence_checks(ctx, votes, ledger, first, kb)
    checks += served_checks(chain, session, key, first)
    return VerifyOut(number=number.e164, number_key=key,
                     ok=bool(checks) and all(c.ok for c in checks), checks=checks)


# Contracts that run rounds and emit the round events (the vote path, the report path).
ROUND_CONTRACTS = ("Consensus", "ReportConsensus")


def _round_events(chain, event: str, first: int, kb: bytes) -> list[Any]:
    """``event`` of the number from every deployed round contract, in chain order."""
    names = [n for n in ROUND_CONTRACTS if n in chain.deployment.contract_names()]
    logs = [log for n in names
            for log in chain.ledger.events(n, event, first, "latest", numberKey=kb)]
    return sorted(logs, key=lambda log: (int(log["blockNumber"]), int(log["logIndex"])))


def _from_report(chain, log: Any) -> bool:
    names = chain.deployment.contract_names()
    return "ReportConsensus" in names and str(log["address"]).lower() == \
        chain.deployment.address("ReportConsensus").lower()


def _where(log: Any) -> str:
    return f"block {log['blockNumber']} tx 0x{bytes(log['transactionHash']).hex()}"


def _signature_check(chain, log: Any) -> Check:
    """The vote's signature in the transaction calldata recovers to the logged validator."""
    import node

    a = log["args"]
    name = f"signature: {a['validator']} round {a['round']}"
    if _from_report(chain, log):
        return _report_signature_check(chain, log, name)
    try:
        vote, signature = _signed_vote(chain, log)
    except LookupError as exc:
        return Check(name=name, ok=False, detail=f"{_where(log)}: {exc}")
    signer = node.recover_score_vote(vote, signature, chain.deployment.chain_id,
                                     chain.deployment.address("Consensus"))
    ok = signer.lower() == str(a["validator"]).lower()
    return Check(name=name, ok=ok, detail=f"{_where(log)}: recovered {signer}")


def _report_signature_check(chain, log: Any, name: str) -> Check:
    """A report vote: the report in the calldata carries this vote for the logged validator,
    and that validator's signature over the report recovers to it."""
    import node
    from node._report import REPORT_FIELDS

    tx = chain.w3.eth.get_transaction(log["transactionHash"])
    _fn, params = chain.ledger.contract("ReportConsensus").decode_function_input(tx["input"])
    raw, signatures = params["report"], params["signatures"]
    report = dict(raw) if isinstance(raw, dict) else dict(zip(REPORT_FIELDS, raw, strict=True))
    a = log["args"]
    signers = [str(s).lower() for s in report["signers"]]
    keys = [bytes(k) for k in report["numberKeys"]]
    validator = str(a["validator"]).lower()
    if validator not in signers or bytes(a["numberKey"]) not in keys \
            or int(a["round"]) != node.round_of(int(report["seq"])):
        return Check(name=name, ok=False, detail=f"{_where(log)}: not in the submitted report")
    j, i = signers.index(validator), keys.index(bytes(a["numberKey"]))
    packed = int(report["votes"][i * len(signers) + j])
    same = (packed & 0xFFFF == a["score"] and (packed >> 32) & 0xFF == a["category"]
            and bool(packed & (1 << 40)) == a["abstain"]
            and bytes(report["modelHashes"][j]) == bytes(a["modelHash"])
            and report["evidenceCid"] == a["evidenceCid"])
    signer = node.recover_report(report, bytes(signatures[j]), chain.deployment.chain_id,
                                 chain.deployment.address("ReportConsensus"))
    ok = same and signer.lower() == validator
    return Check(name=name, ok=ok, detail=f"{_where(log)}: report {report['seq']}, "
                                          f"recovered {signer}, vote matches: {same}")


def _signed_vote(chain, log: Any) -> tuple[dict[str, Any], bytes]:
    tx = chain.w3.eth.get_transaction(log["transactionHash"])
    fn, params = chain.ledger.contract("Consensus").decode_function_input(tx["input"])
    pairs = ([(params["vote"], params["signature"])] if fn.fn_name == "castVote"
             else list(zip(params["votes"], params["signatures"], strict=True)))
    a = log["args"]
    for raw, sig in pairs:
        vote = _vote_dict(raw)
        if (vote["round"] == a["round"] and vote["score"] == a["score"]
                and vote["evidenceCid"] == a["evidenceCid"] and vote["abstain"] == a["abstain"]
                and vote["modelHash"] == bytes(a["modelHash"])
                and vote["numberKey"] == bytes(a["numberKey"])
                and _recovers(chain, vote, sig, a["validator"])):
            return vote, bytes(sig)
    raise LookupError("no signed vote in the transaction matches the event")


def _recovers(chain, vote: dict[str, Any], sig: bytes, validator: str) -> bool:
    import node

    # Several validators may sign identical votes in one bundle: pick the one that recovers.
    return node.recover_score_vote(vote, bytes(sig), chain.deployment.chain_id,
                                   chain.deployment.address("Consensus")).lower() == \
        str(validator).lower()


def _vote_fields() -> tuple[str, ...]:
    from node._eip712 import VOTE_FIELDS

    return VOTE_FIELDS


def _vote_dict(raw: Any) -> dict[str, Any]:
    fields = _vote_fields()
    if isinstance(raw, dict):
        return {f: raw[f] for f in fields}
    return dict(zip(fields, raw, strict=True))


def _role_check(chain, log: Any) -> Check:
    """The signer was an active validator, with the logged country and weight, before the vote."""
    a = log["args"]
    before = int(log["blockNumber"]) - 1
    country, weight = chain.call("ValidatorSet", "activeValidator", a["validator"],
                                 block=before)
    ok = weight > 0 and bytes(country) == bytes(a["country"]) and weight == a["weight"]
    return Check(name=f"validator role: {a['validator']}", ok=ok,
                 detail=f"at block {before}: country {bytes(country).decode(errors='replace')}"
                        f", weight {weight} (event: weight {a['weight']})")


def _tally_check(chain, final: Any, votes: list[Any]) -> Check:
    """The finalized score is the weighted mean of the round's non-abstaining votes."""
    f = final["args"]
    scoring = [v["args"] for v in votes if not v["args"]["abstain"]]
    weight = sum(v["weight"] for v in scoring)
    score = sum(v["weight"] * v["score"] for v in scoring) // weight if weight else 0
    participating = sum(v["args"]["weight"] for v in votes)
    ok = score == f["score"] and participating == f["totalWeight"] and \
        len(votes) == f["voteCount"]
    return Check(name=f"tally: round {f['round']}", ok=ok,
                 detail=f"recomputed score {score} from {len(votes)} votes "
                        f"(weight {participating}); chain says {f['score']} "
                        f"(weight {f['totalWeight']}, {f['voteCount']} votes), {_where(final)}")


def _record_check(chain, kb: bytes, finals: list[Any]) -> list[Check]:
    """The registry holds the latest finalized round's score."""
    if not finals:
        return []
    last = finals[-1]["args"]
    record = chain.call_named("SpamRegistry", "get", kb)
    ok = record["score"] == last["score"] and record["round"] == last["round"]
    return [Check(name="registry record", ok=ok,
                  detail=f"SpamRegistry: score {record['score']} round {record['round']} "
                         f"verdict {record['verdict']}; last finalized round {last['round']} "
                         f"score {last['score']}")]


def _proof_checks(chain, session: Session, key: str) -> list[Check]:
    """Each indexed snapshot leaf of the number verifies on-chain against its epoch root."""
    rows = session.execute(select(EpochLeaf, Epoch).join(Epoch, Epoch.id == EpochLeaf.epoch_id)
                           .where(EpochLeaf.number_key == key)).all()
    checks = []
    for leaf, epoch in rows:
        proof = [bytes.fromhex(p[2:]) for p in leaf.proof.split(",") if p]
        ok = bool(chain.call("SnapshotRegistry", "verifyLeaf", epoch.country.encode(),
                             epoch.epoch, bytes.fromhex(key[2:]), leaf.score, leaf.verdict,
                             leaf.category, proof))
        checks.append(Check(name=f"snapshot proof: {epoch.country} epoch {epoch.epoch}", ok=ok,
                            detail=f"root {epoch.root}, {len(proof)} proof nodes"))
    return checks


def _evidence_checks(ctx: Context, votes: list[Any], ledger, first: int,
                     kb: bytes) -> list[Check]:
    """Each evidence CID named on-chain resolves to content that hashes to that CID."""
    cids = [(f"vote {v['args']['validator']}", v["args"]["evidenceCid"]) for v in votes]
    for d in ledger.events("Dispute", "DisputeOpened", first, "latest", numberKey=kb):
        cids.append((f"dispute {d['args']['id']}", d["args"]["evidenceCid"]))
    # One fetch per CID: a report's votes all name the report's one evidence bundle.
    owners: dict[str, list[str]] = {}
    for owner, cid in cids:
        if cid:
            owners.setdefault(cid, []).append(owner)
    return [_evidence_check(ctx, _owners(names), cid) for cid, names in owners.items()]


def _owners(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more (one CID)"


def _evidence_check(ctx: Context, owner: str, cid: str) -> Check:
    try:
        data = ctx.evidence.get().get(cid)
        files = _manifest_files(data)
        for _name, file_cid in files:
            ctx.evidence.get().get(file_cid)
    except Exception as exc:  # a mismatch, an erasure or an unreachable node all fail the check
        return Check(name=f"evidence: {owner}", ok=False,
                     detail=f"{cid}: {type(exc).__name__}: {exc}")
    extra = f" and {len(files)} listed file(s)" if files else ""
    return Check(name=f"evidence: {owner}", ok=True,
                 detail=f"{cid}: {len(data)} bytes{extra} match their CIDs")


def _manifest_files(data: bytes) -> list[tuple[str, str]]:
    """The files a dispute evidence manifest lists (none for other documents)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return []
    if not isinstance(doc, dict) or doc.get("kind") != "spamledger.dispute.evidence":
        return []
    return [(str(f.get("name")), str(f["cid"])) for f in doc.get("files", [])
            if isinstance(f, dict) and "cid" in f]




# ------------------------------------------------- what the API serves, against the chain

# Index column -> SpamRegistry.Record field.
RECORD_FIELDS = (("score", "score"), ("verdict", "verdict"), ("category", "category"),
                 ("round_id", "round"), ("finalized_at", "finalizedAt"),
                 ("expires_at", "expiresAt"), ("locked_until", "lockedUntil"),
                 ("dispute_status", "disputeStatus"), ("majority_country", "majorityCountry"))
_MAX_LISTED = 10
_ATTEMPTS = 3


def served_checks(chain, session: Session, key: str, first: int) -> list[Check]:
    """The indexed record, events, votes, rounds, disputes, arbiter votes and epoch roots of
    ``key`` compared with the chain.

    Events and tables are compared with the chain's events up to the indexer's cursor read
    BEFORE the rows; when the cursor moved while they were read (the indexer committed
    meanwhile), the comparison is made again (at most :data:`_ATTEMPTS` times).
    """
    from api._indexer import _args

    kb = bytes.fromhex(key[2:])
    for _attempt in range(_ATTEMPTS):
        upto = _cursor(session, first)
        on_chain = _chain_events(chain, kb, first, upto, _args)
        events = _served_events(session, key, first, upto, on_chain)
        tables = table_checks(on_chain, session, key)
        if _cursor(session, first) == upto:
            break
    return [_served_record(chain, session, key), events, *tables,
            *_served_epochs(chain, session, key)]


def record_differences(row: RegistryRecord | None, chain_record: dict[str, Any]) -> list[str]:
    """``field: index X, chain Y`` for each field where the index differs from the chain."""
    on_chain = {ours: _plain(theirs, chain_record.get(theirs)) for ours, theirs in RECORD_FIELDS}
    if row is None:
        if not on_chain["round_id"] and not on_chain["finalized_at"]:
            return []
        return [f"record: none in the index, chain has round {on_chain['round_id']} score "
                f"{on_chain['score']}"]
    return [f"{ours}: index {getattr(row, ours)!r}, chain {on_chain[ours]!r}"
            for ours, _theirs in RECORD_FIELDS if getattr(row, ours) != on_chain[ours]]


def _plain(field: str, value: Any) -> Any:
    if field == "majorityCountry" and isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:]).decode("ascii", "replace").rstrip("\x00")
    return value


def _served_record(chain, session: Session, key: str) -> Check:
    diffs = record_differences(session.get(RegistryRecord, key), chain.record(key))
    return Check(name="served record = chain record", ok=not diffs,
                 detail="; ".join(diffs) if diffs else "every field matches SpamRegistry.get")


def _served_events(session: Session, key: str, first: int, upto: int,
                   on_chain: dict[tuple[int, int], Any]) -> Check:
    """Indexed events of the number vs the chain's logs, by block and log index.

    The indexer commits rows and its cursor together, so: chain and index are compared up to
    the cursor ``upto`` read BEFORE the rows; a row above the cursor read AFTER them cannot
    come from the indexer (forged); rows in between arrived while we read and are left out.
    """
    rows = session.scalars(select(ChainEvent).where(ChainEvent.number_key == key)).all()
    after = _cursor(session, first)
    indexed = {(r.block_number, r.log_index): (r.contract, r.event, r.tx_hash, json.loads(r.args))
               for r in rows if r.block_number <= upto or r.block_number > after}
    problems = []
    for where in sorted(set(on_chain) | set(indexed)):
        if where[0] > after:
            problems.append(f"block {where[0]} log {where[1]}: {indexed[where][1]} in the "
                            f"index beyond its own cursor (block {after})")
            continue
        problem = _event_difference(where, indexed.get(where), on_chain.get(where))
        if problem:
            problems.append(problem)
    shown = "; ".join(problems[:_MAX_LISTED])
    more = f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
    return Check(name="served events = chain events", ok=not problems,
                 detail=shown + more if problems else
                 f"{len(indexed)} indexed event(s) match the chain by block and log index "
                 f"(blocks {first}..{upto})")


def _cursor(session: Session, first: int) -> int:
    from api._indexer import STREAM

    last = session.scalar(select(IndexCursor.last_block).where(IndexCursor.stream == STREAM))
    return int(last) if last is not None else first - 1


def _event_difference(where: tuple[int, int], ours: Any, theirs: Any) -> str | None:
    at = f"block {where[0]} log {where[1]}"
    if ours is None:
        return f"{at}: {theirs[1]} on the chain, missing from the index"
    if theirs is None:
        return f"{at}: {ours[1]} in the index, not on the chain"
    fields = [name for name, a, b in (("contract", ours[0], theirs[0]), ("event", ours[1],
                                                                          theirs[1]),
                                      ("tx_hash", ours[2], theirs[2])) if a != b]
    fields += [f"args.{k}" for k in sorted(set(ours[3]) | set(theirs[3]))
               if ours[3].get(k) != theirs[3].get(k)]
    if not fields:
        return None
    return f"{at} {theirs[1]}: " + ", ".join(
        f"{f} index {_field(ours, f)!r}, chain {_field(theirs, f)!r}" for f in fields)


def _field(event: tuple[str, str, str, dict[str, Any]], name: str) -> Any:
    if name.startswith("args."):
        return event[3].get(name[5:])
    return event[("contract", "event", "tx_hash").index(name)]


def _chain_events(chain, kb: bytes, first: int, upto: int,
                  decode) -> dict[tuple[int, int], tuple[str, str, str, dict[str, Any]]]:
    """Every event with an indexed ``numberKey`` of ``kb`` in blocks ``first..upto``."""
    out: dict[tuple[int, int], tuple[str, str, str, dict[str, Any]]] = {}
    if upto < first:
        return out
    ledger = chain.ledger
    for contract in chain.deployment.contract_names():
        for item in ledger.contract(contract).abi:
            if item.get("type") != "event" or not any(
                    i["name"] == "numberKey" and i.get("indexed") for i in item["inputs"]):
                continue
            for log in ledger.events(contract, item["name"], first, upto, numberKey=kb):
                out[(int(log["blockNumber"]), int(log["logIndex"]))] = (
                    contract, item["name"], "0x" + bytes(log["transactionHash"]).hex(),
                    decode(log["args"]))
    return out


def _served_epochs(chain, session: Session, key: str) -> list[Check]:
    """Root, CID and leaf count of each epoch the number's answers cite, against the chain."""
    rows = session.execute(select(Epoch).join(EpochLeaf, Epoch.id == EpochLeaf.epoch_id)
                           .where(EpochLeaf.number_key == key)).scalars().all()
    checks = []
    for epoch in rows:
        country = epoch.country.encode()
        got = chain.call_named("SnapshotRegistry", "getEpoch", country, epoch.epoch)
        cid = chain.call("SnapshotRegistry", "snapshotCidOf", country, epoch.epoch)
        diffs = [f"{name}: index {ours!r}, chain {theirs!r}" for name, ours, theirs in (
            ("root", epoch.root, got["root"]), ("snapshot_cid", epoch.cid, cid),
            ("leaf_count", epoch.leaf_count, got["leafCount"])) if ours != theirs]
        checks.append(Check(name=f"served epoch = chain: {epoch.country} epoch {epoch.epoch}",
                            ok=not diffs, detail="; ".join(diffs) if diffs else
                            f"root {epoch.root}, CID and leaf count match the chain"))
    return checks
