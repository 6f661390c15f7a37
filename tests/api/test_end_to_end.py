"""End to end on Anvil + js-ipfs + each database: telcos, businesses and regulators.

The chain is shared by the session, so every test uses numbers no other test touches.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from tests.api.conftest import new_key
from tests.api.scenario import approved_model, run_round, tamper_block, uphold

_numbers = itertools.count(random.randrange(1000, 8000, 100))


def fresh_number() -> str:
    return f"+1415555{next(_numbers):04d}"


def test_telco_query_before_and_after_round_finalizes(chain_app, consortium, engine):
    client, indexer, _ = chain_app
    number = fresh_number()
    key = consortium.hasher.key(number)
    model = approved_model(consortium, "telco")
    headers = new_key(engine, "telco", "US")
    run_round(consortium, key, "US", {"US": 9000, "IN": 8000, "BR": 7000, "GB": None}, model,
              finalize=False)
    indexer.sync()
    before = client.get(f"/v1/reputation/{number}", headers=headers).json()
    assert before["verdict"] == "unknown"

    consortium.ledger.transact("Consensus", "finalize", key)
    indexer.sync()
    after = client.get(f"/v1/reputation/{number}?verify=chain", headers=headers).json()
    # floor((4000*9000 + 2500*8000 + 2000*7000) / 8500) = 8235; GB abstained.
    assert (after["verdict"], after["score_bps"], after["category"]) == ("spam", 8235, "scam")
    assert after["source"]["kind"] == "round"
    assert sorted(v["country"] for v in after["source"]["votes"]) == ["BR", "GB", "IN", "US"]
    assert after["chain"]["score"] == 8235 and after["chain"]["verdict"] == 3


def test_business_dispute_from_upload_to_upheld(chain_app, consortium, engine, tmp_path: Path):
    client, indexer, store = chain_app
    number = fresh_number()
    key = consortium.hasher.key(number)
    run_round(consortium, key, "US", {"US": 9000, "IN": 9000, "BR": 8000},
              approved_model(consortium, "dispute"))
    business = new_key(engine, "business", "US")
    response = client.post(
        "/v1/disputes", headers=business,
        data={"number": number, "business": "Acme Pharmacy LLC, EIN 12-3456789"},
        files=[("evidence", ("licence.pdf", b"%PDF-1.4 licence", "application/pdf")),
               ("evidence", ("calls.csv", b"ts,callee\n1,+1\n", "text/csv"))])
    assert response.status_code == 201, response.text
    filed = response.json()
    manifest = store.get_json(filed["evidence_cid"])
    assert [f["name"] for f in manifest["files"]] == ["licence.pdf", "calls.csv"]
    assert store.get(manifest["files"][0]["cid"]) == b"%PDF-1.4 licence"
    assert "Acme" not in str(manifest)

    indexer.sync()
    opened = client.get(f"/v1/disputes/{filed['dispute_id']}", headers=business).json()
    assert (opened["status"], opened["voting_open"]) == ("open", True)
    uphold(consortium, filed["dispute_id"])
    indexer.sync()
    decided = client.get(f"/v1/disputes/{filed['dispute_id']}", headers=business).json()
    assert decided["status"] == "upheld"
    assert sorted(v["weight"] for v in decided["arbiter_votes"]) == [1000, 1000]
    rep = client.get(f"/v1/reputation/{number}", headers=new_key(engine, "telco")).json()
    assert rep["verdict"] == "not_spam"
    assert rep["locked_until"] > 0 and rep["dispute"]["status"] == "upheld"
    other = new_key(engine, "business", "US")
    assert client.get(f"/v1/disputes/{filed['dispute_id']}", headers=other).status_code == 403
    verified = client.get(f"/v1/audit/numbers/{number}/verify",
                          headers=new_key(engine, "regulator")).json()
    assert verified["ok"] is True, verified
    dispute_check = [c for c in verified["checks"] if c["name"].startswith("evidence: dispute")]
    assert "2 listed file(s)" in dispute_check[0]["detail"]
    again = client.post("/v1/disputes", headers=business,
                        data={"number": number, "business": "Acme Pharmacy LLC"},
                        files=[("evidence", ("a.txt", b"again", "text/plain"))])
    assert again.status_code == 409 and "not_spam" in again.json()["detail"]


def test_regulator_verify_three_countries_true_then_false_after_tampering(
        chain_app, consortium, engine, ipfs_node):
    client, indexer, store = chain_app
    number = fresh_number()
    key = consortium.hasher.key(number)
    marker = f"evidence-{number}-{random.random()}"
    cids = {cc: store.put_json({"country": cc, "marker": marker, "features": {"calls": 900}})
            for cc in ("US", "IN", "BR")}
    run_round(consortium, key, "US", {"US": 9000, "IN": 8000, "BR": 7000},
              approved_model(consortium, "audit"), cids=cids)
    indexer.sync()
    regulator = new_key(engine, "regulator", "*")
    history = client.get(f"/v1/audit/numbers/{number}", headers=regulator).json()
    assert sorted(v["country"] for v in history["votes"]) == ["BR", "IN", "US"]
    assert {e["event"] for e in history["events"]} >= {"RoundOpened", "VoteCast",
                                                       "RoundFinalized", "RecordFinalized"}
    verified = client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json()
    assert verified["ok"] is True, verified
    names = [c["name"].split(":")[0] for c in verified["checks"]]
    assert names.count("signature") == 3 and names.count("evidence") == 3
    assert "tally" in names and "registry record" in names

    tamper_block(ipfs_node.settings.data_dir, marker, "US")
    tampered = client.get(f"/v1/audit/numbers/{number}/verify", headers=regulator).json()
    assert tampered["ok"] is False
    failed = [c for c in tampered["checks"] if not c["ok"]]
    assert [c["name"].split(":")[0] for c in failed] == ["evidence"]
    assert "Tampered" in failed[0]["detail"]


def test_number_only_in_an_epoch_snapshot_answers_with_a_proof_that_verifies_on_chain(
        chain_app, consortium, engine):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from api import load_pending_epochs
    from api._chain import Evidence
    from node._consortium import country_bytes
    from oracle.service import MerkleTree

    client, indexer, store = chain_app
    numbers = [fresh_number() for _ in range(5)]
    rows = [(consortium.hasher.key(n), 7000 + i, 3, 2) for i, n in enumerate(numbers)]
    buf = io.BytesIO()
    pq.write_table(pa.table({"number_key": pa.array([r[0] for r in rows], pa.binary(32)),
                             "score": [r[1] for r in rows], "verdict": [r[2] for r in rows],
                             "category": [r[3] for r in rows]}), buf)
    cid = store.put_bytes(buf.getvalue(), "application/vnd.apache.parquet")
    tree = MerkleTree.build(rows)
    epoch = consortium.ledger.call("SnapshotRegistry", "latestEpoch", country_bytes("US")) + 1
    consortium.ledger.transact("SnapshotRegistry", "commitEpoch", country_bytes("US"), epoch,
                               tree.root, cid, approved_model(consortium, "epoch"), len(rows),
                               account=consortium.validators["US"])
    indexer.sync()
    # The session chain holds every earlier test's epochs too; one call loads at most
    # ``limit`` of them, oldest first.
    assert load_pending_epochs(engine, Evidence(store), limit=10_000) >= 1

    body = client.get(f"/v1/reputation/{numbers[2]}", headers=new_key(engine, "telco")).json()
    assert (body.get("verdict"), body.get("score_bps"), body.get("category")) == (
        "spam", 7002, "telemarketing"), body
    source = body["source"]
    assert (source["kind"], source["epoch"], source["root"]) == ("epoch", epoch,
                                                                  "0x" + tree.root.hex())
    proof = [bytes.fromhex(p[2:]) for p in source["proof"]]
    assert consortium.ledger.call("SnapshotRegistry", "verifyLeaf", country_bytes("US"), epoch,
                                  rows[2][0], 7002, 3, 2, proof) is True
    verified = client.get(f"/v1/audit/numbers/{numbers[2]}/verify",
                          headers=new_key(engine, "regulator")).json()
    assert [c["ok"] for c in verified["checks"] if c["name"].startswith("snapshot")] == [True]


def test_cli_audit_prints_history_and_verification(chain_app, consortium, engine, db_url,
                                                   ipfs_node, capsys, monkeypatch):
    import json

    from spamledger._cli import main

    _client, indexer, _store = chain_app
    number = fresh_number()
    run_round(consortium, consortium.hasher.key(number), "US",
              {"US": 8000, "IN": 8000, "BR": 8000}, approved_model(consortium, "cli"))
    indexer.sync()
    monkeypatch.setenv("SPAMLEDGER_CONSORTIUM_SECRET", "spamledger-test-consortium-secret")
    code = main(["--data-dir", str(consortium.data_dir), "audit", number, "--database-url",
                 db_url, "--rpc-url", consortium.w3.provider.endpoint_uri,
                 "--ipfs-api", ipfs_node.api])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(out["history"]["votes"]) == 3
    assert out["verify"]["ok"] is True


def test_dispute_of_a_number_without_a_spam_verdict_is_409_before_any_upload(
        chain_app, engine):
    client, _indexer, _store = chain_app
    response = client.post("/v1/disputes", headers=new_key(engine, "business"),
                           data={"number": fresh_number(), "business": "Acme"},
                           files=[("evidence", ("a.txt", b"hello", "text/plain"))])
    assert response.status_code == 409
    assert "nothing to dispute: the number's verdict is unknown" in response.json()["detail"]
