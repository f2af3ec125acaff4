"""/docs works air-gapped (every asset from the app itself); /metrics labels every route."""

from __future__ import annotations

import re
import socket
from html.parser import HTMLParser

import pytest
from api_helpers import auth
from fastapi.testclient import TestClient

from audio_detect_service.main import create_app
from audio_detect_service.routers.apidocs import SWAGGER_DIR
from audio_detect_service.settings import Settings


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append(value)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_docs_page_and_every_asset_come_from_the_app(no_network):
    # No lifespan: the page and its assets need neither a model nor a store.
    client = TestClient(create_app(Settings(_env_file=None)))
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    parser = _Refs()
    parser.feed(page.text)
    # The inline script's spec URL is an asset too.
    spec_urls = re.findall(r"url:\s*'([^']+)'", page.text)
    refs = parser.refs + spec_urls
    assert any(r.endswith("swagger-ui-bundle.js") for r in refs)
    assert any(r.endswith("swagger-ui.css") for r in refs)
    assert "/openapi.json" in spec_urls
    for ref in refs:
        assert ref.startswith("/"), f"/docs references an outside URL: {ref}"
        r = client.get(ref)
        assert r.status_code == 200, ref
        assert r.content, ref
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/redoc").status_code == 404  # no second, CDN-backed docs page


def test_vendored_swagger_ui_ships_its_licence():
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"):
        assert (SWAGGER_DIR / name).is_file(), name
    assert "Apache License" in (SWAGGER_DIR / "LICENSE").read_text(encoding="utf-8")
    total = sum(p.stat().st_size for p in SWAGGER_DIR.iterdir())
    assert total < 2_500_000  # keep the vendored bundle small: no source maps, no extras


def test_metrics_label_every_mounted_route_by_template(app_client, full_key):
    h = auth(full_key)
    for path in (
        "/docs",
        "/openapi.json",
        "/docs/static/swagger-ui.css",
        "/console/static/console.css",
        "/console",
    ):
        assert app_client.get(path).status_code == 200, path
    app_client.get("/no/such/route")
    text = app_client.get("/metrics", headers=h).text
    for route in ("/docs", "/openapi.json", "/docs/static/{path}", "/console/static/{path}"):
        assert f'audio_detect_http_requests_total{{method="GET",route="{route}",status="200"}}' in (
            text
        ), route
    # Only a path no route serves is "unmatched".
    unmatched = [ln for ln in text.splitlines() if 'route="unmatched"' in ln and "_total" in ln]
    assert unmatched and all('status="404"' in ln for ln in unmatched), unmatched
