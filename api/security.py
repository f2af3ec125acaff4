"""API keys and per-key rate limits.

A key looks like ``adk_<id>_<secret>``: ``id`` (12 hex digits) finds the record,
``secret`` carries 256 bits of entropy. Only ``sha256(key)`` is stored; a presented
key is hashed and compared with :func:`hmac.compare_digest`. (A fast hash is fine for
a random 256-bit secret: there is nothing to brute-force.)

Scopes: ``analyze`` (``/v1/analyze``, jobs, live streams) and ``read`` (audit trail:
``/v1/calls``, ``/v1/decisions``, and ``/metrics``). Any valid key may list models.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from .store import Store
from .store.tables import utcnow

__all__ = [
    "SCOPES",
    "KeyUsage",
    "Principal",
    "RedactKeysFilter",
    "TokenBuckets",
    "create_key",
    "hash_key",
    "is_loopback",
    "parse_key",
    "verify_key",
]

logger = logging.getLogger(__name__)

SCOPES = ("analyze", "read")
_PREFIX = "adk"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key, or the local developer in dev mode."""

    key_id: str | None
    name: str
    scopes: frozenset[str]
    rate_limit_per_minute: int | None = None

    @property
    def bucket(self) -> str:
        """Rate-limit bucket name."""
        return f"key:{self.key_id}" if self.key_id else f"dev:{self.name}"


def hash_key(key: str) -> str:
    """Hex sha256 of a full key string."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_key(key: str) -> str | None:
    """The key id of a well-formed key, else None."""
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != _PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1]


def create_key(
    store: Store, *, name: str, scopes: list[str], rate_limit: int | None = None
) -> tuple[str, str]:
    """Create a key; return ``(key_id, full_key)``. The full key is never stored."""
    bad = sorted(set(scopes) - set(SCOPES))
    if bad or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {SCOPES}; got {scopes}")
    if rate_limit is not None and rate_limit < 1:
        raise ValueError(f"rate_limit must be >= 1; got {rate_limit}")
    key_id = secrets.token_hex(6)
    full = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    store.add_key(
        key_id, name=name, key_hash=hash_key(full), scopes=sorted(set(scopes)),
        rate_limit=rate_limit,
    )  # fmt: skip
    return key_id, full


def verify_key(store: Store, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key, else None (constant-time hash check)."""
    key_id = parse_key(key)
    presented = hash_key(key)
    row = store.key_credentials(key_id) if key_id else None
    # Compare even when the id is unknown so timing does not reveal which ids exist.
    expected = row.key_hash if row is not None else "0" * 64
    ok = hmac.compare_digest(presented, expected)
    if row is None or not ok or row.revoked_at is not None:
        return None
    return Principal(
        key_id=row.id,
        name=row.name,
        scopes=frozenset(s for s in row.scopes.split(",") if s),
        rate_limit_per_minute=row.rate_limit_per_minute,
    )


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenBuckets:
    """In-memory token buckets, one per principal (per process).

    Parameters
    ----------
    default_per_minute : int
        Refill rate for principals without their own limit.
    burst : int
        Bucket capacity for the default rate (own limits use their per-minute value).
    """

    def __init__(self, *, default_per_minute: int, burst: int, max_buckets: int = 10_000) -> None:
        self.default_per_minute = default_per_minute
        self.burst = burst
        self.max_buckets = max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str, *, per_minute: int | None = None, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; return 0 when allowed, else seconds until allowed."""
        rate = (per_minute or self.default_per_minute) / 60.0
        capacity = float(per_minute or self.burst)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(name, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens >= cost:
                self._buckets[name] = (tokens - cost, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            if len(self._buckets) > self.max_buckets:  # forget the stalest half
                for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[
                    : self.max_buckets // 2
                ]:
                    del self._buckets[key]
            return (cost - tokens) / rate


class KeyUsage:
    """Audit of key use: per-key use counts and last-use times, batched to the store.

    The first use of a key in this process is written at once; later uses are
    accumulated and written at most every ``interval`` seconds per key (one UPDATE per
    key per minute instead of one per request), and :meth:`flush` writes the rest at
    shutdown. A crash loses at most ``interval`` seconds of counts, never a decision.

    Parameters
    ----------
    interval : float
        Seconds between two writes for one key.
    """

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._pending: dict[str, tuple[int, datetime]] = {}
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def note(self, key_id: str) -> tuple[int, datetime] | None:
        """Count one use; return ``(uses, last_used_at)`` when it is time to write."""
        now = time.monotonic()
        with self._lock:
            uses = self._pending.get(key_id, (0, utcnow()))[0] + 1
            last = self._written.get(key_id)
            if last is not None and now - last < self.interval:
                self._pending[key_id] = (uses, utcnow())
                return None
            self._pending.pop(key_id, None)
            self._written[key_id] = now
            return uses, utcnow()

    def flush(self, store: Store) -> None:
        """Write every pending count (at shutdown)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for key_id, (uses, last_used_at) in pending.items():
            try:
                store.record_key_use(key_id, uses=uses, last_used_at=last_used_at)
            except Exception:  # best effort at shutdown: the store may be gone
                logger.warning("could not record the use of key %s", key_id, exc_info=True)


_SECRET_IN_QUERY = re.compile(r"(api_key=)[^&\s\"']+", re.IGNORECASE)


class RedactKeysFilter(logging.Filter):
    """Replace ``api_key=<secret>`` in log records by ``api_key=***``.

    WebSocket clients may pass the key in the query string (browsers cannot set
    headers), and uvicorn logs the path with its query string: without this filter the
    key would sit in plain text in every access log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if any(isinstance(a, str) and "api_key=" in a.lower() for a in args):
                record.args = tuple(
                    _SECRET_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in args
                )
        if isinstance(record.msg, str) and "api_key=" in record.msg.lower():
            record.msg = _SECRET_IN_QUERY.sub(r"\1***", record.msg)
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactKeysFilter` to uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        log = logging.getLogger(name)
        if not any(isinstance(f, RedactKeysFilter) for f in log.filters):
            log.addFilter(RedactKeysFilter())
