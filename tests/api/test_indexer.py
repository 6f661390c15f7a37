"""The indexer: exact resume after kills, confirmations, lag, one row per event."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from api import Indexer, make_engine, migrate, session_scope
from api._models import Base, ChainEvent, GovernanceEvent, IndexCursor
from tests.api.scenario import approved_model, run_round

ROOT = Path(__file__).resolve().parents[2]


def dump(engine) -> dict[str, list[tuple]]:
    """Every chain-derived table, without surrogate ids, in a stable order."""
    out = {}
    with session_scope(engine) as session:
        for table in Base.metadata.sorted_tables:
            if table.name in ("api_keys", "reports", "dispute_filings", "alembic_version"):
                continue
            cols = [c for c in table.columns if c.name not in ("id", "updated_at",
                                                              "head_block")]
            rows = session.execute(select(*cols)).all()
            out[table.name] = sorted(tuple(r) for r in rows)
    return out


def _more_events(consortium, rounds: int) -> None:
    model = approved_model(consortium, "indexer")
    for i in range(rounds):
        key = os.urandom(32)
        run_round(consortium, key, "GB" if i % 2 else "US",
                  {"US": 9000 - i, "IN": 5000, "BR": 100 * i, "FR": None}, model)


def test_sync_indexes_each_event_once_and_reports_lag(consortium, engine):
    _more_events(consortium, 2)
    indexer = Indexer(consortium.w3, consortium.deployment, engine, block_range=7)
    result = indexer.sync()
    assert result.events > 0 and indexer.lag() == 0
    logs = consortium.w3.eth.get_logs({"fromBlock": indexer.start_block, "toBlock":
                                       result.to_block, "address": [
                                           consortium.deployment.address(n) for n in
                                           consortium.deployment.contract_names()]})
    with session_scope(engine) as session:
        assert session.query(ChainEvent).count() == len(logs)
    assert indexer.sync().events == 0  # nothing new: nothing doubled


def test_confirmations_hold_back_recent_blocks(consortium, engine):
    indexer = Indexer(consortium.w3, consortium.deployment, engine, confirmations=3)
    indexer.sync()
    head = consortium.w3.eth.block_number
    assert indexer.cursor() == head - 3
    assert indexer.lag() == 3


def test_registry_writer_changes_are_kept_in_the_governance_trail(consortium, engine):
    """Governance may make a contract a registry writer (upgrades need it): each grant and
    revocation is logged on chain and lands in the audit trail's governance events."""
    ledger, vs = consortium.ledger, "ValidatorSet"
    role = ledger.call(vs, "REGISTRY_WRITER_ROLE")
    writer = consortium.deployment.address("SnapshotRegistry")  # any contract will do
    first = consortium.w3.eth.block_number + 1
    ledger.transact(vs, "grantRole", role, writer)
    ledger.transact(vs, "revokeRole", role, writer)
    Indexer(consortium.w3, consortium.deployment, engine).sync()
    with session_scope(engine) as session:
        rows = session.execute(select(GovernanceEvent.args).where(
            GovernanceEvent.event == "RegistryWriterChanged",
            GovernanceEvent.block_number >= first)).scalars().all()
    changes = [json.loads(r) for r in rows if json.loads(r)["writer"] == writer]
    assert [c["allowed"] for c in changes] == [True, False]
    assert {c["by"] for c in changes} == {consortium.governance.address}


@pytest.mark.slow
def test_indexer_killed_mid_sync_many_times_equals_a_clean_sync(consortium, db_url,
                                                                 tmp_path):
    _more_events(consortium, 12)
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    migrate(clean)
    target = consortium.w3.eth.block_number
    Indexer(consortium.w3, consortium.deployment, clean, block_range=50).sync(until=target)

    killed = make_engine(db_url)
    migrate(killed)
    env = {**os.environ, "SPAMLEDGER_RPC_URL": consortium.w3.provider.endpoint_uri,
           "SPAMLEDGER_DATA_DIR": str(consortium.data_dir), "SPAMLEDGER_DATABASE_URL": db_url,
           "SPAMLEDGER_INDEX_BLOCK_RANGE": "1", "SPAMLEDGER_LOG_LEVEL": "WARNING",
           "SPAMLEDGER_CONFIRMATIONS": str(consortium.w3.eth.block_number - target)}
    kills_mid_sync = 0
    rng = random.Random(7)
    log = tmp_path / "indexer.log"
    for _attempt in range(120):  # breaks at the first complete run
        before = _cursor(killed)
        with log.open("ab") as err:
            proc = subprocess.Popen([sys.executable, "-m", "spamledger._cli", "api", "index",
                                     "--once"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=err)
        # Kill once the run has committed a random number of ranges, at a random moment
        # inside the next one (startup time on a loaded machine varies too much for timers).
        _wait_for_cursor(killed, proc, before + rng.randint(3, 15))
        time.sleep(rng.uniform(0, 0.03))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = _cursor(killed)
        if proc.returncode == 0:
            break
        if before < after < target:
            kills_mid_sync += 1
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert kills_mid_sync >= 5
    assert _cursor(killed) == target
    assert dump(killed) == dump(clean)
    killed.dispose()
    clean.dispose()


def _wait_for_cursor(engine, proc: subprocess.Popen, block: int) -> None:
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _cursor(engine) >= block:
            return
        time.sleep(0.01)


def _cursor(engine) -> int:
    with session_scope(engine) as session:
        row = session.get(IndexCursor, "events")
        return row.last_block if row else -1
