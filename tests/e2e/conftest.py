"""Fixtures of the browser tests: the service on a free loopback port, headless Chromium.

The service runs in a thread of the test process (uvicorn, dev mode, the tiny model,
SQLite in a temporary directory). The browser is Debian's Chromium driven through
Playwright (``executable_path``; Playwright's own browser download is never used).
Everything skips with a reason when Playwright or Chromium is missing.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from system_deps import chromium_path, missing_reason

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "_artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def evaluate_into(model_dir: Path, clips: dict[str, Path]) -> Path:
    """Score the fixture clips with ``model_dir`` and store card numbers and a DET curve."""
    from audio_detect.detector import Detector
    from audio_detect.evaluation.evaluate import EvalResult, report
    from audio_detect.evaluation.model_card import det_points, update_model_card
    from audio_detect.registry import load_model_dir

    detector = Detector(load_model_dir(model_dir))
    result = EvalResult()
    for stem, path in sorted(clips.items()):
        decision = detector.score_file(path)
        result.utt_ids.append(stem)
        result.labels.append(int(stem.startswith("spoof")))
        result.scores.append(float(decision.score))
        result.llrs.append(float(decision.llr))
        result.systems.append(stem.split("_")[1] if stem.startswith("spoof") else "-")
    labels, _, llrs = result.arrays()
    update_model_card(
        model_dir,
        report(result),
        condition="clean",
        command="pytest fixture",
        det=det_points(labels, llrs),
    )
    return model_dir


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``tests/_artifacts`` (gitignored): screenshots of the browser tests."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (skips when either is missing)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    exe = chromium_path()
    if exe is None:
        pytest.skip(missing_reason("chromium") or "Chromium is not usable")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def console_model(
    tiny_gmm_dir: Path, fixture_audio: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the tiny model with model-card numbers and a DET curve."""
    dst = tmp_path_factory.mktemp("e2e-models") / "tiny-gmm"
    shutil.copytree(tiny_gmm_dir, dst)
    return evaluate_into(dst, fixture_audio)


@contextmanager
def serve(settings: Any) -> Iterator[str]:
    """Run ``create_app(settings)`` with uvicorn in a thread on a free loopback port."""
    uvicorn = pytest.importorskip("uvicorn")
    from audio_detect_service.main import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _settings(model: Path, db: Path, **overrides: Any) -> Any:
    from audio_detect_service.settings import Settings

    return Settings(_env_file=None, model=str(model), models_dir=model.parent,
                    database_url=f"sqlite:///{db}", rate_limit_per_minute=10_000,
                    **overrides)  # fmt: skip


@pytest.fixture(scope="module")
def live_server(console_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service in dev mode (no keys); yields its base URL."""
    db = tmp_path_factory.mktemp("e2e-db") / "audit.db"
    with serve(_settings(console_model, db, dev_mode=True)) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_server(
    console_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """The service with API keys required; yields its base URL and a full key."""
    from audio_detect_service.security import create_key
    from audio_detect_service.store import Store

    db = tmp_path_factory.mktemp("e2e-keyed") / "audit.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    _, key = create_key(store, name="e2e", scopes=["analyze", "read"])
    store.close()
    with serve(_settings(console_model, db)) as url:
        yield url, key
