"""Peers' models travel through the chain and IPFS: published at registration, fetched by
the CIDs the on-chain card names, checked against the card's hash, never unpickled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oracle
from oracle.service import ModelGovernanceError
from oracle.service._peers import approved_peer_registrations, fetch_peer_models

from .conftest import model_hash_for


def _trained(tmp_path: Path, seed: int) -> tuple[oracle.Model, Path, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    y = (rng.random(400) < 0.3).astype(int)
    table = pd.DataFrame({"number": [f"+1415555{i:04d}" for i in range(400)],
                          "country": "US", "f1": rng.normal(y * 2.0, 1.0),
                          "f2": rng.normal(y, 1.0), "label": y})
    model = oracle.train(table, None, oracle.TrainConfig(max_iter=15, folds=2))
    out = tmp_path / f"model-{seed}"
    oracle.save_model(model, out)
    return model, out, table.drop(columns=["label"])


def _approve(rigs, owner_rig, model_hash: bytes) -> None:
    for rig in rigs:
        if rig is not owner_rig:
            rig.models.approve(model_hash, owner_rig.chain.address)


def test_an_approved_peer_model_is_fetched_by_its_card_and_scores_the_same(
        make_operator, tmp_path: Path) -> None:
    gb, us, br = (make_operator(cc) for cc in ("GB", "US", "BR"))
    model, folder, frame = _trained(tmp_path, 1)
    card = json.loads((folder / "model_card.json").read_text())
    cid = gb.models.register(model.hash, card, folder)
    published = us.models.evidence.get(cid)
    assert published["portable_sha256"] == model.portable_hash
    assert set(published["portable"]) == {"json", "npz"}
    # Registering again (a re-run) keeps the card as it went into IPFS.
    assert gb.models.register(model.hash, card) == cid
    assert gb.models.card(model.hash)["portable"] == published["portable"]
    _approve([us, br], gb, bytes.fromhex(model.hash))

    fetched, _skipped = fetch_peer_models(us.chain, us.models.evidence.store, tmp_path / "p")
    mine = [p for p in fetched if p.owner == gb.chain.address]
    assert len(mine) == 1 and mine[0].model_hash == "0x" + model.hash
    peer = oracle.load_portable(mine[0].directory, expected_sha256=model.portable_hash)
    original = oracle.load_portable(folder, expected_sha256=model.portable_hash)
    np.testing.assert_array_equal(peer.probability(frame), original.probability(frame))
    assert mine[0].as_flag().endswith("=" + model.portable_hash)


def test_a_pending_model_is_not_offered_and_a_card_without_portable_copy_is_skipped(
        make_operator, tmp_path: Path) -> None:
    in_, us, br, gb = (make_operator(cc) for cc in ("IN", "US", "BR", "GB"))
    pending = model_hash_for("IN", version=77)
    in_.models.register(pending, {"metrics": {"overall": {"precision": 1, "recall": 1}}})
    offered = {r["model_hash"] for r in approved_peer_registrations(us.chain)}
    assert "0x" + pending.hex() not in offered

    _approve([us, br, gb], in_, pending)
    fetched, skipped = fetch_peer_models(us.chain, us.models.evidence.store, tmp_path / "p")
    assert not [p for p in fetched if p.owner == in_.chain.address]
    reasons = [s["reason"] for s in skipped if s["owner"] == in_.chain.address]
    assert len(reasons) == 1 and "no portable copy" in reasons[0]


def test_a_card_whose_portable_copy_is_another_model_is_refused(
        make_operator, tmp_path: Path) -> None:
    br, us, gb = (make_operator(cc) for cc in ("BR", "US", "GB"))
    model, folder, _ = _trained(tmp_path, 2)
    _, other_folder, _ = _trained(tmp_path, 3)
    card = json.loads((folder / "model_card.json").read_text())
    with pytest.raises(ModelGovernanceError, match="portable_sha256"):
        br.models.register(model.hash, card, other_folder)
    # A card that lies: it names the other model's files but this model's hash.
    store = br.models.evidence.store
    links = {"json": store.put_bytes((other_folder / "portable.json").read_bytes(),
                                     "application/json"),
             "npz": store.put_bytes((other_folder / "portable.npz").read_bytes(),
                                    "application/x-npz")}
    br.models.register(model.hash, card | {"portable": links})
    _approve([us, gb], br, bytes.fromhex(model.hash))
    fetched, skipped = fetch_peer_models(us.chain, store, tmp_path / "p")
    assert not [p for p in fetched if p.owner == br.chain.address]
    reason = [s["reason"] for s in skipped if s["owner"] == br.chain.address]
    assert len(reason) == 1 and "the card says" in reason[0]
    assert not list((tmp_path / "p").glob("BR-*"))
