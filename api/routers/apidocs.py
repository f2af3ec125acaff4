"""Interactive API docs at ``/docs`` (Swagger UI) served from the package, never from a CDN.

FastAPI's default ``/docs`` and ``/redoc`` pages load their JavaScript and CSS from a
public CDN, so on an air-gapped network they are blank. Here ``/docs`` is FastAPI's
Swagger UI page pointed at the copy of ``swagger-ui-dist`` vendored under
``api/static/swagger-ui`` (Apache-2.0, licence and notice beside the files) and mounted
at ``/docs/static``; the favicon is the console's. ReDoc is not offered (one docs UI,
one vendored bundle); the schema itself is at ``/openapi.json``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["SWAGGER_DIR", "install"]

SWAGGER_DIR = Path(__file__).resolve().parent.parent / "static" / "swagger-ui"
DOCS_URL = "/docs"
_ASSETS = f"{DOCS_URL}/static"


def install(app: FastAPI) -> None:
    """Add ``GET /docs`` and mount the Swagger UI assets at ``/docs/static``.

    Build the app with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not
    added as well.
    """

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}/console/static/favicon.svg",
            # No badge from the public validator service (it would be fetched from outside).
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.add_api_route(DOCS_URL, swagger_ui, methods=["GET"], include_in_schema=False)
    app.mount(_ASSETS, StaticFiles(directory=SWAGGER_DIR, check_dir=False), name="swagger-ui")
