"""ISO 3166-1 alpha-2 country codes: the one check every command and file reader uses.

A code is accepted when it is two ASCII letters naming a region libphonenumber knows (the
ISO 3166-1 alpha-2 codes, plus the few reserved codes that have their own numbering plan,
such as ``AC`` and ``XK``): a country whose numbers cannot be read is no use to the ledger.
Lower case is accepted and returned upper-cased; ``USA``, ``XX`` and ``ZZ`` are not codes.

Example::

    >>> country_code(" gb ")
    'GB'
"""

from __future__ import annotations

import phonenumbers

from spamledger._errors import SpamLedgerError

COUNTRY_CODES: frozenset[str] = frozenset(
    r for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2 and r.isalpha())


class InvalidCountry(SpamLedgerError, ValueError):
    """Not an ISO 3166-1 alpha-2 country code."""

    def __init__(self, raw: object):
        self.raw = raw
        super().__init__(f"not an ISO 3166-1 alpha-2 country code: {raw!r} "
                         "(two letters, e.g. US, GB, IN)")


def country_code(raw: object) -> str:
    """``raw`` as an upper-case ISO alpha-2 code; raises :class:`InvalidCountry` otherwise."""
    code = str(raw if raw is not None else "").strip().upper()
    if code not in COUNTRY_CODES:
        raise InvalidCountry(raw)
    return code


def is_country_code(raw: object) -> bool:
    """True when :func:`country_code` accepts ``raw``."""
    return str(raw if raw is not None else "").strip().upper() in COUNTRY_CODES
