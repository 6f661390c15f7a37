"""Drive the consortium's contracts for API tests: models, rounds, votes, disputes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from web3.logs import DISCARD

from node import sign_score_vote, vote_tuple
from node._consortium import country_bytes


def approved_model(consortium, tag: str, metrics_cid: str = "") -> bytes:
    """A model hash every validator registers as its own (models are bound to their owner),
    each registration approved by validators of two other countries; ``metrics_cid`` is
    its model card's CID (default: a placeholder that is no CID)."""
    model = bytes.fromhex(os.urandom(32).hex())
    ledger, v = consortium.ledger, consortium.validators
    countries = list(v)
    for i, cc in enumerate(countries):
        ledger.transact("ModelRegistry", "registerModel", model,
                        metrics_cid or f"bafymetrics{tag}", account=v[cc])
        for other in (countries[(i + 1) % len(countries)], countries[(i + 2) % len(countries)]):
            ledger.transact("ModelRegistry", "approveModel", v[cc].address, model,
                            account=v[other])
    return model


def run_round(consortium, key: bytes, country: str, scores: dict[str, int | None],
              model: bytes, cids: dict[str, str] | None = None, finalize: bool = True) -> int:
    """Open a round, cast one bundle of signed votes (None = abstain), optionally finalize."""
    ledger, v = consortium.ledger, consortium.validators
    receipt = ledger.transact("Consensus", "openRound", key, country_bytes(country),
                              account=v["US"])
    opened = ledger.contract("Consensus").events.RoundOpened().process_receipt(
        receipt, errors=DISCARD)
    round_id = int(opened[0]["args"]["round"])
    deadline = int(consortium.w3.eth.get_block("latest")["timestamp"]) + 3600
    votes, sigs = [], []
    for cc, score in scores.items():
        vote = _vote(key, country, round_id, score, model, (cids or {}).get(cc, ""), deadline)
        votes.append(vote_tuple(vote))
        sigs.append(sign_score_vote(v[cc], vote, consortium.chain_id,
                                    consortium.deployment.address("Consensus")))
    ledger.transact("Consensus", "castVotes", votes, sigs)
    if finalize:
        ledger.transact("Consensus", "finalize", key)
    return round_id


def cast(consortium, key: bytes, round_id: int, voter: str, signed_country: str, score: int,
         model: bytes) -> None:
    """One vote of ``voter``'s validator signing ``signed_country`` (another country than the
    round's contests it)."""
    deadline = int(consortium.w3.eth.get_block("latest")["timestamp"]) + 3600
    vote = _vote(key, signed_country, round_id, score, model, "", deadline)
    sig = sign_score_vote(consortium.validators[voter], vote, consortium.chain_id,
                          consortium.deployment.address("Consensus"))
    consortium.ledger.transact("Consensus", "castVotes", [vote_tuple(vote)], [sig])


def commit_epoch(consortium, store, country: str, scores: list[int], model: bytes) -> int:
    """A snapshot of ``scores`` (basis points, random number keys) in IPFS, committed as
    ``country``'s next epoch by its validator; the epoch number."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from oracle.service import MerkleTree

    rows = [(os.urandom(32), s, 3 if s >= 7000 else 1, 2 if s >= 7000 else 0) for s in scores]
    buf = io.BytesIO()
    pq.write_table(pa.table({"number_key": pa.array([r[0] for r in rows], pa.binary(32)),
                             "score": [r[1] for r in rows], "verdict": [r[2] for r in rows],
                             "category": [r[3] for r in rows]}), buf)
    cid = store.put_bytes(buf.getvalue(), "application/vnd.apache.parquet")
    epoch = int(consortium.ledger.call("SnapshotRegistry", "latestEpoch",
                                       country_bytes(country))) + 1
    consortium.ledger.transact("SnapshotRegistry", "commitEpoch", country_bytes(country), epoch,
                               MerkleTree.build(rows).root, cid, model, len(rows),
                               account=consortium.validators[country])
    return epoch


def _vote(key: bytes, country: str, round_id: int, score: int | None, model: bytes, cid: str,
          deadline: int) -> dict[str, Any]:
    return {"numberKey": key, "country": country_bytes(country), "round": round_id,
            "score": score or 0,
            "confidence": 8000, "category": 3 if score else 0, "abstain": score is None,
            "modelHash": model if score is not None else b"\x00" * 32,
            "evidenceCid": cid, "deadline": deadline}


def uphold(consortium, dispute_id: int) -> None:
    """Both arbiters (DE, JP) uphold, then anyone resolves."""
    for arbiter in consortium.arbiters.values():
        consortium.ledger.transact("Dispute", "vote", dispute_id, True, account=arbiter)
    consortium.ledger.transact("Dispute", "resolve", dispute_id)


def tamper_block(data_dir: Path, marker: str, country: str) -> None:
    """Alter the stored block holding one evidence document inside the js-ipfs repository."""
    needle = f'"country":"{country}"'.encode()
    for path in Path(data_dir).rglob("*"):
        if path.is_file() and path.stat().st_size < 65536:
            data = path.read_bytes()
            if marker.encode() in data and needle in data:
                path.write_bytes(data.replace(b'"calls":900', b'"calls":100'))
                return
    raise AssertionError("evidence block not found in the IPFS repository")


def evidence_round(consortium, store, number: str) -> str:
    """A finalized round of ``number`` where US, IN and BR each vote with an evidence
    document in IPFS; the marker :func:`tamper_block` finds those documents by."""
    marker = f"evidence-{number}-{os.urandom(6).hex()}"
    cids = {cc: store.put_json({"country": cc, "marker": marker, "features": {"calls": 900}})
            for cc in ("US", "IN", "BR")}
    run_round(consortium, consortium.hasher.key(number), "US",
              {"US": 9000, "IN": 8000, "BR": 7000}, approved_model(consortium, "evidence"),
              cids=cids)
    return marker


def run_report(consortium, keys: list[tuple[bytes, str]], scores: dict[str, int | None],
               model: bytes, cid: str = "") -> int:
    """One signed report (``ReportConsensus``) over ``keys``: each validator in ``scores``
    votes the same on every key (None = abstain), all sign once, the relayer submits.
    Returns the report's round id."""
    from node import ReportVote, build_report, free_seq, sign_report, submit_report

    v = consortium.validators
    votes = {v[cc].address: [ReportVote(abstain=True) if score is None
                             else ReportVote(score, category=3)] * len(keys)
             for cc, score in scores.items()}
    deadline = int(consortium.w3.eth.get_block("latest")["timestamp"]) + 3600
    seq = free_seq(consortium.ledger, int.from_bytes(os.urandom(4), "big"))
    report = build_report(seq, keys, votes, {v[cc].address: model for cc in scores},
                          cid=cid, deadline=deadline)
    address = consortium.deployment.address("ReportConsensus")
    sigs = {v[cc].address: sign_report(v[cc], report, consortium.chain_id, address)
            for cc in scores}
    outcome = submit_report(consortium.ledger, report, sigs, account=consortium.relayer)
    return outcome.finalized.get(keys[0][0]) or outcome.expired[keys[0][0]]
