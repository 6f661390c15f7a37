"""Limits that hold before a request can do damage: key first, then a bounded body.

:class:`Gate` is pure ASGI middleware in front of every route. For ``/v1/...`` it
authenticates the ``X-API-Key`` header, checks the role against the matrix
(:mod:`api._access`) and spends a rate-limit token BEFORE a byte of the body is read (a
client whose address keeps failing authentication is refused without a database lookup;
behind a reverse proxy the address comes from :mod:`api._proxies`);
then it hands the app a ``receive`` that counts the body while it streams
in (413 past the route's limit, whatever Content-Length claimed), checks JSON nesting depth
(400 past ``api_json_max_depth``, before any parser sees the body) and gives up
on a client that pauses longer than ``api_read_timeout`` (408).

The body limits raise :class:`BodyRejected`, a Starlette ``HTTPException``: FastAPI re-raises
those from body parsing unchanged, so the error handler renders them as ``{"error",
"detail"}``; the gate renders any that escape the app itself.

Example::

    app.add_middleware(Gate, ctx=context)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api._access import roles_for
from api._auth import Principal, authenticate
from api._errors import ApiError, Forbidden, RateLimited
from api._proxies import client_address

logger = logging.getLogger(__name__)

# py_ecc (imported with web3) raises the recursion limit to 100,000 at import: deep enough
# for one hostile JSON body to overflow the C stack and kill the process. Pure-Python
# recursion here never needs more than this.
SANE_RECURSION_LIMIT = 4000
# Seconds a validated key is trusted without a database read (bounds revocation delay on
# every worker: a revoked key stops working within this time).
KEY_CACHE_SECONDS = 1.0
# Multipart framing and form fields on top of the evidence files themselves.
UPLOAD_OVERHEAD_BYTES = 256 * 1024
PRINCIPAL_SCOPE_KEY = "spamledger.principal"
UPLOAD_PATHS = ("/v1/disputes", "/console/business/disputes")



def sane_recursion_limit() -> int:
    """Lower the interpreter's recursion limit back to :data:`SANE_RECURSION_LIMIT`."""
    if sys.getrecursionlimit() > SANE_RECURSION_LIMIT:
        logger.info("recursion limit %d lowered to %d", sys.getrecursionlimit(),
                    SANE_RECURSION_LIMIT)
        sys.setrecursionlimit(SANE_RECURSION_LIMIT)
    return sys.getrecursionlimit()


class BodyRejected(StarletteHTTPException):
    """A request body refused while it streamed in (413 size, 400 depth, 408 timeout)."""


class JsonDepth:
    """Nesting depth of a JSON body fed chunk by chunk, checked before any parser sees it.

    While the body holds no more opening brackets than the limit (counted in C, inside
    strings too) its depth cannot exceed it and nothing else is done. Past that, the whole
    body is checked exactly once it has arrived (bounded by the size limit): strings are cut
    out with one regular expression and the running depth of the remaining brackets is a
    cumulative sum, all in C (a 2 MB body of brackets takes milliseconds, not the event
    loop's second a byte-by-byte scan would).
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.depth = 0
        self._opens = 0
        self._held: list[bytes] = []

    def feed(self, data: bytes) -> None:
        """Take the next chunk of the body."""
        self._held.append(data)
        self._opens += data.count(b"[") + data.count(b"{")

    def finish(self) -> None:
        """Raise :class:`BodyRejected` (400) when the whole body nests deeper than the limit."""
        if self._opens <= self.limit:
            return
        self.depth = max_depth(b"".join(self._held))
        if self.depth > self.limit:
            raise BodyRejected(400, f"JSON nested deeper than {self.limit} levels "
                                    "(api_json_max_depth)")


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def max_depth(data: bytes) -> int:
    """The deepest bracket nesting of JSON text ``data``, brackets inside strings ignored
    (an unterminated string runs to the end)."""
    import numpy as np

    outside = _STRING.sub(b"", data)
    quote = outside.find(b'"')
    if quote >= 0:
        outside = outside[:quote]
    brackets = np.frombuffer(outside.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    if not len(brackets):
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


class _Body:
    """The app's ``receive``: counts, depth-checks and times the body as it arrives."""

    def __init__(self, receive, limit: int, setting: str, depth: JsonDepth | None,
                 timeout: float):
        self.receive = receive
        self.limit = limit
        self.setting = setting
        self.depth = depth
        self.timeout = timeout
        self.size = 0
        self.done = False

    async def __call__(self) -> dict[str, Any]:
        if self.done:  # after the body: disconnect listening, unbounded by design
            return await self.receive()
        try:
            message = await asyncio.wait_for(self.receive(), self.timeout)
        except TimeoutError as exc:
            raise BodyRejected(408, f"request body stalled: nothing received for "
                                    f"{self.timeout:g}s (api_read_timeout)") from exc
        if message["type"] != "http.request":
            self.done = True
            return message
        chunk = message.get("body", b"")
        self.size += len(chunk)
        if self.size > self.limit:
            raise BodyRejected(413, f"request body exceeds {self.limit} bytes ({self.setting})")
        if self.depth is not None and chunk:
            self.depth.feed(chunk)
        if not message.get("more_body", False):
            self.done = True
            if self.depth is not None:
                self.depth.finish()
        return message


class Gate:
    """Pure ASGI middleware: authenticate first, then bound the body (see module doc)."""

    def __init__(self, app, ctx) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = [False]
        body: Any = receive

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
                if isinstance(body, _Body) and not body.done:
                    # Answered before the body ended (a limit, an early error): close the
                    # connection rather than let the server drain the rest of the upload.
                    message = {**message, "headers": [*message.get("headers", ()),
                                                      (b"connection", b"close")]}
            await send(message)

        try:
            if scope["path"].startswith("/v1/"):
                who = await self._principal(scope)
                _check_role(who, scope)
                scope[PRINCIPAL_SCOPE_KEY] = who
            body = self._body(scope, receive)
            await self.app(scope, body, sending)
        except ApiError as exc:
            if started[0]:
                raise
            await _reply(send, exc.status, exc.body(), _retry_after(exc))
        except BodyRejected as exc:
            if started[0]:
                raise
            await _reply(send, exc.status_code, {"error": _CODES[exc.status_code],
                                                 "detail": str(exc.detail)}, None)

    async def _principal(self, scope) -> Principal:
        ctx = self.ctx
        key = _header(scope, b"x-api-key")
        now = time.monotonic()
        cached = ctx.key_cache.get(key) if key else None
        if cached is not None and cached[1] > now:
            who = cached[0]
        else:
            address = client_address(scope, ctx.trusted_proxies)
            ctx.auth_throttle.check(address)
            try:
                who = await run_in_threadpool(_authenticate, ctx, key)
            except ApiError:
                ctx.auth_throttle.failed(address)
                raise
            if len(ctx.key_cache) > 10_000:
                ctx.key_cache.clear()
            if key:
                ctx.key_cache[key] = (who, now + KEY_CACHE_SECONDS)
        ctx.limiter.take(who.key_id)
        return who

    def _body(self, scope, receive) -> Any:
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return receive
        s = self.ctx.settings
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if scope["path"] in UPLOAD_PATHS:
            limit = s.api_upload_max_bytes * s.api_upload_max_files + UPLOAD_OVERHEAD_BYTES
            setting = "api_upload_max_bytes x api_upload_max_files"
        else:
            limit, setting = s.api_body_max_bytes, "api_body_max_bytes"
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isascii() or not declared.isdigit():
                raise BodyRejected(400, f"Content-Length {declared[:20]!r} is not a number")
            if int(declared) > limit:
                raise BodyRejected(413, f"request body of {declared} bytes exceeds {limit} "
                                        f"bytes ({setting})")
        depth = None if ctype.startswith("multipart/") else JsonDepth(s.api_json_max_depth)
        return _Body(receive, limit, setting, depth, s.api_read_timeout)


def _check_role(who: Principal, scope) -> None:
    roles = roles_for(scope["method"], scope["path"])
    if roles is not None and who.role != "admin" and who.role not in roles:
        raise Forbidden(f"role {who.role!r} may not do this (needs {' or '.join(roles)})")


_CODES = {400: "bad_request", 408: "request_timeout", 413: "too_large"}


def _authenticate(ctx, key: str | None) -> Principal:
    with ctx.session_factory() as session:
        return authenticate(session, key)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _retry_after(exc: ApiError) -> int | None:
    return exc.retry_after if isinstance(exc, RateLimited) else None


async def _reply(send, status: int, body: dict[str, str], retry_after: int | None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
