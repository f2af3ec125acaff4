"""Helpers shared by the service tests (imported as ``api_helpers``)."""

from __future__ import annotations

import io
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import soundfile as sf

LOCAL = ("127.0.0.1", 50000)


def new_key(client: Any, scopes: list[str], rate_limit: int | None = None) -> str:
    """Create a key in the running app's store; return the full key."""
    from audio_detect_service.security import create_key

    store = client.app.state.services.store
    _, key = create_key(store, name=f"test-{uuid.uuid4().hex[:6]}", scopes=scopes,
                        rate_limit=rate_limit)  # fmt: skip
    return key


def auth(key: str) -> dict[str, str]:
    """Bearer header."""
    return {"Authorization": f"Bearer {key}"}


def encode(y: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    """Encode samples to a container in memory with soundfile."""
    buf = io.BytesIO()
    sf.write(buf, y.T if y.ndim == 2 else y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def postgres_url() -> str | None:
    """``AUDIO_DETECT_TEST_POSTGRES_URL`` if set."""
    return os.environ.get("AUDIO_DETECT_TEST_POSTGRES_URL") or None


class Receiver:
    """A loopback HTTP server that records JSON POSTs (callbacks, webhooks)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.event = threading.Event()
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "raw": body,
                     "json": json.loads(body)}
                )  # fmt: skip
                receiver.event.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until ``n`` requests arrived."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
