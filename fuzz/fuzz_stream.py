"""Atheris harness: the streaming frame parsers (``/v1/stream``, ``/v1/twilio``).

Each input is turned into a sequence of WebSocket messages, sent through the real app
(in-process, one app for the whole run) to ``/v1/stream`` (binary frames of fuzzed
sizes and content, JSON control messages) or to ``/v1/twilio`` (``connected``, a
``start`` with fuzzed ``mediaFormat``/``customParameters``, ``media`` events with fuzzed
``chunk``/``timestamp``/``sequenceNumber``/base64 payloads, ``mark``, ``stop``). The
library pieces under them (``StreamingScorer.push``, ``ChunkReorderer``) are driven
directly too, much faster, with the same bytes.

A finding is: a stream closed with 1011 (internal error) or any server-side exception,
reorderer output far larger than what was received (silence fill must stay bounded),
or a final verdict missing after ``stop``.

Run (bounded; see fuzz/README.md)::

    .venv/bin/python fuzz/fuzz_stream.py fuzz/corpus/stream -max_total_time=600 \
        -rss_limit_mb=2048 -timeout=30 -artifact_prefix=fuzz/crashers/
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["audio_detect_service", "audio_detect"]):
    import numpy as np

    from audio_detect.exceptions import AudioDetectError
    from audio_detect_service.live import ChunkReorderer

REPO = Path(__file__).resolve().parent.parent
#: Reorderer output may exceed its input by at most this many bytes per message
#: (the longest silence fill of one gap, 10 s of 8 kHz µ-law).
MAX_FILL_PER_MESSAGE = 80_000
_APP: dict[str, Any] = {}
_ODD = [0, 1, -1, 2**31, 2**63, 10**12, 1e308, "Infinity", "7", "x", None, [], {}, 3.5]


def app() -> dict[str, Any]:
    """A started app (tiny limits) and an API key, built once."""
    if not _APP:
        from fastapi.testclient import TestClient

        from audio_detect_service.main import create_app
        from audio_detect_service.security import create_key
        from audio_detect_service.settings import Settings

        tmp = tempfile.mkdtemp(prefix="fuzz-stream-")
        settings = Settings(
            _env_file=None, models_dir=REPO / "models", database_url=f"sqlite:///{tmp}/a.db",
            stream_idle_timeout_seconds=5, stream_max_seconds=120,
            rate_limit_per_minute=10**9,
        )  # fmt: skip
        client = TestClient(create_app(settings), client=("127.0.0.1", 5000))
        client.__enter__()
        _, key = create_key(client.app.state.services.store, name="fuzz", scopes=["analyze"])
        _APP.update(client=client, key=key)
    return _APP


def twilio_messages(fdp: atheris.FuzzedDataProvider) -> list[str]:
    """A Twilio Media Streams conversation with fuzzed fields."""

    def odd() -> Any:
        return _ODD[fdp.ConsumeIntInRange(0, len(_ODD) - 1)]

    fmt: Any = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    if fdp.ConsumeBool():
        fmt = {"encoding": fdp.ConsumeUnicodeNoSurrogates(12), "sampleRate": odd(),
               "channels": odd()} if fdp.ConsumeBool() else odd()  # fmt: skip
    params: Any = {"api_key": app()["key"], "call_id": fdp.ConsumeUnicodeNoSurrogates(20)}
    start: Any = {"streamSid": "MZ1", "callSid": "CA1", "mediaFormat": fmt,
                  "customParameters": params}  # fmt: skip
    if fdp.ConsumeIntInRange(0, 9) == 0:
        start = odd()
    msgs = [json.dumps({"event": "connected"}), json.dumps({"event": "start", "start": start})]
    n = fdp.ConsumeIntInRange(0, 40)
    for i in range(n):
        kind = fdp.ConsumeIntInRange(0, 9)
        if kind == 0:
            msgs.append(fdp.ConsumeUnicodeNoSurrogates(40))  # not JSON
        elif kind == 1:
            msgs.append(json.dumps({"event": "mark", "mark": odd()}))
        else:
            payload = base64.b64encode(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 400))).decode()
            if fdp.ConsumeIntInRange(0, 15) == 0:
                payload = payload[:-1] + "!"
            chunk = i + 1 if fdp.ConsumeBool() else odd()
            media: Any = {"track": "inbound", "chunk": chunk, "timestamp": odd(),
                          "payload": payload}  # fmt: skip
            if fdp.ConsumeIntInRange(0, 15) == 0:
                media = odd()
            msgs.append(json.dumps({"event": "media", "sequenceNumber": odd(), "media": media}))
    msgs.append(json.dumps({"event": "stop"}))
    return msgs


def run_twilio(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    msgs = twilio_messages(fdp)
    client = app()["client"]
    with client.websocket_connect("/v1/twilio") as ws:
        for m in msgs:
            ws.send_text(m)
        try:
            close = ws.receive()
        except Exception:  # closed without a message: fine for Twilio (nothing is sent back)
            return
        assert close.get("code") != 1011, f"internal error: {close}"


def run_stream(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    client = app()["client"]
    encoding = ("pcm_s16le", "mulaw", "alaw")[fdp.ConsumeIntInRange(0, 2)]
    start = {"type": "start", "encoding": encoding, "sample_rate": 8000,
             "api_key": app()["key"]}  # fmt: skip
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps(start))
        assert ws.receive_json()["type"] == "started"
        for _ in range(fdp.ConsumeIntInRange(0, 30)):
            if fdp.ConsumeIntInRange(0, 7) == 0:
                ws.send_text(fdp.ConsumeUnicodeNoSurrogates(30))
            else:
                ws.send_bytes(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 3000)))
        ws.send_text(json.dumps({"type": "stop"}))
        while True:
            msg = ws.receive_json()
            assert msg["type"] != "error" or msg["error"]["code"] != "internal_error", msg
            if msg["type"] == "final":
                return


def run_reorderer(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    reorder = ChunkReorderer(window=fdp.ConsumeIntInRange(1, 20))
    received = produced = messages = 0
    for _ in range(fdp.ConsumeIntInRange(0, 200)):
        payload = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 320))
        chunk = fdp.ConsumeIntInRange(-5, 2**62) if fdp.ConsumeIntInRange(0, 20) == 0 else (
            fdp.ConsumeIntInRange(0, 300))  # fmt: skip
        ts = fdp.ConsumeIntInRange(-(2**40), 2**40) if fdp.ConsumeBool() else None
        received += len(payload)
        messages += 1
        produced += sum(len(p) for p in reorder.add(chunk, ts, payload))
    produced += sum(len(p) for p in reorder.flush())
    bound = received + (messages + 1) * MAX_FILL_PER_MESSAGE
    assert produced <= bound, f"reorderer produced {produced} bytes from {received}"


def run_scorer(data: bytes) -> None:
    from audio_detect.streaming import StreamingScorer

    det = _scorer_detector()
    fdp = atheris.FuzzedDataProvider(data)
    enc = ("pcm_s16le", "mulaw", "alaw")[fdp.ConsumeIntInRange(0, 2)]
    scorer = StreamingScorer(det, encoding=enc, sample_rate=(8000, 16000)[fdp.ConsumeBool()],
                             max_seconds=30)  # fmt: skip
    try:
        for _ in range(fdp.ConsumeIntInRange(0, 50)):
            scorer.push(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4000)))
    except AudioDetectError:
        pass
    final = scorer.finish()
    assert final.decision.llr is None or np.isfinite(final.decision.llr)


_DET: list[Any] = []


def _scorer_detector() -> Any:
    if not _DET:
        from audio_detect.detector import Detector
        from audio_detect.registry import load_model_dir

        _DET.append(Detector(load_model_dir(root=REPO / "models")))
    return _DET[0]


def check(data: bytes) -> None:
    """One input: the first byte picks the target."""
    if not data:
        return
    target, body = data[0] % 8, data[1:]
    if target < 3:
        run_reorderer(body)
    elif target < 5:
        run_scorer(body)
    elif target < 7:
        run_twilio(body)
    else:
        run_stream(body)


def main() -> None:
    """libFuzzer entry point."""
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
