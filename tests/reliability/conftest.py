"""Fixtures of the reliability tests: a real server process, the hostile corpus, key helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile_index import REQUEST_TIMEOUT, SERVER_MAX_SECONDS
from local_server import LocalServer


@pytest.fixture(scope="session")
def reliability_server(
    tiny_gmm_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    """A uvicorn process on 127.0.0.1 (tiny model, hostile-corpus limits, access log on),
    shared by the tests of one worker."""
    server = LocalServer(
        tiny_gmm_dir,
        tmp_path_factory.mktemp("reliability-server"),
        settings={
            "max_audio_seconds": SERVER_MAX_SECONDS,
            "request_timeout_seconds": REQUEST_TIMEOUT,
            "max_upload_bytes": 8 * 2**20,
            "max_queued_scoring": 64,
        },
        access_log=True,
    )
    server.start()
    yield server
    server.stop()
