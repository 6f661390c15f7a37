"""A scored number as the service handles it, and conversions from the oracle's tables."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spamledger._types import SCORE_SCALE, Category, Verdict

logger = logging.getLogger(__name__)

_VERDICTS = {"spam": Verdict.SPAM, "suspicious": Verdict.SUSPICIOUS,
             "not_spam": Verdict.NOT_SPAM, "unknown": Verdict.UNKNOWN}


@dataclass(frozen=True)
class ScoredNumber:
    """One number scored by this operator's model.

    :param countries_reached: distinct countries whose subscribers it called (cross-border
        numbers are voted on per number).
    """

    e164: str
    country: str
    score: float
    verdict: Verdict
    category: Category = Category.NONE
    confidence: float = 1.0
    features: Mapping[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    reports: Mapping[str, int] = field(default_factory=dict)
    countries_reached: int = 1

    @property
    def score_bps(self) -> int:
        return to_bps(self.score)

    @property
    def confidence_bps(self) -> int:
        return to_bps(self.confidence)


def to_bps(value: float) -> int:
    """Probability 0..1 -> basis points 0..10000 (clamped; NaN -> 0)."""
    if value is None or not math.isfinite(float(value)):
        return 0
    return max(0, min(SCORE_SCALE, round(float(value) * SCORE_SCALE)))


def verdict_of(raw: Any) -> Verdict:
    if isinstance(raw, Verdict):
        return raw
    if isinstance(raw, int):
        return Verdict(raw)
    return _VERDICTS.get(str(raw).strip().lower(), Verdict.UNKNOWN)


def model_hash_bytes(model_hash: str | bytes) -> bytes:
    """A model's content hash as ``bytes32``: 64 hex digits are taken as they are, anything
    else is hashed (sha256) so every model id maps to one stable value."""
    if isinstance(model_hash, bytes):
        if len(model_hash) == 32:
            return model_hash
        return hashlib.sha256(model_hash).digest()
    text = model_hash.removeprefix("0x")
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return hashlib.sha256(model_hash.encode()).digest()


def from_records(records: Iterable[Mapping[str, Any]],
                 features: Mapping[str, Mapping[str, float]] | None = None,
                 reach: Mapping[str, int] | None = None) -> list[ScoredNumber]:
    """Scored numbers from rows of the data contract's ``scores`` table.

    :param features: optional number -> {feature: value} (evidence).
    :param reach: optional number -> distinct countries called.
    """
    out = []
    for rec in records:
        number = str(rec["number"])
        feats = dict((features or {}).get(number, {}))
        out.append(ScoredNumber(
            e164=number, country=str(rec.get("country") or "").upper(),
            score=float(rec["score"]), verdict=verdict_of(rec["verdict"]),
            category=Category.from_name(rec.get("category")),
            confidence=float(rec.get("confidence", 1.0) or 1.0), features=feats,
            reasons=_reasons(rec.get("reasons")),
            reports={k: int(v) for k, v in feats.items() if k.startswith("report")
                     and math.isfinite(float(v))},
            countries_reached=int((reach or {}).get(number, 1))))
    return out


def _reasons(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return tuple(p.strip() for p in raw.split(";") if p.strip())
    try:
        return tuple(str(r) for r in raw)
    except TypeError:
        return (str(raw),)


def read_scores(path: Any) -> list[ScoredNumber]:
    """Scored numbers from a ``scores`` file (Parquet or CSV, data contract columns).

    Optional extra columns: ``confidence`` (0..1), ``countries_reached`` (int), and any
    numeric feature columns (kept as evidence).
    """
    import pandas as pd

    from oracle.service._errors import ServiceError

    p = str(path)
    try:
        frame = pd.read_csv(p) if p.endswith(".csv") else pd.read_parquet(p)
    except (OSError, ValueError) as exc:
        raise ServiceError(f"cannot read scores file {p}: {exc}") from exc
    missing = [c for c in ("number", "score", "verdict") if c not in frame.columns]
    if missing:
        raise ServiceError(f"scores file {p}: missing column(s) {', '.join(missing)}")
    known = {"number", "country", "score", "verdict", "category", "reasons", "model",
             "confidence", "countries_reached"}
    feature_cols = [c for c in frame.columns if c not in known
                    and pd.api.types.is_numeric_dtype(frame[c])]
    records = frame.to_dict("records")
    feats = {str(r["number"]): {c: r[c] for c in feature_cols} for r in records}
    reach = ({str(r["number"]): int(r["countries_reached"]) for r in records}
             if "countries_reached" in frame.columns else None)
    return from_records(records, feats, reach)
