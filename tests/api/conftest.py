"""API test fixtures: every API test runs against SQLite AND PostgreSQL.

PostgreSQL (127.0.0.1:5432, trust auth, database ``test``) is shared with other engineers:
each test gets its own fresh schema, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api import create_app, create_key, make_engine, migrate, session_scope
from spamledger import load_settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
TEST_SECRET = "spamledger-test-consortium-secret"


def api_settings(data_dir: Path, **overrides):
    """Settings for a test app: its own data dir, a test secret, an unreachable chain."""
    values = {"data_dir": data_dir, "consortium_secret": TEST_SECRET,
              "rpc_url": "http://127.0.0.1:9", "ipfs_api": "/ip4/127.0.0.1/tcp/9/http"}
    values.update(overrides)
    return load_settings(overrides=values, environ={})


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    schema = "api_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield PG_URL.format(schema=schema)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on the parametrized database."""
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path):
    return api_settings(tmp_path)


@pytest.fixture
def client(settings, engine: Engine) -> Iterator[TestClient]:
    """An app on the migrated database, with no chain and no IPFS reachable."""
    app = create_app(settings, engine=engine, run_migrations=False)
    with TestClient(app) as test_client:
        yield test_client


def new_key(engine: Engine, role: str, country: str = "*") -> dict[str, str]:
    """Headers carrying a fresh key of ``role``."""
    with session_scope(engine) as session:
        return {"X-API-Key": create_key(session, role=role, country=country, name=role)}


# -------------------------------------------------------------- chain + IPFS (end to end)

from tests.node.ipfs.conftest import ipfs_node  # noqa: E402,F401 - reused session fixture


@pytest.fixture
def chain_app(consortium, ipfs_node, engine, tmp_path):  # noqa: F811
    """An app wired to the session's Anvil consortium and js-ipfs node, plus its indexer."""
    from fastapi.testclient import TestClient

    from api import Chain, Evidence, Indexer
    from node import Ledger
    from node.ipfs import EvidenceStore

    settings = api_settings(tmp_path, ipfs_api=ipfs_node.api, api_rate_per_minute=10**6,
                            api_rate_burst=10**5, api_auth_failures_per_minute=10**6)
    chain = Chain(Ledger(consortium.w3, consortium.deployment), consortium.relayer)
    store = EvidenceStore(ipfs_node.api, timeout=10.0)
    app = create_app(settings, engine=engine, chain=chain, evidence=Evidence(store),
                     run_migrations=False)
    indexer = Indexer(consortium.w3, consortium.deployment, engine, block_range=200)
    with TestClient(app) as client:
        yield client, indexer, store
    store.close()
