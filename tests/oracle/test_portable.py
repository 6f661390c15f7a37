"""Models that cross operators: the portable copy scores like the pickle and is checked."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

import oracle
from oracle import ModelError, load_model, load_portable
from oracle._portable import JSON_FILE, NPZ_FILE

from .conftest import SCORE_UNTIL


@pytest.fixture(scope="module")
def features(sim: dict[str, Path]):
    return oracle.build_features(sim["calls"], sim["reports"], until=SCORE_UNTIL)


def _pickled_probability(model: oracle.Model, frame) -> np.ndarray:
    x = model.matrix(frame)
    nets = frame["network"].astype(str).to_numpy()
    out = np.zeros(len(frame))
    for net in np.unique(nets):
        sel = nets == net
        out[sel] = model.model_for(net).probability(x[sel])
    return out


def test_portable_copy_gives_the_pickled_models_probabilities(trained: Path,
                                                              features) -> None:
    model = load_model(trained)
    peer = load_portable(trained, expected_sha256=model.portable_hash)
    np.testing.assert_allclose(peer.probability(features),
                               _pickled_probability(model, features), rtol=0, atol=1e-12)
    assert peer.digest == json.loads((trained / "model_card.json").read_text())[
        "portable_sha256"]


def test_unknown_and_missing_categories_are_walked_like_scikit_learn(trained: Path,
                                                                      features) -> None:
    model = load_model(trained)
    odd = features.copy()
    odd.loc[odd.index[::3], "number_type"] = 97      # a category never seen in training
    odd.loc[odd.index[1::3], "number_type"] = np.nan
    odd.loc[odd.index[2::5], "answer_rate"] = np.nan
    peer = load_portable(trained)
    np.testing.assert_allclose(peer.probability(odd), _pickled_probability(model, odd),
                               rtol=0, atol=1e-12)


def test_a_portable_model_with_another_hash_than_pinned_is_refused(trained: Path) -> None:
    with pytest.raises(ModelError, match="not the expected"):
        load_portable(trained, expected_sha256="0" * 64)


def test_tampered_arrays_are_refused(trained: Path, tmp_path: Path) -> None:
    copy = tmp_path / "peer"
    shutil.copytree(trained, copy)
    with zipfile.ZipFile(copy / NPZ_FILE, "a") as z:   # one array more than described
        z.writestr("extra.npy", b"\x93NUMPY")
    with pytest.raises(ModelError, match="does not match"):
        load_portable(copy)


def test_a_doctored_description_fails_its_pinned_hash(trained: Path, tmp_path: Path) -> None:
    copy = tmp_path / "peer"
    shutil.copytree(trained, copy)
    doc = json.loads((copy / JSON_FILE).read_text())
    doc["countries"]["*"]["spam_threshold"] = 0.0001  # a peer that would call all spam
    (copy / JSON_FILE).write_text(json.dumps(doc))
    pinned = load_model(trained).portable_hash
    with pytest.raises(ModelError, match="not the expected"):
        load_portable(copy, expected_sha256=pinned)


def test_the_portable_files_hold_no_pickle(trained: Path) -> None:
    with np.load(trained / NPZ_FILE, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    assert b"pickle" not in (trained / JSON_FILE).read_bytes()
