"""Country rules: loading, unknown keys, never-spam lists and telemarketer ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oracle import RulesError, load_rules
from oracle._rules import load_country_rules
from oracle._score import _apply_rules


def test_packaged_rules_cover_the_simulated_countries() -> None:
    rules = load_rules()
    assert {"US", "IN", "BR", "GB"} <= set(rules)
    assert rules["IN"].is_registered_telemarketer("+911401234567")
    assert not rules["IN"].is_registered_telemarketer("+919812345678")
    assert rules["US"].quiet_hours.start == 21


@pytest.mark.parametrize("text, match", [
    ("country: US\nnever_spam: []\nwhitelist: []\n", "unknown key"),
    ("country: US\nquiet_hours: {start: 21, end: 8, maximum: 0.2}\n", "quiet_hours.maximum"),
    ("country: US\nthresholds: {spam: 0.9, hot: 0.1}\n", "thresholds.hot"),
    ("country: GB\n", "does not match"),
    ("country: US\nthresholds: {spam: 1.5}\n", "within 0..1"),
    ("country: US\nregistered_telemarketers: ['140']\n", "E.164 prefix"),
    ("country: US\nnever_spam: ['call me']\n", "neither a number"),
])
def test_bad_rules_fail_at_load(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "US.yaml"
    path.write_text(text)
    with pytest.raises(RulesError, match=match):
        load_country_rules(path)


def test_never_spam_entries_numbers_short_codes_and_prefixes(tmp_path: Path) -> None:
    path = tmp_path / "US.yaml"
    path.write_text("country: US\nnever_spam: ['(415) 555-0123', '911', '+1800*']\n")
    rules = load_country_rules(path)
    assert rules.is_never_spam("+14155550123")
    assert rules.is_never_spam("+18005550100")
    assert rules.is_never_spam("", national="911")
    assert not rules.is_never_spam("+14155550124")


def _scored(numbers: list[str], quiet: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(numbers)
    out = pd.DataFrame({"number": numbers, "country": ["IN"] * n, "score": [0.99] * n,
                        "verdict": ["spam"] * n, "category": ["robocall"] * n,
                        "reasons": ["x"] * n, "model": ["h"] * n})
    return out, pd.DataFrame({"number": numbers, "quiet_share": np.array(quiet)})


def test_registered_telemarketer_is_capped_unless_calling_in_quiet_hours() -> None:
    out, frame = _scored(["+911401234567", "+911401234568", "+919812345678"],
                         [0.0, 0.5, 0.0])
    _apply_rules(out, frame, load_rules())
    assert list(out["verdict"]) == ["suspicious", "spam", "spam"]
    assert out.at[0, "category"] == "telemarketing"
    assert "quiet hours" in out.at[1, "reasons"]


def test_never_spam_list_overrides_the_model(tmp_path: Path) -> None:
    (tmp_path / "IN.yaml").write_text("country: IN\nnever_spam: ['+919812345678']\n")
    out, frame = _scored(["+919812345678"], [0.0])
    _apply_rules(out, frame, load_rules(tmp_path))
    assert out.at[0, "verdict"] == "not_spam" and "never-spam" in out.at[0, "reasons"]
