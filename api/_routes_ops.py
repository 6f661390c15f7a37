"""Operations endpoints: ``/healthz`` and Prometheus ``/metrics`` (no key needed)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from api._context import Context
from api._epochs import EpochBacklog, epoch_backlog
from api._errors import ApiError
from api._models import IndexCursor
from api._schemas import Health

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


def health(ctx: Context, probe_upstreams: bool = True) -> Health:
    """Database, chain and IPFS health plus the indexer's lag; updates the gauges."""
    db_ok, indexed, backlog = _database(ctx)
    head = _chain_head(ctx) if probe_upstreams else None
    ipfs_ok = _ipfs_ok(ctx) if probe_upstreams else None
    lag = head - indexed if head is not None and indexed is not None else None
    m = ctx.metrics
    m.chain_up.set(1 if head is not None else 0)
    m.ipfs_up.set(1 if ipfs_ok else 0)
    if indexed is not None:
        m.indexed_block.set(indexed)
    if lag is not None:
        m.index_lag.set(max(lag, 0))
    if backlog is not None:
        m.epochs_pending.set(backlog.pending)
        m.epochs_retrying.set(backlog.retrying)
    redis_ok = _redis_ok(ctx) if probe_upstreams else ctx.limiter.shared_up()
    m.redis_up.set(-1 if redis_ok is None else int(redis_ok))
    m.limit_local_decisions.set(ctx.limiter.local_decisions())
    retrying = bool(backlog and backlog.retrying)
    status = ("ok" if db_ok and head is not None and ipfs_ok and not retrying
              and redis_ok is not False else "degraded")
    return Health(status=status if db_ok else "down", database=db_ok, chain=head is not None,
                  ipfs=ipfs_ok, indexed_block=indexed, head_block=head, lag_blocks=lag,
                  epochs_pending=backlog.pending if backlog else None,
                  epochs_retrying=backlog.retrying if backlog else None,
                  epoch_error=(backlog.last_error or None) if backlog else None,
                  redis=redis_ok)


def _database(ctx: Context) -> tuple[bool, int | None, EpochBacklog | None]:
    try:
        with ctx.session_factory() as session:
            session.execute(text("SELECT 1"))
            cursor = session.scalars(select(IndexCursor).order_by(IndexCursor.stream)).first()
            return True, cursor.last_block if cursor else None, epoch_backlog(session)
    except Exception as exc:  # the probe reports any failure as "down"
        logger.warning("database health check failed: %s", type(exc).__name__)
        return False, None, None


def _chain_head(ctx: Context) -> int | None:
    try:
        return ctx.chain.get().head()
    except ApiError as exc:
        logger.info("chain health: %s", exc.detail)
        return None


def _redis_ok(ctx: Context) -> bool | None:
    """Ping the limits' Redis (None when none is configured); a failure opens the breaker
    exactly as a failed limit call would."""
    return ctx.limiter.probe()


def _ipfs_ok(ctx: Context) -> bool:
    try:
        evidence = ctx.evidence.get()
        return bool(evidence.alive())
    except Exception as exc:  # any failure to answer means "down"
        logger.info("IPFS health: %s", type(exc).__name__)
        return False


@router.get("/livez", summary="liveness only (no database, chain or IPFS call)")
def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/healthz", response_model=Health, summary="liveness and upstream health",
            responses={503: {"model": Health, "description": "degraded or down"}})
def healthz(request: Request, response: Response) -> Health:
    """200 only when the database, the chain and IPFS all answer; 503 otherwise."""
    result = health(request.app.state.ctx)
    if result.status != "ok":
        response.status_code = 503
    return result


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    health(ctx)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
