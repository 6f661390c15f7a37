"""The look-alike analysis finds the pairs the priors make alike, and caps a world's recall
only where the spam class draws no more complaints than its legitimate look-alike."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bench import oracle_identifiability as ident
from oracle._simulate import BEHAVIOURS, World


def _world(**reports: float) -> World:
    behaviours = {c: replace(b, report=reports.get(c, b.report)) for c, b in BEHAVIOURS.items()}
    return World(behaviours=behaviours)


def _run(seed: int = 7, telemarketers: int = 20) -> dict:
    return {"seed": seed, "spam_classes": {
        "telemarketer": {"numbers": telemarketers, "recall": 0.05},
        "robocall": {"numbers": 100 - telemarketers, "recall": 1.0}}}


def test_telemarketers_look_like_call_centres_and_robocallers_like_nobody():
    found = ident.pairs()
    assert ("telemarketer", "call_centre") in found
    assert not [p for p in found if p[0] in ("robocall", "wangiri", "sim_box")]
    assert not [p for p in found if p[1] in ("subscriber", "new_subscriber")]


def test_a_far_lower_volume_is_not_a_look_alike():
    quiet = replace(BEHAVIOURS["telemarketer"], per_day=1.0)
    assert not ident.look_alike(quiet, BEHAVIOURS["call_centre"])


def test_reversed_world_caps_recall_by_the_spam_class_share(monkeypatch):
    monkeypatch.setattr(ident, "draw_world",
                        lambda seed: _world(telemarketer=0.001, call_centre=0.002,
                                            courier=0.0001))
    rows = ident.reversed_pairs(_run(), [("telemarketer", "call_centre"),
                                         ("telemarketer", "courier")])
    assert [(r["spam"], r["legit"]) for r in rows] == [("telemarketer", "call_centre")]
    assert rows[0]["share"] == pytest.approx(0.2)
    assert rows[0]["cap"] == pytest.approx(1 - 0.2 * 0.98)


def test_spam_drawing_more_complaints_is_not_capped(monkeypatch):
    monkeypatch.setattr(ident, "draw_world",
                        lambda seed: _world(telemarketer=0.01, call_centre=0.002))
    assert ident.reversed_pairs(_run(), [("telemarketer", "call_centre")]) == []


def test_a_spam_class_with_two_reversed_look_alikes_counts_once(monkeypatch):
    monkeypatch.setattr(ident, "draw_world",
                        lambda seed: _world(telemarketer=0.0001, call_centre=0.002,
                                            courier=0.001))
    s = ident.summarize([_run(1, telemarketers=6), _run(2, telemarketers=20)],
                        [("telemarketer", "call_centre"), ("telemarketer", "courier")])
    assert len(s["rows"]) == 4
    assert s["reversed_worlds"] == 2
    # 1 - 0.06 * 0.98 = 0.94 reaches 0.90; counted twice it would be 0.88 and fall short
    assert s["below_target"] == [2]
    assert s["capped_share"] == 0.5


def test_complaint_reach_is_the_poisson_chance_of_two_confirmed_complaints():
    world = replace(_world(), wrong_report_share=0.0)
    b = world.behaviours["telemarketer"]
    lam = b.per_day * 7.5 * b.answer * b.report      # life (3 + 12) / 2 days
    assert ident.complaint_reach(world, "telemarketer") == pytest.approx(
        1 - math.exp(-lam) * (1 + lam))
    silent = _world(telemarketer=0.0)
    assert ident.complaint_reach(silent, "telemarketer") == 0.0


def test_conduct_labels_follow_the_priors():
    assert ident.conduct_label(BEHAVIOURS["robocall"]) == "sequential dialling"
    assert ident.conduct_label(BEHAVIOURS["spoofer"]) == "sequential dialling"
    assert ident.conduct_label(BEHAVIOURS["scam"]) == "quiet hours"
    assert ident.conduct_label(BEHAVIOURS["telemarketer"]) == "none"
