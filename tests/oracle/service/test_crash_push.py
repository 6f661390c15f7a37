"""The push, SIGKILLed at random points many times and restarted, votes exactly once."""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from eth_account import Account

from oracle.service import Operator, Outbox
from tests.conftest import TEST_SECRET

from .conftest import approve_models

N_NUMBERS = 48
KILLS = 10
PASSWORD = "crash-test-password"


def _prepare(tmp_path: Path, consortium, account) -> Path:
    data_dir = tmp_path / "data"
    (data_dir / "keystore").mkdir(parents=True)
    blob = Account.encrypt(account.key, PASSWORD, kdf="scrypt", iterations=2**10)
    (data_dir / "keystore" / "us.json").write_text(json.dumps(blob))
    (data_dir / "deployments").mkdir()
    shutil.copy(consortium.deployment.path, data_dir / "deployments")
    return data_dir


def _scores(path: Path, n: int) -> list[str]:
    base = secrets.randbelow(10**5)
    numbers = [f"+1212{base + i:07d}" for i in range(n)]
    pd.DataFrame({"number": numbers, "country": "US", "score": 0.93, "verdict": "spam",
                  "category": "robocall", "reasons": "many short calls",
                  "calls_24h": 300.0, "countries_reached": 2}).to_parquet(path)
    return numbers


def _command(data_dir: Path, scores: Path, model_hash: bytes) -> list[str]:
    return [sys.executable, "-m", "spamledger._cli", "--data-dir", str(data_dir),
            "--log-level", "INFO", "oracle", "push", str(scores),
            "--model-hash", model_hash.hex(), "--operator-country", "US",
            "--service-batch-size", "6", "--service-retry-backoff", "0.05"]


@pytest.mark.slow
def test_push_killed_at_random_points_votes_each_number_exactly_once(
        tmp_path, consortium, anvil, make_operator, service_ipfs):
    rigs = [make_operator(cc) for cc in ("US", "IN", "BR")]
    approve_models(rigs)
    us = consortium.validators["US"]
    data_dir = _prepare(tmp_path, consortium, us)
    numbers = _scores(tmp_path / "scores.parquet", N_NUMBERS)
    env = dict(os.environ, SPAMLEDGER_KEYSTORE_PASSWORD=PASSWORD,
               SPAMLEDGER_CONSORTIUM_SECRET=TEST_SECRET, SPAMLEDGER_RPC_URL=anvil.rpc_url,
               SPAMLEDGER_IPFS_API=service_ipfs.api_addr)
    cmd = _command(data_dir, tmp_path / "scores.parquet", rigs[0].model_hash)
    first_block = consortium.w3.eth.block_number
    rng = random.Random(6)
    killed = 0
    for attempt in range(KILLS):
        # Random external kills, and kills right after a tx is recorded as sent (before
        # its broadcast) or right after its broadcast (before its receipt).
        mode = ("random", "after_sent:0.3", "after_broadcast:0.3")[attempt % 3]
        run_env = env if mode == "random" else dict(env, SPAMLEDGER_FAILPOINT=mode)
        with open(tmp_path / f"push-{attempt}.log", "wb") as log:
            proc = subprocess.Popen(cmd, env=run_env, stdout=log, stderr=subprocess.STDOUT)
            _wait_for_start(tmp_path / f"push-{attempt}.log", proc)
            if mode == "random":
                # Kill after a random amount of progress, not of time: a fixed time span
                # lets a fast machine finish the whole push before the kill (seen in CI).
                _wait_mined(tmp_path / f"push-{attempt}.log", proc, rng.randint(1, 4))
                time.sleep(rng.uniform(0.0, 0.3))
            else:
                _wait_exit(proc, 60)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            if proc.wait(timeout=30) == -signal.SIGKILL:
                killed += 1
    assert killed >= KILLS // 2, "the push finished too fast to be killed mid-way"
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    logs = "".join(p.read_text() for p in tmp_path.glob("push-*.log"))
    assert "reconciled" in logs  # some kill did land between "sent" and "mined"

    for number in numbers:
        key = consortium.hasher.key(number)
        votes = consortium.ledger.events("Consensus", "VoteCast", first_block, "latest",
                                         numberKey=key, validator=us.address)
        opened = consortium.ledger.events("Consensus", "RoundOpened", first_block, "latest",
                                          numberKey=key)
        assert len(votes) == 1, number
        assert len(opened) == 1
    _assert_no_reverted_tx(consortium.w3, us.address, first_block)
    op = Operator.create(data_dir, "US")
    with Outbox(op.outbox_path) as box:
        votes = box.actions(["mined"], kind="vote")
        assert len(votes) == N_NUMBERS
        assert box.actions(["planned", "signed", "sent", "failed"], kind="vote") == []


def _wait_for_start(log: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until the push has started its work (imports and connections take seconds)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if "push: start" in log.read_text(errors="replace"):
            return
        time.sleep(0.05)


def _wait_mined(log: Path, proc: subprocess.Popen, count: int, timeout: float = 60.0) -> None:
    """Until this run has had `count` more transactions mined, or has ended."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if log.read_text(errors="replace").count(" mined in block ") >= count:
            return
        time.sleep(0.02)


def _wait_exit(proc: subprocess.Popen, timeout: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


def _assert_no_reverted_tx(w3, address: str, first_block: int) -> None:
    """No transaction of the operator was wasted on a double (each would revert)."""
    sent = 0
    for n in range(first_block, w3.eth.block_number + 1):
        block = w3.eth.get_block(n, full_transactions=True)
        for tx in block["transactions"]:
            if tx["from"] == address:
                sent += 1
                assert w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1
    assert sent >= N_NUMBERS  # one openRound per number, plus the vote bundles
