"""Telco endpoints: single and batch reputation, subscriber reports."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import func, select

from api._app import principal
from api._audit import record_differences
from api._auth import Principal
from api._context import Context
from api._errors import PayloadTooLarge, RateLimited
from api._models import RegistryRecord, Report
from api._reputation import batch_pairs, lookup, parse_number
from api._schemas import BatchRequest, BatchResponse, ReportIn, ReportOut, Reputation
from spamledger._numbers import InvalidNumber, normalize

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["telcos"])

# Roles that get a number's keyed hash back: telcos check proofs and edge bundles with it.
KEY_ROLES = ("telco", "admin")

Country = Annotated[str | None, Query(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$",
                                      description="region for national-format numbers")]


@router.get("/reputation/{number}", response_model=Reputation,
            summary="reputation of one number", response_model_exclude_none=True)
def reputation(request: Request, who: Annotated[Principal, Depends(principal)],
               number: Annotated[str, Path(max_length=64)], country: Country = None,
               verify: Annotated[str | None, Query(pattern="^chain$",
                                                   description="`chain` reads the contract "
                                                               "directly")] = None,
               ) -> Response:
    ctx: Context = request.app.state.ctx
    who.require("telco", "business")
    parsed = parse_number(number, country)
    _spend_lookups(ctx, who, 1)
    if verify != "chain":  # the read model: no SQL on the lookup path
        body = ctx.read_model.single(parsed.e164, ctx.hasher.hex(parsed.e164),
                                     who.role in KEY_ROLES)
        return Response(body, media_type="application/json")
    with ctx.session_factory() as session:
        answer = lookup(session, ctx.hasher, parsed)
        key = str(answer.number_key)
        answer.chain = ctx.chain.get().record(key)
        answer.chain_mismatch = record_differences(session.get(RegistryRecord, key),
                                                   answer.chain)
    if who.role not in KEY_ROLES:
        answer.number_key = None
    return Response(answer.model_dump_json(exclude_none=True), media_type="application/json")


@router.post("/reputation/batch", response_model=BatchResponse,
             summary="reputation of up to api_batch_max numbers",
             response_model_exclude_none=True)
def reputation_batch(request: Request, who: Annotated[Principal, Depends(principal)],
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
    # Rendered from the read model's pre-serialized answers; FastAPI would otherwise
    # re-validate 10,000 items it just built.
    return Response(ctx.read_model.many(batch_pairs(ctx.hasher, body.numbers, body.country)),
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
