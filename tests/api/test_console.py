"""The analyst console's page, assets and JSON helpers.

``api/routers/console.py`` (routes) and ``api/console_render.py`` (PNG, spectrogram, DET).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_helpers import auth, encode, new_key

from audio_detect.audio.io import load_audio
from audio_detect.evaluation.evaluate import EvalResult, report
from audio_detect.evaluation.model_card import det_points, render_model_card, update_model_card
from audio_detect_service.console_render import encode_png, spectrogram_payload
from audio_detect_service.routers.console import STATIC_DIR

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def decode_png(data: bytes) -> np.ndarray:
    """Minimal decoder for the 8-bit RGB, filter-0 PNGs that ``encode_png`` writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert zlib.crc32(tag + body) & 0xFFFFFFFF == crc
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + n
    w, h, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + 3 * w)
    assert not rows[:, 0].any()
    return rows[:, 1:].reshape(h, w, 3)


# -- page and assets ------------------------------------------------------------------
def test_page_and_assets_have_security_headers(app_client):
    r = app_client.get("/console")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert '<script type="module" src="/console/static/js/main.js">' in r.text
    js = app_client.get("/console/static/js/main.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert js.headers["content-security-policy"] == csp
    missing = app_client.get("/console/static/js/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert app_client.get("/console/static/../routers/console.py").status_code == 404


def test_assets_are_local_and_inline_free():
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".html", ".css", ".js"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline script"
            assert " style=" not in text and "<style" not in text, "inline style"
            assert not re.search(r"\son[a-z]+=", text), "inline event handler"
    for html_id in ("file-input", "record-btn", "channel-select", "analyze-error", "result"):
        assert f'id="{html_id}"' in (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def test_page_is_left_out_of_openapi_but_helpers_are_in(app_client):
    paths = app_client.get("/openapi.json").json()["paths"]
    assert "/console" not in paths
    for path in (
        "/v1/analyze/spectrogram",
        "/v1/console/config",
        "/v1/console/decisions",
        "/v1/console/models/{name}/det",
        "/v1/decisions/{decision_id}/spectrogram",
    ):
        assert path in paths, path


def test_config_needs_no_key(app_client):
    body = app_client.get("/v1/console/config").json()
    assert body["dev_mode"] is False and body["model"]["name"] == "tiny-gmm"
    assert body["max_upload_bytes"] > 0 and body["top_k"] >= 0
    assert set(body["thresholds"]) == {"medium", "high"}


# -- spectrogram ----------------------------------------------------------------------
def test_encode_png_round_trip():
    rgb = np.random.default_rng(0).integers(0, 256, (7, 13, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(rgb)), rgb)


def test_spectrogram_payload_bounds_columns_and_finds_speech(clips):
    y = load_audio(clips["bonafide_lj001-0001"], sr=8000).samples
    out = spectrogram_payload(y, 8000, max_columns=400)
    img = decode_png(base64.b64decode(out["png"]))
    assert img.shape == (out["height"], out["width"], 3) and out["height"] == 129
    assert 100 < out["width"] <= 400
    assert out["duration"] == pytest.approx(len(y) / 8000, abs=1e-3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50
    assert out["speech_regions"] and all(
        0 <= s < e <= out["duration"] + 1e-3 for s, e in out["speech_regions"]
    )
    silence = spectrogram_payload(np.zeros(16000, np.float32), 8000)
    assert silence["speech_regions"] == [] and silence["width"] == 201


def test_analyze_spectrogram(app_client, analyze_key, clips):
    data = clips["spoof_hn-nsf_slt_arctic_b0474"].read_bytes()
    r = app_client.post(
        "/v1/analyze/spectrogram",
        content=data,
        headers=auth(analyze_key) | {"Content-Type": "audio/flac"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sample_rate"] == 8000 and body["channel"] == "mix"
    assert decode_png(base64.b64decode(body["png"])).shape[1] == body["width"]
    analyzed = app_client.post("/v1/analyze", content=data, headers=auth(analyze_key)).json()
    assert body["duration"] == pytest.approx(analyzed["duration"], abs=0.01)
    # nothing recorded by the spectrogram: only the analyze call is in the audit trail
    reader = new_key(app_client, ["read"])
    items = app_client.get("/v1/decisions", headers=auth(reader)).json()["items"]
    assert len(items) == 1


def test_spectrogram_picks_the_caller_channel(app_client, analyze_key, speech_8k):
    stereo = np.stack([np.zeros_like(speech_8k), speech_8k])
    data = encode(stereo, 8000, "WAV", "PCM_16")
    out = {}
    for ch in ("0", "1"):
        r = app_client.post(
            f"/v1/analyze/spectrogram?channel={ch}", content=data, headers=auth(analyze_key)
        )
        assert r.status_code == 200, r.text
        out[ch] = r.json()
    assert out["0"]["speech_regions"] == [] and out["1"]["speech_regions"]
    r = app_client.post(
        "/v1/analyze/spectrogram?channel=5", content=data, headers=auth(analyze_key)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, b"RIFF", 401, "unauthorized"),
        ({"Content-Type": "application/json"}, b"{}", 415, "unsupported_media_type"),
        ({}, b"not audio at all" * 10, 422, "not_audio"),
        ({}, b"", 422, "empty_input"),
    ],
)
def test_spectrogram_errors(app_client, analyze_key, headers, body, status, code):
    if status != 401:
        headers = headers | auth(analyze_key)
    r = app_client.post("/v1/analyze/spectrogram", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_spectrogram_needs_the_analyze_scope(app_client):
    r = app_client.post(
        "/v1/analyze/spectrogram", content=b"x", headers=auth(new_key(app_client, ["read"]))
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_spectrogram_body_limit(make_client):
    client = make_client(max_upload_bytes=4096)
    key = new_key(client, ["analyze"])
    r = client.post("/v1/analyze/spectrogram", content=b"\0" * 5000, headers=auth(key))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_decision_spectrogram_only_with_stored_audio(make_client, clips):
    data = clips["bonafide_8k_hts1a"].read_bytes()
    for store_audio in (True, False):
        client = make_client(store_audio=store_audio)
        key = new_key(client, ["analyze", "read"])
        decision_id = client.post("/v1/analyze", content=data, headers=auth(key)).json()[
            "decision_id"
        ]
        r = client.get(f"/v1/decisions/{decision_id}/spectrogram", headers=auth(key))
        if store_audio:
            assert r.status_code == 200, r.text
            assert r.json()["width"] > 0 and r.json()["speech_regions"]
        else:
            assert r.status_code == 404 and r.json()["error"]["code"] == "audio_not_stored"


# -- recent decisions -----------------------------------------------------------------
def _post(client, key, data, call_id):
    r = client.post(f"/v1/analyze?call_id={call_id}", content=data, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_recent_decisions_filters_and_pages(app_client, full_key, clips):
    made = [
        _post(app_client, full_key, clips[stem].read_bytes(), f"c-{i}")
        for i, stem in enumerate(sorted(clips))
    ]
    made.append(_post(app_client, full_key, clips["bonafide_8k_hts1a"].read_bytes(), "c-0"))
    get = lambda q="": app_client.get(f"/v1/console/decisions{q}", headers=auth(full_key))  # noqa: E731
    page = get().json()
    assert [d["id"] for d in page["items"]] == [d["decision_id"] for d in reversed(made)]
    assert page["next_before"] is None and "timeline" not in page["items"][0]
    assert {d["id"] for d in get("?call_id=c-0").json()["items"]} == {
        made[0]["decision_id"],
        made[-1]["decision_id"],
    }
    for d in made:
        for key, value in (("tier", d["tier"]), ("verdict", d["verdict"])):
            items = get(f"?{key}={value}").json()["items"]
            assert items and all(i[key] == value for i in items)
    seen, before = [], ""
    while True:
        body = get(f"?limit=2{before}").json()
        seen += [d["id"] for d in body["items"]]
        if not body["next_before"]:
            break
        before = f"&before={body['next_before']}"
    assert seen == [d["decision_id"] for d in reversed(made)]
    assert get("?since=2100-01-01T00:00:00Z").json()["items"] == []
    assert len(get("?until=2100-01-01T00:00:00Z").json()["items"]) == len(made)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?before=%%%", 422, "invalid_parameter"),
        ("?tier=extreme", 422, "validation_error"),
        ("?limit=0", 422, "validation_error"),
        ("?since=yesterday", 422, "validation_error"),
    ],
)
def test_recent_decisions_errors(app_client, full_key, query, status, code):
    r = app_client.get(f"/v1/console/decisions{query}", headers=auth(full_key))
    assert r.status_code == status and r.json()["error"]["code"] == code


def test_recent_decisions_need_read_scope(app_client, analyze_key):
    r = app_client.get("/v1/console/decisions", headers=auth(analyze_key))
    assert r.status_code == 403


# -- DET curves and model cards -------------------------------------------------------
def _synthetic_eval(n: int = 600) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(n // 2, int), np.ones(n // 2, int)]
    llrs = np.r_[rng.normal(-1.5, 1, n // 2), rng.normal(1.5, 1, n // 2)]
    result = EvalResult(
        utt_ids=[f"u{i}" for i in range(n)],
        labels=labels.tolist(),
        scores=llrs.tolist(),
        llrs=llrs.tolist(),
        systems=["-" if y == 0 else f"s{i % 3}" for i, y in enumerate(labels)],
    )
    return labels, llrs, report(result)


def test_det_points_downsampled_with_eer_point():
    labels, llrs, metrics = _synthetic_eval()
    det = det_points(labels, llrs)
    n = len(det["p_miss"])
    assert 50 <= n <= 100 and len(det["p_fa"]) == len(det["threshold"]) == n
    assert det["p_miss"][0] == 0.0 and det["p_fa"][0] == 1.0
    assert det["p_miss"][-1] == 1.0 and det["p_fa"][-1] == 0.0
    assert np.all(np.diff(det["p_miss"]) >= 0) and np.all(np.diff(det["p_fa"]) <= 0)
    gap = np.abs(np.subtract(det["p_miss"], det["p_fa"]))
    assert np.mean(np.array([det["p_miss"], det["p_fa"]])[:, np.argmin(gap)]) == pytest.approx(
        metrics["eer"], abs=1e-6
    )
    assert len(det_points([0, 1], [0.2, 0.7], n_points=100)["p_miss"]) == 3


@pytest.fixture
def evaluated_model(tiny_gmm_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny model with two evaluated conditions, one with a DET curve."""
    dst = tmp_path / "models" / "tiny-gmm"
    shutil.copytree(tiny_gmm_dir, dst)
    labels, llrs, metrics = _synthetic_eval()
    update_model_card(dst, metrics, condition="clean", command="test", det=det_points(labels, llrs))
    update_model_card(dst, metrics, condition="gsm", command="test")  # no DET: still valid
    return dst


def test_update_model_card_stores_det_additively(evaluated_model):
    manifest = json.loads((evaluated_model / "manifest.json").read_text())
    evaluations = manifest["metrics"]["evaluations"]
    assert set(evaluations["clean"]["det"]) == {"p_miss", "p_fa", "threshold"}
    assert "det" not in evaluations["gsm"]
    card = render_model_card(manifest)
    assert "| `clean` |" in card and "| `gsm` |" in card


def test_model_det_endpoint(make_client, evaluated_model):
    client = make_client(model=str(evaluated_model), models_dir=evaluated_model.parent)
    key = new_key(client, ["read"])
    r = client.get("/v1/console/models/tiny-gmm/det", headers=auth(key))
    assert r.status_code == 200, r.text
    body = r.json()
    conds = {c["condition"]: c for c in body["conditions"]}
    clean = conds["clean"]
    assert 50 <= len(clean["points"]) <= 100 and conds["gsm"]["points"] == []
    axis = body["axis"]
    assert axis["min"] < -3 < 1 < axis["max"] and [t["label"] for t in axis["ticks"]][:2] == [
        "0.1",
        "0.5",
    ]
    assert all(axis["min"] <= v <= axis["max"] for p in clean["points"] for v in p)
    assert clean["eer_point"][0] == clean["eer_point"][1] < 0
    models = client.get("/v1/models", headers=auth(key)).json()
    assert models[0]["metrics"]["evaluations"]["clean"]["det"]
    missing = client.get("/v1/console/models/nope/det", headers=auth(key))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    assert client.get("/v1/console/models/tiny-gmm/det").status_code == 401


def test_model_det_without_evaluations(app_client, analyze_key):
    body = app_client.get("/v1/console/models/tiny-gmm/det", headers=auth(analyze_key)).json()
    assert body["conditions"] == [] and body["axis"]["ticks"]
