"""Outgoing JSON POSTs: job callbacks and live-call webhooks, signed and retried."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from audio_detect.exceptions import ParameterError

from .settings import Settings
from .telemetry import Metrics

__all__ = ["WebhookSender", "check_callback_url", "sign"]

logger = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``timestamp + "." + body``)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_callback_url(url: str, allowed_hosts: list[str]) -> str:
    """Validate a callback URL (http/https, a host, in ``allowed_hosts`` when set)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ParameterError.invalid("callback_url", "an http(s) URL", url)
    if allowed_hosts and parts.hostname.lower() not in allowed_hosts:
        raise ParameterError.invalid(
            "callback_url", f"a URL on one of the allowed hosts {allowed_hosts}", url
        )
    return url


class WebhookSender:
    """Delivers JSON payloads with retries and an optional HMAC signature.

    Headers: ``X-Audio-Detect-Event``, ``X-Audio-Detect-Timestamp`` (unix seconds) and,
    when ``webhook_secret`` is set, ``X-Audio-Detect-Signature: sha256=<hex>`` over
    ``timestamp + "." + body``.
    """

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False
        )
        self._tasks: set[asyncio.Task[bool]] = set()

    async def deliver(self, url: str, event: str, payload: dict[str, Any]) -> bool:
        """POST ``payload``; True when a 2xx came back within the retries."""
        body = json.dumps(payload, default=str).encode()
        delay = 0.25
        for attempt in range(1, self.settings.webhook_retries + 1):
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "audio-detect-webhook/1",
                "X-Audio-Detect-Event": event,
                "X-Audio-Detect-Timestamp": ts,
            }
            if self.settings.webhook_secret:
                headers["X-Audio-Detect-Signature"] = sign(self.settings.webhook_secret, ts, body)
            try:
                resp = await self.client.post(url, content=body, headers=headers)
                if 200 <= resp.status_code < 300:
                    self.metrics.webhooks.labels(event, "delivered").inc()
                    return True
                logger.warning("webhook %s -> %s (attempt %d)", event, resp.status_code, attempt)
            except httpx.HTTPError as exc:
                logger.warning("webhook %s failed: %s (attempt %d)", event, exc, attempt)
            if attempt < self.settings.webhook_retries:
                await asyncio.sleep(delay)
                delay *= 2
        self.metrics.webhooks.labels(event, "failed").inc()
        return False

    def fire(self, url: str, event: str, payload: dict[str, Any]) -> None:
        """Deliver in the background (the caller does not wait)."""
        task = asyncio.get_running_loop().create_task(self.deliver(url, event, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Wait briefly for background deliveries, then close the client."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        await self.client.aclose()
