"""Rate limits and authentication throttles, shared by every API worker through Redis.

With ``redis_url`` set, each key's token bucket and each client address's failure count
live in Redis, so the limits hold across uvicorn workers and restarts; without it they live
in the process (right for one worker only). A Redis that stops answering fails open (the
request is served and the failure logged): an outage of the limiter must not become an
outage of the API.

Example::

    limiter, throttle = limiters(settings)
    throttle.check("10.0.0.7")            # 429 once the address failed too often
    limiter.take(principal.key_id)        # 429 once the key's bucket is empty
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from api._errors import RateLimited, UpstreamUnavailable

logger = logging.getLogger(__name__)

FAILURE_WINDOW_SECONDS = 60

# KEYS[1] bucket; ARGV rate/s, burst, now, cost, ttl. Returns {allowed 1/0, tokens left}.
_BUCKET_LUA = """
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens = tonumber(b[1]) or burst
local last = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local allowed = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return {allowed, tostring(tokens)}
"""


def redis_client(url: str) -> Any:
    """A Redis client for ``url`` (short timeouts: the limiter must never stall a request)."""
    import redis

    try:
        return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    except (ValueError, redis.RedisError) as exc:
        raise UpstreamUnavailable(f"redis_url {url!r} is not usable: {exc}") from exc


def limiters(settings, prefix: str = "spamledger",
             ) -> tuple[RateLimiter, AuthThrottle, DailyQuota]:
    """The key rate limiter, the address throttle and the daily lookup quota the settings
    ask for (Redis keys start with ``prefix``)."""
    client = redis_client(settings.redis_url) if settings.redis_url else None
    return (RateLimiter(settings.api_rate_per_minute, settings.api_rate_burst,
                        redis=client, prefix=prefix),
            AuthThrottle(settings.api_auth_failures_per_minute, redis=client, prefix=prefix),
            DailyQuota(redis=client, prefix=prefix))


def _wait(cost: float, tokens: float, rate: float) -> int:
    seconds = (cost - tokens) / rate if rate > 0 else 3600
    return max(1, int(seconds + 0.999))


class RateLimiter:
    """Token buckets per key: ``burst`` tokens, refilled at ``per_minute`` a minute."""

    def __init__(self, per_minute: int, burst: int, *, redis: Any = None,
                 prefix: str = "spamledger"):
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.redis = redis
        self.prefix = f"{prefix}:bucket:"
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._script: Any = redis.register_script(_BUCKET_LUA) if redis is not None else None

    def take(self, key_id: int, cost: float = 1.0) -> None:
        """Spend ``cost`` tokens or raise :class:`RateLimited` with the seconds to wait."""
        allowed, tokens = (self._take_redis(key_id, cost) if self._script is not None
                           else self._take_local(key_id, cost))
        if not allowed:
            wait = _wait(cost, tokens, self.rate)
            raise RateLimited(f"rate limit exceeded for this key; retry in {wait}s",
                              retry_after=wait)

    def _take_local(self, key_id: int, cost: float) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= cost
            self._buckets[key_id] = (tokens - cost if allowed else tokens, now)
            return allowed, tokens

    def _take_redis(self, key_id: int, cost: float) -> tuple[bool, float]:
        import redis

        ttl = int(self.burst / self.rate) + 60 if self.rate > 0 else 86_400
        try:
            allowed, tokens = self._script(keys=[f"{self.prefix}{key_id}"],
                                           args=[self.rate, self.burst, time.time(), cost, ttl])
        except redis.RedisError as exc:
            logger.warning("rate limiter: Redis failed (%s); serving unlimited",
                           type(exc).__name__)
            return True, self.burst
        return bool(int(allowed)), float(tokens)


class AuthThrottle:
    """Failed authentications per client address in a one-minute window; past
    ``per_minute`` the address gets 429 until the window ends, with no database lookup."""

    def __init__(self, per_minute: int, *, redis: Any = None, prefix: str = "spamledger"):
        self.per_minute = max(1, per_minute)
        self.redis = redis
        self.prefix = f"{prefix}:authfail:"
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def _slot(self, address: str) -> tuple[str, int, int]:
        now = time.time()
        window = int(now // FAILURE_WINDOW_SECONDS)
        wait = int((window + 1) * FAILURE_WINDOW_SECONDS - now) + 1
        return f"{self.prefix}{address}:{window}", window, wait

    def check(self, address: str) -> None:
        """Raise :class:`RateLimited` when ``address`` used up its failures this minute."""
        name, window, wait = self._slot(address)
        count = self._count(name, address, window)
        if count >= self.per_minute:
            raise RateLimited(f"{count} failed authentications from this address in the "
                              f"last minute (limit {self.per_minute}); retry in {wait}s",
                              retry_after=wait)

    def failed(self, address: str) -> None:
        """Count one failed authentication of ``address``."""
        name, window, _wait_s = self._slot(address)
        if self.redis is None:
            with self._lock:
                if len(self._counts) > 100_000:
                    self._counts.clear()
                self._counts[(address, window)] = self._counts.get((address, window), 0) + 1
            return
        import redis

        try:
            with self.redis.pipeline() as pipe:
                pipe.incr(name).expire(name, 2 * FAILURE_WINDOW_SECONDS).execute()
        except redis.RedisError as exc:
            logger.warning("auth throttle: Redis failed (%s)", type(exc).__name__)

    def _count(self, name: str, address: str, window: int) -> int:
        if self.redis is None:
            with self._lock:
                return self._counts.get((address, window), 0)
        import redis

        try:
            return int(self.redis.get(name) or 0)
        except redis.RedisError as exc:
            logger.warning("auth throttle: Redis failed (%s)", type(exc).__name__)
            return 0



class DailyQuota:
    """Numbers looked up per key per UTC day; past ``limit`` the key gets 429 until midnight.

    Bounds what a key can enumerate (a number-to-key dictionary undoes the keyed hashes
    on-chain) while a telco's real lookup volume fits.
    """

    def __init__(self, *, redis: Any = None, prefix: str = "spamledger"):
        self.redis = redis
        self.prefix = f"{prefix}:lookups:"
        self._counts: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()

    def spend(self, key_id: int, numbers: int, limit: int) -> None:
        """Count ``numbers`` lookups of ``key_id`` today, or raise :class:`RateLimited`."""
        now = time.time()
        day = int(now // 86_400)
        used = self._add(key_id, day, numbers)
        if used > limit:
            self._add(key_id, day, -numbers)  # a refused request spends nothing
            wait = int((day + 1) * 86_400 - now) + 1
            raise RateLimited(f"this key looked up {used - numbers} numbers today; "
                              f"{numbers} more would pass its daily limit of {limit}",
                              retry_after=wait)

    def _add(self, key_id: int, day: int, numbers: int) -> int:
        if self.redis is None:
            with self._lock:
                if len(self._counts) > 100_000:
                    self._counts.clear()
                total = self._counts.get((key_id, day), 0) + numbers
                self._counts[(key_id, day)] = total
                return total
        import redis

        name = f"{self.prefix}{key_id}:{day}"
        try:
            with self.redis.pipeline() as pipe:
                total, _ = pipe.incrby(name, numbers).expire(name, 2 * 86_400).execute()
            return int(total)
        except redis.RedisError as exc:
            logger.warning("lookup quota: Redis failed (%s); not counted", type(exc).__name__)
            return 0
