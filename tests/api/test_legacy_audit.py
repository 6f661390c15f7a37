"""After a contract migration the regulator's audit still shows a number's v1 history: the
API serves it from the migration's archive, every entry proven by v2's ``LegacyArchive``,
and it equals the history the API served from v1's index before the migration (Anvil,
SQLite and PostgreSQL). An entry altered in the archive file is served as not proven."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient

from api import Chain, Indexer
from api._app import create_app
from api._errors import Conflict
from migrations import load_archive, migrate
from migrations._archive import leaf_of
from node import Ledger, open_dispute
from tests.api.conftest import api_settings, new_key
from tests.api.scenario import approved_model, run_round, uphold
from tests.conftest import deploy_consortium

NUMBER = "+14155550177"


def _app(settings, engine, w3, deployment) -> TestClient:
    return TestClient(create_app(settings, engine=engine, chain=Chain(Ledger(w3, deployment)),
                                 run_migrations=False))


def _trail(events: list[dict]) -> list[tuple]:
    return [(e["contract"], e["event"], e["block_number"], e["log_index"], e["tx_hash"],
             e["args"]) for e in events]


def test_the_v1_history_is_served_proven_after_the_migration(anvil, engine, tmp_path):
    c = deploy_consortium(anvil, tmp_path / "ledger")
    key = c.hasher.key(NUMBER)
    run_round(c, key, "US", {"US": 9000, "IN": 8000, "BR": 7000}, approved_model(c, "legacy"))
    uphold(c, open_dispute(c.ledger, key, hashlib.sha256(b"shop").digest(), "bafy-evidence",
                           account=c.relayer))
    Indexer(c.w3, c.deployment, engine, block_range=200).sync()
    settings = api_settings(tmp_path / "api")
    regulator = new_key(engine, "regulator")
    with _app(settings, engine, c.w3, c.deployment) as client:
        before = client.get(f"/v1/audit/numbers/{NUMBER}", headers=regulator).json()
        assert client.get(f"/v1/audit/numbers/{NUMBER}/legacy",
                          headers=regulator).json()["migrated"] is False

    v2 = migrate(c.w3, c.data_dir, c.governance)
    with pytest.raises(Conflict, match="another deployment"):  # v1's rows would mix with v2's
        Indexer(c.w3, v2, engine).sync()
    with _app(settings, engine, c.w3, v2) as client:
        served = client.get(f"/v1/audit/numbers/{NUMBER}/legacy", headers=regulator).json()
        assert served["migrated"] and served["ok"]
        logs = [e for e in served["entries"] if e["kind"] == "log"]
        events = [e for e in before["events"] if "numberKey" in e["args"]]
        assert {"DisputeDecided", "RecordOverturned"} <= {e["event"] for e in logs}
        assert _trail(logs) == _trail(events)
        (record,) = [e for e in served["entries"] if e["kind"] == "record"]
        assert record["proven"] and record["args"]["lockedUntil"] > 0

        archive_path = v2.path.parent / v2.steps["upgrade:legacy-archive"]["archive_file"]
        doc = json.loads(archive_path.read_text())
        forged = next(e for e in doc["entries"] if e.get("event") == "RecordFinalized"
                      and e.get("number_key") == "0x" + key.hex())
        forged["data"] = forged["data"][:-2] + ("01" if forged["data"].endswith("00") else "00")
        archive_path.write_text(json.dumps(doc))
        assert load_archive(v2).entries != []  # still a readable archive file
        tampered = client.get(f"/v1/audit/numbers/{NUMBER}/legacy", headers=regulator).json()
        assert tampered["ok"] is False
        assert [e["proven"] for e in tampered["entries"]
                if e["leaf"] == "0x" + leaf_of(c.chain_id, forged).hex()] == \
            [False]
