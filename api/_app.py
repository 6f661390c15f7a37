"""The FastAPI application: error rendering, the authentication and body-limit gate
(:mod:`api._limits`), and metrics.

Example::

    app = create_app(settings)           # or create_app(settings, engine=..., chain=...)
    uvicorn.run(app, host=settings.api_host, port=settings.api_port)
"""

from __future__ import annotations

import logging
import time

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from api._auth import Principal
from api._chain import Chain, Evidence
from api._context import Context
from api._db import make_engine, migrate
from api._errors import ApiError, RateLimited, Unauthorized
from api._limits import PRINCIPAL_SCOPE_KEY, Gate, sane_recursion_limit

logger = logging.getLogger(__name__)

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                           description="an API key from `spamledger api keys create`")


def create_app(settings, engine: Engine | None = None, chain: Chain | None = None,
               evidence: Evidence | None = None, run_migrations: bool = True,
               redis_prefix: str = "spamledger") -> FastAPI:
    """Build the app on ``engine`` (default from settings), migrating the schema first.

    Everything is imported by now, so the recursion limit a dependency raised at import is
    lowered back here (see :func:`api._limits.sane_recursion_limit`).
    """
    sane_recursion_limit()
    engine = engine or make_engine(settings)
    if run_migrations:
        migrate(engine)
    app = FastAPI(title="SpamLedger API", version="1",
                  description="Reputation of phone numbers from the SpamLedger consortium "
                              "chain: telcos query, businesses dispute, regulators audit.",
                  responses={401: {"description": "missing, unknown or revoked key"},
                             403: {"description": "role or country scope forbids it"},
                             429: {"description": "rate limited (see Retry-After)"}})
    app.state.ctx = Context.build(settings, engine, chain, evidence, redis_prefix)
    _install_errors(app)
    app.add_middleware(Gate, ctx=app.state.ctx)
    _install_metrics(app)  # outermost: times rejections by the gate too
    from api import (
        _routes_audit,
        _routes_bundles,
        _routes_console,
        _routes_console_work,
        _routes_disputes,
        _routes_ops,
        _routes_relay,
        _routes_reputation,
    )

    for module in (_routes_ops, _routes_reputation, _routes_bundles, _routes_disputes,
                   _routes_audit, _routes_console, _routes_console_work, _routes_relay):
        app.include_router(module.router)
    _install_console_assets(app)
    return app


def _install_console_assets(app: FastAPI) -> None:
    """The console's stylesheet and script, served from the package itself (no CDN)."""
    from fastapi.staticfiles import StaticFiles

    from api._routes_console import ASSETS

    app.mount("/console/static", StaticFiles(directory=ASSETS / "static"), name="console-static")


def ctx(request: Request) -> Context:
    return request.app.state.ctx


async def principal(request: Request, key: str | None = Depends(_key_header)) -> Principal:
    """The caller, authenticated (and charged one rate-limit token) by the gate before the
    body was read; ``key`` is declared here so OpenAPI documents the header."""
    who = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if who is None:
        raise Unauthorized("missing API key: send it in the X-API-Key header")
    return who


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if request.url.path.startswith("/console"):
            from api._routes_console import console_error

            return console_error(request, exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        if exc.status >= 500:
            logger.error("%s: %s", exc.code, exc.detail)
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid", "detail": _describe(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": _code(exc.status_code), "detail": str(exc.detail)},
                            status_code=exc.status_code, headers=exc.headers)


def _describe(exc: RequestValidationError) -> str:
    """One line naming each bad field and why."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _code(status: int) -> str:
    return {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
            408: "request_timeout", 413: "too_large",
            415: "unsupported_media_type"}.get(status, f"http_{status}")


def _install_metrics(app: FastAPI) -> None:
    app.add_middleware(_Timed, metrics=app.state.ctx.metrics)


class _Timed:
    """Pure ASGI middleware timing each request by route template (cheaper than
    ``BaseHTTPMiddleware``, which adds a task and a stream per request)."""

    def __init__(self, app, metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            self.metrics.latency.labels(scope["method"], getattr(route, "path", "unmatched"),
                                        str(status[0])).observe(time.perf_counter() - start)
