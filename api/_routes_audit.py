"""Regulator endpoints: a number's history, its verification from chain data, exports."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from api._app import principal
from api._audit import history, verify
from api._auth import Principal
from api._context import Context
from api._errors import Unprocessable
from api._models import ChainEvent
from api._reputation import parse_number
from api._schemas import AuditOut, VerifyOut

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/audit", tags=["regulators"])

Country = Annotated[str | None, Query(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$")]
Number = Annotated[str, Path(max_length=64)]
_PAGE = 1000
_COLUMNS = ("block_number", "block_time", "tx_hash", "log_index", "contract", "event",
            "number_key", "args")


def _regulator_number(who: Principal, number: str, country: str | None) -> Any:
    """The parsed number, once the caller is a regulator whose scope covers its country."""
    who.require("regulator")
    parsed = parse_number(number, country)
    who.require_country(parsed.region)
    return parsed


@router.get("/numbers/{number}", response_model=AuditOut, summary="a number's full history")
def audit_number(request: Request, who: Annotated[Principal, Depends(principal)],
                 number: Number, country: Country = None) -> AuditOut:
    ctx: Context = request.app.state.ctx
    parsed = _regulator_number(who, number, country)
    with ctx.session_factory() as session:
        return history(session, ctx, parsed)


@router.get("/numbers/{number}/verify", response_model=VerifyOut,
            summary="recompute a number's record from chain data and IPFS")
def audit_verify(request: Request, who: Annotated[Principal, Depends(principal)],
                 number: Number, country: Country = None) -> VerifyOut:
    ctx: Context = request.app.state.ctx
    parsed = _regulator_number(who, number, country)
    with ctx.session_factory() as session:
        return verify(ctx, parsed, session)


@router.get("/export", summary="stream a period's chain events as CSV or JSON",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def audit_export(request: Request, who: Annotated[Principal, Depends(principal)],
                 from_: Annotated[str | None, Query(alias="from", max_length=40,
                                                    description="ISO date/time or epoch s")]
                 = None,
                 to: Annotated[str | None, Query(max_length=40)] = None,
                 format: Literal["csv", "json"] = "json") -> StreamingResponse:
    ctx: Context = request.app.state.ctx
    who.require("regulator")
    start, end = _time(from_, "from", 0), _time(to, "to", 2**62)
    if end < start:
        raise Unprocessable(f"'to' ({to}) is before 'from' ({from_})")
    rows = _rows(ctx, start, end)
    if format == "csv":
        return StreamingResponse(_csv(rows), media_type="text/csv")
    return StreamingResponse(_json(rows), media_type="application/json")


def _time(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Unprocessable(f"{name}: {text!r} is neither an ISO date/time nor epoch "
                            "seconds") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _rows(ctx: Context, start: int, end: int) -> Iterator[dict[str, object]]:
    """Events in the period, read page by page so memory stays flat."""
    last_id = 0
    while True:
        with ctx.session_factory() as session:
            page = session.scalars(
                select(ChainEvent).where(ChainEvent.block_time >= start,
                                         ChainEvent.block_time <= end,
                                         ChainEvent.id > last_id)
                .order_by(ChainEvent.id).limit(_PAGE)).all()
        if not page:
            return
        for e in page:
            yield {c: getattr(e, c) for c in _COLUMNS}
        last_id = page[-1].id


def _csv(rows: Iterator[dict[str, object]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        if buf.tell() > 65536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _json(rows: Iterator[dict[str, object]]) -> Iterator[str]:
    yield "["
    for i, row in enumerate(rows):
        row = dict(row, args=json.loads(str(row["args"])))
        yield ("," if i else "") + json.dumps(row, sort_keys=True)
    yield "]"
