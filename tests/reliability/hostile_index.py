"""The hostile corpus's index and its HTTP expectations (shared by the reliability tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audio_detect import exceptions

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
INDEX: dict[str, dict[str, Any]] = json.loads((HOSTILE / "index.json").read_text())
#: The limit the hostile server runs with (the index's default ``max_seconds``).
SERVER_MAX_SECONDS = 600.0
#: Per-request time limit of the hostile server (body reading, scoring).
REQUEST_TIMEOUT = 30.0


def expected_http(expect: str) -> tuple[set[int], set[str]]:
    """HTTP statuses and error codes that match an ``index.json`` outcome."""
    if expect == "ok":
        return {200}, set()
    cls = getattr(exceptions, expect)
    if cls is exceptions.AudioDecodeError:  # its subclasses count too
        return {415, 422}, {"audio_decode_error", "unsupported_format", "not_audio", "empty_input"}
    status = {
        exceptions.NotAudioError: 422,
        exceptions.EmptyAudioError: 422,
        exceptions.UnsupportedFormatError: 415,
        exceptions.AudioTooShortError: 422,
        exceptions.AudioTooLongError: 413,
    }[cls]
    return {status}, {cls.code}
