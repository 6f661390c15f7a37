"""`spamledger oracle epoch` then `proof`: the CLI commits a snapshot whose proof
verifies on-chain (the same commands `spamledger oracle ...` runs once wired)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import TEST_SECRET

from .conftest import approve_models
from .test_crash_push import PASSWORD, _prepare


@pytest.mark.slow
def test_epoch_command_commits_and_proof_command_verifies_on_chain(
        tmp_path, consortium, anvil, make_operator, service_ipfs):
    rigs = [make_operator(cc) for cc in ("US", "IN", "BR")]
    approve_models(rigs)
    data_dir = _prepare(tmp_path, consortium, consortium.validators["US"])
    base = secrets.randbelow(9_000)
    numbers = [f"+1312720{base + i:04d}" for i in range(50)]
    pd.DataFrame({"number": numbers, "country": "US", "score": [i / 50 for i in range(50)],
                  "verdict": ["spam" if i >= 40 else "not_spam" for i in range(50)],
                  "category": "scam"}).to_parquet(tmp_path / "table.parquet")
    env = dict(os.environ, SPAMLEDGER_KEYSTORE_PASSWORD=PASSWORD,
               SPAMLEDGER_CONSORTIUM_SECRET=TEST_SECRET, SPAMLEDGER_RPC_URL=anvil.rpc_url,
               SPAMLEDGER_IPFS_API=service_ipfs.api_addr, SPAMLEDGER_OPERATOR_COUNTRY="US")
    base_cmd = [sys.executable, "-m", "spamledger._cli", "--data-dir", str(data_dir), "oracle"]
    expected = rigs[0].chain.next_epoch("US")
    out = subprocess.run([*base_cmd, "epoch", str(tmp_path / "table.parquet"),
                          "--model-hash", rigs[0].model_hash.hex()],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    committed = json.loads(out.stdout)
    assert committed["count"] == 50 and committed["tx"]
    epoch = committed["epoch"]
    assert epoch == expected  # the country's next epoch on chain (epochs are sequential)

    out = subprocess.run([*base_cmd, "proof", numbers[45], "--epoch", str(epoch)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    proof = json.loads(out.stdout)
    assert proof["verifiedOnChain"] is True and proof["verdict"] == "spam"
    assert proof["leaf"]["verdict"] == 3 and proof["category"] == "scam"
    assert proof["root"] == committed["root"]
    assert numbers[45] not in out.stdout  # the proof names the number by its key only

    bad = subprocess.run([*base_cmd, "proof", "not-a-number"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 1 and "error" in bad.stderr

    table = data_dir / "operators" / "us" / "state" / "epochs" / f"{epoch}.parquet"
    committed_bytes = table.read_bytes()
    pd.DataFrame({"number": numbers[:30], "country": "US", "score": 0.9, "verdict": "spam",
                  "category": "scam"}).to_parquet(tmp_path / "other.parquet")
    again = subprocess.run([*base_cmd, "epoch", str(tmp_path / "other.parquet"), "--epoch",
                            str(epoch), "--model-hash", rigs[0].model_hash.hex()],
                           env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1
    assert "already committed" in _error_line(again.stderr)
    assert table.read_bytes() == committed_bytes

    missing = subprocess.run([*base_cmd, "proof", numbers[45], "--epoch", "5"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1 and "no snapshot of epoch 5" in _error_line(missing.stderr)


def _error_line(stderr: str) -> str:
    """The one error line (log lines may precede it; a traceback may not)."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("spamledger: error:")]
    assert len(errors) == 1, stderr
    return errors[0]
