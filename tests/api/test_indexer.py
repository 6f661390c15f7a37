"""The indexer: exact resume after kills, confirmations, lag, one row per event."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
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
    # The chain is shared by the whole session and grows with every test before this one:
    # size the ranges so that a sync is ~40 ranges long whatever the chain length (at one
    # block per range a long chain needed more than 120 killed runs, minutes each).
    first = int(consortium.deployment.first_block())
    block_range = max(1, (target - first + 1) // 40)
    env = {**os.environ, "SPAMLEDGER_RPC_URL": consortium.w3.provider.endpoint_uri,
           "SPAMLEDGER_DATA_DIR": str(consortium.data_dir), "SPAMLEDGER_DATABASE_URL": db_url,
           "SPAMLEDGER_INDEX_BLOCK_RANGE": str(block_range), "SPAMLEDGER_LOG_LEVEL": "WARNING",
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
        # After six kills that landed mid-sync the next run is let finish: each run costs a
        # process start-up (seconds on a loaded machine), and six already prove the resume.
        if kills_mid_sync < 6:
            _wait_for_cursor(killed, proc, before + block_range * rng.randint(1, 6))
            time.sleep(rng.uniform(0, 0.03))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=300)
        after = _cursor(killed)
        if proc.returncode == 0:
            break
        if before < after < target:
            kills_mid_sync += 1
    print(f"{_attempt + 1} runs, {kills_mid_sync} killed mid-sync, ranges of {block_range}")
    try:
        assert proc.returncode == 0, log.read_text()[-2000:]
        assert kills_mid_sync >= 5
        assert _cursor(killed) == target
        assert dump(killed) == dump(clean)
    finally:  # a failed assertion must not leave pooled connections for a later test's GC
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


@pytest.fixture
def pg_url() -> Iterator[tuple[str, str, str]]:
    """A fresh PostgreSQL schema: its URL tagged with an application name (for the indexer
    under test), the plain URL (for the test's own reads) and the schema/application name."""
    import uuid

    import psycopg

    from tests.api.conftest import PG_ADMIN, PG_URL

    schema = "api_kill_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        plain = PG_URL.format(schema=schema)
        yield plain + f"&application_name={schema}", plain, schema
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.slow
def test_kills_inside_write_transactions_lose_and_double_nothing(consortium, pg_url, tmp_path):
    """At least 20 SIGKILLs, each proven to land inside an indexer write transaction
    (PostgreSQL shows the backend holding a transaction id, and the range it was writing
    is not committed afterwards); then the database equals a clean sync."""
    import psycopg

    from tests.api.conftest import PG_ADMIN

    url, plain_url, app_name = pg_url
    _more_events(consortium, 4)
    target = consortium.w3.eth.block_number
    killed = make_engine(plain_url)
    migrate(killed)
    env = {**os.environ, "SPAMLEDGER_RPC_URL": consortium.w3.provider.endpoint_uri,
           "SPAMLEDGER_DATA_DIR": str(consortium.data_dir), "SPAMLEDGER_DATABASE_URL": url,
           "SPAMLEDGER_INDEX_BLOCK_RANGE": "1", "SPAMLEDGER_LOG_LEVEL": "WARNING",
           "KILL_DRIVER_UNTIL": str(target)}
    log = (tmp_path / "driver.log").open("wb")
    driver = subprocess.Popen([sys.executable, str(ROOT / "tests" / "api" / "kill_driver.py")],
                              cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=log, text=True)
    inside = attempts = 0
    rng = random.Random(13)
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as watch:
            while inside < 20 and attempts < 200:
                attempts += 1
                committed = _cursor(killed)
                child = _start(driver)
                # Let a random number of ranges commit, then kill inside the next write.
                seen = _wait_for_write_transaction(watch, app_name, child,
                                                   skip=rng.randint(0, 3))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
                _wait_exit(driver)
                _wait_backend_gone(watch, app_name)
                if seen is not None and _cursor(killed) == seen:
                    inside += 1  # the range in flight was rolled back: killed inside it
                assert _cursor(killed) >= committed
            assert inside >= 20, (inside, attempts)
            print(f"{inside} kills inside write transactions in {attempts} attempts")
            child = _start(driver)
            assert _wait_exit(driver) == 0, (tmp_path / "driver.log").read_text()[-2000:]
    finally:
        driver.stdin.close()
        driver.wait(30)
        driver.stdout.close()
        log.close()
    assert _cursor(killed) == target
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    migrate(clean)
    Indexer(consortium.w3, consortium.deployment, clean, block_range=50).sync(until=target)
    assert dump(killed) == dump(clean)
    killed.dispose()
    clean.dispose()


def _start(driver: subprocess.Popen) -> int:
    driver.stdin.write("go\n")
    driver.stdin.flush()
    line = driver.stdout.readline().split()
    assert line[0] == "pid", line
    return int(line[1])


def _wait_exit(driver: subprocess.Popen) -> int:
    line = driver.stdout.readline().split()
    assert line[0] == "exit", line
    return int(line[1])


def _wait_for_write_transaction(watch, app_name: str, child: int, skip: int) -> int | None:
    """Poll until the child's backend holds a transaction id (it is writing) after ``skip``
    earlier write transactions; returns the committed cursor at that moment (None if the
    child finished first)."""
    last_xid, writes = None, 0
    deadline = time.monotonic() + 120
    # One statement: its snapshot of the cursor is taken before pg_stat_activity is read, so
    # a transaction id still listed means that transaction had not committed the cursor seen.
    query = (f'SELECT a.backend_xid::text, (SELECT last_block FROM "{app_name}".index_cursor '
             "WHERE stream = 'events') FROM pg_stat_activity a "
             "WHERE a.application_name = %s AND a.backend_xid IS NOT NULL")
    while time.monotonic() < deadline:
        if not _alive(child):
            return None
        row = watch.execute(query, (app_name,)).fetchone()
        if row is not None and row[0] != last_xid:
            last_xid, writes = row[0], writes + 1
            if writes > skip:
                return row[1] if row[1] is not None else -1
    return None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_backend_gone(watch, app_name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = watch.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (app_name,)).fetchone()
        if row[0] == 0:
            return
        time.sleep(0.01)
