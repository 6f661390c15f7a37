"""Model governance: registered and approved before use; no promotion on regression."""

from __future__ import annotations

import secrets

import pytest

from oracle.service import ModelGovernanceError
from oracle.service._models import metrics_of

from .conftest import approve_models, model_hash_for


def _card(p: float, r: float) -> dict:
    return {"metrics": {"BR": {"precision": p, "recall": r},
                        "overall": {"precision": 0.5, "recall": 0.5}}}


def test_card_metrics_prefer_the_country():
    assert metrics_of(_card(0.97, 0.95), "BR") == (0.97, 0.95)
    assert metrics_of(_card(0.97, 0.95), "US") == (0.5, 0.5)
    with pytest.raises(ModelGovernanceError, match="no precision"):
        metrics_of({"notes": "x"}, "BR")


def test_promote_refuses_regression_and_rollback_restores(make_operator):
    rigs = [make_operator(cc) for cc in ("BR", "US", "IN")]
    approve_models(rigs)
    br = rigs[0]
    gov = br.models
    first = gov.promote(br.model_hash, _card(0.96, 0.95))
    assert gov.current() == first

    worse = model_hash_for("BR", version=2)
    gov.register(worse, _card(0.90, 0.95))
    for other in rigs[1:]:
        other.models.approve(worse, br.chain.address)
    with pytest.raises(ModelGovernanceError, match=r"precision 0\.9000 is below"):
        gov.promote(worse)
    assert gov.current() == first

    better = model_hash_for("BR", version=3)
    gov.register(better, _card(0.955, 0.96))  # within tolerance 0.02
    with pytest.raises(ModelGovernanceError, match="not approved on-chain"):
        gov.promote(better)
    for other in rigs[1:]:
        other.models.approve(better, br.chain.address)
    assert gov.promote(better) == better.hex()
    assert gov.rollback() == first
    with pytest.raises(ModelGovernanceError, match="no previous"):
        gov.rollback()


def test_vote_naming_an_unapproved_model_is_refused_with_reason(consortium, make_operator):
    from oracle.service._scored import ScoredNumber
    from spamledger._types import Verdict

    rig = make_operator("US")
    rig.votes.set_model(model_hash_for("US", version=99))  # never registered
    number = "+1646555" + f"{secrets.randbelow(10_000):04d}"
    report = rig.votes.push([ScoredNumber(number, "US", 0.99, Verdict.SPAM,
                                                countries_reached=2)])
    action = rig.outbox.get(rig.votes.vote_id(consortium.hasher.key(number), 1))
    assert action.id in report.failed
    assert action.state == "failed" and action.error.startswith("ModelNotApproved(")


def test_approving_your_own_countrys_model_is_an_error_with_the_contracts_reason(
        make_operator):
    rigs = [make_operator(cc) for cc in ("IN", "US", "GB")]
    approve_models(rigs)
    india = rigs[0]
    with pytest.raises(ModelGovernanceError, match="SameCountryApproval"):
        india.models.approve(india.model_hash, india.chain.address)
    # approved already, not an error
    assert rigs[1].models.approve(india.model_hash, india.chain.address) is False
    assert india.models.onchain(india.model_hash)["status"] == "approved"


def test_an_operator_cannot_promote_another_countrys_model(make_operator):
    rigs = [make_operator(cc) for cc in ("IN", "US", "GB")]
    approve_models(rigs)
    us, india = rigs[1], rigs[0]
    with pytest.raises(ModelGovernanceError, match="is IN's model, not US's"):
        us.models.promote(india.model_hash, _card(0.99, 0.99))
    assert us.models.current() is None


def test_failed_votes_are_reported_per_push_and_planned_again_after_clearing(
        consortium, make_operator):
    from oracle.service._scored import ScoredNumber
    from spamledger._types import Verdict

    rigs = [make_operator(cc) for cc in ("US", "IN", "GB")]
    approve_models(rigs)
    us = rigs[0]
    us.votes.set_model(model_hash_for("US", version=77))  # never registered
    number = "+1646555" + f"{secrets.randbelow(10_000):04d}"
    rows = [ScoredNumber(number, "US", 0.99, Verdict.SPAM, countries_reached=2)]
    report = us.votes.push(rows)
    assert len(report.failed) == 1 and report.reasons == {"ModelNotApproved": 1}
    assert us.votes.push([]).failed == []  # an old failure is not this push's

    us.votes.set_model(us.model_hash)  # the right model now
    assert len(us.outbox.clear_failed()) == 1
    report = us.votes.push(rows)
    assert report.selected == 1 and report.votes_mined == 1 and report.failed == []
