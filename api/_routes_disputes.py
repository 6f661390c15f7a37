"""Business endpoints: file a dispute with evidence, follow its state."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from sqlalchemy import select

from api._app import principal
from api._auth import Principal
from api._context import Context
from api._disputes import dispute_out, open_dispute
from api._errors import Forbidden, NotFound, PayloadTooLarge, Unprocessable
from api._models import Dispute, DisputeFiling
from api._reputation import parse_number
from api._schemas import DisputeOut

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["businesses"])

_CHUNK = 1 << 16
ALLOWED_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv",
                 "application/json")


@router.post("/disputes", status_code=201, summary="dispute a number's verdict with evidence")
async def file_dispute(
    request: Request, who: Annotated[Principal, Depends(principal)],
    number: Annotated[str, Form(max_length=64)],
    business: Annotated[str, Form(min_length=1, max_length=200,
                                  description="the business's legal identity")],
    evidence: Annotated[list[UploadFile], File(description="evidence documents")],
    country: Annotated[str | None, Form(min_length=2, max_length=2)] = None,
) -> dict[str, object]:
    ctx: Context = request.app.state.ctx
    who.require("business")
    parsed = parse_number(number, country)
    files = [await _read_limited(f, ctx.settings.api_upload_max_bytes)
             for f in _limited_files(evidence, ctx.settings.api_upload_max_files)]
    claimant = "0x" + hashlib.sha256(b"business:" + business.encode("utf-8")).hexdigest()
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(open_dispute, ctx, who, parsed, business, claimant, files)


def _limited_files(files: list[UploadFile], most: int) -> list[UploadFile]:
    if not files:
        raise Unprocessable("evidence: at least one file is required")
    if len(files) > most:
        raise PayloadTooLarge(f"{len(files)} evidence files exceed the limit of {most}")
    return files


async def _read_limited(upload: UploadFile, limit: int) -> tuple[str, str, bytes]:
    """``(name, content type, bytes)``; refuses files over ``limit`` or of other types."""
    ctype = (upload.content_type or "unknown").split(";")[0].strip()
    if ctype not in ALLOWED_TYPES:
        raise Unprocessable(f"evidence {upload.filename!r}: content type {ctype} not accepted "
                            f"({', '.join(ALLOWED_TYPES)})")
    data = bytearray()
    while chunk := await upload.read(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(f"evidence {upload.filename!r} exceeds the limit of "
                                  f"{limit} bytes")
    if not data:
        raise Unprocessable(f"evidence {upload.filename!r} is empty")
    return (upload.filename or "evidence")[:200], ctype, bytes(data)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut,
            summary="a dispute's state, arbiter votes and outcome")
def get_dispute(request: Request, who: Annotated[Principal, Depends(principal)],
                dispute_id: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> DisputeOut:
    ctx: Context = request.app.state.ctx
    with ctx.session_factory() as session:
        filing = session.scalars(select(DisputeFiling)
                                 .where(DisputeFiling.dispute_id == dispute_id)).first()
        if who.role == "business" and (filing is None or filing.api_key_id != who.key_id):
            raise Forbidden("a business key may only read the disputes it filed")
        row = session.get(Dispute, dispute_id)
        if row is None:
            raise NotFound(f"dispute {dispute_id} is not (yet) indexed")
        out = dispute_out(session, row)
        if filing is not None:
            out.files = json.loads(filing.files)
        return out
