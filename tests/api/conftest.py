"""Fixtures of the service tests: settings on the tiny model, apps, clients, keys, audio."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi")

from api_helpers import LOCAL, Receiver, new_key
from fastapi.testclient import TestClient

from audio_detect.audio.io import load_audio
from audio_detect_service.main import create_app
from audio_detect_service.settings import Settings


@pytest.fixture
def make_settings(tiny_gmm_dir: Path, tmp_path: Path) -> Callable[..., Settings]:
    """Settings on the tiny model and a fresh SQLite file; keyword overrides."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "model": str(tiny_gmm_dir),
            "models_dir": tiny_gmm_dir.parent,
            "database_url": f"sqlite:///{tmp_path / 'audit.db'}",
            "max_concurrent_scoring": 2,
            "stream_idle_timeout_seconds": 10.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Default test settings (keys required)."""
    return make_settings()


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """Start an app with settings overrides; closed at teardown."""
    opened: list[TestClient] = []

    def make(client: tuple[str, int] = LOCAL, **overrides: Any) -> TestClient:
        tc = TestClient(create_app(make_settings(**overrides)), client=client)
        tc.__enter__()
        opened.append(tc)
        return tc

    yield make
    for tc in reversed(opened):
        tc.__exit__(None, None, None)


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    """A started app (lifespan run) with no credentials."""
    with TestClient(create_app(settings), client=LOCAL) as client:
        yield client


@pytest.fixture
def analyze_key(app_client: TestClient) -> str:
    """A key with the analyze scope."""
    return new_key(app_client, ["analyze"])


@pytest.fixture
def full_key(app_client: TestClient) -> str:
    """A key with both scopes."""
    return new_key(app_client, ["analyze", "read"])


@pytest.fixture(scope="session")
def clips(fixture_audio: dict[str, Path]) -> dict[str, Path]:
    """The real fixture recordings (FLAC)."""
    return fixture_audio


@pytest.fixture(scope="session")
def speech_8k(fixture_audio: dict[str, Path]) -> np.ndarray:
    """A bona fide clip at 8 kHz (9.7 s)."""
    return load_audio(fixture_audio["bonafide_lj001-0001"], sr=8000).samples


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook/callback receiver."""
    r = Receiver()
    yield r
    r.close()
