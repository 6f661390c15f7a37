"""Evidence documents carry keyed hashes only: anything phone-like is refused."""

from __future__ import annotations

import pytest

from oracle.service._evidence import RawNumberInEvidence, build_evidence, check_no_raw_numbers

KEY = "0x" + "ab" * 32


def _doc(**kw):
    args = dict(number_key=KEY, operator="us", country="US", model_hash="0x" + "cd" * 32,
                score_bps=9100, verdict=3, category=3, confidence=8000,
                features={"calls_24h": 412.0, "short_share": 0.8, "nan": float("nan")},
                reasons=["many distinct callees"], reports={"spam": 14})
    args.update(kw)
    return build_evidence(**args)


def test_document_names_the_number_only_by_its_key():
    doc = _doc()
    assert doc["numberKey"] == KEY and doc["features"] == {"calls_24h": 412.0,
                                                           "short_share": 0.8}
    assert _doc() == doc  # deterministic: same vote, same CID


@pytest.mark.parametrize("leak", ["called +1 415-555-0123", "(415) 555 0123",
                                  "4155550123", "+447400123456"])
def test_phone_like_text_is_refused(leak):
    with pytest.raises(RawNumberInEvidence, match="looks like a phone number"):
        _doc(reasons=[leak])
    with pytest.raises(RawNumberInEvidence):
        _doc(features={leak: 1.0})


def test_dates_and_small_numbers_pass():
    check_no_raw_numbers({"window": {"until": "2026-01-17T11:59:57.860284+00:00"},
                          "note": "14 reports in 24 h, 3 countries", "v": 123456})
