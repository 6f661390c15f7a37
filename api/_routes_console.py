"""The web console: sign-in, navigation and the regulator's pages (server-rendered HTML).

Same keys, roles and country scopes as the API (:mod:`api._console` turns a key into a
session; :data:`api._access.CONSOLE_PAGES` says which role opens which page). Every POST is
checked against the session's CSRF token before it does anything; every response carries a
strict Content-Security-Policy (no inline script, nothing from another origin).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api._access import CONSOLE_PAGES, console_roles
from api._auth import ANY_COUNTRY
from api._console import (
    CSRF_FIELD,
    PRESIGN_COOKIE,
    SESSION_COOKIE,
    ConsoleUser,
    check_csrf,
    load_user,
    new_token,
    sign_in,
    sign_out,
)
from api._console_views import (
    activity,
    audit,
    checks,
    consortium,
    parameters,
    trail_csv,
    trail_json,
)
from api._context import Context
from api._errors import ApiError, Forbidden, NotFound, Unauthorized
from api._proxies import client_address
from api._reputation import parse_number, verdict_name

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)

ASSETS = Path(__file__).resolve().parent / "console"
templates = Jinja2Templates(directory=ASSETS / "templates")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
NAV_TITLES = {"/console/audit": "Number audit", "/console/consortium": "Consortium",
              "/console/activity": "Activity", "/console/business": "Business",
              "/console/arbiter": "Arbiter", "/console/operator": "Operator",
              "/console/operator/drift": "Drift"}


def _fmt_time(value: Any) -> str:
    if not value:
        return "—"
    return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["utc"] = _fmt_time
templates.env.filters["verdict"] = lambda code: verdict_name(int(code or 0))


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


def current_user(request: Request) -> ConsoleUser:
    """The signed-in user allowed on this page, charged one rate-limit token; Unauthorized
    (sign in) or Forbidden (role) otherwise."""
    ctx = ctx_of(request)
    with ctx.session_factory() as session:
        user = load_user(session, request.cookies.get(SESSION_COOKIE))
    roles = console_roles(request.url.path)
    if roles is not None and user.role != "admin" and user.role not in roles:
        raise Forbidden(f"role {user.role!r} may not open this page (needs "
                        f"{' or '.join(roles)})")
    ctx.limiter.take(user.who.key_id)
    return user


User = Annotated[ConsoleUser, Depends(current_user)]


def nav(user: ConsoleUser) -> list[tuple[str, str]]:
    """The pages this user's role may open, in menu order."""
    return [(path, title) for path, title in NAV_TITLES.items()
            if user.role == "admin" or user.role in CONSOLE_PAGES[path][0]]


def page(request: Request, name: str, user: ConsoleUser | None, status: int = 200,
         **values: Any) -> HTMLResponse:
    """Render ``name`` with the layout's values (navigation, CSRF token, expiry)."""
    menu = nav(user) if user else []
    values.update(user=user, nav=menu, current=_current(menu, request.url.path),
                  csrf=user.csrf if user else "", path=request.url.path,
                  expires=_fmt_time(user.expires_at) if user else "")
    response = templates.TemplateResponse(request, name, values, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _current(menu: list[tuple[str, str]], path: str) -> str:
    """The menu entry a path is under (the longest matching one)."""
    under = [href for href, _title in menu if path == href or path.startswith(href + "/")]
    return max(under, key=len, default="")


async def posted_form(request: Request, user: ConsoleUser) -> Any:
    """The POSTed form once its CSRF token matches the session's (403 otherwise)."""
    form = await request.form()
    check_csrf(user.csrf, form.get(CSRF_FIELD))
    return form


def scope_of(user: ConsoleUser) -> str | None:
    return None if user.who.country == ANY_COUNTRY else user.who.country


def console_error(request: Request, exc: ApiError) -> Response:
    """Console errors as pages: not signed in -> the sign-in page (GET) or 401."""
    if isinstance(exc, Unauthorized) and request.method == "GET":
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query
                                           else ""), safe="")
        response: Response = RedirectResponse(f"/console/sign-in?next={target}&why="
                                              f"{quote(exc.detail)}", status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response
    if exc.status >= 500:
        logger.error("console %s: %s", exc.code, exc.detail)
    return page(request, "error.html", None, status=exc.status, error=exc)


# ------------------------------------------------------------------------------ sign-in


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: User) -> Response:
    return page(request, "home.html", user)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, why: Annotated[str, Query(max_length=200)] = "",
                 next: Annotated[str, Query(max_length=500)] = "/console/") -> Response:
    token = new_token()
    response = page(request, "sign_in.html", None, presign=token, why=why,
                    next=_safe_next(next))
    _cookie(request, response, PRESIGN_COOKIE, token, max_age=3600)
    return response


@router.post("/sign-in")
async def sign_in_post(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await request.form()
    check_csrf(request.cookies.get(PRESIGN_COOKIE), form.get(CSRF_FIELD))
    address = client_address(request.scope, ctx.trusted_proxies)
    ctx.auth_throttle.check(address)
    key = form.get("api_key")
    try:
        token, user = await run_in_threadpool(_sign_in, ctx, key if isinstance(key, str)
                                              else "")
    except Unauthorized as exc:
        ctx.auth_throttle.failed(address)
        fresh = new_token()
        response = page(request, "sign_in.html", None, status=401, presign=fresh,
                        why=f"sign-in refused: {exc.detail}",
                        next=_safe_next(str(form.get("next") or "")))
        _cookie(request, response, PRESIGN_COOKIE, fresh, max_age=3600)
        return response
    done = RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)
    done.headers.update(SECURITY_HEADERS)
    _cookie(request, done, SESSION_COOKIE, token,
            max_age=int(user.expires_at - time.time()))
    done.delete_cookie(PRESIGN_COOKIE, path="/console", httponly=True, samesite="strict")
    return done


def _sign_in(ctx: Context, key: str) -> tuple[str, ConsoleUser]:
    with ctx.session_factory() as session, session.begin():
        return sign_in(session, key, ctx.settings.console_session_seconds)


@router.post("/sign-out")
async def sign_out_post(request: Request, user: User) -> Response:
    await posted_form(request, user)
    ctx = ctx_of(request)
    with ctx.session_factory() as session, session.begin():
        sign_out(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/console/sign-in?why=signed%20out", status_code=303)
    response.headers.update(SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/console", httponly=True, samesite="strict")
    return response


def _safe_next(target: str) -> str:
    """Only console paths on this site (no open redirect)."""
    if target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/"


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max(max_age, 1), path="/console", httponly=True,
                        samesite="strict",
                        secure=bool(ctx_of(request).settings.console_cookie_secure))


# ---------------------------------------------------------------------------- regulator

NumberQuery = Annotated[str, Query(max_length=64)]
CountryQuery = Annotated[str, Query(max_length=2)]


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: User, number: NumberQuery = "",
               country: CountryQuery = "", inline: bool = False) -> Response:
    """The timeline at once; the checks (seconds of chain and IPFS reads) follow as a
    fragment the page's script fetches, or inline (``inline=1``, the no-script link)."""
    if not number:
        return page(request, "audit.html", user, view=None, number="", country=country)
    view = _audit_view(request, user, number, country, with_checks=inline)
    return page(request, "audit.html", user, view=view, number=number, country=country,
                inline=inline)


@router.get("/audit/checks", response_class=HTMLResponse)
def audit_checks(request: Request, user: User, number: NumberQuery,
                 country: CountryQuery = "") -> Response:
    """Every verification check of the number, as an HTML fragment of the audit page."""
    ctx = ctx_of(request)
    parsed = _parsed(user, number, country)
    with ctx.session_factory() as session:
        found = checks(ctx, session, parsed)
    return page(request, "audit_checks.html", user, **found)


@router.get("/audit/export.{fmt}")
def audit_export(request: Request, user: User, fmt: str, number: NumberQuery,
                 country: CountryQuery = "") -> Response:
    if fmt not in ("csv", "json"):
        raise NotFound(f"export format {fmt[:10]!r}: choose csv or json")
    view = _audit_view(request, user, number, country)
    body = trail_csv(view) if fmt == "csv" else trail_json(view)
    name = f"audit-{view['number'].lstrip('+')}.{fmt}"
    media = "text/csv" if fmt == "csv" else "application/json"
    return Response(body, media_type=media, headers={
        **SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})


def _parsed(user: ConsoleUser, number: str, country: str) -> Any:
    parsed = parse_number(number, country.upper() or None)
    user.who.require_country(parsed.region)
    return parsed


def _audit_view(request: Request, user: ConsoleUser, number: str, country: str,
                with_checks: bool = True) -> dict[str, Any]:
    ctx = ctx_of(request)
    parsed = _parsed(user, number, country)
    with ctx.session_factory() as session:
        return audit(ctx, session, parsed, with_checks=with_checks)


@router.get("/consortium", response_class=HTMLResponse)
def consortium_page(request: Request, user: User, inline: bool = False) -> Response:
    """The index's view at once; governance parameters read from the chain follow as a
    fragment (or inline, ``inline=1``)."""
    ctx = ctx_of(request)
    with ctx.session_factory() as session:
        view = consortium(ctx, session, with_parameters=inline)
        return page(request, "consortium.html", user, view=view, inline=inline)


@router.get("/consortium/parameters", response_class=HTMLResponse)
def consortium_parameters(request: Request, user: User) -> Response:
    """The governance parameters on-chain with the block of their last change (fragment)."""
    ctx = ctx_of(request)
    with ctx.session_factory() as session:
        rows = parameters(ctx, session)
    return page(request, "parameters.html", user, parameters=rows)


@router.get("/activity", response_class=HTMLResponse)
def activity_page(request: Request, user: User) -> Response:
    ctx = ctx_of(request)
    with ctx.session_factory() as session:
        view = activity(session, scope_of(user))
    return page(request, "activity.html", user, view=view, scope=scope_of(user))
