"""Bundles of a real ledger: Anvil, js-ipfs, the indexer, each database, the API.

Every number a bundle answers is compared with the API's answer and with SpamRegistry at the
bundle's block; verification is checked against an attestation on-chain and fails for a
flipped byte and for a record changed after the build; deltas equal full builds.
"""

from __future__ import annotations

import io
import itertools
import random
from pathlib import Path

import pytest

from node import Ledger, read_record
from node._consortium import country_bytes
from spamledger._cli import main
from spamledger.edge import Bundle, Header, apply_delta, encode
from spamledger.edge._format import split
from spamledger.edge._verify import commit
from tests.api.conftest import TEST_SECRET, new_key
from tests.api.scenario import approved_model, run_round

_numbers = itertools.count(random.randrange(100, 800) * 10)

# A bundle build refuses while any epoch committed by its block waits for its leaves (exact
# deltas over availability, see api/_bundles.py), and the indexer follows every event of its
# deployment: on the session's shared deployment, other tests' epoch snapshots (CIDs they
# never stored, or stored in a flaky store) stay pending and block every build. These tests
# get a deployment of their own on the same Anvil (see ``consortium`` below).
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def consortium(anvil, tmp_path_factory):
    """This module's own contracts on the session's Anvil: only its events get indexed."""
    from tests.conftest import deploy_consortium

    return deploy_consortium(anvil, tmp_path_factory.mktemp("edge-ledger"))


def fresh(prefix: str = "+1628555") -> str:
    return f"{prefix}{next(_numbers) % 10_000:04d}"


def commit_epoch(consortium, store, country: str, rows: list[tuple[bytes, int, int, int]]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from oracle.service import MerkleTree

    buf = io.BytesIO()
    pq.write_table(pa.table({"number_key": pa.array([r[0] for r in rows], pa.binary(32)),
                             "score": [r[1] for r in rows], "verdict": [r[2] for r in rows],
                             "category": [r[3] for r in rows]}), buf)
    cid = store.put_bytes(buf.getvalue(), "application/vnd.apache.parquet")
    epoch = consortium.ledger.call("SnapshotRegistry", "latestEpoch", country_bytes(country)) + 1
    consortium.ledger.transact("SnapshotRegistry", "commitEpoch", country_bytes(country), epoch,
                               MerkleTree.build(rows).root, cid,
                               approved_model(consortium, f"edge{epoch}"), len(rows),
                               account=consortium.validators[country])


def sync(indexer, engine, store) -> None:
    from api import load_pending_epochs
    from api._chain import Evidence

    indexer.sync()
    load_pending_epochs(engine, Evidence(store), limit=100)


def edge(consortium, db_url: str, *args: str) -> int:
    chain = ["--rpc-url", consortium.w3.provider.endpoint_uri] if args[0] != "apply" else []
    db = ["--database-url", db_url] if args[0] == "build" else []
    return main(["--data-dir", str(consortium.data_dir), "edge", *args, *chain, *db])


@pytest.fixture
def ledger_state(chain_app, consortium, engine, monkeypatch):
    """Rounds finalized in US and GB and an epoch snapshot of US, indexed."""
    monkeypatch.setenv("SPAMLEDGER_CONSORTIUM_SECRET", TEST_SECRET)
    client, indexer, store = chain_app
    model = approved_model(consortium, "edge")
    h = consortium.hasher
    rounds = {fresh(): ("US", {"US": 9000, "IN": 8000, "BR": 7000}),
              fresh(): ("US", {"US": 5000, "IN": 5000, "BR": 4000}),
              fresh(): ("US", {"US": 1000, "IN": 500, "BR": 800}),
              fresh("+44207946"): ("GB", {"GB": 9500, "US": 9000, "IN": 9000})}
    for number, (cc, scores) in rounds.items():
        run_round(consortium, h.key(number), cc, scores, model)
    leaves = [fresh() for _ in range(3)]
    commit_epoch(consortium, store, "US",
                 [(h.key(n), 7100 + i, 3, 2) for i, n in enumerate(leaves)])
    sync(indexer, engine, store)
    return client, indexer, store, list(rounds) + leaves


def test_bundle_answers_equal_the_api_and_the_chain_for_every_finalized_number(
        ledger_state, consortium, engine, db_url, tmp_path: Path):
    client, _indexer, _store, numbers = ledger_state
    out = tmp_path / "all.bundle"
    assert edge(consortium, db_url, "build", "--out", str(out)) == 0
    bundle = Bundle.open(out, TEST_SECRET, verify_root=True)
    headers = new_key(engine, "telco")
    many = bundle.lookup_many(numbers)
    assert len(bundle) >= len(numbers)
    for i, number in enumerate(numbers):
        got = bundle.lookup(number)
        assert many.answer(i) == got
        api = client.get(f"/v1/reputation/{number}", headers=headers).json()
        assert "verdict" in api, api
        assert (got.verdict, got.score_bps, got.category, got.expires_at, got.expired) == (
            api["verdict"], api["score_bps"], api["category"], api.get("expires_at"),
            api["expired"])
        assert got.source == api["source"]["kind"]
        record = read_record(consortium.ledger, consortium.hasher.key(number),
                             block=bundle.block)
        if got.source == "round":
            assert (got.score_bps, got.recorded_verdict, got.category, got.expires_at) == (
                record.score, record.verdict.name.lower(), record.category.name.lower(),
                record.expires_at)
        else:
            assert record.finalized_at == 0
    assert bundle.lookup(fresh("+1212555")).verdict == "unknown"


def test_verify_passes_attested_bundle_and_fails_flipped_byte_or_changed_record(
        ledger_state, consortium, db_url, tmp_path: Path, capsys):
    numbers = ledger_state[3]
    out = tmp_path / "us.bundle"
    assert edge(consortium, db_url, "build", "--country", "US", "--out", str(out)) == 0
    data = out.read_bytes()
    us = consortium.validators["US"]
    assert edge(consortium, db_url, "verify", str(out)) == 1  # nobody attested it yet
    assert "no attestation at all" in capsys.readouterr().err
    commit(Ledger(consortium.w3, consortium.deployment, us), data)
    checks = [a for n in numbers for a in ("--number", n)]
    assert edge(consortium, db_url, "verify", str(out), "--committer", us.address,
                *checks) == 0
    printed = capsys.readouterr().out
    assert "attested on-chain by " + us.address in printed
    assert printed.count("page verified on-chain") == 6  # the GB number is not in scope

    flipped = bytearray(data)
    flipped[len(data) - 3] ^= 0x01
    (tmp_path / "flipped.bundle").write_bytes(bytes(flipped))
    assert edge(consortium, db_url, "verify", str(tmp_path / "flipped.bundle")) == 1
    assert "the file was altered" in capsys.readouterr().err

    header, keys, records = split(data)
    changed = records.copy()
    changed["score"][0] = (int(changed["score"][0]) + 1) % 10_001
    from spamledger.edge import Entries

    forged = encode(header, Entries(keys.copy(), changed))  # consistent root, not attested
    (tmp_path / "forged.bundle").write_bytes(forged)
    assert edge(consortium, db_url, "verify", str(tmp_path / "forged.bundle")) == 1
    assert "no active validator attested root" in capsys.readouterr().err

    # Another validator's word does not count when the caller names who it trusts.
    gb = consortium.validators["GB"]
    assert edge(consortium, db_url, "verify", str(out), "--committer", gb.address) == 1


def test_delta_applied_to_the_earlier_bundle_equals_a_full_build(
        ledger_state, consortium, engine, db_url, tmp_path: Path):
    _client, indexer, store, numbers = ledger_state
    h = consortium.hasher
    for scope in ("**", "US"):
        assert edge(consortium, db_url, "build", "--country", scope, "--out",
                    str(tmp_path / f"{scope}-1.bundle")) == 0
    base_block = Header.unpack(( tmp_path / "**-1.bundle").read_bytes()).block
    model = approved_model(consortium, "delta")
    run_round(consortium, h.key(fresh()), "US", {"US": 9900, "IN": 9900, "BR": 9900}, model)
    # A number answered from an epoch now gets a finalized record, another a newer leaf.
    run_round(consortium, h.key(numbers[4]), "US", {"US": 200, "IN": 300, "BR": 100}, model)
    commit_epoch(consortium, store, "US", [(h.key(numbers[5]), 4500, 2, 1),
                                           (h.key(fresh()), 8800, 3, 3)])
    sync(indexer, engine, store)
    for scope in ("**", "US"):
        full, delta = tmp_path / f"{scope}-2.bundle", tmp_path / f"{scope}.delta"
        assert edge(consortium, db_url, "build", "--country", scope, "--out", str(full)) == 0
        assert edge(consortium, db_url, "build", "--country", scope, "--since",
                    str(base_block), "--out", str(delta)) == 0
        old = (tmp_path / f"{scope}-1.bundle").read_bytes()
        assert Header.unpack(delta.read_bytes()).count == 4
        assert apply_delta(old, delta.read_bytes()) == full.read_bytes()
        assert edge(consortium, db_url, "apply", str(tmp_path / f"{scope}-1.bundle"),
                    str(delta), "--out", str(tmp_path / f"{scope}-applied.bundle")) == 0
        assert (tmp_path / f"{scope}-applied.bundle").read_bytes() == full.read_bytes()
    assert Bundle.open(tmp_path / "US-2.bundle", TEST_SECRET).lookup(numbers[4]).source == "round"
