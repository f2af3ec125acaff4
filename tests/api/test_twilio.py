"""/v1/twilio: a scripted Twilio Media Streams client sending real µ-law frames."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import numpy as np
import pytest
from api_helpers import auth, new_key

from audio_detect.audio.io import RawFormat, encode_g711
from audio_detect.detector import Detector
from audio_detect_service.live import ChunkReorderer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FRAME = 160  # 20 ms of 8 kHz µ-law, what Twilio sends


def frames_of(mulaw: bytes) -> list[bytes]:
    return [mulaw[i : i + FRAME] for i in range(0, len(mulaw), FRAME)]


def twilio_messages(frames, *, key: str | None, call_sid="CA0001", order=None, extra=None):
    """The JSON text frames Twilio sends, in the given chunk order (1-based chunks)."""
    stream_sid = "MZ" + call_sid[2:]
    seq = 1
    msgs = [{"event": "connected", "protocol": "Call", "version": "1.0.0"}]
    params = {"call_id": call_sid.lower()} | ({"api_key": key} if key else {}) | (extra or {})
    seq += 1
    msgs.append({
        "event": "start", "sequenceNumber": str(seq),
        "start": {"accountSid": "AC123", "streamSid": stream_sid, "callSid": call_sid,
                  "tracks": ["inbound"], "customParameters": params,
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
        "streamSid": stream_sid,
    })  # fmt: skip
    for chunk in order or range(1, len(frames) + 1):
        seq += 1
        msgs.append({
            "event": "media", "sequenceNumber": str(seq), "streamSid": stream_sid,
            "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str((chunk - 1) * 20),
                      "payload": base64.b64encode(frames[chunk - 1]).decode()},
        })  # fmt: skip
        if chunk == 100:
            seq += 1
            msgs.append({"event": "mark", "sequenceNumber": str(seq), "streamSid": stream_sid,
                         "mark": {"name": "greeting-done"}})  # fmt: skip
    seq += 1
    msgs.append({"event": "stop", "sequenceNumber": str(seq), "streamSid": stream_sid,
                 "stop": {"accountSid": "AC123", "callSid": call_sid}})  # fmt: skip
    return [json.dumps(m) for m in msgs]


def _event(hook: dict) -> str:
    return hook["headers"]["X-Audio-Detect-Event"]


def wait_completed(client, call_id, key, timeout=20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/v1/calls/{call_id}", headers=auth(key))
        if r.status_code == 200 and r.json()["status"] == "completed":
            return r.json()
        time.sleep(0.05)
    raise AssertionError(f"call {call_id} not completed")


def run_call(client, messages):
    with client.websocket_connect("/v1/twilio") as ws:
        for m in messages:
            ws.send_text(m)
        msg = ws.receive()  # Twilio gets no replies: the next thing is the close
    assert msg["type"] == "websocket.close", msg
    return msg.get("code")


def test_in_order_call_matches_offline_and_webhooks(make_client, receiver, speech_8k, tiny_gmm_dir):
    client = make_client(webhook_url=f"{receiver.url}/twilio", webhook_events="all",
                         webhook_secret="k")  # fmt: skip
    key = new_key(client, ["analyze", "read"])
    mulaw = encode_g711(speech_8k, encoding="mulaw")
    code = run_call(client, twilio_messages(frames_of(mulaw), key=key))
    assert code == 1000
    call = wait_completed(client, "ca0001", key)
    (rec,) = call["decisions"]
    offline = Detector.load(tiny_gmm_dir).score_file(mulaw, raw=RawFormat("mulaw", 8000))
    assert rec["kind"] == "twilio" and rec["llr"] == pytest.approx(offline.llr, abs=1e-9)
    assert rec["audio_sha256"] == hashlib.sha256(mulaw).hexdigest()
    assert (
        rec["client"]["call_sid"] == "CA0001"
        and "api_key" not in rec["client"]["custom_parameters"]
    )
    assert rec["client"]["media_stats"]["missing"] == 0
    deadline = time.monotonic() + 10
    final = None
    while final is None and time.monotonic() < deadline:
        final = next((h for h in list(receiver.requests) if _event(h) == "call.final"), None)
        time.sleep(0.02)
    assert final is not None and final["json"]["decision_id"] == rec["id"]
    assert final["json"]["stream_sid"] == "MZ0001" and final["json"]["reason"] == "stop"
    assert final["headers"]["X-Audio-Detect-Signature"].startswith("sha256=")
    # Webhooks are delivered concurrently, so arrival order is not verdict order: the first
    # verdict is the one with sequence number 1.
    first = None
    while first is None and time.monotonic() < deadline:
        verdicts = [h for h in list(receiver.requests) if _event(h) == "call.verdict"]
        first = next((h for h in verdicts if h["json"]["seq"] == 1), None)
        time.sleep(0.02)
    assert first is not None
    assert first["json"]["speech_seconds"] <= 2.6


def test_out_of_order_missing_and_duplicate_chunks(make_client, speech_8k, tiny_gmm_dir):
    client = make_client(twilio_reorder_window=6)
    key = new_key(client, ["analyze", "read"])
    mulaw = encode_g711(speech_8k, encoding="mulaw")
    frames = frames_of(mulaw)
    n = len(frames)
    order = list(range(1, n + 1))
    rng = np.random.default_rng(3)
    for i in range(0, n - 4, 7):  # local shuffles within 4 chunks
        block = order[i : i + 4]
        rng.shuffle(block)
        order[i : i + 4] = block
    dropped = {50, 51, 200, n - 1}
    order = [c for c in order if c not in dropped]
    order.insert(300, order[290])  # a duplicate
    order.insert(400, 10)  # another duplicate
    order.insert(420, 200)  # chunk 200 arrives after it was given up on: late, dropped
    code = run_call(client, twilio_messages(frames, key=key, call_sid="CA0002", order=order))
    assert code == 1000
    rec = wait_completed(client, "ca0002", key)["decisions"][0]
    expected = b"".join(
        b"\xff" * len(f) if i + 1 in dropped else f for i, f in enumerate(frames)
    )  # missing chunks become µ-law silence of the same length
    stats = rec["client"]["media_stats"]
    assert stats["missing"] == len(dropped) and stats["duplicate"] == 2 and stats["late"] == 1
    assert stats["reordered"] > 10
    offline = Detector.load(tiny_gmm_dir).score_file(expected, raw=RawFormat("mulaw", 8000))
    assert rec["llr"] == pytest.approx(offline.llr, abs=1e-9)
    assert rec["duration"] == pytest.approx(len(expected) / 8000, abs=1e-3)


def test_live_status_while_streaming(make_client, speech_8k):
    client = make_client()
    key = new_key(client, ["analyze", "read"])
    msgs = twilio_messages(frames_of(encode_g711(speech_8k, encoding="mulaw")), key=key,
                           call_sid="CA0003")  # fmt: skip
    with client.websocket_connect("/v1/twilio") as ws:
        for m in msgs[:-1]:
            ws.send_text(m)
        deadline = time.monotonic() + 20
        live = None
        while time.monotonic() < deadline:
            r = client.get("/v1/calls/ca0003", headers=auth(key))
            if r.status_code == 200 and (r.json()["live"] or {}).get("latest", {}).get("verdict"):
                live = r.json()
                break
            time.sleep(0.05)
        assert live is not None and live["status"] == "in_progress"
        assert live["live"]["protocol"] == "twilio" and live["live"]["stream_id"] == "MZ0003"
        ws.send_text(msgs[-1])
        ws.receive()
    assert wait_completed(client, "ca0003", key)["decisions"][0]["kind"] == "twilio"


def test_twilio_rejections(make_client, speech_8k):
    client = make_client()
    frames = frames_of(encode_g711(speech_8k[:8000], encoding="mulaw"))
    assert run_call(client, twilio_messages(frames, key=None)) == 1008  # no key
    key = new_key(client, ["analyze"])
    msgs = twilio_messages(frames, key=key)
    start = json.loads(msgs[1])
    start["start"]["mediaFormat"] = {"encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1}
    assert run_call(client, [msgs[0], json.dumps(start)]) == 1003
    assert run_call(client, ["not json"]) == 1003


def test_reorderer_unit():
    r = ChunkReorderer(window=2)
    out = r.add(2, 20, b"b" * 160) + r.add(1, 0, b"a" * 160)
    assert out == [b"a" * 160, b"b" * 160]
    out = r.add(4, 60, b"d" * 160) + r.add(5, 80, b"e" * 160) + r.add(6, 100, b"f" * 160)
    assert out[0] == b"\xff" * 160 and out[1:] == [b"d" * 160, b"e" * 160, b"f" * 160]
    assert r.add(3, 40, b"c" * 160) == [] and r.stats["late"] == 1
    assert r.add(2, 20, b"b" * 160) == [] and r.stats["duplicate"] == 1
    # a gap measured by timestamps (40 ms missing, reported as one chunk)
    out = r.add(8, 160, b"h" * 160) + r.flush()
    assert out == [b"\xff" * 320, b"h" * 160]
