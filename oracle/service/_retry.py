"""Bounded retries with exponential backoff for an unreachable chain or IPFS node."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


def chain_transient() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the chain did not answer" (as opposed to "it said no")."""
    import requests
    from web3.exceptions import ProviderConnectionError, TimeExhausted

    kinds: list[type[BaseException]] = [requests.exceptions.ConnectionError,
                                        requests.exceptions.Timeout, ProviderConnectionError,
                                        TimeExhausted, ConnectionError, TimeoutError]
    try:
        import node

        kinds.append(node.ChainUnreachable)
    except (ImportError, AttributeError):
        pass
    return tuple(kinds)


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries; the first wait is ``backoff`` seconds, doubling, capped at 30 s."""

    attempts: int = 6
    backoff: float = 0.5

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        return cls(attempts=max(1, settings.service_retry_limit),
                   backoff=max(0.0, settings.service_retry_backoff))

    def call(self, fn: Callable[[], T], what: str,
             transient: tuple[type[BaseException], ...],
             give_up: Callable[[str, BaseException], BaseException]) -> T:
        """Run ``fn``; on a ``transient`` error wait and retry; after the last attempt raise
        ``give_up(what, last_error)`` from the last error."""
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except transient as exc:
                if attempt == self.attempts:
                    raise give_up(what, exc) from exc
                logger.warning("%s failed (attempt %d/%d): %s; retrying in %.1fs",
                               what, attempt, self.attempts, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")  # pragma: no cover
