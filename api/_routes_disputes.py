"""Business endpoints: file a dispute with evidence, follow its state."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api._app import principal
from api._auth import Principal
from api._context import Context
from api._disputes import dispute_out, open_dispute
from api._errors import Forbidden, NotFound, Unprocessable
from api._models import Dispute, DisputeFiling
from api._reputation import parse_number
from api._schemas import DisputeOut
from api._uploads import read_form

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["businesses"])

ALLOWED_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv",
                 "application/json")


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {
        "type": "object", "required": ["number", "business", "evidence"],
        "properties": {
            "number": {"type": "string", "minLength": 1, "maxLength": 64},
            "business": {"type": "string", "minLength": 1, "maxLength": 200,
                         "description": "the business's legal identity"},
            "country": {"type": "string", "minLength": 2, "maxLength": 2,
                        "description": "region for national-format numbers"},
            "evidence": {"type": "array", "items": {"type": "string", "format": "binary"},
                         "description": "evidence documents (each at most "
                                        "api_upload_max_bytes)"}}}}}}}
_FIELDS = {"number": 64, "business": 200, "country": 2}


@router.post("/disputes", status_code=201, summary="dispute a number's verdict with evidence",
             openapi_extra=_UPLOAD_BODY)
async def file_dispute(request: Request,
                       who: Annotated[Principal, Depends(principal)]) -> dict[str, object]:
    """The body is parsed here, as it streams: a file past ``api_upload_max_bytes`` ends the
    request with 413 before another byte is read, and nothing is ever spooled to disk."""
    ctx: Context = request.app.state.ctx
    who.require("business")
    form = await read_form(request, ctx.settings.api_upload_max_bytes,
                           ctx.settings.api_upload_max_files)
    try:
        fields, uploads = _dispute_form(form)
        parsed = parse_number(fields["number"], fields.get("country"))
        who.require_country(parsed.region)
        files = [await _checked(f) for f in uploads]
    finally:
        await form.close()
    business = fields["business"]
    claimant = "0x" + hashlib.sha256(b"business:" + business.encode("utf-8")).hexdigest()
    return await run_in_threadpool(open_dispute, ctx, who, parsed, business, claimant, files)


def _dispute_form(form, ignore: tuple[str, ...] = ()) -> tuple[dict[str, str], list[UploadFile]]:
    """The text fields (checked like the schema says) and the evidence files; fields named in
    ``ignore`` (the console's CSRF token) were checked by the caller."""
    fields: dict[str, str] = {}
    uploads: list[UploadFile] = []
    for name, value in form.multi_items():
        if name in ignore:
            continue
        if name == "evidence" and isinstance(value, UploadFile):
            uploads.append(value)
        elif name in _FIELDS and isinstance(value, str) and name not in fields:
            fields[name] = value
        else:
            raise Unprocessable(f"{name}: unexpected form field (send number, business, "
                                "country and evidence files)")
    for name in ("number", "business"):
        if not fields.get(name):
            raise Unprocessable(f"{name}: field required")
    for name, most in _FIELDS.items():
        if name in fields and len(fields[name]) > most:
            raise Unprocessable(f"{name}: at most {most} characters")
    if fields.get("country") == "":  # an HTML form sends the empty optional field
        del fields["country"]
    country = fields.get("country")
    if country is not None and not (len(country) == 2 and country.isascii()
                                    and country.isalpha()):
        raise Unprocessable("country: an ISO 3166 alpha-2 code")
    if not uploads:
        raise Unprocessable("evidence: at least one file is required")
    return fields, uploads


async def _checked(upload: UploadFile) -> tuple[str, str, bytes]:
    """``(name, content type, bytes)``; refuses empty files and other types."""
    ctype = (upload.content_type or "unknown").split(";")[0].strip()
    if ctype not in ALLOWED_TYPES:
        raise Unprocessable(f"evidence {upload.filename!r}: content type {ctype} not accepted "
                            f"({', '.join(ALLOWED_TYPES)})")
    data = await upload.read()
    if not data:
        raise Unprocessable(f"evidence {upload.filename!r} is empty")
    return (upload.filename or "evidence")[:200], ctype, bytes(data)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut,
            summary="a dispute's state, arbiter votes and outcome")
def get_dispute(request: Request, who: Annotated[Principal, Depends(principal)],
                dispute_id: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> DisputeOut:
    ctx: Context = request.app.state.ctx
    who.require("business")
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
