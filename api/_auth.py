"""API keys: roles and country scope (rate limits live in ``api._throttle``).

A key is ``slk_`` + 32 random URL-safe bytes; only its SHA-256 is stored (the key has 256
bits of entropy, so no slow hash or salt is needed), with an 8-character prefix for display.
The key is printed once at creation and cannot be recovered.

Roles: ``telco`` (reputation, reports), ``business`` (its own disputes, single lookups),
``regulator`` (audit), ``admin`` (everything); the full matrix is ``api._access.MATRIX``.
The country scope (``"*"`` for all) is checked against the number's own country.

Example::

    key = create_key(session, role="telco", country="US", name="acme")
    principal = authenticate(session, key)
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api._errors import BadRequest, Forbidden, Unauthorized
from api._models import ApiKey
from spamledger._countries import is_country_code

logger = logging.getLogger(__name__)

ROLES = ("telco", "business", "regulator", "admin")
KEY_PREFIX = "slk_"
ANY_COUNTRY = "*"
_SIGNER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    key_id: int
    role: str
    country: str
    name: str
    signer: str = ""  # keystore the console signs with for this key ("" = none)

    def require(self, *roles: str) -> None:
        """Raise :class:`Forbidden` unless the caller has one of ``roles`` (admin always may)."""
        if self.role != "admin" and self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not do this (needs {' or '.join(roles)})")

    def require_country(self, country: str) -> None:
        """Raise :class:`Forbidden` unless ``country`` is within the key's scope."""
        if self.country not in (ANY_COUNTRY, country):
            raise Forbidden(f"key is scoped to country {self.country}, not {country}")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, *, role: str, country: str, name: str = "",
               signer: str = "") -> str:
    """Store a new key's hash and return the key itself (shown once).

    :param signer: keystore name under ``data_dir/keystore`` the console signs arbiter votes
        and model approvals with for this key ("" = the key cannot sign).
    """
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    country = country.upper()
    if country != ANY_COUNTRY and not is_country_code(country):
        raise BadRequest(f"country must be an ISO 3166 alpha-2 code or '*', not {country!r}")
    if signer and not _SIGNER.match(signer):
        raise BadRequest(f"signer must be a keystore name (letters, digits, '-', '_', '.', at "
                         f"most 64), not {signer[:70]!r}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(key_hash=hash_key(key), prefix=key[:12], name=name[:100], role=role,
                       country=country, revoked=False, created_at=time.time(),
                          signer=signer))
    session.flush()
    logger.info("created API key %s… role=%s country=%s", key[:12], role, country)
    return key


def revoke_key(session: Session, prefix: str) -> int:
    """Revoke every key starting with ``prefix``; returns how many were revoked."""
    rows = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix[:12])).all()
    for row in rows:
        row.revoked = True
    return len(rows)


def authenticate(session: Session, key: str | None) -> Principal:
    """The principal of ``key``; :class:`Unauthorized` naming why when it is not valid."""
    if not key:
        raise Unauthorized("missing API key: send it in the X-API-Key header")
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        raise Unauthorized("malformed API key")
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None:
        raise Unauthorized("unknown API key")
    if row.revoked:
        raise Unauthorized("API key revoked")
    return Principal(row.id, row.role, row.country, row.name, row.signer or "")

