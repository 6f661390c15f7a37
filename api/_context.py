"""Everything a request handler needs, built once per app."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api._chain import Chain, Evidence, Lazy
from api._db import sessions
from api._metrics import Metrics
from api._proxies import Network, trusted_networks
from api._readmodel import ReadModel, signal_path
from api._throttle import AuthThrottle, DailyQuota, RateLimiter, limiters
from spamledger._keyhash import NumberHasher

logger = logging.getLogger(__name__)


@dataclass
class Context:
    """Settings, database sessions, number hasher, rate limits, chain, IPFS, metrics and the
    reputation read model."""

    settings: Any
    engine: Engine
    hasher: NumberHasher
    chain: Lazy
    evidence: Lazy
    limiter: RateLimiter
    auth_throttle: AuthThrottle
    lookups: DailyQuota
    metrics: Metrics = field(default_factory=Metrics)
    session_factory: sessionmaker[Session] = field(init=False)
    key_cache: dict[str, tuple[Any, float]] = field(default_factory=dict)
    trusted_proxies: tuple[Network, ...] = ()
    read_model: ReadModel = field(init=False)

    def __post_init__(self) -> None:
        self.session_factory = sessions(self.engine)
        # Reputation answers: built on the first lookup, refreshed as the indexer signals.
        self.read_model = ReadModel(self.engine, signal=signal_path(self.settings))

    @classmethod
    def build(cls, settings, engine: Engine, chain: Chain | None = None,
              evidence: Evidence | None = None, redis_prefix: str = "spamledger") -> Context:
        limiter, throttle, lookups = limiters(settings, redis_prefix)
        return cls(
            settings=settings, engine=engine, hasher=NumberHasher(settings.consortium_secret),
            chain=_fixed(chain) if chain else Lazy(lambda: Chain.from_settings(settings)),
            evidence=(_fixed(evidence) if evidence
                      else Lazy(lambda: Evidence.from_settings(settings))),
            limiter=limiter, auth_throttle=throttle, lookups=lookups,
            trusted_proxies=trusted_networks(getattr(settings, "api_trusted_proxies", "")))


def _fixed(value) -> Lazy:
    lazy = Lazy(lambda: value)
    lazy.get()
    return lazy
