"""Regulator endpoints: a number's history, its verification from chain data, exports."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import and_, or_, select

from api._app import principal
from api._audit import history, verify
from api._auth import ANY_COUNTRY, Principal
from api._context import Context
from api._errors import ApiError, Unprocessable
from api._legacy import legacy
from api._models import ChainEvent, Epoch, Round
from api._reputation import parse_number
from api._schemas import AuditOut, LegacyOut, VerifyOut

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/audit", tags=["regulators"])

Country = Annotated[str | None, Query(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$")]
Number = Annotated[str, Path(max_length=64)]
_PAGE = 1000
MAX_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z
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


@router.get("/numbers/{number}/legacy", response_model=LegacyOut,
            summary="the number's history from before the last contract migration, each "
                    "entry proven by LegacyArchive on-chain")
def audit_legacy(request: Request, who: Annotated[Principal, Depends(principal)],
                 number: Number, country: Country = None) -> LegacyOut:
    ctx: Context = request.app.state.ctx
    return legacy(ctx, _regulator_number(who, number, country))


@router.get("/export", summary="stream a period's chain events as CSV or JSON",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/json": {}},
                             "description": "the events, then an end record: complete, "
                                            "count, block range and SHA-256 digest, or "
                                            "complete=false with the error"}})
def audit_export(request: Request, who: Annotated[Principal, Depends(principal)],
                 from_: Annotated[str | None, Query(alias="from", max_length=40,
                                                    description="ISO date/time or epoch s")]
                 = None,
                 to: Annotated[str | None, Query(max_length=40)] = None,
                 format: Literal["csv", "json"] = "json") -> StreamingResponse:
    ctx: Context = request.app.state.ctx
    who.require("regulator")
    start, end = _time(from_, "from", 0), _time(to, "to", MAX_EPOCH)
    if end < start:
        raise Unprocessable(f"'to' ({to}) is before 'from' ({from_})")
    scope = None if who.country == ANY_COUNTRY else who.country
    rows = _rows(ctx, start, end, scope)
    if format == "csv":
        return StreamingResponse(_csv(rows), media_type="text/csv")
    return StreamingResponse(_json(rows), media_type="application/json")


def _time(text: str | None, name: str, default: int) -> int:
    """Epoch seconds of ``text`` (ASCII digits or ISO-8601) within 0..MAX_EPOCH, else 422."""
    if text is None or text == "":
        return default
    if text.isascii() and text.isdigit():
        value = int(text)
        if value > MAX_EPOCH:
            raise Unprocessable(f"{name}: {text[:40]!r} is after year 9999 (at most "
                                f"{MAX_EPOCH} epoch seconds)")
        return value
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        value = int(moment.timestamp())
    except (ValueError, OverflowError) as exc:
        raise Unprocessable(f"{name}: {text[:40]!r} is neither an ISO date/time nor epoch "
                            "seconds") from exc
    return min(max(value, 0), MAX_EPOCH)


def _rows(ctx: Context, start: int, end: int,
          country: str | None) -> Iterator[dict[str, object]]:
    """Events in the period, read page by page so memory stays flat; a country-scoped key
    gets the events of numbers whose rounds are in its country and its epoch commits."""
    last_id = 0
    while True:
        query = (select(ChainEvent).where(ChainEvent.block_time >= start,
                                          ChainEvent.block_time <= end,
                                          ChainEvent.id > last_id)
                 .order_by(ChainEvent.id).limit(_PAGE))
        if country is not None:
            query = query.where(_in_country(country))
        with ctx.session_factory() as session:
            page = session.scalars(query).all()
        if not page:
            return
        for e in page:
            row = {c: getattr(e, c) for c in _COLUMNS}
            row["args"] = json.loads(str(row["args"]))
            yield row
        last_id = page[-1].id


def _in_country(country: str) -> Any:
    numbers = select(Round.number_key).where(Round.country == country)
    epochs = select(Epoch.tx_hash).where(Epoch.country == country)
    return or_(ChainEvent.number_key.in_(numbers),
               and_(ChainEvent.event == "EpochCommitted", ChainEvent.tx_hash.in_(epochs)))


class _Trail:
    """Counts, block range and SHA-256 digest of exported rows (canonical JSON lines: what a
    regulator recomputes from the body, or from the chain's events for the same blocks)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: int | None = None
        self.last: int | None = None
        self._hash = hashlib.sha256()

    def add(self, row: dict[str, object]) -> None:
        self.count += 1
        block = int(str(row["block_number"]))
        self.first = block if self.first is None else min(self.first, block)
        self.last = block if self.last is None else max(self.last, block)
        self._hash.update(canonical(row).encode() + b"\n")

    def end(self, error: Exception | None = None) -> dict[str, object]:
        if error is not None:
            detail = error.detail if isinstance(error, ApiError) else type(error).__name__
            return {"complete": False, "count": self.count, "error": str(detail)}
        return {"complete": True, "count": self.count, "from_block": self.first,
                "to_block": self.last, "digest": "sha256:" + self._hash.hexdigest()}


def canonical(row: dict[str, object]) -> str:
    """One exported event as canonical JSON (sorted keys, no spaces): the digest's unit."""
    return json.dumps(row, sort_keys=True, separators=(",", ":"))


def _csv(rows: Iterator[dict[str, object]]) -> Iterator[str]:
    """CSV rows, then one ``# end`` line: ``complete=true`` with count, block range and
    digest, or ``complete=false`` with the error that cut the export short."""
    trail = _Trail()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_COLUMNS)
    writer.writeheader()
    try:
        for row in rows:
            trail.add(row)
            writer.writerow(dict(row, args=json.dumps(row["args"], sort_keys=True)))
            if buf.tell() > 65536:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        end = trail.end()
    except Exception as exc:  # reported in-band: the 200 header is already sent
        logger.error("export cut short after %d rows: %s", trail.count, exc)
        end = trail.end(exc)
    yield buf.getvalue() + "# end " + " ".join(f"{k}={json.dumps(v)}" for k, v in end.items())
    yield "\n"


def _json(rows: Iterator[dict[str, object]]) -> Iterator[str]:
    """``{"events": [...], "end": {...}}``: ``end`` says complete with count, block range and
    digest, or complete=false with the error; a cut connection leaves invalid JSON."""
    trail = _Trail()
    yield '{"events": ['
    try:
        for row in rows:
            yield ("," if trail.count else "") + json.dumps(row, sort_keys=True)
            trail.add(row)
        end = trail.end()
    except Exception as exc:  # reported in-band: the 200 header is already sent
        logger.error("export cut short after %d rows: %s", trail.count, exc)
        end = trail.end(exc)
    yield '], "end": ' + json.dumps(end, sort_keys=True) + "}"
