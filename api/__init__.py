"""The SpamLedger API: FastAPI app for telcos, businesses and regulators, plus the indexer
that follows every contract event into SQL (SQLite by default, PostgreSQL in production).

Errors (see ``api/_errors.py``)::

    SpamLedgerError
    └── ApiError (status 500)
        ├── BadRequest 400, Unauthorized 401, Forbidden 403, NotFound 404, Conflict 409
        ├── PayloadTooLarge 413, Unprocessable 422, RateLimited 429 (retry_after)
        ├── UpstreamUnavailable 503 (chain or IPFS)
        └── StoreError 500 (database)
"""

from typing import TYPE_CHECKING

from api._errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    StoreError,
    Unauthorized,
    Unprocessable,
    UpstreamUnavailable,
)
from spamledger._lazy import lazy_exports

if TYPE_CHECKING:
    from api._access import MATRIX, matrix_markdown, roles_for
    from api._app import create_app
    from api._auth import ROLES, Principal, authenticate, create_key, revoke_key
    from api._chain import Chain, Evidence
    from api._db import database_url, make_engine, migrate, session_scope
    from api._epochs import load_pending_epochs
    from api._indexer import Indexer, SyncResult
    from api._limits import BodyRejected, Gate, JsonDepth, max_depth, sane_recursion_limit
    from api._throttle import AuthThrottle, RateLimiter

# Loaded on first use (see spamledger/_lazy.py): `spamledger --help` stays fast.
__getattr__ = lazy_exports(__name__, {
    "AuthThrottle": "api._throttle",
    "BodyRejected": "api._limits",
    "Chain": "api._chain",
    "Evidence": "api._chain",
    "Gate": "api._limits",
    "Indexer": "api._indexer",
    "JsonDepth": "api._limits",
    "MATRIX": "api._access",
    "Principal": "api._auth",
    "ROLES": "api._auth",
    "RateLimiter": "api._throttle",
    "SyncResult": "api._indexer",
    "authenticate": "api._auth",
    "create_app": "api._app",
    "create_key": "api._auth",
    "database_url": "api._db",
    "load_pending_epochs": "api._epochs",
    "make_engine": "api._db",
    "matrix_markdown": "api._access",
    "max_depth": "api._limits",
    "migrate": "api._db",
    "revoke_key": "api._auth",
    "roles_for": "api._access",
    "sane_recursion_limit": "api._limits",
    "session_scope": "api._db",
})

__all__ = [
    "MATRIX",
    "ROLES",
    "ApiError",
    "AuthThrottle",
    "BadRequest",
    "BodyRejected",
    "Chain",
    "Conflict",
    "Evidence",
    "Forbidden",
    "Gate",
    "Indexer",
    "JsonDepth",
    "NotFound",
    "PayloadTooLarge",
    "Principal",
    "RateLimited",
    "RateLimiter",
    "StoreError",
    "SyncResult",
    "Unauthorized",
    "Unprocessable",
    "UpstreamUnavailable",
    "authenticate",
    "create_app",
    "create_key",
    "database_url",
    "load_pending_epochs",
    "make_engine",
    "matrix_markdown",
    "max_depth",
    "migrate",
    "revoke_key",
    "roles_for",
    "sane_recursion_limit",
    "session_scope",
]
