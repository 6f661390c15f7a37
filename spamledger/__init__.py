"""SpamLedger core: the settings table, the CLI and the shared primitives.

Shared pure logic (phone number normalization, keyed number hashes, EIP-712 types) lives
here once and is imported by ``oracle``, ``node`` and ``api``.
"""

from spamledger._countries import COUNTRY_CODES, InvalidCountry, country_code, is_country_code
from spamledger._errors import SpamLedgerError
from spamledger._keyhash import NumberHasher, SecretError
from spamledger._numbers import InvalidNumber, Number, normalize, normalize_many
from spamledger._settings import SETTINGS, Setting, Settings, SettingsError, load_settings

__all__ = [
    "COUNTRY_CODES",
    "SETTINGS",
    "InvalidCountry",
    "InvalidNumber",
    "Number",
    "NumberHasher",
    "SecretError",
    "Setting",
    "Settings",
    "SettingsError",
    "SpamLedgerError",
    "country_code",
    "is_country_code",
    "load_settings",
    "normalize",
    "normalize_many",
]
