"""API errors: one hierarchy, each class carrying its HTTP status and a short code.

::

    SpamLedgerError
    └── ApiError                      500 internal
        ├── BadRequest                400 bad_request
        ├── Unauthorized              401 unauthorized   (no key, unknown or revoked key)
        ├── Forbidden                 403 forbidden      (role or country scope)
        ├── NotFound                  404 not_found
        ├── Conflict                  409 conflict
        ├── PayloadTooLarge           413 too_large      (batch size, file size)
        ├── Unprocessable             422 invalid        (bad number, bad field)
        ├── RateLimited               429 rate_limited   (carries retry_after seconds)
        ├── UpstreamUnavailable       503 unavailable    (chain or IPFS unreachable)
        └── StoreError                500 store_error    (database failure)

Every error renders as JSON ``{"error": code, "detail": text}``.
"""

from __future__ import annotations

from spamledger._errors import SpamLedgerError


class ApiError(SpamLedgerError):
    """Base of API errors; ``status`` is the HTTP status, ``code`` the JSON error code."""

    status = 500
    code = "internal"

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(detail)

    def body(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.detail}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "too_large"


class Unprocessable(ApiError):
    status, code = 422, "invalid"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, detail: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(detail)


class UpstreamUnavailable(ApiError):
    status, code = 503, "unavailable"


class StoreError(ApiError):
    status, code = 500, "store_error"
