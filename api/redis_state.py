"""State shared by service processes and hosts through Redis (``AUDIO_DETECT_REDIS_URL``).

With one process the in-memory :class:`~audio_detect_service.security.TokenBuckets` and
the in-process job runner are the defaults. With ``audio-detect serve --workers N`` or
several hosts, set ``AUDIO_DETECT_REDIS_URL`` and every process uses:

* :class:`RedisTokenBuckets`: the per-key token buckets, kept in Redis and updated by one
  Lua script (atomic; Redis's clock, so hosts need not agree on the time), so a key's
  rate limit holds across processes and hosts;
* the Redis job queue (:class:`audio_detect_service.redis_jobs.RedisJobRunner`): an async job
  is queued in Redis and run by whichever process takes it first; its state is in the
  audit store (shared PostgreSQL, or SQLite on one host), so ``GET /v1/jobs/{id}``
  answers from any process.

``redis`` (the Python client) is in the ``api`` extra and imported only when a Redis URL
is set.
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import ApiError

__all__ = ["KEY_PREFIX", "RedisTokenBuckets", "connect"]

logger = logging.getLogger(__name__)

#: Default prefix of every key this service writes (``AUDIO_DETECT_REDIS_PREFIX``).
KEY_PREFIX = "audio-detect:"

# KEYS[1] bucket; ARGV rate (tokens/s), capacity, cost. Returns the wait in seconds
# (0 = allowed) as a string (Lua numbers become integers on the way out).
_TAKE = """
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(cap / rate) + 60)
return tostring(wait)
"""


def connect(url: str, *, asyncio: bool = False, decode: bool = False) -> Any:
    """A Redis client for ``url`` (``redis://host:port/db``, ``unix:///path.sock``)."""
    try:
        import redis
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - the api extra includes redis
        raise RuntimeError(
            f"AUDIO_DETECT_REDIS_URL is set but the redis client is missing ({exc}); "
            "pip install 'audio-detect[api]'"
        ) from exc
    module = redis.asyncio if asyncio else redis
    return module.from_url(url, decode_responses=decode, socket_timeout=5, socket_connect_timeout=5)


def unavailable(exc: Exception) -> ApiError:
    """The 503 when the shared state cannot be reached."""
    logger.error("redis unavailable: %r", exc)
    return ApiError(
        503, "shared_state_unavailable", "The service's shared state (Redis) is unreachable.",
        retry_after=2,
    )  # fmt: skip


class RedisTokenBuckets:
    """Per-key token buckets in Redis; the interface of :class:`.security.TokenBuckets`.

    Parameters
    ----------
    url : str
        Redis URL.
    default_per_minute, burst : int
        As for the in-memory buckets.
    """

    def __init__(
        self, url: str, *, default_per_minute: int, burst: int, prefix: str = KEY_PREFIX
    ) -> None:
        self.prefix = prefix
        self.default_per_minute = default_per_minute
        self.burst = burst
        self._redis = connect(url, decode=True)
        self._take = self._redis.register_script(_TAKE)

    def ping(self) -> None:
        """Raise when Redis is unreachable (checked at startup)."""
        self._redis.ping()

    def take(self, name: str, *, per_minute: int | None = None, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; return 0 when allowed, else seconds until allowed.

        One round trip (about 0.1 ms on loopback); a 503 ``shared_state_unavailable``
        when Redis cannot be reached (the limit is not silently dropped).
        """
        rate = (per_minute or self.default_per_minute) / 60.0
        capacity = float(per_minute or self.burst)
        try:
            wait = self._take(keys=[f"{self.prefix}bucket:{name}"], args=[rate, capacity, cost])
        except Exception as exc:  # redis.exceptions.RedisError and socket errors
            raise unavailable(exc) from exc
        return float(wait)

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()
