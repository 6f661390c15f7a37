"""The dispute round of the worlds bench: who disputes, and how decisions become labels."""

from __future__ import annotations

import pandas as pd

from bench import oracle_worlds_disputes as disp


def _labels() -> pd.DataFrame:
    rows = [("+1a", 0, 0), ("+1a", 1, 0), ("+1s", 0, 1), ("+1s", 1, 0), ("+1q", 1, 0),
            ("+1o", 0, 0), ("+1o", 1, 0)]
    return pd.DataFrame(rows, columns=["number", "snapshot", "label"]).assign(firm=True)


def test_a_business_that_won_is_not_spam_in_every_snapshot() -> None:
    out = disp.with_disputes(_labels(), pd.DataFrame({"number": ["+1a"], "label": [0]}))
    won = out[out["number"] == "+1a"]
    assert sorted(won["snapshot"]) == [0, 1] and (won["label"] == 0).all()
    assert len(out[out["number"] == "+1o"]) == 2   # others untouched


def test_a_spam_number_that_lost_is_spam_only_where_it_was_labelled_and_at_the_latest() -> None:
    decided = pd.DataFrame({"number": ["+1s", "+1q"], "label": [1, 1]})
    out = disp.with_disputes(_labels(), decided).set_index(["number", "snapshot"])["label"]
    assert out.loc[("+1s", 0)] == 1 and out.loc[("+1s", 1)] == 1
    # "+1q" had a label only in the older snapshot 1: spam there and in the latest, 0.
    assert out.loc[("+1q", 0)] == 1 and out.loc[("+1q", 1)] == 1


def test_only_flagged_numbers_dispute_and_legitimate_subscribers_never_do() -> None:
    scores = pd.DataFrame({"number": ["b1", "b2", "s1", "p1", "n1"],
                           "verdict": ["spam", "suspicious", "spam", "spam", "not_spam"]})
    truth = pd.DataFrame({"number": ["b1", "b2", "s1", "p1", "n1"],
                          "class": ["call_centre", "bank", "robocall", "subscriber", "shop"],
                          "is_spam": [False, False, True, False, False]})
    always = {"p_business": 1.0, "p_spam": 1.0, "q": 1.0}
    decided = disp.disputes(scores, truth, always, seed=1).set_index("number")["label"]
    assert decided.to_dict() == {"b1": 0, "b2": 0, "s1": 1}
    wrong = disp.disputes(scores, truth, {**always, "q": 0.0}, seed=1)
    assert wrong.set_index("number")["label"].to_dict() == {"b1": 1, "b2": 1, "s1": 0}


def test_dispute_priors_are_drawn_per_world_and_repeatable() -> None:
    assert disp.dispute_priors(5) == disp.dispute_priors(5) != disp.dispute_priors(6)
    p = disp.dispute_priors(5)
    assert 0.2 <= p["p_business"] <= 0.9 and 0 <= p["p_spam"] <= 0.5 and 0.8 <= p["q"] <= 1
