"""The report path's relay: ``POST /v1/relay`` and ``GET /v1/relay/{seq}/{kind}``.

Operators (telco keys) post signed observations, proposals and report signatures and read
those of the others; each message is checked on arrival (see :mod:`api._relay`), and a
refused one gets a 4xx whose detail says why (400 malformed, 403 wrong signer or not a
validator or not the leader, 404 nothing to sign yet, 409 a second proposal, 413 too
large, 422 out of range or another chain).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from api._app import principal
from api._auth import Principal
from api._context import Context
from api._errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
)
from api._relay import relay_board
from api._schemas import RelayAccepted, RelayMessages

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["relay"])

_ERRORS: dict[int, type[ApiError]] = {400: BadRequest, 403: Forbidden, 404: NotFound,
                                      409: Conflict, 413: PayloadTooLarge, 422: Unprocessable}
KindPath = Annotated[str, Path(pattern="^(observation|proposal|signature)$",
                               description="observation, proposal or signature")]
SeqPath = Annotated[int, Path(ge=1, le=2**48 - 1, description="report sequence number")]


def _refused(exc: Any) -> ApiError:
    return _ERRORS.get(exc.status, BadRequest)(exc.detail)


_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["body", "signature"],
    "properties": {"body": {"type": "object"}, "signature": {"type": "string"}}}}}}}


@router.post("/relay", summary="relay one signed report-path message", status_code=202,
             response_model=RelayAccepted, openapi_extra=_BODY)
async def post_message(request: Request,
                       who: Annotated[Principal, Depends(principal)]) -> RelayAccepted:
    from oracle.service._relay import RelayRefused

    ctx: Context = request.app.state.ctx
    raw = await request.body()
    board = await run_in_threadpool(relay_board, ctx)
    try:
        msg = await run_in_threadpool(board.post, raw)
    except RelayRefused as exc:
        logger.info("relay refused a message from key %s: %s", who.name or who.key_id,
                    exc.detail)
        raise _refused(exc) from exc
    return RelayAccepted(kind=msg.kind, seq=msg.seq, sender=msg.sender)


@router.get("/relay/{seq}/{kind}", summary="signed report-path messages of one kind for a seq",
            response_model=RelayMessages)
def get_messages(request: Request, who: Annotated[Principal, Depends(principal)],
                 seq: SeqPath, kind: KindPath) -> RelayMessages:
    from oracle.service._relay import RelayRefused

    board = relay_board(request.app.state.ctx)
    try:
        raws = board.fetch(seq, kind)
    except RelayRefused as exc:
        raise _refused(exc) from exc
    return RelayMessages(messages=[json.loads(r) for r in raws])
