"""Consortium governance: admit operators, arbiters, the relayer and the regulator.

Each operation first reads the chain and sends only what is missing, so running the same
admission twice (or after a crash half-way) is safe.

Example::

    admit_consortium(ledger, validators={addr_us: ("US", 4000)},
                     arbiters={addr_de: ("DE", 1000)}, relayers=[api], regulators=[reg])
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from node._client import Ledger
from node._errors import InvalidCountry, MembershipError
from spamledger._countries import InvalidCountry as InvalidCountryCode
from spamledger._countries import country_code

logger = logging.getLogger(__name__)

VS = "ValidatorSet"


def country_bytes(country: str) -> bytes:
    """ISO 3166-1 alpha-2 as the contracts' ``bytes2`` (``"US"`` -> ``b"US"``)."""
    try:
        return country_code(country).encode("ascii")
    except InvalidCountryCode as exc:
        raise InvalidCountry(country) from exc


def country_str(raw: bytes) -> str:
    """``bytes2`` back to ``"US"`` (empty for an unset ``0x0000``)."""
    return bytes(raw).rstrip(b"\x00").decode("ascii", errors="replace")


def admit_validator(ledger: Ledger, address: str, country: str, weight: int) -> None:
    """Admit ``address`` (or re-weight / reactivate it to match)."""
    current = ledger.call(VS, "getValidator", address)
    cc, current_weight, active = current[0], current[1], current[2]
    if cc == b"\x00\x00":
        ledger.transact(VS, "admitValidator", address, country_bytes(country), weight)
        logger.info("admitted validator %s (%s, weight %d)", address, country, weight)
        return
    if cc != country_bytes(country):
        raise MembershipError(
            f"validator {address} is admitted as {country_str(cc)}, not "
            f"{country_str(country_bytes(country))}: a validator's country cannot change "
            "(remove it and admit another address)")
    if current_weight != weight:
        ledger.transact(VS, "setValidatorWeight", address, weight)
    if not active:
        ledger.transact(VS, "reactivateValidator", address)


def set_arbiter(ledger: Ledger, address: str, country: str, weight: int) -> None:
    cc, current_weight = ledger.call(VS, "arbiterOf", address)
    if cc != country_bytes(country) or current_weight != weight:
        ledger.transact(VS, "setArbiter", address, country_bytes(country), weight)


def grant_role(ledger: Ledger, role_name: str, address: str) -> None:
    """Grant e.g. ``RELAYER_ROLE`` unless already held."""
    role = ledger.call(VS, role_name)
    if not ledger.call(VS, "hasRole", role, address):
        ledger.transact(VS, "grantRole", role, address)


def admit_consortium(ledger: Ledger, *, validators: Mapping[str, tuple[str, int]],
                     arbiters: Mapping[str, tuple[str, int]] | None = None,
                     relayers: Iterable[str] = (), regulators: Iterable[str] = ()) -> None:
    """Bring the chain's consortium to the given membership (idempotent)."""
    for address, (country, weight) in validators.items():
        admit_validator(ledger, address, country, weight)
    for address, (country, weight) in (arbiters or {}).items():
        set_arbiter(ledger, address, country, weight)
    for address in relayers:
        grant_role(ledger, "RELAYER_ROLE", address)
    for address in regulators:
        grant_role(ledger, "REGULATOR_ROLE", address)
