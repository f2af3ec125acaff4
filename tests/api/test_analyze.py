"""POST /v1/analyze with real audio in many encodings, and its 4xx errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from api_helpers import auth, encode, new_key

from audio_detect.audio.io import RawFormat, encode_g711, load_audio
from audio_detect.detector import Detector

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _offline(tiny_gmm_dir, data: bytes, **kw) -> float | None:
    return Detector.load(tiny_gmm_dir).score_file(data, **kw).llr


@pytest.mark.parametrize(
    ("fmt", "subtype", "content_type"),
    [
        ("WAV", "PCM_16", "audio/wav"),
        ("WAV", "ULAW", "audio/wav"),
        ("WAV", "FLOAT", "application/octet-stream"),
        ("FLAC", None, "audio/flac"),
        ("OGG", "VORBIS", "audio/ogg"),
        ("MP3", None, "audio/mpeg"),
        ("AIFF", None, None),
    ],
)
def test_raw_body_formats(app_client, analyze_key, clips, tiny_gmm_dir, fmt, subtype, content_type):
    y, sr = load_audio(clips["spoof_wavefake_lj001-0001_gen"]).samples, 16000
    data = encode(y, sr, fmt, subtype)
    headers = auth(analyze_key) | ({"Content-Type": content_type} if content_type else {})
    r = app_client.post("/v1/analyze", content=data, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] in ("spoof", "bonafide")
    assert body["tier"] in ("low", "medium", "high")
    assert 0.0 <= body["p_spoof"] <= 1.0
    assert body["speech_seconds"] > 5
    assert body["model"]["name"] == "tiny-gmm" and len(body["model"]["sha256"]) == 64
    assert body["processing_ms"] > 0
    assert body["timeline"] and {"start", "end", "score", "llr", "p_spoof"} <= set(
        body["timeline"][0]
    )
    assert body["audio"]["source_sr"] == 16000
    assert body["llr"] == pytest.approx(_offline(tiny_gmm_dir, data), abs=1e-9)


def test_multipart_with_fields(app_client, analyze_key, clips):
    data = clips["bonafide_8k_hts1a"].read_bytes()
    r = app_client.post(
        "/v1/analyze",
        files={"file": ("call.flac", data, "audio/flac")},
        data={"call_id": "call-mp-1", "prior": "0.05", "threshold_medium": "-10",
              "threshold_high": "10", "metadata": '{"agent": "7"}'},
        headers=auth(analyze_key),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["call_id"] == "call-mp-1"
    assert body["prior"] == 0.05
    assert body["thresholds"] == {"medium": -10.0, "high": 10.0}
    assert body["tier"] == "medium"


@pytest.mark.parametrize("encoding", ["pcm_s16le", "mulaw", "alaw"])
def test_headerless_audio(app_client, analyze_key, speech_8k, tiny_gmm_dir, encoding):
    if encoding == "pcm_s16le":
        data = (np.round(speech_8k * 32767).astype("<i2")).tobytes()
    else:
        data = encode_g711(speech_8k, encoding=encoding)
    r = app_client.post(
        f"/v1/analyze?encoding={encoding}&sample_rate=8000&call_id=raw-1",
        content=data, headers=auth(analyze_key),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    expected = _offline(tiny_gmm_dir, data, raw=RawFormat(encoding, 8000))
    assert r.json()["llr"] == pytest.approx(expected, abs=1e-9)
    assert r.json()["audio"]["container"] == "raw"


def test_audio_basic_is_mulaw_8k(app_client, analyze_key, speech_8k):
    data = encode_g711(speech_8k, encoding="mulaw")
    r = app_client.post(
        "/v1/analyze", content=data, headers=auth(analyze_key) | {"Content-Type": "audio/basic"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["audio"]["codec"] == "pcm_mulaw"


def test_stereo_channel_selection(app_client, analyze_key, speech_8k):
    stereo = np.stack([np.zeros_like(speech_8k), speech_8k])
    data = encode(stereo, 8000, "WAV", "PCM_16")
    h = auth(analyze_key)
    caller = app_client.post("/v1/analyze?channel=1", content=data, headers=h).json()
    agent = app_client.post("/v1/analyze?channel=0", content=data, headers=h).json()
    assert caller["verdict"] in ("spoof", "bonafide")
    assert agent["verdict"] == "not_enough_speech" and agent["llr"] is None
    bad = app_client.post("/v1/analyze?channel=5", content=data, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_parameter"


def test_timeline_can_be_omitted(app_client, analyze_key, clips):
    data = clips["bonafide_8k_hts1a"].read_bytes()
    r = app_client.post("/v1/analyze?timeline=false", content=data, headers=auth(analyze_key))
    assert r.status_code == 200 and r.json()["timeline"] is None


def _err(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"] == r.headers["x-request-id"]
    return body


@pytest.mark.parametrize(
    ("content", "headers", "query", "status", "code"),
    [
        (b"\x00garbage" * 200, {}, "", 422, "not_audio"),
        (b"", {}, "", 422, "empty_input"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", {}, "", 422, "audio_decode_error"),
        (b'{"a": 1}', {"Content-Type": "application/json"}, "", 415, "unsupported_media_type"),
        (b"hello", {"Content-Type": "text/plain"}, "", 415, "unsupported_media_type"),
        (b"x", {}, "?prior=2", 422, "validation_error"),
        (b"x", {}, "?prior=abc", 422, "validation_error"),
        (b"x", {}, "?channel=left", 422, "validation_error"),
        (b"x", {}, "?encoding=mulaw", 422, "invalid_parameter"),
        (b"x", {}, "?encoding=opus&sample_rate=8000", 422, "validation_error"),
        (b"x", {}, "?threshold_medium=5&threshold_high=1", 422, "invalid_parameter"),
        (b"x", {}, "?metadata=notjson", 422, "invalid_parameter"),
        (b"x", {}, "?metadata=[1,2]", 422, "invalid_parameter"),
    ],
)
def test_bad_input_is_4xx(app_client, analyze_key, content, headers, query, status, code):
    r = app_client.post(f"/v1/analyze{query}", content=content, headers=auth(analyze_key) | headers)
    _err(r, status, code)


def test_no_audio_stream_is_415(app_client, analyze_key):
    av = pytest.importorskip("av")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("mpeg4", rate=5)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    r = app_client.post("/v1/analyze", content=buf.getvalue(), headers=auth(analyze_key))
    _err(r, 415, "unsupported_format")


def test_multipart_errors(app_client, analyze_key, clips):
    h = auth(analyze_key)
    r = app_client.post(
        "/v1/analyze", data={"call_id": "x"}, files={"other": ("a", b"1")}, headers=h
    )
    _err(r, 422, "missing_file")
    r = app_client.post(
        "/v1/analyze", files={"file": ("a.flac", clips["bonafide_8k_hts1a"].read_bytes())},
        data={"prior": "1.5"}, headers=h,
    )  # fmt: skip
    _err(r, 422, "validation_error")


def test_size_and_duration_limits(make_client, clips, speech_8k):
    client = make_client(max_upload_bytes=50_000, max_audio_seconds=2.0)
    if True:
        h = auth(new_key(client, ["analyze"]))
        big = clips["bonafide_lj001-0001"].read_bytes()
        assert len(big) > 50_000 + 65_536
        _err(client.post("/v1/analyze", content=big, headers=h), 413, "payload_too_large")

        def chunks():  # no Content-Length: the limit is enforced while streaming
            for i in range(0, len(big), 8192):
                yield big[i : i + 8192]

        _err(client.post("/v1/analyze", content=chunks(), headers=h), 413, "payload_too_large")
        data = encode(speech_8k[: 8000 * 4], 8000, "FLAC")  # 4 s, small file
        assert len(data) < 50_000
        _err(client.post("/v1/analyze", content=data, headers=h), 413, "audio_too_long")
        ok = encode(speech_8k[: 8000 * 2 - 100], 8000, "FLAC")
        assert client.post("/v1/analyze", content=ok, headers=h).status_code == 200


def test_decision_is_audited_without_audio(app_client, full_key, clips):
    import hashlib

    data = clips["spoof_hn-nsf_slt_arctic_b0474"].read_bytes()
    body = app_client.post(
        "/v1/analyze?call_id=audit-1", content=data, headers=auth(full_key)
    ).json()
    rec = app_client.get(f"/v1/decisions/{body['decision_id']}", headers=auth(full_key)).json()
    assert rec["audio_sha256"] == hashlib.sha256(data).hexdigest() == body["audio_sha256"]
    assert rec["call_id"] == "audit-1" and rec["kind"] == "analyze"
    assert rec["codec"] == "flac" and rec["sample_rate"] == 16000
    assert rec["model_sha256"] == body["model"]["sha256"]
    assert rec["llr"] == pytest.approx(body["llr"]) and rec["tier"] == body["tier"]
    assert len(rec["timeline"]) == len(body["timeline"])
    assert rec["api_key_id"] and rec["request_id"] == body["request_id"]
    assert rec["audio_stored"] is False
    store = app_client.app.state.services.store
    assert store.get_audio(body["decision_id"]) is None


def test_audio_stored_when_opted_in(make_client, clips):
    client = make_client(store_audio=True)
    if True:
        data = clips["bonafide_8k_hts1a"].read_bytes()
        body = client.post(
            "/v1/analyze", content=data, headers=auth(new_key(client, ["analyze"]))
        ).json()
        blob = client.app.state.services.store.get_audio(body["decision_id"])
        assert blob is not None and blob.data == data


def test_unknown_route_and_method_use_the_error_shape(app_client):
    _err(app_client.get("/v1/nothing"), 404, "not_found")
    _err(app_client.get("/v1/analyze"), 405, "method_not_allowed")
