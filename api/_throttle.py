"""Rate limits and authentication throttles, shared by every API worker through Redis.

With ``redis_url`` set, each key's token bucket, each client address's failure count and
each key's daily lookups live in Redis, so the limits hold across uvicorn workers and
restarts; without it they live in the process (right for one worker only).

A Redis that stops answering does NOT fail open. The first failure logs a warning, marks
Redis down (``/healthz`` says ``redis: false`` and ``degraded``; the
``spamledger_redis_up`` gauge drops to 0 and ``spamledger_redis_fallbacks_total`` counts
the decisions taken locally) and every limit falls back to the worker's own memory with a
STRICT share: the shared limit divided by ``api_workers``, so all workers together never
allow more than the shared limit did. Redis is tried again every
:data:`REDIS_RETRY_SECONDS` (no per-request connect timeouts while it is down); the first
answer ends the fallback and logs that Redis is back. Key revocation does not go through
Redis at all (each worker re-reads a key from the database at most ``KEY_CACHE_SECONDS``
after it last checked it), so a Redis outage cannot extend it.

Example::

    limiter, throttle, quota = limiters(settings)
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
# Seconds between attempts to reach a Redis that failed (local strict limits meanwhile).
REDIS_RETRY_SECONDS = 2.0

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


class SharedRedis:
    """The limiters' Redis with a breaker: after a failure, :data:`REDIS_RETRY_SECONDS` of
    strict local limits before Redis is tried again.

    ``share`` is the fraction of a shared limit one worker may use on its own (1 /
    ``api_workers``) while Redis is down.
    """

    def __init__(self, client: Any, workers: int = 1, retry_seconds: float = REDIS_RETRY_SECONDS):
        self.client = client
        self.share = 1.0 / max(1, workers)
        self.retry_seconds = retry_seconds
        self.fallbacks = 0
        self.last_error = ""
        self._down_until: float | None = None
        self._lock = threading.Lock()

    @property
    def up(self) -> bool | None:
        """None without Redis configured; False while the breaker is open."""
        if self.client is None:
            return None
        return self._down_until is None

    def usable(self) -> bool:
        """Whether to ask Redis now (configured, and not inside a retry pause)."""
        if self.client is None:
            return False
        down = self._down_until
        return down is None or time.monotonic() >= down

    def failed(self, what: str, exc: Exception) -> None:
        """Record a failure of ``what``: open the breaker; warn when Redis just went down."""
        with self._lock:
            was_up = self._down_until is None
            self._down_until = time.monotonic() + self.retry_seconds
            self.last_error = f"{what}: {type(exc).__name__}"
        if was_up:
            logger.warning("Redis failed (%s: %s): limits fall back to this worker's strict "
                           "local share (1/%d of each limit) until it answers again", what,
                           type(exc).__name__, round(1 / self.share))

    def answered(self) -> None:
        """Record a Redis answer: close the breaker (log when it was open)."""
        if self._down_until is None:
            return
        with self._lock:
            self._down_until = None
        logger.warning("Redis answers again: limits are shared across workers again")

    def ready(self) -> Any:
        """The client to ask now, or None: none configured, or inside a retry pause (which
        counts as one decision taken locally)."""
        if self.client is None:
            return None
        if not self.usable():
            self.fell_back()
            return None
        return self.client

    def fell_back(self) -> None:
        """Count one limit decision taken locally because Redis was down."""
        self.fallbacks += 1

    def probe(self) -> bool | None:
        """Ping Redis now (None when none is configured); updates the breaker."""
        import redis

        if self.client is None:
            return None
        try:
            self.client.ping()
        except redis.RedisError as exc:
            self.failed("health probe", exc)
            return False
        self.answered()
        return True


def limiters(settings, prefix: str = "spamledger",
             ) -> tuple[RateLimiter, AuthThrottle, DailyQuota]:
    """The key rate limiter, the address throttle and the daily lookup quota the settings
    ask for (Redis keys start with ``prefix``; all three share one :class:`SharedRedis`)."""
    client = redis_client(settings.redis_url) if settings.redis_url else None
    shared = SharedRedis(client, workers=getattr(settings, "api_workers", 1))
    return (RateLimiter(settings.api_rate_per_minute, settings.api_rate_burst,
                        shared=shared, prefix=prefix),
            AuthThrottle(settings.api_auth_failures_per_minute, shared=shared, prefix=prefix),
            DailyQuota(shared=shared, prefix=prefix))


def _local_share(shared: SharedRedis | None) -> float:
    """The fraction of a limit the local path grants: all of it without Redis configured
    (one worker), the strict per-worker share when Redis is configured but down."""
    return 1.0 if shared is None or shared.client is None else shared.share


def _wait(cost: float, tokens: float, rate: float) -> int:
    seconds = (cost - tokens) / rate if rate > 0 else 3600
    return max(1, int(seconds + 0.999))


class RateLimiter:
    """Token buckets per key: ``burst`` tokens, refilled at ``per_minute`` a minute."""

    def __init__(self, per_minute: int, burst: int, *, shared: SharedRedis | None = None,
                 prefix: str = "spamledger"):
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.shared = shared
        self.prefix = f"{prefix}:bucket:"
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()
        client = shared.client if shared is not None else None
        self._script: Any = client.register_script(_BUCKET_LUA) if client is not None else None

    def shared_up(self) -> bool | None:
        """The shared Redis's state as last seen (None when none is configured)."""
        return self.shared.up if self.shared is not None else None

    def probe(self) -> bool | None:
        """Ping the shared Redis now (None when none is configured)."""
        return self.shared.probe() if self.shared is not None else None

    def local_decisions(self) -> int:
        """Limit decisions taken locally because the configured Redis was down."""
        return self.shared.fallbacks if self.shared is not None else 0

    def take(self, key_id: int, cost: float = 1.0) -> None:
        """Spend ``cost`` tokens or raise :class:`RateLimited` with the seconds to wait."""
        verdict = self._take_redis(key_id, cost) if self._script is not None else None
        if verdict is None:
            verdict = self._take_local(key_id, cost, _local_share(self.shared))
        allowed, tokens, rate = verdict
        if not allowed:
            wait = _wait(cost, tokens, rate)
            raise RateLimited(f"rate limit exceeded for this key; retry in {wait}s",
                              retry_after=wait)

    def _take_local(self, key_id: int, cost: float,
                    share: float) -> tuple[bool, float, float]:
        rate, burst = self.rate * share, max(1.0, self.burst * share)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            allowed = tokens >= cost
            self._buckets[key_id] = (tokens - cost if allowed else tokens, now)
            return allowed, tokens, rate

    def _take_redis(self, key_id: int, cost: float) -> tuple[bool, float, float] | None:
        """Redis's verdict, or None when Redis is down (the caller decides locally)."""
        import redis

        shared = self.shared
        assert shared is not None
        if not shared.usable():
            shared.fell_back()
            return None
        ttl = int(self.burst / self.rate) + 60 if self.rate > 0 else 86_400
        try:
            allowed, tokens = self._script(keys=[f"{self.prefix}{key_id}"],
                                           args=[self.rate, self.burst, time.time(), cost, ttl])
        except redis.RedisError as exc:
            shared.failed("rate limiter", exc)
            shared.fell_back()
            return None
        shared.answered()
        return bool(int(allowed)), float(tokens), self.rate


class AuthThrottle:
    """Failed authentications per client address in a one-minute window; past
    ``per_minute`` the address gets 429 until the window ends, with no database lookup."""

    def __init__(self, per_minute: int, *, shared: SharedRedis | None = None,
                 prefix: str = "spamledger"):
        self.per_minute = max(1, per_minute)
        self.shared = shared
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
        count = self._shared_count(name)
        limit = self.per_minute
        if count is None:  # Redis down or not configured: this worker's own count and share
            count = self._local_count(address, window)
            limit = max(1, int(self.per_minute * _local_share(self.shared)))
        if count >= limit:
            raise RateLimited(f"{count} failed authentications from this address in the "
                              f"last minute (limit {limit}); retry in {wait}s",
                              retry_after=wait)

    def failed(self, address: str) -> None:
        """Count one failed authentication of ``address`` (always locally too, so a Redis
        that fails mid-minute leaves this worker's count intact)."""
        name, window, _wait_s = self._slot(address)
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts.clear()
            self._counts[(address, window)] = self._counts.get((address, window), 0) + 1
        shared = self.shared
        if shared is None or not shared.usable():
            return
        import redis

        try:
            with shared.client.pipeline() as pipe:
                pipe.incr(name).expire(name, 2 * FAILURE_WINDOW_SECONDS).execute()
        except redis.RedisError as exc:
            shared.failed("auth throttle", exc)
            return
        shared.answered()

    def _local_count(self, address: str, window: int) -> int:
        with self._lock:
            return self._counts.get((address, window), 0)

    def _shared_count(self, name: str) -> int | None:
        shared = self.shared
        if shared is None or shared.ready() is None:
            return None
        import redis

        try:
            count = int(shared.client.get(name) or 0)
        except redis.RedisError as exc:
            shared.failed("auth throttle", exc)
            shared.fell_back()
            return None
        shared.answered()
        return count



class DailyQuota:
    """Numbers looked up per key per UTC day; past ``limit`` the key gets 429 until midnight.

    Bounds what a key can enumerate (a number-to-key dictionary undoes the keyed hashes
    on-chain) while a telco's real lookup volume fits.
    """

    def __init__(self, *, shared: SharedRedis | None = None, prefix: str = "spamledger"):
        self.shared = shared
        self.prefix = f"{prefix}:lookups:"
        self._counts: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()

    def spend(self, key_id: int, numbers: int, limit: int) -> None:
        """Count ``numbers`` lookups of ``key_id`` today, or raise :class:`RateLimited`."""
        now = time.time()
        day = int(now // 86_400)
        used = self._add_shared(key_id, day, numbers)
        local = used is None
        if used is None:  # Redis down or not configured: this worker's count and share
            limit = max(1, int(limit * _local_share(self.shared)))
            used = self._add_local(key_id, day, numbers)
        if used > limit:
            # a refused request spends nothing
            (self._add_local if local else self._add_shared)(key_id, day, -numbers)
            wait = int((day + 1) * 86_400 - now) + 1
            raise RateLimited(f"this key looked up {used - numbers} numbers today; "
                              f"{numbers} more would pass its daily limit of {limit}",
                              retry_after=wait)

    def _add_local(self, key_id: int, day: int, numbers: int) -> int:
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts.clear()
            total = self._counts.get((key_id, day), 0) + numbers
            self._counts[(key_id, day)] = total
            return total

    def _add_shared(self, key_id: int, day: int, numbers: int) -> int | None:
        shared = self.shared
        if shared is None or shared.ready() is None:
            return None
        import redis

        name = f"{self.prefix}{key_id}:{day}"
        try:
            with shared.client.pipeline() as pipe:
                total, _ = pipe.incrby(name, numbers).expire(name, 2 * 86_400).execute()
        except redis.RedisError as exc:
            shared.failed("lookup quota", exc)
            shared.fell_back()
            return None
        shared.answered()
        return int(total)
