"""What the operator's drift page shows: per country, this week's scores against the training
window's, and how far they drifted.

This week's scores are the latest epoch snapshot the country committed in the last 7 days
whose score table the indexer has loaded (every number the operator scores, not only the few
put to a round: round votes are a selected, higher-scoring population). The training
window's are the out-of-fold score histogram in the card of the model that scored the
snapshot (the epoch names it; its card is the model's registered ``metricsCid`` in IPFS,
read through the CID-verifying store and cached by CID). Cards of models trained before the
oracle recorded a histogram have none: the page says so. An unreachable card is a message on
the page, never a failed page.

Example::

    drift(ctx, session, ["US"])   # [{"country": "US", "epoch": ..., "psi": 0.03, ...}]
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api._console_work import fetch_evidence
from api._context import Context
from api._errors import ApiError
from api._models import ChainEvent, Epoch, EpochLeaf, Model
from spamledger._drift import bin_counts, ks_distance, psi, shares, valid_histogram

logger = logging.getLogger(__name__)

WEEK = 7 * 24 * 3600
LOADED = "loaded"
# Conventional reading of the population stability index (a rule of thumb, not a fit).
PSI_BANDS = ((0.1, "stable"), (0.25, "moderate shift"), (float("inf"), "large shift"))
_CARDS_MAX = 256
_cards: dict[str, Any] = {}  # metricsCid -> parsed card (content-addressed: never changes)
_cards_lock = threading.Lock()


def drift(ctx: Context, session: Session, countries: list[str] | None) -> list[dict[str, Any]]:
    """One entry per country (``None``: every country with an epoch): the snapshot compared,
    the model, both histograms on the card's bins, PSI and KS; or ``note`` saying why not."""
    now = week_end(session)
    wanted = countries if countries is not None else sorted(
        session.scalars(select(Epoch.country).distinct()).all())
    return [_country(ctx, session, cc, now) for cc in wanted]


def week_end(session: Session) -> int:
    """Now: the wall clock, or the newest indexed block if the chain runs ahead of it."""
    newest = session.scalar(select(ChainEvent.block_time)
                            .order_by(ChainEvent.block_number.desc()).limit(1)) or 0
    return max(int(time.time()), int(newest))


def _country(ctx: Context, session: Session, country: str, now: int) -> dict[str, Any]:
    out: dict[str, Any] = {"country": country, "since": now - WEEK, "until": now,
                           "epoch": None, "note": ""}
    epoch = _latest_loaded(session, country, now - WEEK)
    if epoch is None:
        out["note"] = _why_no_epoch(session, country, now - WEEK)
        return out
    out.update(epoch=epoch.epoch, epoch_block=epoch.block_number, model_hash=epoch.model_hash,
               committed_at=_block_time(session, epoch.block_number))
    week = session.execute(select(EpochLeaf.score, func.count())
                           .where(EpochLeaf.epoch_id == epoch.id)
                           .group_by(EpochLeaf.score)).all()
    out["week_total"] = sum(int(n) for _s, n in week)
    trained, why = training_histogram(ctx, session, epoch.model_hash, country)
    if trained is None:
        out["note"] = why
        return out
    counts = bin_counts(trained["edges"], [(int(s) / 10_000, int(n)) for s, n in week])
    out.update(_compare(trained, counts), card_key=trained["key"])
    return out


def _compare(trained: dict[str, Any], week: list[int]) -> dict[str, Any]:
    edges = trained["edges"]
    train_share, week_share = shares(trained["counts"]), shares(week)
    bins = [{"low": edges[i], "high": edges[i + 1], "train": trained["counts"][i],
             "train_share": train_share[i], "week": week[i], "week_share": week_share[i]}
            for i in range(len(week))]
    index = psi(trained["counts"], week)
    return {"bins": bins, "train_total": trained["total"], "psi": index,
            "ks": ks_distance(trained["counts"], week),
            "reading": next(name for top, name in PSI_BANDS if index < top),
            "max_share": max([*train_share, *week_share, 1e-9])}


def _latest_loaded(session: Session, country: str, since: int) -> Epoch | None:
    """The newest epoch of ``country`` with its leaves loaded, if its block's time in the
    index is at or after ``since``."""
    epoch = session.scalars(select(Epoch).where(Epoch.country == country,
                                                Epoch.leaves_status == LOADED)
                            .order_by(Epoch.epoch.desc()).limit(1)).first()
    if epoch is None:
        return None
    when = _block_time(session, epoch.block_number)
    return epoch if when is not None and when >= since else None


def _why_no_epoch(session: Session, country: str, since: int) -> str:
    latest = session.scalars(select(Epoch).where(Epoch.country == country)
                             .order_by(Epoch.epoch.desc()).limit(1)).first()
    if latest is None:
        return "no epoch snapshot committed yet: nothing scored to compare"
    when = _block_time(session, latest.block_number)
    if when is not None and when < since:
        return (f"no epoch snapshot committed in the last 7 days (the latest is epoch "
                f"{latest.epoch})")
    if latest.leaves_status == LOADED:
        return f"epoch {latest.epoch}'s block time is not indexed"
    status = latest.leaves_status or "pending"
    return (f"epoch {latest.epoch}'s score table is not loaded from IPFS ({status}"
            f"{': ' + latest.last_error if latest.last_error else ''})")


def _block_time(session: Session, block: int) -> int | None:
    found = session.scalar(select(ChainEvent.block_time)
                           .where(ChainEvent.block_number == block).limit(1))
    return int(found) if found is not None else None


def training_histogram(ctx: Context, session: Session, model_hash: str,
                       country: str) -> tuple[dict[str, Any] | None, str]:
    """The training-window histogram in ``model_hash``'s card for ``country`` (else the
    card's global model, which scores countries without their own): ``(histogram with its
    card key, "")`` or ``(None, why not)``."""
    # One row per owner of the hash (models are bound to their owner): the latest
    # registration, as when the table was keyed by the hash alone.
    model = session.scalars(select(Model).where(Model.model_hash == model_hash)
                            .order_by(Model.block_number.desc())).first()
    if model is None or not model.metrics_cid:
        return None, (f"model {model_hash[:18]}… is not registered in the index: no model "
                      "card to read the training distribution from")
    card, why = model_card(ctx, model.metrics_cid)
    if card is None:
        return None, why
    groups = card.get("countries")
    if not isinstance(groups, dict):
        groups = {}
    for key in (country, "*"):
        entry = groups.get(key)
        found = valid_histogram(entry.get("score_histogram")) if isinstance(entry, dict) else None
        if found is not None:
            return {**found, "key": key}, ""
    return None, (f"no training distribution recorded: the card of model {model_hash[:18]}… "
                  "predates score histograms (retrain to record one)")


def model_card(ctx: Context, cid: str) -> tuple[dict[str, Any] | None, str]:
    """The model card at ``cid`` (CID-verified, cached): ``(card, "")`` or ``(None, why)``."""
    with _cards_lock:
        if cid in _cards:
            return _cards[cid], ""
    try:
        data = fetch_evidence(ctx, cid)
    except ApiError as exc:
        logger.info("model card %s unreadable: %s", cid, exc.detail)
        return None, f"model card {cid} unreachable: {exc.detail}"
    try:
        card = json.loads(data)
    except ValueError:
        card = None
    if not isinstance(card, dict):
        return None, f"model card {cid} is not a JSON object: no training distribution"
    with _cards_lock:
        if len(_cards) >= _CARDS_MAX:
            _cards.pop(next(iter(_cards)))
        _cards[cid] = card
    return card, ""
