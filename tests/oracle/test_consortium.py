"""Learning together: peers' portable models add soft spam labels, never firm ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oracle
from oracle import LabelError, add_peer_labels, load_portable, peer_votes

from .conftest import SCORE_UNTIL


@pytest.fixture(scope="module")
def features(sim: dict[str, Path]) -> pd.DataFrame:
    return oracle.build_features(sim["calls"], sim["reports"], until=SCORE_UNTIL)


def test_peers_fill_unlabelled_and_soft_rows_but_never_firm_ones(trained: Path,
                                                                 features) -> None:
    peer = load_portable(trained)
    spam = peer.probability(features) >= peer.spam_threshold(features)
    assert spam.sum() >= 5
    called = features.loc[spam, "number"].tolist()
    # Own labels: one peer-spam number firm "not spam", one soft "not spam", rest unlabelled.
    own = pd.DataFrame({"number": called[:2], "label": [0, 0], "firm": [True, False]})
    out = add_peer_labels(features, own, [peer, peer, peer])
    by = out.set_index("number")
    assert by.loc[called[0], "label"] == 0 and bool(by.loc[called[0], "firm"])
    assert by.loc[called[1], "label"] == 1 and not bool(by.loc[called[1], "firm"])
    added = by.loc[called[2:]]
    assert (added["label"] == 1).all() and (~added["firm"].astype(bool)).all()
    assert len(out) == len(set(called)) and out["number"].is_unique


def test_a_label_needs_two_thirds_of_the_peers(trained: Path, features) -> None:
    peer = load_portable(trained)
    votes = peer_votes(features, [peer])
    assert set(np.unique(votes)) <= {0, 1}
    # Against one peer that agrees and two that never do, nothing is labelled.
    never = load_portable(trained)
    for cm in never.countries.values():
        cm.spam_threshold = 2.0
    none = add_peer_labels(features, features[["number"]].iloc[:0].assign(label=0, firm=True),
                           [peer, never, never])
    assert none.empty
    with pytest.raises(LabelError, match="share"):
        add_peer_labels(features, none, [peer], min_share=0)


def test_training_with_peers_records_them_in_the_model_card(sim: dict[str, Path],
                                                            trained: Path) -> None:
    peer = load_portable(trained, owner="GB")
    _feats, labels, window, _ = oracle.training_data(sim["calls"], sim["reports"],
                                                     until=SCORE_UNTIL, peers=[peer],
                                                     snapshots=1)
    assert window["peers"] == [{"owner": "GB", "portable_sha256": peer.digest}]
    assert (~labels["firm"]).any()
