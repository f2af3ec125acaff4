"""Upload limits enforced while the body streams in, time limits, temporary files, load shedding.

A real server process is used where the property lives below the app (sockets, memory,
file descriptors); an in-process app where the scoring pool must be held busy.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from local_server import LocalServer

from audio_detect_service.main import create_app
from audio_detect_service.security import create_key
from audio_detect_service.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLIP = Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "bonafide_lj001-0001.flac"
LIMIT = 8 * 2**20  # max_upload_bytes of reliability_server


def _raw_request(server: LocalServer, head: str, body: bytes = b"", wait: float = 15.0) -> bytes:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(head.encode() + body)
        sock.settimeout(wait)
        raw = b""
        try:
            while chunk := sock.recv(65536):
                raw += chunk
        except TimeoutError:
            pass
    return raw


def test_declared_oversize_is_refused_before_the_body(reliability_server):
    server = reliability_server
    t0 = time.monotonic()
    raw = _raw_request(server, (
        "POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        f"Authorization: Bearer {server.keys['analyze']}\r\nContent-Length: {50 * LIMIT}\r\n"
        "Connection: close\r\n\r\n"), b"RIFF")  # fmt: skip
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]
    assert b"payload_too_large" in raw and time.monotonic() - t0 < 10


def test_chunked_oversize_is_cut_while_streaming(reliability_server):
    server = reliability_server
    rss0 = server.rss_mb()
    sent = 0

    def body():
        nonlocal sent
        block = b"\0" * 2**20
        for _ in range(3 * LIMIT // len(block)):
            sent += len(block)
            yield block

    headers = {**server.auth(server.keys["analyze"]), "content-type": "application/octet-stream"}
    try:
        r = httpx.post(server.url + "/v1/analyze", content=body(), headers=headers, timeout=60)
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    except httpx.HTTPError:  # the server may close the connection before reading it all
        pass
    assert server.rss_mb() - rss0 < 2 * LIMIT / 2**20 + 40
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_multipart_temp_files_are_released(reliability_server):
    """Parts above 1 MiB spool to temporary files; every path (ok, error) closes them."""
    server = reliability_server
    headers = server.auth(server.keys["analyze"])
    big = CLIP.read_bytes() + b"\0" * (2 * 2**20)  # a valid FLAC with trailing padding
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        client.get("/healthz")
        fds0 = server.open_fds()
        codes = []
        for i in range(6):
            if i % 3 == 0:
                files = {"file": ("call.flac", big)}
            elif i % 3 == 1:
                files = {"other": ("x.bin", big)}  # no 'file' part: 422 missing_file
            else:
                files = {"file": ("bad.wav", b"\xff" * (2 * 2**20))}  # undecodable
            codes.append(client.post("/v1/analyze", files=files).status_code)
        time.sleep(0.5)
        fds1 = server.open_fds()
    assert codes == [200, 422, 422] * 2
    assert fds1 <= fds0 + 2, f"file descriptors grew from {fds0} to {fds1}"


def test_slow_body_gets_408_within_the_time_limit(tiny_gmm_dir, tmp_path):
    """A body that trickles in is cut at REQUEST_TIMEOUT_SECONDS with 408 (real sockets:
    uvicorn in a thread of this process, which already has everything imported)."""
    import uvicorn

    settings = Settings(_env_file=None, model=str(tiny_gmm_dir), models_dir=tiny_gmm_dir.parent,
                        database_url=f"sqlite:///{tmp_path / 'audit.db'}",
                        request_timeout_seconds=2)  # fmt: skip
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        _, key = create_key(server.config.app.state.services.store, name="k", scopes=["analyze"])
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), 10) as sock:
            sock.sendall((
                "POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream"
                f"\r\nAuthorization: Bearer {key}\r\nContent-Length: 100000\r\n"
                "Connection: close\r\n\r\nRIFF....").encode())  # fmt: skip
            sock.settimeout(20)
            raw = b""
            while chunk := sock.recv(65536):  # headers and body may come in separate segments
                raw += chunk
        elapsed = time.monotonic() - t0
    finally:
        server.should_exit = True
        thread.join(30)
    assert raw.startswith(b"HTTP/1.1 408") and b"request_timeout" in raw, raw[:200]
    assert elapsed < 10


def test_saturated_server_sheds_before_reading_the_body(tiny_gmm_dir, tmp_path):
    settings = Settings(
        _env_file=None, model=str(tiny_gmm_dir), models_dir=tiny_gmm_dir.parent,
        database_url=f"sqlite:///{tmp_path / 'audit.db'}", max_concurrent_scoring=1,
        max_queued_scoring=0,
    )  # fmt: skip
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as client:
        services = client.app.state.services
        _, key = create_key(services.store, name="k", scopes=["analyze"])
        gate, started = threading.Event(), threading.Event()
        original = services.score

        def slow(item):
            started.set()
            gate.wait(20)
            return original(item)

        services.score = slow
        headers = {"Authorization": f"Bearer {key}"}
        first: list[httpx.Response] = []
        t = threading.Thread(target=lambda: first.append(
            client.post("/v1/analyze", content=CLIP.read_bytes(), headers=headers)))  # fmt: skip
        t.start()
        assert started.wait(20)
        consumed = 0

        def body():
            nonlocal consumed
            for _ in range(64):
                consumed += 1
                yield b"\0" * 65536

        r = client.post("/v1/analyze", content=body(), headers=headers)
        gate.set()
        t.join(30)
    assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded"
    assert int(r.headers["retry-after"]) >= 1
    assert consumed <= 2, f"{consumed} chunks of the body were read before shedding"
    assert first[0].status_code == 200
