"""``audio-detect serve``: run the screening service (FastAPI + uvicorn)."""

# Register in audio_detect/cli/__init__.py with:
#     from .serve import serve
#     app.command("serve")(serve)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import err_console, fail

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default AUDIO_DETECT_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default AUDIO_DETECT_PORT or 8000).")
    ] = None,
    dev: Annotated[
        bool,
        typer.Option("--dev", help="Dev mode: no API keys, loopback clients only."),
    ] = False,
    model: Annotated[str | None, typer.Option(help="Model name or directory.")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Audit store URL (default: SQLite under var/).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Directory of the SQLite store.")] = None,
    log_level: Annotated[str | None, typer.Option(help="uvicorn log level.")] = None,
) -> None:
    """Start the screening service (REST /v1/analyze, WebSockets, audit trail)."""
    try:
        import uvicorn

        from api.main import create_app
        from api.settings import Settings
    except ImportError as exc:  # the api extra is not installed
        msg = f"the service needs the api extra: pip install 'audio-detect[api]' ({exc})"
        raise fail(msg) from exc
    overrides: dict[str, object] = {}
    for name, value in (
        ("host", host), ("port", port), ("model", model), ("database_url", database_url),
        ("data_dir", data_dir), ("log_level", log_level),
    ):  # fmt: skip
        if value is not None:
            overrides[name] = value
    if dev:
        overrides["dev_mode"] = True
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if settings.dev_mode and settings.host not in _LOOPBACK:
        raise fail(f"dev mode binds to loopback only; refusing host {settings.host!r}")
    if settings.dev_mode:
        err_console.print("[yellow]dev mode[/yellow]: no API keys, loopback clients only")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        ws="auto",
        proxy_headers=False,
    )
