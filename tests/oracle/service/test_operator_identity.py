"""Operators get their own folders; bad identities are refused."""

from __future__ import annotations

import pytest

from oracle.service import Operator, OperatorError
from spamledger._settings import load_settings


def test_two_operators_never_share_state(tmp_path):
    us = Operator.create(tmp_path, "us").ensure_dirs()
    gb = Operator.create(tmp_path, "GB").ensure_dirs()
    assert us.country == "US" and us.name == "us"
    assert us.state_dir != gb.state_dir and us.outbox_path != gb.outbox_path
    assert us.drop_dir.is_dir() and gb.model_dir.is_dir()


def test_operator_from_settings_takes_explicit_paths(tmp_path):
    settings = load_settings(overrides={"data_dir": tmp_path, "operator_country": "IN",
                                        "operator_drop_dir": tmp_path / "incoming"},
                             environ={})
    op = Operator.from_settings(settings)
    assert op.name == "in" and op.drop_dir == (tmp_path / "incoming").resolve()
    assert op.keystore == (tmp_path / "keystore" / "in.json").resolve()


@pytest.mark.parametrize("country", ["", "USA", "1A"])
def test_bad_country_is_refused(tmp_path, country):
    with pytest.raises(OperatorError, match="country"):
        Operator.create(tmp_path, country)


def test_missing_keystore_is_named(tmp_path):
    op = Operator.create(tmp_path, "BR")
    with pytest.raises(OperatorError, match="no keystore"):
        op.load_account("pw")
