"""Phone number normalization to E.164, shared by the oracle and the API.

Parsing with libphonenumber costs ~50 µs a number; call files repeat the same strings
millions of times, so callers normalize each *distinct* raw string once
(:func:`normalize_many`) and join the result back.

Example::

    >>> normalize("(415) 555-0123", "US").e164
    '+14155550123'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from spamledger._errors import SpamLedgerError

# Raw strings longer than this are refused before parsing (input limit).
MAX_RAW_LENGTH = 64

_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixed",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}

NUMBER_TYPES: tuple[str, ...] = tuple(sorted(set(_TYPE_NAMES.values())))

_HAS_LETTERS = re.compile(r"[A-Za-z]")


class InvalidNumber(SpamLedgerError, ValueError):
    """A raw string that is not a valid phone number; ``reason`` is a short code."""

    def __init__(self, raw: str, reason: str, detail: str = ""):
        self.raw = raw
        self.reason = reason
        super().__init__(f"{raw!r}: {reason}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True, slots=True)
class Number:
    """A normalized number: E.164 string, ISO region and libphonenumber type name."""

    e164: str
    region: str
    type: str


def normalize(raw: str, region: str | None = None) -> Number:
    """Parse ``raw`` (E.164, international or national in ``region``) to a :class:`Number`.

    Raises :class:`InvalidNumber` with reason ``empty``, ``too_long_input``, ``not_a_number``,
    ``too_short``, ``too_long``, ``invalid_country_code`` or ``invalid_for_region``.
    """
    return _normalize_cached(raw, (region or "").upper() or None)


@functools.lru_cache(maxsize=1 << 18)
def _normalize_cached(raw: str, region: str | None) -> Number:
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber(raw, "empty")
    if len(text) > MAX_RAW_LENGTH:
        raise InvalidNumber(raw[:MAX_RAW_LENGTH] + "…", "too_long_input",
                            f"over {MAX_RAW_LENGTH} characters")
    if _HAS_LETTERS.search(text) and not text.lower().startswith(("tel:", "sip:")):
        raise InvalidNumber(raw, "not_a_number", "contains letters")
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidNumber(raw, _parse_reason(exc), str(exc)) from exc
    return _validated(raw, parsed)


def _parse_reason(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
        NumberParseException.NOT_A_NUMBER: "not_a_number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
        NumberParseException.TOO_SHORT_NSN: "too_short",
        NumberParseException.TOO_LONG: "too_long",
    }.get(exc.error_type, "not_a_number")


def _validated(raw: str, parsed: phonenumbers.PhoneNumber) -> Number:
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible == phonenumbers.ValidationResult.TOO_SHORT:
        raise InvalidNumber(raw, "too_short")
    if possible in (phonenumbers.ValidationResult.TOO_LONG,
                    phonenumbers.ValidationResult.INVALID_LENGTH):
        raise InvalidNumber(raw, "too_long" if possible ==
                            phonenumbers.ValidationResult.TOO_LONG else "invalid_length")
    if possible == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        raise InvalidNumber(raw, "invalid_country_code")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(raw, "invalid_for_region")
    region = phonenumbers.region_code_for_number(parsed) or "ZZ"
    kind = _TYPE_NAMES.get(phonenumbers.number_type(parsed), "unknown")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Number(e164, region, kind)


def normalize_many(
    pairs: Iterable[tuple[str, str | None]],
) -> dict[tuple[str, str | None], Number | InvalidNumber]:
    """Normalize each distinct ``(raw, region)`` pair once; errors are returned, not raised."""
    out: dict[tuple[str, str | None], Number | InvalidNumber] = {}
    for raw, region in pairs:
        key = (raw, region)
        if key in out:
            continue
        try:
            out[key] = normalize(raw, region)
        except InvalidNumber as exc:
            out[key] = exc
    return out
