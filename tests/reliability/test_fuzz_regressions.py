"""Regression tests for what the fuzz harnesses (``fuzz/``) and the hostile corpus found.

Each test names the finding, the input (inline) and the fix.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from audio_detect.audio.io import RawFormat, load_audio
from audio_detect.exceptions import AudioTooLongError, AudioTooShortError
from audio_detect_service.live import MAX_GAP_BYTES, ChunkReorderer
from audio_detect_service.main import create_app
from audio_detect_service.security import create_key
from audio_detect_service.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"


@pytest.fixture
def client(tiny_gmm_dir, tmp_path):
    settings = Settings(_env_file=None, model=str(tiny_gmm_dir), models_dir=tiny_gmm_dir.parent,
                        database_url=f"sqlite:///{tmp_path / 'audit.db'}",
                        stream_idle_timeout_seconds=5)  # fmt: skip
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as tc:
        _, tc.key = create_key(tc.app.state.services.store, name="f", scopes=["analyze", "read"])
        yield tc


def test_huge_twilio_chunk_number_fills_a_bounded_gap():
    """fuzz_stream (OOM): ``"chunk": 10000000`` made the reorderer emit 1.6 GB of silence
    and remember 10^7 skipped chunk numbers. Fix: MAX_GAP_BYTES, bounded skipped set."""
    r = ChunkReorderer(window=10)
    out = r.add(10**12, None, b"\x7f" * 160) + r.flush()
    assert sum(len(p) for p in out) <= MAX_GAP_BYTES + 160
    assert len(r._skipped) <= 10_000 and r.stats["missing"] == 10**12 - 1


def _twilio(client, media_events: list[dict], start: object = None) -> dict:
    start = start if start is not None else {
        "streamSid": "MZ1", "callSid": "CA-fuzz", "customParameters": {"api_key": client.key},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }  # fmt: skip
    with client.websocket_connect("/v1/twilio") as ws:
        ws.send_text(json.dumps({"event": "connected"}))
        ws.send_text(json.dumps({"event": "start", "start": start}))
        for event in media_events:
            ws.send_text(json.dumps(event))
        ws.send_text(json.dumps({"event": "stop"}))
        return ws.receive()


def test_twilio_fields_of_the_wrong_type_are_ignored(client):
    """fuzz_stream: ``"chunk": Infinity`` raised OverflowError and ``"media": []`` /
    ``"mark": "x"`` raised AttributeError: the stream died with 1011 and a traceback.
    Fix: ``_int`` catches OverflowError, ``_dict`` ignores non-objects."""
    payload = base64.b64encode(b"\xff" * 160).decode()
    events = [
        {"event": "media", "media": {"chunk": float("inf"), "payload": payload}},
        {"event": "media", "media": {"chunk": 1e308, "timestamp": -1e308, "payload": payload}},
        {"event": "media", "media": []},
        {"event": "media", "media": "x"},
        {"event": "mark", "mark": "x"},
        {"event": "media", "sequenceNumber": float("-inf"), "media": {"payload": payload}},
    ]
    close = _twilio(client, events)
    assert close.get("code") == 1000, close
    decisions = client.get("/v1/calls/CA-fuzz", headers={"X-API-Key": client.key}).json()
    assert len(decisions["decisions"]) == 1


@pytest.mark.parametrize("start", ["x", [], {"mediaFormat": "audio/x-mulaw"}])
def test_twilio_malformed_start_is_a_protocol_error(client, start):
    close = _twilio(client, [], start=start)
    assert close.get("code") in (1003, 1008), close  # not 1011


def test_resampled_to_nothing_is_too_short(client):
    """fuzz_decode: 1 frame of 4-channel µ-law at 318 kHz resampled to 8 kHz gave an
    Audio with zero samples (the contract says AudioTooShortError). Same for a
    2-sample 48 kHz WAV. Fix: load_audio checks the resampled length."""
    with pytest.raises(AudioTooShortError):
        load_audio(b"\x00\x02\x00\x00\x00\x00", sr=8000, raw=RawFormat("mulaw", 318_040, 4))
    buf = io.BytesIO()
    sf.write(buf, np.array([0.1, 0.2], dtype=np.float32), 48000, format="WAV")
    with pytest.raises(AudioTooShortError):
        load_audio(buf.getvalue(), sr=8000)
    r = client.post("/v1/analyze", content=buf.getvalue(), headers={"X-API-Key": client.key})
    assert r.status_code == 422 and r.json()["error"]["code"] == "audio_too_short"


def test_high_rate_bomb_is_bounded_by_work_not_only_duration():
    """hostile corpus: a 270 kB FLAC declaring 655 kHz kept a core busy ~65 s inside the
    1800 s duration limit. Fix: io.MAX_WORK_RATE (samples x channels <= max_seconds x 96k)."""
    with pytest.raises(AudioTooLongError, match="decoding work"):
        load_audio(HOSTILE / "highrate_655khz_30s.flac", sr=8000, max_seconds=60)


def test_ffmpeg_allocation_cap_in_a_fresh_process():
    """hostile corpus: a 72-byte WAV whose LIST/INFO item declares 2 GB made FFmpeg
    allocate and zero 2 GB (RSS +2 GB, 4 s). Fix: av_max_alloc (io.FFMPEG_MAX_ALLOC)."""
    script = textwrap.dedent(f"""
        from audio_detect.audio.io import load_audio
        from audio_detect.exceptions import AudioDecodeError
        try:
            load_audio({str(HOSTILE / "wav_info_2gb.wav")!r})
        except AudioDecodeError:
            pass
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                print(int(line.split()[1]) // 1024)
    """)  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    assert int(proc.stdout.split()[-1]) < 600, proc.stdout
