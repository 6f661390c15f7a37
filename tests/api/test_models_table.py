"""The models table keeps one row per (model hash, owner): ModelRegistry binds a model to
the validator that registered it, so two owners of one hash must not overwrite each other
(indexed from Anvil into SQLite and PostgreSQL; the 0005 migration rebuilds lost rows)."""

from __future__ import annotations

import json

from sqlalchemy import select

from api import Indexer, make_engine, migrate, session_scope
from api._models import GovernanceEvent, Model
from tests.api.scenario import approved_model


def test_every_owner_of_one_model_hash_keeps_its_own_row(consortium, engine):
    model = approved_model(consortium, "owners")  # all five validators register this hash
    consortium.ledger.transact("ModelRegistry", "revokeModel",
                               consortium.validators["FR"].address, model)
    Indexer(consortium.w3, consortium.deployment, engine, block_range=500).sync()
    with session_scope(engine) as session:
        rows = session.scalars(select(Model).where(Model.model_hash == "0x" + model.hex()))
        by_owner = {r.owner: (r.country, r.status, r.approvals) for r in rows}
    assert by_owner == {
        a.address: (cc, "revoked" if cc == "FR" else "approved", 2)
        for cc, a in consortium.validators.items()}


def _event(name: str, block: int, **args: object) -> GovernanceEvent:
    return GovernanceEvent(contract="ModelRegistry", event=name, block_number=block,
                           tx_hash="0x" + f"{block:064x}", log_index=0,
                           args=json.dumps(args, sort_keys=True))


def test_migration_0005_rebuilds_rows_the_hash_only_key_lost(db_url):
    engine = make_engine(db_url)
    try:
        migrate(engine, "0004")
        h, one, two = "0x" + "ab" * 32, "0x" + "11" * 20, "0x" + "22" * 20
        with session_scope(engine) as session:
            session.add_all([
                _event("ModelRegistered", 10, modelHash=h, owner=one, country="US",
                       metricsCid="bafy-one"),
                _event("ModelRegistered", 11, modelHash=h, owner=two, country="IN",
                       metricsCid="bafy-two"),
                _event("ModelApproved", 12, modelHash=h, owner=one, approvals=2)])
        migrate(engine)
        with session_scope(engine) as session:
            rows = {r.owner: (r.country, r.metrics_cid, r.status, r.approvals, r.block_number)
                    for r in session.scalars(select(Model))}
        assert rows == {one: ("US", "bafy-one", "approved", 2, 12),
                        two: ("IN", "bafy-two", "pending", 0, 11)}
    finally:
        engine.dispose()
