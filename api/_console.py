"""Web console sessions: an API key turned into a cookie session with a CSRF token.

Signing in checks the key exactly as the API does (:func:`api._auth.authenticate`: unknown
and revoked keys refused, failures throttled per client address) and stores only the SHA-256
of a fresh random session token, with a per-session CSRF token and an absolute expiry
(``console_session_seconds``). The cookie is ``HttpOnly`` and ``SameSite=Strict`` (and
``Secure`` with ``console_cookie_secure``). Every request re-reads the session and its key:
a revoked key ends its sessions at once. Every form carries the CSRF token; a POST without
it, or with another session's, is refused (403) before anything is done. The sign-in form
itself has no session yet: it is protected by a double-submit token (cookie + field).

Example::

    token, user = sign_in(session, key, lifetime=3600)
    user = load_user(session, token)          # Unauthorized once expired or revoked
    check_csrf(user.csrf, form.get("csrf"))   # Forbidden unless equal
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api._auth import Principal, authenticate, hash_key
from api._errors import Forbidden, Unauthorized
from api._models import ApiKey, ConsoleSession

logger = logging.getLogger(__name__)

SESSION_COOKIE = "slc_session"
PRESIGN_COOKIE = "slc_presign"  # double-submit CSRF token of the sign-in form
CSRF_FIELD = "csrf"
TOKEN_MAX = 100


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A signed-in console user: the key's principal, the session's CSRF token, its expiry."""

    who: Principal
    csrf: str
    expires_at: float

    @property
    def role(self) -> str:
        return self.who.role


def sign_in(session: Session, key: str | None, lifetime: int) -> tuple[str, ConsoleUser]:
    """A new session for ``key``: ``(cookie token, user)``; :class:`Unauthorized` naming why
    the key is refused. Expired sessions are purged on the way."""
    who = authenticate(session, (key or "").strip())
    now = time.time()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    session.add(ConsoleSession(token_hash=hash_key(token), api_key_id=who.key_id, csrf=csrf,
                               created_at=now, expires_at=now + lifetime))
    logger.info("console sign-in: key %d role=%s country=%s", who.key_id, who.role,
                who.country)
    return token, ConsoleUser(who, csrf, now + lifetime)


def load_user(session: Session, token: str | None) -> ConsoleUser:
    """The user of a session cookie; :class:`Unauthorized` naming why there is none."""
    if not token or len(token) > TOKEN_MAX:
        raise Unauthorized("not signed in")
    found = session.execute(select(ConsoleSession, ApiKey)
                            .join(ApiKey, ApiKey.id == ConsoleSession.api_key_id)
                            .where(ConsoleSession.token_hash == hash_key(token))).first()
    if found is None:
        raise Unauthorized("not signed in (unknown or signed-out session)")
    row, key = found
    if row.expires_at <= time.time():
        raise Unauthorized("session expired: sign in again")
    if key.revoked:
        raise Unauthorized("API key revoked")
    who = Principal(key.id, key.role, key.country, key.name, key.signer or "")
    return ConsoleUser(who, row.csrf, row.expires_at)


def sign_out(session: Session, token: str | None) -> int:
    """End the session of ``token``; how many sessions were ended (0 or 1)."""
    if not token or len(token) > TOKEN_MAX:
        return 0
    result = session.execute(delete(ConsoleSession)
                             .where(ConsoleSession.token_hash == hash_key(token)))
    return int(getattr(result, "rowcount", 0) or 0)


def check_csrf(expected: str | None, given: object) -> None:
    """:class:`Forbidden` unless the form's token equals the session's (constant time)."""
    if not isinstance(given, str) or not given:
        raise Forbidden("missing CSRF token: reload the page and submit the form again")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise Forbidden("CSRF token does not match this session: reload the page and submit "
                        "the form again")


def flash_sig(user: ConsoleUser, message: str) -> str:
    """A short HMAC of ``message`` under the session's CSRF token."""
    return hmac.new(user.csrf.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def flash(user: ConsoleUser, message: str, sig: str) -> str:
    """``message`` when ``sig`` is this session's signature of it, else nothing."""
    if message and sig and hmac.compare_digest(flash_sig(user, message), sig):
        return message
    return ""


def new_token() -> str:
    """A fresh random token (the sign-in form's double-submit CSRF token)."""
    return secrets.token_urlsafe(32)
