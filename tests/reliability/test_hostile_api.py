"""Every hostile fixture through ``POST /v1/analyze`` of a real server process.

Each file must get the HTTP answer of its ``index.json`` outcome (a typed 4xx, or 200
with a decision: ``not_enough_speech`` for silence, DC and clipping), within the
per-request time limit, with the server's peak resident memory bounded (``VmHWM`` of
the uvicorn process, measured), and the server still healthy at the end.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hostile_index import HOSTILE, INDEX, REQUEST_TIMEOUT, SERVER_MAX_SECONDS, expected_http

from audio_detect_service.main import create_app
from audio_detect_service.security import create_key
from audio_detect_service.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: Peak server memory allowed above its resident size after start-up.
MAX_RSS_GROWTH_MB = 300.0
VERDICTS = {"bonafide", "spoof", "not_enough_speech"}
CONSTANT = ("silence_", "dc_", "clip_")
HOSTILE_NAMES = ("../../etc/passwd", "..\\..\\boot.ini", "a\x00b.wav", "x" * 300 + ".wav",
                 "/abs/path.wav", "%2e%2e%2fsecret.wav")  # fmt: skip


def _check(name: str, response: httpx.Response, seconds: float) -> str | None:
    """None when the answer matches the index, else a description of the mismatch."""
    spec = INDEX[name]
    statuses, codes = expected_http(spec["expect"])
    if seconds > REQUEST_TIMEOUT + 5:
        return f"{name}: took {seconds:.1f} s"
    if response.status_code not in statuses:
        return f"{name} ({spec['note']}): HTTP {response.status_code} {response.text[:200]}"
    body = response.json()
    if response.status_code == 200:
        if body["verdict"] not in VERDICTS or not body["decision_id"]:
            return f"{name}: bad decision {body}"
        if name.startswith(CONSTANT) and body["verdict"] != "not_enough_speech":
            return f"{name}: constant signal scored as {body['verdict']}"
        return None
    if set(body) != {"error"} or body["error"]["code"] not in codes:
        return f"{name}: expected one of {codes}, got {body}"
    return None


def _post(client: httpx.Client, name: str) -> tuple[str, httpx.Response, float]:
    data = (HOSTILE / name).read_bytes()
    t0 = time.monotonic()
    r = client.post(
        "/v1/analyze", content=data, headers={"content-type": "application/octet-stream"}
    )
    return name, r, time.monotonic() - t0


def test_every_hostile_file_gets_its_typed_answer_with_bounded_memory(reliability_server):
    server = reliability_server
    names = sorted(n for n, s in INDEX.items() if s["max_seconds"] == SERVER_MAX_SECONDS)
    assert len(names) >= 200
    baseline = server.rss_mb()
    headers = server.auth(server.keys["analyze"])
    with httpx.Client(base_url=server.url, headers=headers, timeout=REQUEST_TIMEOUT + 10) as client:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda n: _post(client, n), names))
        assert client.get("/healthz").status_code == 200
    problems = [p for p in (_check(*r) for r in results) if p]
    assert not problems, "\n".join(problems)
    slowest = max(results, key=lambda r: r[2])
    growth = server.peak_rss_mb() - baseline
    print(f"\n{len(results)} files; slowest {slowest[0]} {slowest[2]:.2f} s; "
          f"server RSS {baseline:.0f} MB at start, peak +{growth:.0f} MB")  # fmt: skip
    assert growth < MAX_RSS_GROWTH_MB, f"server peak RSS grew by {growth:.0f} MB"
    assert "Traceback" not in server.log(), server.log()[-3000:]


def test_hostile_multipart_file_names_change_nothing(reliability_server):
    """Multipart uploads under path-traversal / NUL / huge file names: same answers, and
    nothing is written under any of those names."""
    server = reliability_server
    headers = server.auth(server.keys["analyze"])
    names = sorted(INDEX)[::15]
    problems = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=REQUEST_TIMEOUT + 10) as client:
        for i, name in enumerate(names):
            if INDEX[name]["max_seconds"] != SERVER_MAX_SECONDS:
                continue
            fname = HOSTILE_NAMES[i % len(HOSTILE_NAMES)]
            t0 = time.monotonic()
            r = client.post("/v1/analyze", files={"file": (fname, (HOSTILE / name).read_bytes())},
                            data={"call_id": f"mp-{i}"})  # fmt: skip
            problems.append(_check(name, r, time.monotonic() - t0))
    assert not [p for p in problems if p], problems
    assert not Path("/etc/passwd.wav").exists()
    leftovers = [
        p.name for p in server.workdir.rglob("*") if "passwd" in p.name or "boot" in p.name
    ]
    assert not leftovers


@pytest.mark.parametrize("name", sorted(n for n, s in INDEX.items()
                                        if s["max_seconds"] != SERVER_MAX_SECONDS))  # fmt: skip
def test_files_with_their_own_limit(name, tiny_gmm_dir, tmp_path):
    """Fixtures whose index sets another ``max_seconds``: an app with that limit."""
    spec = INDEX[name]
    settings = Settings(
        _env_file=None, model=str(tiny_gmm_dir), models_dir=tiny_gmm_dir.parent,
        database_url=f"sqlite:///{tmp_path / 'audit.db'}", max_audio_seconds=spec["max_seconds"],
    )  # fmt: skip
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as client:
        _, key = create_key(client.app.state.services.store, name="t", scopes=["analyze"])
        t0 = time.monotonic()
        r = client.post("/v1/analyze", content=(HOSTILE / name).read_bytes(),
                        headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert _check(name, r, time.monotonic() - t0) is None, r.text


def test_console_spectrogram_route_gets_the_same_answers(reliability_server):
    """The console's ``POST /v1/analyze/spectrogram`` decodes uploads too: same answers."""
    server = reliability_server
    headers = {**server.auth(server.keys["analyze"]), "content-type": "application/octet-stream"}
    names = sorted(n for n, s in INDEX.items() if s["max_seconds"] == SERVER_MAX_SECONDS)[::3]
    problems = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=REQUEST_TIMEOUT + 10) as client:
        if client.post("/v1/analyze/spectrogram", content=b"x").status_code == 404:
            pytest.skip("the console routes are not installed in this build")
        for name in names:
            t0 = time.monotonic()
            r = client.post("/v1/analyze/spectrogram", content=(HOSTILE / name).read_bytes())
            statuses, codes = expected_http(INDEX[name]["expect"])
            if time.monotonic() - t0 > REQUEST_TIMEOUT + 5 or r.status_code not in statuses:
                problems.append(f"{name}: HTTP {r.status_code} {r.text[:150]}")
            elif r.status_code != 200 and r.json()["error"]["code"] not in codes:
                problems.append(f"{name}: {r.json()}")
    assert not problems, "\n".join(problems)
