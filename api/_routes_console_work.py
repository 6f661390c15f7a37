"""The web console's business, arbiter and operator pages, and evidence files.

Forms here change the chain (a dispute opened by the relayer, a vote or an approval signed
with the key's signer keystore): each checks the session's CSRF token first, then does what
the matching API endpoint or CLI command does, and redirects to a page showing the result.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api._auth import ANY_COUNTRY, Principal
from api._console import CSRF_FIELD, ConsoleUser, check_csrf, flash, flash_sig
from api._console_drift import drift
from api._console_work import (
    approve,
    arbiter_view,
    business_dispute,
    cast_vote,
    fetch_evidence,
    filings,
    operator_view,
)
from api._context import Context
from api._disputes import open_dispute
from api._errors import ApiError, Unprocessable
from api._reputation import lookup, parse_number
from api._routes_console import SECURITY_HEADERS, User, ctx_of, page, posted_form
from api._routes_disputes import ALLOWED_TYPES, _checked, _dispute_form
from api._routes_reputation import _spend_lookups
from api._uploads import read_form

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)

DisputeId = Annotated[int, Path(ge=0, le=2**63 - 1)]
Cid = Annotated[str, Path(min_length=10, max_length=128, pattern="^[A-Za-z0-9]+$")]
Done = Annotated[str, Query(max_length=300)]
Sig = Annotated[str, Query(max_length=64)]
VIEWABLE = ("application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv",
            "application/json")


def _done(target: str, message: str, user: ConsoleUser) -> Response:
    """Redirect to ``target`` showing ``message``, signed for this session (a link crafted
    elsewhere cannot make a page show a message of its choosing)."""
    message = message[:300]
    response = RedirectResponse(f"{target}?done={quote(message)}&sig={flash_sig(user, message)}",
                                status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


# ------------------------------------------------------------------------------ business


@router.get("/business", response_class=HTMLResponse)
def business_page(request: Request, user: User,
                  number: Annotated[str, Query(max_length=64)] = "",
                  country: Annotated[str, Query(max_length=2)] = "",
                  done: Done = "", sig: Sig = "") -> Response:
    ctx = ctx_of(request)
    answer, error = None, ""
    with ctx.session_factory() as session:
        if number:
            try:
                parsed = parse_number(number, country.upper() or None)
                _spend_lookups(ctx, user.who, 1)
                answer = lookup(session, ctx.hasher, parsed, with_votes=False)
            except ApiError as exc:
                error = exc.detail
        mine = filings(session, user.who)
    s = ctx.settings
    return page(request, "business.html", user, answer=answer, error=error, number=number,
                country=country, filings=mine, done=flash(user, done, sig), types=ALLOWED_TYPES,
                max_bytes=s.api_upload_max_bytes, max_files=s.api_upload_max_files)


@router.post("/business/disputes")
async def business_file(request: Request, user: User) -> Response:
    """Same checks and limits as ``POST /v1/disputes`` (the form streams with per-file
    limits), plus the CSRF token."""
    ctx = ctx_of(request)
    user.who.require("business")
    form = await read_form(request, ctx.settings.api_upload_max_bytes,
                           ctx.settings.api_upload_max_files)
    try:
        check_csrf(user.csrf, form.get(CSRF_FIELD))
        fields, uploads = _dispute_form(form, ignore=(CSRF_FIELD,))
        parsed = parse_number(fields["number"], fields.get("country") or None)
        user.who.require_country(parsed.region)
        files = [await _checked(f) for f in uploads]
    finally:
        await form.close()
    business = fields["business"]
    claimant = "0x" + hashlib.sha256(b"business:" + business.encode("utf-8")).hexdigest()
    filed = await run_in_threadpool(open_dispute, ctx, user.who, parsed, business, claimant,
                                    files)
    return _done(f"/console/business/disputes/{filed['dispute_id']}",
                 f"dispute {filed['dispute_id']} opened in transaction {filed['tx_hash']}", user)


@router.get("/business/disputes/{dispute_id}", response_class=HTMLResponse)
def business_follow(request: Request, user: User, dispute_id: DisputeId,
                    done: Done = "", sig: Sig = "") -> Response:
    ctx = ctx_of(request)
    with ctx.session_factory() as session:
        view = business_dispute(session, user.who, dispute_id)
        return page(request, "business_dispute.html", user, view=view, done=flash(user, done, sig),
                    dispute_id=dispute_id)


# ------------------------------------------------------------------------------- arbiter


def _work_page(request: Request, user: ConsoleUser, template: str,
               view_of: Callable[[Context, Session, Principal], Any], done: str,
               sig: str, **values: Any) -> Response:
    """``template`` with ``view_of``'s view for this key and the signed result message,
    rendered while the index session is open (the view holds index rows)."""
    ctx = ctx_of(request)
    with ctx.session_factory() as session:
        view = view_of(ctx, session, user.who)
        return page(request, template, user, view=view, done=flash(user, done, sig), **values)


@router.get("/arbiter", response_class=HTMLResponse)
def arbiter_page(request: Request, user: User,
                 done: Done = "", sig: Sig = "") -> Response:
    return _work_page(request, user, "arbiter.html", arbiter_view, done, sig)


@router.post("/arbiter/disputes/{dispute_id}/vote")
async def arbiter_vote(request: Request, user: User, dispute_id: DisputeId) -> Response:
    form = await posted_form(request, user)
    choice = form.get("choice")
    if choice not in ("uphold", "reject"):
        raise Unprocessable("choice: uphold or reject")
    message = await run_in_threadpool(cast_vote, ctx_of(request), user.who, dispute_id,
                                      choice == "uphold")
    return _done("/console/arbiter", f"dispute {dispute_id}: {message}", user)


# ------------------------------------------------------------------------------ operator


@router.get("/operator", response_class=HTMLResponse)
def operator_page(request: Request, user: User,
                  done: Done = "", sig: Sig = "") -> Response:
    return _work_page(request, user, "operator.html", operator_view, done, sig)


@router.get("/operator/drift", response_class=HTMLResponse)
def operator_drift(request: Request, user: User, inline: bool = False) -> Response:
    """This week's scores against the training window's, per country in the key's scope.
    The model cards come from IPFS: they follow as a fragment after first paint (or
    inline, ``inline=1``, the no-script link)."""
    ctx = ctx_of(request)
    countries = _scope(user)
    if not inline:
        return page(request, "drift.html", user, rows=None, countries=countries)
    with ctx.session_factory() as session:
        rows = drift(ctx, session, countries)
    return page(request, "drift.html", user, rows=rows, countries=countries)


@router.get("/operator/drift/charts", response_class=HTMLResponse)
def operator_drift_charts(request: Request, user: User) -> Response:
    """The drift charts of :func:`operator_drift`, as an HTML fragment."""
    ctx = ctx_of(request)
    countries = _scope(user)
    with ctx.session_factory() as session:
        rows = drift(ctx, session, countries)
    return page(request, "drift_charts.html", user, rows=rows, countries=countries)


def _scope(user: ConsoleUser) -> list[str] | None:
    """The key's country as a list (None: every country)."""
    return [user.who.country] if user.who.country != ANY_COUNTRY else None


@router.post("/operator/models/approve")
async def operator_approve(request: Request, user: User) -> Response:
    form = await posted_form(request, user)
    owner, model = form.get("owner"), form.get("model_hash")
    if not isinstance(owner, str) or not isinstance(model, str):
        raise Unprocessable("owner and model_hash are required")
    message = await run_in_threadpool(approve, ctx_of(request), user.who, owner, model)
    return _done("/console/operator", message, user)


# ------------------------------------------------------------------------------ evidence


@router.get("/evidence/{cid}")
def evidence(request: Request, user: User, cid: Cid,
             type: Annotated[str, Query(max_length=40)] = "",
             name: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Evidence bytes fetched through the verifying store (content that does not hash to
    its CID is refused, 503); shown in a sandbox, never run as this site's page."""
    data = fetch_evidence(ctx_of(request), cid)
    listing = _manifest(data)
    if listing is not None:
        return page(request, "evidence.html", user, cid=cid, files=listing, size=len(data))
    media = type if type in VIEWABLE else "application/octet-stream"
    safe = "".join(ch for ch in (name or cid) if ch.isalnum() or ch in "._-")[:100] or cid
    return Response(data, media_type=media, headers={
        **SECURITY_HEADERS, "Content-Security-Policy": "sandbox; default-src 'none'; "
                                                       "img-src 'self'; style-src 'unsafe-inline'",
        "Content-Disposition": f'inline; filename="{safe}"',
        "X-Evidence-Cid-Verified": cid})


def _manifest(data: bytes) -> list[dict[str, Any]] | None:
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("kind") != "spamledger.dispute.evidence":
        return None
    return [f for f in doc.get("files", []) if isinstance(f, dict) and "cid" in f]
