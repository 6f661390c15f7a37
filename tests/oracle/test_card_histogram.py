"""The model card records the training window's out-of-fold score distribution (the console's
drift page compares a week's scores with it)."""

from __future__ import annotations

import json
from pathlib import Path

from spamledger._drift import SCORE_EDGES, valid_histogram


def test_the_card_records_each_models_out_of_fold_score_histogram(trained: Path) -> None:
    card = json.loads((trained / "model_card.json").read_text())
    for key, entry in card["countries"].items():
        hist = valid_histogram(entry["score_histogram"])
        assert hist is not None, key
        assert hist["edges"] == list(SCORE_EDGES)
        # every labelled row (firm and soft) of the group, scored out of fold
        assert hist["total"] >= entry["numbers"] > 0, key
        # labelled spam scores high, most labelled numbers score low
        assert sum(hist["counts"][SCORE_EDGES.index(0.5):]) > 0, key
        assert sum(hist["counts"][:SCORE_EDGES.index(0.1)]) > hist["total"] / 4, key
