"""/v1/stream: the generic WebSocket protocol with real audio, against offline scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from api_helpers import auth, new_key
from starlette.websockets import WebSocketDisconnect

from audio_detect.audio.io import RawFormat, encode_g711
from audio_detect.detector import Detector
from audio_detect_service.capacity import StreamCapacity

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def collect(ws) -> tuple[list[dict], int | None]:
    """Every JSON message until the server closes; and the close code."""
    out = []
    while True:
        msg = ws.receive()
        if msg["type"] == "websocket.close":
            return out, msg.get("code")
        out.append(json.loads(msg["text"]))


def send_audio(ws, data: bytes, rng: np.random.Generator, max_frame: int = 700) -> None:
    i = 0
    while i < len(data):
        n = int(rng.integers(1, max_frame))
        ws.send_bytes(data[i : i + n])
        i += n


def test_mulaw_stream_matches_offline(app_client, full_key, speech_8k, tiny_gmm_dir):
    data = encode_g711(speech_8k, encoding="mulaw")
    rng = np.random.default_rng(1)
    with app_client.websocket_connect("/v1/stream") as ws:
        ws.send_json(
            {
                "type": "start",
                "encoding": "mulaw",
                "sample_rate": 8000,
                "call_id": "ws-call-1",
                "api_key": full_key,
                "metadata": {"queue": "7"},
            }
        )
        started = ws.receive_json()
        assert started["type"] == "started" and started["call_id"] == "ws-call-1"
        assert started["model"]["name"] == "tiny-gmm"
        send_audio(ws, data, rng)
        ws.send_json({"type": "stop"})
        messages, code = collect(ws)
    assert code == 1000
    scores = [m for m in messages if m["type"] == "score"]
    final = messages[-1]
    assert final["type"] == "final" and final["reason"] == "stop"
    assert len(scores) >= 2
    assert scores[0]["speech_seconds"] <= 2.6  # first verdict after ~2 s of speech
    assert [s["seq"] for s in scores] == list(range(1, len(scores) + 1))
    assert "timeline" not in scores[0] and final["timeline"]
    offline = Detector.load(tiny_gmm_dir).score_file(data, raw=RawFormat("mulaw", 8000))
    assert final["llr"] == pytest.approx(offline.llr, abs=1e-9)
    assert final["speech_seconds"] == offline.speech_seconds
    assert final["verdict"] == offline.verdict and final["tier"] == offline.tier
    call = app_client.get("/v1/calls/ws-call-1", headers=auth(full_key)).json()
    (rec,) = call["decisions"]
    assert rec["kind"] == "stream" and rec["id"] == final["decision_id"]
    assert rec["client"]["metadata"] == {"queue": "7"} and rec["codec"] == "pcm_mulaw"
    import hashlib

    assert rec["audio_sha256"] == hashlib.sha256(data).hexdigest()


def test_pcm16_16k_stream_with_header_key(app_client, analyze_key, clips, tiny_gmm_dir):
    from audio_detect.audio.io import load_audio

    y = load_audio(clips["spoof_wavefake_lj001-0001_gen"], sr=16000).samples
    data = np.clip(np.round(y * 32768), -32768, 32767).astype("<i2").tobytes()
    with app_client.websocket_connect("/v1/stream", headers=auth(analyze_key)) as ws:
        ws.send_json({"type": "start", "encoding": "pcm_s16le", "sample_rate": 16000})
        assert ws.receive_json()["type"] == "started"
        send_audio(ws, data, np.random.default_rng(2), max_frame=3001)  # odd sizes split samples
        ws.send_json({"type": "stop"})
        messages, _ = collect(ws)
    offline = Detector.load(tiny_gmm_dir).score_file(data, raw=RawFormat("pcm_s16le", 16000))
    assert messages[-1]["llr"] == pytest.approx(offline.llr, abs=1e-4)


def test_query_key_ping_and_protocol_errors(app_client, analyze_key, speech_8k):
    with app_client.websocket_connect(f"/v1/stream?api_key={analyze_key}") as ws:
        ws.send_json({"type": "start", "encoding": "alaw", "sample_rate": 8000})
        assert ws.receive_json()["type"] == "started"
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
        ws.send_text("nonsense")
        assert ws.receive_json()["error"]["code"] == "protocol_error"
        ws.send_bytes(encode_g711(speech_8k[:800], encoding="alaw"))
        ws.send_json({"type": "stop"})
        messages, _ = collect(ws)
    assert messages[-1]["type"] == "final" and messages[-1]["verdict"] == "not_enough_speech"


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (b"\x00\x01", "invalid_start"),
        ({"type": "start", "encoding": "opus", "sample_rate": 8000}, "invalid_start"),
        ({"type": "start", "encoding": "mulaw", "sample_rate": 44100}, "invalid_start"),
        ({"type": "begin"}, "invalid_start"),
        ({"type": "start", "encoding": "mulaw", "sample_rate": 8000,
          "threshold_medium": 3, "threshold_high": 1}, "invalid_parameter"),
    ],
)  # fmt: skip
def test_bad_start(app_client, analyze_key, first, code):
    with app_client.websocket_connect("/v1/stream", headers=auth(analyze_key)) as ws:
        if isinstance(first, bytes):
            ws.send_bytes(first)
        else:
            ws.send_json(first)
        messages, close = collect(ws)
    assert messages[-1]["type"] == "error" and messages[-1]["error"]["code"] == code
    assert close == 1003


def test_stream_auth_and_stream_limit(make_client):
    client = make_client(max_streams=1)
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        messages, close = collect(ws)
    assert messages[-1]["error"]["code"] == "unauthorized" and close == 1008
    read_only = new_key(client, ["read"])
    with client.websocket_connect("/v1/stream", headers=auth(read_only)) as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        messages, close = collect(ws)
    assert messages[-1]["error"]["code"] == "forbidden"
    key = new_key(client, ["analyze"])
    with client.websocket_connect("/v1/stream", headers=auth(key)) as first:
        first.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        assert first.receive_json()["type"] == "started"
        with client.websocket_connect("/v1/stream", headers=auth(key)) as second:
            messages, close = collect(second)
        assert messages[-1]["error"]["code"] == "too_many_streams" and close == 1013
        first.send_json({"type": "stop"})
        collect(first)


def test_disconnect_still_records_final(app_client, full_key, speech_8k):
    data = encode_g711(speech_8k, encoding="mulaw")
    with app_client.websocket_connect("/v1/stream", headers=auth(full_key)) as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000,
                      "call_id": "ws-drop"})  # fmt: skip
        ws.receive_json()
        ws.send_bytes(data)
    import time

    for _ in range(200):
        r = app_client.get("/v1/calls/ws-drop", headers=auth(full_key))
        if r.status_code == 200 and r.json()["status"] == "completed":
            break
        time.sleep(0.05)
    call = r.json()
    assert call["status"] == "completed" and call["decisions"][0]["kind"] == "stream"
    assert call["decisions"][0]["speech_seconds"] > 5


def test_stream_max_seconds_sends_final(make_client, speech_8k):
    client = make_client(stream_max_seconds=3.0)
    key = new_key(client, ["analyze"])
    with client.websocket_connect("/v1/stream", headers=auth(key)) as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        ws.receive_json()
        data = encode_g711(speech_8k, encoding="mulaw")
        try:
            for i in range(0, len(data), 800):
                ws.send_bytes(data[i : i + 800])
        except WebSocketDisconnect:
            pass
        messages, _ = collect(ws)
    final = messages[-1]
    assert final["type"] == "final" and final["reason"] == "stream_max_seconds"
    assert final["duration"] == pytest.approx(3.0, abs=0.01)


def test_idle_stream_is_finalised(make_client, speech_8k):
    client = make_client(stream_idle_timeout_seconds=0.5)
    key = new_key(client, ["analyze"])
    data = encode_g711(speech_8k[:24000], encoding="mulaw")
    with client.websocket_connect("/v1/stream", headers=auth(key)) as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        ws.receive_json()
        for i in range(0, len(data), 160):
            ws.send_bytes(data[i : i + 160])
        messages, code = collect(ws)  # no stop: the server gives up after 0.5 s
    final = messages[-1]
    assert code == 1000 and final["type"] == "final" and final["reason"] == "idle_timeout"
    assert final["duration"] == pytest.approx(3.0, abs=0.01)


def test_slow_scoring_sends_degraded_then_recovered(make_client, speech_8k, monkeypatch):
    """Back-pressure: a call the scoring pool cannot keep up with is told so."""
    import time

    from audio_detect.streaming import StreamingScorer

    real_push = StreamingScorer.push
    slow = {"on": True}

    def slow_push(self, data, *, catch_up=False):
        if slow["on"]:
            time.sleep(0.6)  # a saturated scoring pool
        return real_push(self, data, catch_up=catch_up)

    monkeypatch.setattr(StreamingScorer, "push", slow_push)
    client = make_client(dev_mode=True, stream_max_lag_seconds=0.3)
    data = encode_g711(speech_8k, encoding="mulaw")
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        assert ws.receive_json()["type"] == "started"
        for i in range(0, len(data), 160):  # real-time pacing, 20 ms frames
            ws.send_bytes(data[i : i + 160])
            time.sleep(0.02)
            if i == 160 * 200:  # after 4 s of audio the pool is fast again
                slow["on"] = False
        time.sleep(0.5)
        ws.send_bytes(data[:160])
        ws.send_json({"type": "stop"})
        messages, code = collect(ws)
    kinds = [m["type"] for m in messages]
    assert code == 1000 and kinds[-1] == "final"
    assert kinds.count("degraded") == 1, kinds
    degraded = next(m for m in messages if m["type"] == "degraded")
    assert degraded["reason"] == "scoring_backlog" and degraded["lag_seconds"] > 0.3
    assert "recovered" in kinds[kinds.index("degraded") :]
    assert messages[-1]["verdict"] in ("bonafide", "spoof")


def test_verdict_is_sent_when_scored_not_with_the_next_frame(make_client, speech_8k):
    """One frame that completes the first check, then silence from the client: the
    verdict still arrives, long before the idle timeout (it used to wait for the call's
    next frame, or for the idle timeout's final message)."""
    import threading
    import time

    client = make_client(dev_mode=True, stream_idle_timeout_seconds=60)
    data = encode_g711(speech_8k, encoding="mulaw")
    got: list[dict] = []
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        assert ws.receive_json()["type"] == "started"
        t0 = time.monotonic()
        ws.send_bytes(data[: 8000 * 4])  # 4 s: past the first-verdict point
        reader = threading.Thread(target=lambda: got.append(ws.receive_json()), daemon=True)
        reader.start()
        reader.join(timeout=20)
        waited = time.monotonic() - t0
        ws.send_json({"type": "stop"})
        messages, code = collect(ws)
    assert got and waited < 20, "no verdict until the client sent more audio"
    assert got[0]["type"] == "score" and got[0]["seq"] == 1
    assert code == 1000 and messages[-1]["type"] == "final"
    assert messages[-1]["reason"] == "stop"
    seqs = [m["seq"] for m in got + messages if m["type"] == "score"]
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.parametrize(("share", "refused"), [(0.0, True), (0.5, False), (1.0, False)])
def test_new_stream_refused_while_live_calls_are_behind(make_client, share, refused):
    """Admission: with scoring behind on the open calls (here 1 of 2 `degraded`), a new
    stream is turned away with 503 `overloaded` / close 1013 unless the share allows it."""
    from audio_detect_service.services import LiveCall

    client = make_client(dev_mode=True, stream_admit_max_degraded_share=share)
    live = client.app.state.services.live_calls
    live["a"] = LiveCall(call_id="a", protocol="stream", stream_id="a", degraded=True)
    live["b"] = LiveCall(call_id="b", protocol="stream", stream_id="b")
    with client.websocket_connect("/v1/stream") as ws:
        if refused:
            messages, close = collect(ws)
            assert close == 1013 and messages[-1]["error"]["code"] == "overloaded"
            assert "1 of 2 live calls" in messages[-1]["error"]["message"]
        else:
            ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
            assert ws.receive_json()["type"] == "started"
            ws.send_json({"type": "stop"})
            assert collect(ws)[1] == 1000
    live["a"].degraded = False  # recovered: admitted again at any share
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        assert ws.receive_json()["type"] == "started"
        ws.send_json({"type": "stop"})
        assert collect(ws)[1] == 1000


def test_live_audio_is_timed_and_a_call_past_the_measured_capacity_is_refused(
    make_client, speech_8k
):
    """Capacity admission: every flush of a call is timed into the worker's
    StreamCapacity; once its cost says the open calls fill the pool, a new stream is
    refused with 503 `overloaded` / close 1013, and admitted again below it."""
    client = make_client(dev_mode=True, stream_admit_max_utilisation=0.8)
    services = client.app.state.services
    capacity = services.stream_capacity
    assert capacity is not None and capacity.threads == services.settings.max_concurrent_scoring
    data = encode_g711(speech_8k, encoding="mulaw")
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        assert ws.receive_json()["type"] == "started"
        send_audio(ws, data, np.random.default_rng(0))
        ws.send_json({"type": "stop"})
        assert collect(ws)[1] == 1000
    # (the sums decay with a 60 s half-life while the test runs)
    assert capacity.audio_seconds == pytest.approx(len(speech_8k) / 8000, rel=0.05)
    capacity.min_audio_seconds = 0.0
    assert capacity.cost > 0
    metrics = client.get("/metrics").text
    assert "audio_detect_stream_capacity_calls" in metrics
    # A busy worker whose measured cost allows 3 calls (2 threads * 0.8 / 0.5 = 3.2).
    capacity = StreamCapacity(threads=2, max_utilisation=0.8, min_audio_seconds=0)
    capacity.record(audio_seconds=20.0, busy_seconds=10.0)
    assert capacity.calls == 3 and capacity.utilisation > 0.4
    services.stream_capacity = capacity
    services.open_streams = 3
    with client.websocket_connect("/v1/stream") as ws:
        messages, close = collect(ws)
    assert close == 1013 and messages[-1]["error"]["code"] == "overloaded"
    assert "measured capacity of 3 live calls" in messages[-1]["error"]["message"]
    services.open_streams = 2
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"type": "start", "encoding": "mulaw", "sample_rate": 8000})
        assert ws.receive_json()["type"] == "started"
        ws.send_json({"type": "stop"})
        assert collect(ws)[1] == 1000


def test_capacity_admission_can_be_switched_off(make_client):
    client = make_client(dev_mode=True, stream_admit_max_utilisation=0)
    assert client.app.state.services.stream_capacity is None
