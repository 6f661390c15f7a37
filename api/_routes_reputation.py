"""Telco endpoints: single and batch reputation, subscriber reports."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from starlette.routing import Route

from api._app import principal
from api._audit import record_differences
from api._auth import Principal
from api._context import Context
from api._errors import PayloadTooLarge, RateLimited, Unauthorized
from api._limits import PRINCIPAL_SCOPE_KEY
from api._models import RegistryRecord, Report
from api._reputation import batch_pairs, lookup, parse_number
from api._schemas import BatchRequest, BatchResponse, ReportIn, ReportOut, Reputation
from spamledger._numbers import InvalidNumber, Number, normalize

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["telcos"])

# Roles that get a number's keyed hash back: telcos check proofs and edge bundles with it.
KEY_ROLES = ("telco", "admin")

LOOKUP_PATH = "/v1/reputation/{number}"

Country = Annotated[str | None, Query(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$",
                                      description="region for national-format numbers")]


@router.get("/reputation/{number}", response_model=Reputation,
            summary="reputation of one number", response_model_exclude_none=True)
async def reputation(request: Request, who: Annotated[Principal, Depends(principal)],
               number: Annotated[str, Path(max_length=64)], country: Country = None,
               verify: Annotated[str | None, Query(pattern="^chain$",
                                                   description="`chain` reads the contract "
                                                               "directly")] = None,
               ) -> Response:
    ctx: Context = request.app.state.ctx
    who.require("telco", "business")
    parsed = parse_number(number, country)
    _spend_lookups(ctx, who, 1)
    if verify == "chain":  # SQL and the chain, off the event loop
        return await run_in_threadpool(_verified, ctx, who, parsed)
    # The read model: no SQL on the lookup path, and no thread hop unless it must refresh.
    model = ctx.read_model
    if model.due():
        await run_in_threadpool(model.fresh)
    return Response(model.single(parsed.e164, ctx.hasher.hex(parsed.e164),
                                 who.role in KEY_ROLES), media_type="application/json")


def _verified(ctx: Context, who: Principal, parsed: Number) -> Response:
    """The SQL answer beside the record read from SpamRegistry, with their differences."""
    with ctx.session_factory() as session:
        answer = lookup(session, ctx.hasher, parsed)
        key = str(answer.number_key)
        answer.chain = ctx.chain.get().record(key)
        answer.chain_mismatch = record_differences(session.get(RegistryRecord, key),
                                                   answer.chain)
    if who.role not in KEY_ROLES:
        answer.number_key = None
    return Response(answer.model_dump_json(exclude_none=True), media_type="application/json")


class _FastLookup:
    """The common single lookup as a plain ASGI route ahead of the FastAPI one.

    FastAPI resolves the dependencies and validates the parameters of every request anew,
    which costs several times what the read model does. A ``GET`` with no query string, or
    only a well-formed ``country``, and a number of at most 64 characters is answered here
    the way :func:`reputation` answers it (the gate has authenticated the caller already);
    anything else goes to the FastAPI route, which stays the documented one (OpenAPI).
    """

    _COUNTRY = re.compile(rb"country=([A-Za-z]{2})")

    def __init__(self) -> None:
        self._documented: Any = None

    async def __call__(self, scope, receive, send) -> None:
        scope["route"] = self._fallback()  # metrics label requests by the documented route
        number = scope["path_params"].get("number", "")
        query = scope.get("query_string", b"")
        country = self._COUNTRY.fullmatch(query) if query else None
        if scope["method"] != "GET" or len(number) > 64 or (query and country is None):
            await self._fallback().handle(scope, receive, send)
            return
        who = scope.get(PRINCIPAL_SCOPE_KEY)
        if who is None:
            raise Unauthorized("missing API key: send it in the X-API-Key header")
        ctx: Context = scope["app"].state.ctx
        who.require("telco", "business")
        parsed = parse_number(number, country.group(1).decode() if country else None)
        _spend_lookups(ctx, who, 1)
        model = ctx.read_model
        if model.due():
            await run_in_threadpool(model.fresh)
        body = model.single(parsed.e164, ctx.hasher.hex(parsed.e164), who.role in KEY_ROLES)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    def _fallback(self) -> Any:
        if self._documented is None:
            self._documented = next(
                r for r in router.routes
                if isinstance(r, APIRoute) and r.path == LOOKUP_PATH and "GET" in (r.methods or ()))
        return self._documented


# Ahead of the documented route: a plain Route is matched first and is not in OpenAPI.
router.routes.insert(0, Route(LOOKUP_PATH, _FastLookup(), methods=["GET"],
                              include_in_schema=False))


@router.post("/reputation/batch", response_model=BatchResponse,
             summary="reputation of up to api_batch_max numbers",
             response_model_exclude_none=True)
async def reputation_batch(request: Request, who: Annotated[Principal, Depends(principal)],
                           body: BatchRequest) -> Response:
    ctx: Context = request.app.state.ctx
    who.require("telco")
    limit = ctx.settings.api_batch_max
    if len(body.numbers) > limit:
        raise PayloadTooLarge(f"batch of {len(body.numbers)} numbers exceeds the limit of "
                              f"{limit}")
    # A batch costs more than a single lookup: one extra token per 1,000 numbers.
    ctx.limiter.take(who.key_id, cost=len(body.numbers) / 1000)
    _spend_lookups(ctx, who, len(body.numbers))
    model = ctx.read_model
    if model.due():
        await run_in_threadpool(model.fresh)
    # Rendered from the read model's pre-serialized answers; FastAPI would otherwise
    # re-validate 10,000 items it just built.
    return Response(model.many(batch_pairs(ctx.hasher, body.numbers, body.country)),
                    media_type="application/json")


@router.post("/reports", response_model=ReportOut, status_code=201,
             summary="a subscriber complaint or not-spam vote for the operator's oracle")
def report(request: Request, who: Annotated[Principal, Depends(principal)],
           body: ReportIn) -> ReportOut:
    ctx: Context = request.app.state.ctx
    who.require("telco")
    number = parse_number(body.number, body.country)
    # Scope follows the number's own country, never the country the caller declares.
    who.require_country(number.region)
    reporter = _reporter_hash(ctx, body.reporter, body.country)
    now = time.time()
    with ctx.session_factory() as session, session.begin():
        _check_reporter_quota(session, reporter, now, ctx.settings.api_reports_per_day)
        row = Report(number=number.e164, country=number.region, label=body.label,
                     category=body.category, source=body.source, reporter_hash=reporter,
                     ts=body.ts if body.ts is not None else now, api_key_id=who.key_id,
                     created_at=now)
        session.add(row)
        session.flush()
        return ReportOut(id=row.id, number=number.e164, label=body.label)


def _spend_lookups(ctx: Context, who: Principal, numbers: int) -> None:
    """Count ``numbers`` against the key's daily lookup quota (429 past it)."""
    s = ctx.settings
    limit = s.api_business_lookups_per_day if who.role == "business" else s.api_lookups_per_day
    ctx.lookups.spend(who.key_id, numbers, limit)


def _reporter_hash(ctx: Context, reporter: str, country: str) -> str:
    """Keyed hash for subscriber numbers (brute-forceable otherwise), SHA-256 for opaque ids."""
    try:
        return ctx.hasher.hex(normalize(reporter, country).e164)
    except InvalidNumber:
        return "0x" + hashlib.sha256(b"reporter:" + reporter.encode("utf-8")).hexdigest()


def _check_reporter_quota(session, reporter: str, now: float, per_day: int) -> None:
    since = now - 86_400
    count = session.scalar(select(func.count(Report.id)).where(
        Report.reporter_hash == reporter, Report.created_at >= since))
    if count >= per_day:
        oldest = session.scalar(select(func.min(Report.created_at)).where(
            Report.reporter_hash == reporter, Report.created_at >= since))
        raise RateLimited(f"this reporter has filed {count} reports in 24 hours "
                          f"(limit {per_day})", retry_after=max(1, int(oldest + 86_400 - now)))
