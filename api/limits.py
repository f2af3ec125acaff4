"""Load limits: bounded body reading and a bounded pool for CPU-bound scoring."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError

__all__ = ["BodyLimitMiddleware", "ScoringPool", "payload_too_large"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Room for multipart boundaries and form fields on top of the audio itself.
MULTIPART_OVERHEAD = 64 * 1024


def payload_too_large(limit: int) -> ApiError:
    """The 413 for a body above ``limit`` bytes."""
    return ApiError(413, "payload_too_large", f"The request body is larger than {limit} bytes.")


class BodyLimitMiddleware:
    """Pure ASGI: refuse bodies above ``max_bytes`` while they stream in.

    A ``Content-Length`` above the limit is refused before anything is read; otherwise
    the bytes are counted as the app reads them and :func:`payload_too_large` is raised
    from ``receive`` at the first byte past the limit (chunked uploads included), so
    no endpoint ever holds more than the limit in memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = 0
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else 0
                break
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            if declared > self.max_bytes:
                raise payload_too_large(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise payload_too_large(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


class ScoringPool:
    """A fixed thread pool for scoring with a bounded queue and a time limit.

    Parameters
    ----------
    workers : int
        Threads (concurrent scorings).
    max_queued : int
        Tasks allowed to wait beyond ``workers``; past that :meth:`run` sheds load with
        a 503 ``overloaded`` (``Retry-After``).
    on_change : callable, optional
        Called with the number of tasks in flight whenever it changes (metrics).
    """

    def __init__(
        self, *, workers: int, max_queued: int, on_change: Callable[[int], None] | None = None
    ) -> None:
        self.workers = workers
        self.capacity = workers + max_queued
        self._executor = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scoring")
        self._inflight = 0
        self._lock = threading.Lock()
        self._on_change = on_change

    @property
    def inflight(self) -> int:
        """Tasks running or queued (abandoned-but-running ones included)."""
        return self._inflight

    def _change(self, delta: int) -> None:
        with self._lock:
            self._inflight += delta
            n = self._inflight
        if self._on_change is not None:
            self._on_change(n)

    def check_capacity(self) -> None:
        """Raise the 503 ``overloaded`` (``Retry-After``) when the pool is full.

        :meth:`run` calls it; ``/v1/analyze`` also calls it *before* reading the body,
        so a saturated server sheds an upload at once instead of first reading up to
        ``max_upload_bytes`` of it into memory.
        """
        if self._inflight >= self.capacity:
            raise ApiError(
                503, "overloaded", "The server is busy scoring other audio; retry shortly.",
                retry_after=2,
            )  # fmt: skip

    async def run(
        self, fn: Callable[..., T], *args: Any, timeout: float, shed: bool = True, **kwargs: Any
    ) -> T:
        """Run ``fn(*args, **kwargs)`` in the pool and await it.

        Parameters
        ----------
        timeout : float
            Seconds to wait (queueing included) before giving up with a 503 ``timeout``;
            a task still queued is cancelled, a running one finishes in the background
            (it keeps its slot until then, so abandoned work still counts as load).
        shed : bool
            Refuse with 503 ``overloaded`` when the queue is full (else wait in line).
        """
        if shed:
            self.check_capacity()
        self._change(+1)
        try:
            future = self._executor.submit(fn, *args, **kwargs)
        except RuntimeError as exc:  # executor shut down
            self._change(-1)
            raise ApiError(503, "shutting_down", "The server is shutting down.") from exc
        future.add_done_callback(lambda _f: self._change(-1))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError as exc:
            future.cancel()
            raise ApiError(
                503, "timeout", f"Scoring did not finish within {timeout:g} s; retry later.",
                retry_after=5,
            ) from exc  # fmt: skip

    def shutdown(self) -> None:
        """Stop accepting work; queued tasks are cancelled."""
        self._executor.shutdown(wait=False, cancel_futures=True)
