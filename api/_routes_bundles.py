"""Edge bundle distribution: full bundles and deltas by block, with ETag and Range.

``GET /v1/bundles/{country}`` serves the bundle of ``country`` (or ``all``) at the index
cursor, built once per block; ``GET /v1/bundles/{country}/delta?since=BLOCK`` serves what
changed after ``BLOCK``. The ETag is the bundle root (and the base block for a delta), so a
switch polling with ``If-None-Match`` gets 304 until the ledger moves; ``Range`` resumes a
download. Headers name the block and root so a client can check the attestation on-chain
(``spamledger edge verify``).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from api._app import principal
from api._auth import ANY_COUNTRY, Principal
from api._context import Context
from api._errors import Forbidden, NotFound, Unprocessable, UpstreamUnavailable
from spamledger.edge._errors import NothingIndexed, SinceAhead, SourceError

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["telcos"])

CountryPath = Annotated[str, Path(pattern="^([A-Za-z]{2}|all)$",
                                  description="ISO alpha-2 country, or `all`")]
MEDIA = "application/vnd.spamledger.edge-bundle"


@router.get("/bundles/{country}", summary="edge bundle of a country at the indexed block",
            response_class=FileResponse)
def bundle(request: Request, who: Annotated[Principal, Depends(principal)],
           country: CountryPath) -> Response:
    return _serve(request, who, country, None)


@router.get("/bundles/{country}/delta", summary="edge bundle delta since a block",
            response_class=FileResponse)
def delta(request: Request, who: Annotated[Principal, Depends(principal)],
          country: CountryPath,
          since: Annotated[int, Query(ge=0, le=2**63 - 1,
                                      description="block of the bundle the client holds")],
          ) -> Response:
    return _serve(request, who, country, since)


def _scope(who: Principal, country: str) -> str:
    if country == "all":
        if who.country != ANY_COUNTRY:
            raise Forbidden(f"key is scoped to country {who.country}: fetch "
                            f"/v1/bundles/{who.country}, not every country")
        return "**"
    scope = country.upper()
    who.require_country(scope)
    return scope


def _serve(request: Request, who: Principal, country: str, since: int | None) -> Response:
    from api._bundles import Target, cached_bundle

    ctx: Context = request.app.state.ctx
    who.require("telco")
    scope = _scope(who, country)
    target = Target.from_deployment(ctx.chain.get().deployment)
    try:
        path, header = cached_bundle(ctx.engine, target, scope,
                                     ctx.settings.data_dir / "bundles", since)
    except SinceAhead as exc:
        raise Unprocessable(str(exc)) from exc
    except NothingIndexed as exc:
        raise NotFound(f"no bundle yet: {exc}") from exc
    except SourceError as exc:  # epochs still loading: a moment's wait, not a client error
        raise UpstreamUnavailable(str(exc)) from exc
    etag = f'"{header.root.hex()}' + (f'.{since}"' if since is not None else '"')
    headers = {"etag": etag, "x-bundle-block": str(header.block),
               "x-bundle-root": "0x" + header.root.hex(), "x-bundle-scope": header.scope,
               "cache-control": "no-cache"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=MEDIA, headers=headers,
                        filename=path.name)
