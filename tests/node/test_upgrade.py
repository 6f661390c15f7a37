"""v1 -> v2 migration on real Anvil: v1 runs a scenario (votes, finalizations, a lock from an
upheld dispute, an epoch commit), ``migrate`` deploys v2 and commits v1's history root, and every
number's trail read back from the archive, proven by v2's ``LegacyArchive``, equals what the v1
chain's own events and state say."""

from __future__ import annotations

import copy
import hashlib
import os

import pytest
from eth_account import Account

import migrations._upgrade as upgrade
from api._audit import _chain_events
from api._chain import Chain
from api._indexer import _args
from migrations import describe, is_migrated, legacy_trail, load_archive, migrate, prove
from migrations._archive import as_raw_log, decode_log, leaf_of, record_tuple
from node import ContractRevert, Deployment, Ledger, MigrationError, load_artifact, open_dispute
from node._consortium import country_bytes
from oracle.service import MerkleTree, leaf_hash
from oracle.service import verify as merkle_verify
from tests.api.scenario import approved_model, run_round, uphold
from tests.conftest import deploy_consortium

NUMBERS = ("+14155550101", "+14155550102", "+14155550103")


def _scenario(consortium) -> dict[str, object]:
    """Three finalized numbers, the first disputed and upheld (locked), and a US epoch whose
    table holds the second number."""
    model = approved_model(consortium, "upgrade")
    keys = [consortium.hasher.key(n) for n in NUMBERS]
    for key, scores in zip(keys, ({"US": 9000, "IN": 8000, "BR": 7000},
                                  {"US": 8500, "IN": 9000, "GB": None},
                                  {"US": 1000, "IN": 2000, "BR": 1500}), strict=True):
        run_round(consortium, key, "US", scores, model)
    dispute = open_dispute(consortium.ledger, keys[0], hashlib.sha256(b"claimant").digest(),
                           "bafy-dispute-evidence", account=consortium.relayer)
    uphold(consortium, dispute)
    pending = consortium.hasher.key("+14155550104")  # voted on, not finalized at the freeze
    run_round(consortium, pending, "US", {"US": 9000}, model, finalize=False)
    rows = [(keys[1], 8600, 3, 2), *[(os.urandom(32), 1200, 1, 0) for _ in range(5)]]
    tree = MerkleTree.build(rows)
    consortium.ledger.transact("SnapshotRegistry", "commitEpoch", country_bytes("US"), 1,
                               tree.root, "bafy-epoch-1", model, len(rows),
                               account=consortium.validators["US"])
    return {"keys": keys, "pending": pending, "epoch_tree": tree, "epoch_row": rows[0]}


def _v1_trail(w3, v1: Deployment, key: bytes) -> dict[tuple[int, int], tuple]:
    """The number's events as the audit reads them from the v1 chain itself."""
    return _chain_events(Chain(Ledger(w3, v1)), key, v1.first_block(),
                         int(w3.eth.block_number), _args)


def _archived_trail(trail: list[dict]) -> dict[tuple[int, int], tuple]:
    return {(e["block"], e["log_index"]): (e["contract"], e["event"], e["tx_hash"],
                                           _args(e["args"]))
            for e in trail if e["kind"] == "log"}


@pytest.fixture(scope="module")
def migrated(anvil, tmp_path_factory):
    consortium = deploy_consortium(anvil, tmp_path_factory.mktemp("upgrade"))
    scenario = _scenario(consortium)
    w3, v1 = consortium.w3, consortium.deployment
    before = {k: (_v1_trail(w3, v1, k), consortium.ledger.call("SpamRegistry", "get", k))
              for k in scenario["keys"]}
    v2 = migrate(w3, consortium.data_dir, consortium.governance)
    return {"c": consortium, "v1": v1, "v2": v2, "before": before, **scenario}


def test_v2_is_live_and_the_chain_holds_the_committed_archive(migrated):
    c, v1, v2 = migrated["c"], migrated["v1"], migrated["v2"]
    live = Deployment.load(c.data_dir, c.chain_id)
    assert is_migrated(live) and live.address("LegacyArchive") == v2.address("LegacyArchive")
    assert live.address("Consensus") != v1.address("Consensus")
    shown = describe(c.w3, live)
    archive = load_archive(live)
    assert shown["legacy_archive"]["root"] == "0x" + archive.tree().root.hex()
    assert shown["legacy_archive"]["sourceChainId"] == c.chain_id
    assert shown["legacy_archive"]["sources"]["Consensus"] == v1.address("Consensus")
    assert shown["legacy_archive"]["file_root_matches_chain"] is True
    assert shown["v1"] == {"record": shown["v1"]["record"], "active_validators": 0,
                           "registry_writers": {"Consensus": False, "Dispute": False,
                                                "ReportConsensus": False},
                           "logs_after_last_block": 0, "rounds_open": 1, "disputes_open": 0}


def test_a_round_open_at_the_freeze_stays_in_the_trail_unfinalized(migrated):
    c, v1, v2 = migrated["c"], migrated["v1"], migrated["v2"]
    trail = legacy_trail(c.w3, v2, "0x" + migrated["pending"].hex())
    assert all(e["proven"] for e in trail)
    assert [e["event"] for e in trail if e["kind"] == "log"][:1] == ["RoundOpened"]
    assert not any(e.get("event") == "RoundFinalized" for e in trail)
    assert _archived_trail(trail) == _v1_trail(c.w3, v1, migrated["pending"])


def test_every_number_keeps_its_trail_proven_from_v2(migrated):
    c, v1, v2 = migrated["c"], migrated["v1"], migrated["v2"]
    for key in migrated["keys"]:
        trail = legacy_trail(c.w3, v2, "0x" + key.hex())
        events_then, record_then = migrated["before"][key]
        assert all(e["proven"] for e in trail)
        assert _archived_trail(trail) == _v1_trail(c.w3, v1, key) == events_then
        assert len(events_then) >= 4  # opened, votes, finalized, record
        (final,) = [e for e in trail if e["kind"] == "record"]
        assert record_tuple(final["record"]) == tuple(record_then) and final["proven"]


def test_lock_and_dispute_outcome_are_in_the_proven_trail(migrated):
    c, v2 = migrated["c"], migrated["v2"]
    trail = legacy_trail(c.w3, v2, "0x" + migrated["keys"][0].hex())
    events = {e["event"] for e in trail if e["kind"] == "log"}
    assert {"DisputeOpened", "DisputeDecided", "RecordOverturned"} <= events
    (final,) = [e for e in trail if e["kind"] == "record"]
    assert final["record"]["lockedUntil"] > 0 and final["proven"]


def test_epoch_root_is_proven_and_the_numbers_leaf_verifies_against_it(migrated):
    c, v2 = migrated["c"], migrated["v2"]
    archive = load_archive(v2)
    tree = archive.tree()
    (epoch,) = [e for e in archive.entries if e.get("event") == "EpochCommitted"]
    assert prove(Ledger(c.w3, v2), epoch, tree.proof(leaf_of(archive.source_chain_id, epoch)))
    registry = c.w3.eth.contract(abi=load_artifact("SnapshotRegistry").abi)
    name, args = decode_log(registry, as_raw_log(epoch))  # from the proven raw log
    root, ours = bytes(args["root"]), migrated["epoch_tree"]
    key, score, verdict, category = migrated["epoch_row"]
    assert name == "EpochCommitted" and root == ours.root
    assert merkle_verify(root, leaf_hash(key, score, verdict, category), ours.proof(key))


def test_a_tampered_entry_fails_verification(migrated):
    c, v2 = migrated["c"], migrated["v2"]
    archive = load_archive(v2)
    tree, ledger = archive.tree(), Ledger(c.w3, v2)
    kb = "0x" + migrated["keys"][2].hex()
    log = next(e for e in archive.trail(kb) if e.get("event") == "RecordFinalized")
    record = next(e for e in archive.trail(kb) if e["kind"] == "record")
    for entry in (log, record):
        proof = tree.proof(leaf_of(archive.source_chain_id, entry))
        assert prove(ledger, entry, proof)
        forged = copy.deepcopy(entry)
        if entry["kind"] == "log":
            forged["data"] = forged["data"][:-4] + "ffff"  # the score word's low bytes
        else:
            assert entry["record"]["verdict"] == 1  # not spam, made spam below
            forged["record"]["verdict"] = 3
        assert not prove(ledger, forged, proof)


def test_only_governance_commits_and_only_once(migrated):
    c, v2 = migrated["c"], migrated["v2"]
    stranger = Account.create()
    c.w3.provider.make_request("anvil_setBalance", [stranger.address, hex(10**20)])
    args = (c.chain_id, ["Consensus"], [v2.address("Consensus")], 1, 2, b"\x01" * 32, 1,
            b"\x00" * 32)
    ledger = Ledger(c.w3, v2, c.governance)
    with pytest.raises(ContractRevert) as info:
        ledger.transact("LegacyArchive", "commitArchive", *args, account=stranger)
    assert info.value.error_name == "NotGovernance"
    with pytest.raises(ContractRevert) as info:
        ledger.transact("LegacyArchive", "commitArchive", *args)
    assert info.value.error_name == "ArchiveSealed"


def test_consortium_is_admitted_again_on_v2(migrated):
    c, v2 = migrated["c"], migrated["v2"]
    ledger = Ledger(c.w3, v2)
    for cc, account in c.validators.items():
        country, weight = ledger.call("ValidatorSet", "activeValidator", account.address)
        assert (bytes(country), weight) == (country_bytes(cc), ledger.call(
            "ValidatorSet", "getValidator", account.address)[1]) and weight > 0
    for account in c.arbiters.values():
        assert ledger.call("ValidatorSet", "arbiterOf", account.address)[1] > 0
    relayer = ledger.call("ValidatorSet", "RELAYER_ROLE")
    assert ledger.call("ValidatorSet", "hasRole", relayer, c.relayer.address)


def test_a_second_run_sends_nothing_and_changes_nothing(migrated):
    c, v2 = migrated["c"], migrated["v2"]
    nonce = c.w3.eth.get_transaction_count(c.governance.address)
    again = migrate(c.w3, c.data_dir, c.governance)
    assert again.contracts == v2.contracts
    assert c.w3.eth.get_transaction_count(c.governance.address) == nonce


def test_a_run_that_crashed_midway_finishes_without_deploying_twice(anvil, tmp_path,
                                                                    monkeypatch):
    consortium = deploy_consortium(anvil, tmp_path)
    key = consortium.hasher.key("+14155550199")
    run_round(consortium, key, "US", {"US": 9000, "IN": 8000, "BR": 7000},
              approved_model(consortium, "crash"))
    real = upgrade.carry_consortium

    def crash(*args, **kwargs):
        raise MigrationError("simulated crash after v2's contracts were deployed")

    monkeypatch.setattr(upgrade, "carry_consortium", crash)
    with pytest.raises(MigrationError, match="simulated"):
        migrate(consortium.w3, tmp_path, consortium.governance)
    staged = upgrade.load_record(upgrade.Paths(tmp_path, consortium.chain_id).staging / "v2.json")
    assert not is_migrated(Deployment.load(tmp_path, consortium.chain_id))  # v1 still live

    monkeypatch.setattr(upgrade, "carry_consortium", real)
    v2 = migrate(consortium.w3, tmp_path, consortium.governance)
    assert {n: v2.address(n) for n in staged.contracts} == \
        {n: staged.address(n) for n in staged.contracts}
    trail = legacy_trail(consortium.w3, v2, "0x" + key.hex())
    assert trail and all(e["proven"] for e in trail)
    assert _archived_trail(trail) == _v1_trail(consortium.w3, consortium.deployment, key)


def test_a_non_governance_account_cannot_migrate_and_leaves_v1_live(anvil, tmp_path):
    consortium = deploy_consortium(anvil, tmp_path)
    stranger = Account.create()
    consortium.w3.provider.make_request("anvil_setBalance", [stranger.address, hex(10**20)])
    with pytest.raises(ContractRevert) as info:
        migrate(consortium.w3, tmp_path, stranger)
    assert info.value.error_name == "AccessControlUnauthorizedAccount"
    live = Deployment.load(tmp_path, consortium.chain_id)
    assert not is_migrated(live) and live.contracts == consortium.deployment.contracts
    ledger = consortium.ledger
    writer = ledger.call("ValidatorSet", "REGISTRY_WRITER_ROLE")
    assert ledger.call("ValidatorSet", "hasRole", writer, live.address("Consensus"))
    assert ledger.call("ValidatorSet", "activeValidatorCount") == len(consortium.validators)
    v2 = migrate(consortium.w3, tmp_path, consortium.governance)  # governance finishes it
    assert is_migrated(v2)
