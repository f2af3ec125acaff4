"""docs/api.md documents every setting and every route."""

from __future__ import annotations

from pathlib import Path

from audio_detect_service.main import create_app
from audio_detect_service.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_setting_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"`AUDIO_DETECT_{n.upper()}`" not in text]
    assert not missing, f"add to docs/api.md: {missing}"


def test_every_route_is_documented():
    text = DOC.read_text(encoding="utf-8")
    app = create_app(Settings(_env_file=None))
    # OpenAPI paths (FastAPI may nest included routers in app.routes) plus WebSocket routes,
    # which OpenAPI does not describe.
    paths = set(app.openapi()["paths"])
    paths |= {getattr(r, "path", "") for r in app.routes if type(r).__name__ == "APIWebSocketRoute"}
    paths = {p for p in paths if p.startswith(("/v1", "/healthz", "/readyz", "/metrics"))}
    assert {"/v1/analyze", "/healthz"} <= paths
    missing = sorted(p for p in paths if f"`{p}`" not in text and f"`{p}?" not in text)
    assert not missing, f"add to docs/api.md: {missing}"
