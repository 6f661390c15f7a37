"""The operator console's index reads at size: drift (a week's epoch snapshot binned against a
model card) and votes pending (open rounds the validator has not voted on), on SQLite and
PostgreSQL.

Seeds an index with one epoch of ``--leaves`` leaves and ``--rounds`` open rounds, each with
``--voters`` votes (the measured validator votes in half of them), then times the two views
``--repeat`` times (median and worst). The model card is put in the in-process card cache
first: its IPFS read happens once per card (content-addressed), not per page. Prints and
writes ``bench/CONSOLE_OPERATOR.md`` and ``bench/console_operator.json``::

    .venv/bin/python -m bench.console_operator --leaves 200000 --rounds 5000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

HERE = Path(__file__).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
ME = "0x" + "11" * 20
MODEL = "0x" + "cd" * 32
CID = "bafybenchcard"


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL schema (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield PG_URL.format(schema=schema)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def seed(engine: Any, leaves: int, rounds: int, voters: int) -> None:
    from api._models import ChainEvent, Epoch, EpochLeaf, Model, Round, Vote

    rng = np.random.default_rng(3)
    now = int(time.time())
    with engine.begin() as conn:
        conn.execute(insert(ChainEvent), [{
            "contract": "SnapshotRegistry", "address": "0x" + "00" * 20,
            "event": "EpochCommitted", "block_number": 100, "block_time": now - 60,
            "tx_hash": "0x" + "aa" * 32, "log_index": 0, "number_key": None, "args": "{}"}])
        conn.execute(insert(Model), [{
            "model_hash": MODEL, "country": "US", "owner": ME, "metrics_cid": CID,
            "status": "approved", "approvals": 2, "block_number": 99,
            "tx_hash": "0x" + "bb" * 32}])
        epoch_id = conn.execute(insert(Epoch).returning(Epoch.id), [{
            "country": "US", "epoch": 1, "root": "0x" + "00" * 32, "cid": "bafyepoch",
            "model_hash": MODEL, "leaf_count": leaves, "committer": ME,
            "leaves_status": "loaded", "block_number": 100, "tx_hash": "0x" + "aa" * 32,
            "log_index": 0}]).scalar_one()
        scores = (rng.beta(0.6, 5.0, leaves) * 10_000).astype(int)
        for start in range(0, leaves, 50_000):
            conn.execute(insert(EpochLeaf), [
                {"epoch_id": epoch_id, "number_key": "0x" + f"{i:064x}", "score": int(s),
                 "verdict": 1, "category": 0, "proof": ""}
                for i, s in enumerate(scores[start:start + 50_000], start)])
        conn.execute(insert(Round), [
            {"number_key": "0x" + f"{i:064x}", "round_id": 1, "country": "US",
             "deadline": now + 3600 + i, "vote_count": voters, "status": "open",
             "opened_block": 10, "opened_tx": "0x" + "cc" * 32} for i in range(rounds)])
        votes = []
        for i in range(rounds):
            for v in range(voters):
                who = ME if v == 0 and i % 2 == 0 else "0x" + f"{v + 2:040x}"
                votes.append({"number_key": "0x" + f"{i:064x}", "round_id": 1,
                              "validator": who, "country": "IN", "weight": 1000,
                              "score": 9000, "confidence": 8000, "category": 3,
                              "abstain": False, "model_hash": MODEL, "evidence_cid": "",
                              "block_number": 50, "tx_hash": "0x" + f"{i * 64 + v:064x}",
                              "log_index": v})
        for start in range(0, len(votes), 50_000):
            conn.execute(insert(Vote), votes[start:start + 50_000])


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    took, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        took.append((time.perf_counter() - began) * 1000)
    return statistics.median(took), max(took), result


def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from api import make_engine, migrate
    from api._console_drift import _cards, drift
    from api._console_work import round_duties
    from spamledger._drift import score_histogram

    rng = np.random.default_rng(5)
    _cards[CID] = {"countries": {"*": {"score_histogram": score_histogram(
        rng.beta(0.5, 6.0, 20_000))}}}
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        engine = make_engine(url)
        migrate(engine)
        began = time.perf_counter()
        seed(engine, args.leaves, args.rounds, args.voters)
        seeded = time.perf_counter() - began
        with Session(engine) as session:
            d_med, d_max, rows = timed(lambda: drift(None, session, ["US"]),  # type: ignore[arg-type]
                                       args.repeat)
            r_med, r_max, duties = timed(lambda: round_duties(session, ME, "US"), args.repeat)
        engine.dispose()
    assert rows[0]["week_total"] == args.leaves and duties["pending_total"] == args.rounds // 2
    return {"database": kind, "leaves": args.leaves, "rounds": args.rounds,
            "votes": args.rounds * args.voters, "seed_s": round(seeded, 1),
            "drift_ms": [round(d_med, 1), round(d_max, 1)], "psi": round(rows[0]["psi"], 3),
            "pending_ms": [round(r_med, 1), round(r_max, 1)],
            "pending": duties["pending_total"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaves", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5_000)
    parser.add_argument("--voters", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    results = [run(kind, args) for kind in args.databases.split(",")]
    lines = ["# Console: operator page index reads at size", "",
             f"`bench/console_operator.py` on {platform.node() or 'this machine'} "
             f"({os.cpu_count()} cores, shared): one epoch snapshot of {args.leaves} leaves "
             f"binned against a model card (cached), and {args.rounds} open rounds with "
             f"{args.voters} votes each split into pending and voted for one validator; "
             f"{args.repeat} runs, median / worst.", "",
             "| database | leaves | open rounds | votes | drift ms | votes pending ms |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['database']} | {r['leaves']} | {r['rounds']} | {r['votes']} | "
                     f"{r['drift_ms'][0]} / {r['drift_ms'][1]} | "
                     f"{r['pending_ms'][0]} / {r['pending_ms'][1]} |")
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "CONSOLE_OPERATOR.md").write_text(text)
    (HERE / "console_operator.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
