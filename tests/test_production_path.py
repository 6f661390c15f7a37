"""The README's "Running for real" path, walked from an empty data directory with only the
documented commands, each as its own process, and no chain-specific workaround (no
``anvil_setBalance`` for anyone but the deployer, which `deploy` funds on a local chain).

Three operators (US, IN, BR), an arbiter (DE), a relayer and a regulator share one machine
and one data directory; Anvil stands in for Besu, the bundled js-ipfs for Kubo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from node import AnvilNode, Deployment, Ledger, connect, read_record
from spamledger import NumberHasher
from spamledger._types import Verdict
from tests.conftest import free_port
from tests.node.ipfs.conftest import ipfs_node  # noqa: F401 - the session js-ipfs node

ROOT = Path(__file__).resolve().parents[1]
SECRET = "production-path-consortium-secret"
OPERATORS = {"us": ("US", 3500, "2026-01-15"), "in": ("IN", 2500, "2026-01-14T12:00:00"),
             "br": ("BR", 2000, "2026-01-14")}


class Walk:
    """Runs `spamledger ...` as the README shows, with the environment an operator sets."""

    def __init__(self, data_dir: Path, env: dict[str, str]):
        self.data_dir, self.env = data_dir, env

    def run(self, *argv: str, role: str | None = None, ok: bool = True,
            timeout: float = 600) -> str:
        env = dict(self.env)
        if role in OPERATORS:
            env["SPAMLEDGER_OPERATOR_NAME"] = role
            env["SPAMLEDGER_OPERATOR_COUNTRY"] = OPERATORS[role][0]
        proc = subprocess.run([sys.executable, "-m", "spamledger._cli", *argv], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if ok:
            assert proc.returncode == 0, f"spamledger {' '.join(argv)}:\n{proc.stderr[-3000:]}"
        return proc.stdout

    def json(self, *argv: str, role: str | None = None) -> object:
        return json.loads(self.run(*argv, role=role))


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[AnvilNode]:
    node = AnvilNode(tmp_path / "anvil", port=free_port())
    node.start()
    yield node
    node.stop()


@pytest.mark.slow
def test_the_readme_production_path_works_without_workarounds(
        tmp_path, chain, ipfs_node):  # noqa: F811
    data = tmp_path / "data"
    env = {**os.environ, "SPAMLEDGER_DATA_DIR": str(data),
           "SPAMLEDGER_KEYSTORE_PASSWORD": "walk-password",
           "SPAMLEDGER_CONSORTIUM_SECRET": SECRET, "SPAMLEDGER_RPC_URL": chain.rpc_url,
           "SPAMLEDGER_IPFS_API": ipfs_node.api, "SPAMLEDGER_LOG_LEVEL": "WARNING"}
    walk = Walk(data, env)

    # 1-2. Keys, then a genesis from the collected addresses that funds everyone.
    listed = dict(line.split("\t") for line in walk.run(
        "node", "keys", "governance", *OPERATORS, "de", "relayer", "regulator").split("\n")
        if line)
    genesis = tmp_path / "genesis.json"
    walk.run("node", "genesis", "--validators", *(listed[o] for o in OPERATORS),
             "--fund", listed["governance"], listed["de"], listed["relayer"],
             listed["regulator"], "--chain-id", "2025", "--out", str(genesis))
    assert len(json.loads(genesis.read_text())["alloc"]) == 7
    walk.run("node", "export-key", "us", "--out", str(tmp_path / "us-node-key"))

    # 3-5. Contracts, consortium, gas.
    walk.run("deploy", "--deployer", "governance")
    for name, (country, weight, _) in OPERATORS.items():
        assert walk.run("gov", "admit", name, "--country", country, "--weight",
                        str(weight)).strip().endswith(f"{country} weight {weight} active")
    walk.run("gov", "arbiter", "de", "--country", "DE", "--weight", "1000")
    walk.run("gov", "grant", "relayer", "relayer")
    walk.run("gov", "grant", "regulator", "regulator")
    walk.run("gov", "thresholds", "00", "5000", "2000")
    walk.run("gov", "fund", *OPERATORS, "de", "relayer", "regulator", "--eth", "10")
    shown = walk.json("gov", "show")
    assert shown["roles"]["relayer"] == [listed["relayer"]]  # type: ignore[index]

    # 6. Models: train, register, approve from the other countries, promote, score.
    sim = tmp_path / "sim"
    walk.run("oracle", "simulate", str(sim), "--scale", "0.1", "--days", "14", "--seed", "5",
             "--countries", "US,IN,BR")
    digests = {}
    for name, (_, _, until) in OPERATORS.items():
        model_dir = data / "operators" / name / "models"
        out = walk.run("oracle", "train", "--calls", str(sim / "calls"), "--reports",
                       str(sim / "reports.parquet"), "--until", until, "--model-dir",
                       str(model_dir), "--oracle-bags", "1")
        digests[name] = next(w for w in out.split() if len(w) == 64)
        walk.run("oracle", "models", "register", digests[name], "--card",
                 str(model_dir / "model_card.json"), role=name)
    for name, digest in digests.items():
        for other in OPERATORS:
            if other != name:
                walk.run("oracle", "models", "approve", digest, "--owner", listed[name],
                         role=other)
        promoted = walk.json("oracle", "models", "promote", digest, role=name)
        assert promoted["onChain"]["status"] == "approved"  # type: ignore[index]
    for name in OPERATORS:
        walk.run("oracle", "score", "--calls", str(sim / "calls"), "--reports",
                 str(sim / "reports.parquet"), "--model-dir",
                 str(data / "operators" / name / "models"), "--out",
                 str(tmp_path / f"scores-{name}.parquet"))

    # Push: each operator votes on what it flags and answers the others' rounds; a second
    # pass finalizes the rounds at quorum.
    for _ in range(2):
        for name in OPERATORS:
            walk.run("oracle", "push", str(tmp_path / f"scores-{name}.parquet"), role=name)

    # Epoch snapshot under the country's next number on chain, and a proof that verifies
    # on-chain.
    us_scores = pd.read_parquet(tmp_path / "scores-us.parquet")
    committed = walk.json("oracle", "epoch", str(tmp_path / "scores-us.parquet"), role="us")
    assert committed["tx"]  # type: ignore[index]
    epoch = committed["epoch"]  # type: ignore[index]
    assert epoch == 1
    proof = walk.json("oracle", "proof", str(us_scores["number"].iloc[0]), "--epoch",
                      str(epoch), role="us")
    assert proof["verifiedOnChain"] is True  # type: ignore[index]

    # A flagged number on the ledger, disputed by its business through the API.
    w3 = connect(chain.rpc_url)
    ledger = Ledger(w3, Deployment.load(data, w3.eth.chain_id))
    hasher = NumberHasher(SECRET)
    flagged = [n for n in us_scores["number"].astype(str)
               if read_record(ledger, hasher.key(n)).verdict in (Verdict.SPAM,
                                                                 Verdict.SUSPICIOUS)]
    assert flagged, "no round finalized as spam or suspicious"
    number = flagged[0]
    walk.run("api", "migrate")
    business_key = walk.run("api", "keys", "create", "--role", "business", "--country",
                            "US", "--name", "acme").strip()
    dispute_id = _dispute_through_the_api(walk, env, number, business_key)

    # 7. The arbiter and the regulator decide it from the command line.
    assert dispute_id in [c["id"] for c in walk.json("dispute", "list")]  # type: ignore[union-attr]
    walk.run("dispute", "vote", str(dispute_id), "uphold", "--as", "de")
    walk.run("dispute", "vote", str(dispute_id), "uphold", "--as", "regulator")  # 2 voters
    decided = walk.json("dispute", "resolve", str(dispute_id), "--as", "regulator")
    assert decided["status"] == "upheld"  # type: ignore[index]
    assert read_record(ledger, hasher.key(number)).verdict == Verdict.NOT_SPAM

    # The regulator audits the number: every check passes.
    walk.run("api", "index", "--once")
    audited = json.loads(walk.run("audit", number))
    assert audited["verify"]["ok"] is True, audited["verify"]


def _dispute_through_the_api(walk: Walk, env: dict[str, str], number: str,
                             business_key: str) -> int:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "spamledger._cli", "api", "serve",
                             "--api-port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/livez", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        response = httpx.post(
            f"{base}/v1/disputes", headers={"X-API-Key": business_key},
            data={"number": number, "business": "Acme Couriers Ltd"},
            files=[("evidence", ("licence.pdf", b"%PDF-1.4 licence", "application/pdf"))],
            timeout=60)
        assert response.status_code == 201, response.text
        return int(response.json()["dispute_id"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
