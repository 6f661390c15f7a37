"""A brief IPFS failure never loses an epoch (Anvil + js-ipfs, SQLite and PostgreSQL).

IPFS answering 500 while a snapshot is fetched keeps the epoch pending with a backoff,
visible in ``/healthz`` and ``/metrics``; once IPFS recovers (and the indexer restarts) the
leaves load and the numbers answer from them. Only content that verifies against its CID
and still is no snapshot is marked unreadable for good.
"""

from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from api import load_pending_epochs, migrate
from api._chain import Evidence
from api._db import session_scope
from api._models import Epoch
from node._consortium import country_bytes
from node.ipfs import EvidenceStore
from oracle.service import MerkleTree
from tests.api.conftest import new_key
from tests.api.scenario import approved_model
from tests.api.test_end_to_end import fresh_number

RETRY = 0.3


class FlakyIpfs:
    """A loopback proxy in front of the real js-ipfs RPC API that answers 500 to ``cat``
    while ``failing`` is set (the way a node under trouble does)."""

    def __init__(self, target_api: str):
        port = int(target_api.split("/tcp/")[1].split("/")[0])
        self.target = f"http://127.0.0.1:{port}"
        self.failing = True
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.failing and self.path.startswith("/api/v0/cat"):
                    proxy.refused += 1
                    self._reply(500, b'{"Message":"internal error","Code":0,"Type":"error"}',
                                {"Content-Type": "application/json"})
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                answer = httpx.post(proxy.target + self.path, content=body, headers=headers,
                                    timeout=30)
                kept = {k: v for k, v in answer.headers.items()
                        if k.lower() not in ("content-length", "transfer-encoding",
                                             "connection", "content-encoding")}
                self._reply(answer.status_code, answer.content, kept)

            def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api = f"/ip4/127.0.0.1/tcp/{self.server.server_address[1]}/http"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _commit(consortium, store, numbers: list[str], payload: bytes | None = None) -> int:
    rows = [(consortium.hasher.key(n), 6000 + i, 3, 2) for i, n in enumerate(numbers)]
    buf = io.BytesIO()
    pq.write_table(pa.table({"number_key": pa.array([r[0] for r in rows], pa.binary(32)),
                             "score": [r[1] for r in rows], "verdict": [r[2] for r in rows],
                             "category": [r[3] for r in rows]}), buf)
    data = payload if payload is not None else buf.getvalue()
    ctype = "application/json" if payload is not None else "application/vnd.apache.parquet"
    cid = store.put_bytes(data, ctype)
    # Epochs are sequential per country (ledger v2): the next one on chain.
    epoch = consortium.ledger.call("SnapshotRegistry", "latestEpoch", country_bytes("US")) + 1
    consortium.ledger.transact("SnapshotRegistry", "commitEpoch", country_bytes("US"), epoch,
                               MerkleTree.build(rows).root, cid,
                               approved_model(consortium, "retry"), len(rows),
                               account=consortium.validators["US"])
    return epoch


def _epoch(engine, epoch: int) -> Epoch:
    with session_scope(engine) as session:
        return session.query(Epoch).filter(Epoch.epoch == epoch).one()


def _load_until_due(engine, evidence, epoch: int) -> Epoch:
    """Wait until the epoch is due again, then run the loader once."""
    row = _epoch(engine, epoch)
    time.sleep(max(0.0, row.next_attempt_at - time.time()) + 0.05)
    load_pending_epochs(engine, evidence, limit=1000, retry_seconds=RETRY)
    return _epoch(engine, epoch)


def test_ipfs_500s_keep_the_epoch_pending_then_it_loads(chain_app, consortium, engine,
                                                        ipfs_node):
    client, indexer, store = chain_app
    numbers = [fresh_number() for _ in range(3)]
    epoch = _commit(consortium, store, numbers)
    indexer.sync()
    flaky = FlakyIpfs(ipfs_node.api)
    flaky_store = EvidenceStore(flaky.api, timeout=10.0)
    try:
        load_pending_epochs(engine, Evidence(flaky_store), limit=1000, retry_seconds=RETRY)
        row = _epoch(engine, epoch)
        assert (row.leaves_status, row.load_attempts) == ("", 1)
        assert "500" in row.last_error or "internal error" in row.last_error
        assert flaky.refused >= 1
        load_pending_epochs(engine, Evidence(flaky_store), limit=1000, retry_seconds=RETRY)
        assert _epoch(engine, epoch).load_attempts == 1  # not due yet: backoff holds
        row = _load_until_due(engine, Evidence(flaky_store), epoch)
        assert (row.leaves_status, row.load_attempts) == ("", 2)
        assert row.next_attempt_at - time.time() > RETRY  # the delay doubled

        telco = new_key(engine, "telco")
        assert client.get(f"/v1/reputation/{numbers[1]}",
                          headers=telco).json()["verdict"] == "unknown"
        health = client.get("/healthz").json()
        assert health["epochs_retrying"] >= 1 and health["epochs_pending"] >= 1
        assert health["status"] == "degraded" and health["epoch_error"]
        metrics = client.get("/metrics").text
        retrying = [line for line in metrics.splitlines()
                    if line.startswith("spamledger_epochs_retrying ")]
        assert retrying and float(retrying[0].split()[1]) >= 1

        flaky.failing = False  # IPFS recovers; the indexer restarts with a new client
        row = _load_until_due(engine, Evidence(EvidenceStore(flaky.api, timeout=10.0)), epoch)
    finally:
        flaky_store.close()
        flaky.close()
    assert row.leaves_status == "loaded"
    answer = client.get(f"/v1/reputation/{numbers[1]}", headers=new_key(engine, "telco")).json()
    assert (answer["verdict"], answer["score_bps"]) == ("spam", 6001)
    with session_scope(engine) as session:
        mine = session.query(Epoch).filter(Epoch.epoch == epoch).one()
        assert mine.leaves_status == "loaded"


def test_ipfs_down_at_indexer_start_keeps_epochs_pending(chain_app, consortium, engine):
    _client, indexer, store = chain_app
    epoch = _commit(consortium, store, [fresh_number()])
    indexer.sync()
    down = Evidence(EvidenceStore("/ip4/127.0.0.1/tcp/9/http", timeout=2.0))
    load_pending_epochs(engine, down, limit=1000, retry_seconds=RETRY)
    row = _epoch(engine, epoch)
    assert (row.leaves_status, row.load_attempts) == ("", 1)
    assert "NodeUnreachable" in row.last_error or "unreachable" in row.last_error
    assert _load_until_due(engine, Evidence(store), epoch).leaves_status == "loaded"


def test_content_that_is_no_snapshot_is_unreadable_for_good(chain_app, consortium, engine):
    _client, indexer, store = chain_app
    epoch = _commit(consortium, store, [fresh_number()], payload=b'{"not": "parquet"}')
    indexer.sync()
    load_pending_epochs(engine, Evidence(store), limit=1000, retry_seconds=RETRY)
    row = _epoch(engine, epoch)
    assert (row.leaves_status, row.load_attempts) == ("unreadable", 0)


def test_epochs_marked_unreadable_by_earlier_versions_are_retried(db_url):
    from api import make_engine

    engine = make_engine(db_url)
    try:
        migrate(engine, "0002")
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO epochs (country, epoch, root, cid, model_hash, leaf_count, "
                "committer, leaves_status, block_number, tx_hash, log_index) VALUES "
                "('US', 1, '0x00', 'bafy', '0x00', 1, '0x00', 'unreadable', 1, '0x01', 0), "
                "('US', 2, '0x00', 'bafy', '0x00', 1, '0x00', 'root_mismatch', 1, '0x02', 0)")
        migrate(engine)
        with session_scope(engine) as session:
            assert [(e.epoch, e.leaves_status, e.load_attempts) for e in
                    session.query(Epoch).order_by(Epoch.epoch)] == [
                (1, "", 0), (2, "root_mismatch", 0)]
    finally:
        engine.dispose()
