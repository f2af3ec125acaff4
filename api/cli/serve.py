"""``audio-detect serve``: run the screening service (FastAPI + uvicorn).

Registered on the ``audio-detect`` CLI through the ``audio_detect.commands`` entry point
group (pyproject.toml); see :mod:`audio_detect_service.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from audio_detect.cli import err_console, fail

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: What each ``--workers`` process imports: the service package installs as
#: ``audio_detect_service`` (its source directory is ``api/``).
_APP_FACTORY = "audio_detect_service.main:create_app"


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
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes (default AUDIO_DETECT_WORKERS or 1), one model copy "
            "each; set AUDIO_DETECT_REDIS_URL so that they share rate limits and jobs.",
        ),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            help="Redis for shared rate limits and jobs (default AUDIO_DETECT_REDIS_URL)."
        ),
    ] = None,
) -> None:
    """Start the screening service (REST /v1/analyze, WebSockets, audit trail)."""
    try:
        import uvicorn

        from ..main import create_app
        from ..settings import Settings
    except ImportError as exc:  # the api extra is not installed
        msg = f"the service needs the api extra: pip install 'audio-detect[api]' ({exc})"
        raise fail(msg) from exc
    overrides: dict[str, object] = {}
    for name, value in (
        ("host", host), ("port", port), ("model", model), ("database_url", database_url),
        ("data_dir", data_dir), ("log_level", log_level), ("workers", workers),
        ("redis_url", redis_url),
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
    if settings.workers > 1:
        _serve_workers(settings, overrides)
        return
    uvicorn.run(create_app(settings), **_server_options(settings))


def _server_options(settings: Any) -> dict[str, Any]:
    """The ``uvicorn.run`` options one worker and ``--workers N`` share."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "ws": "auto",
        "ws_per_message_deflate": settings.ws_compression,
        "proxy_headers": False,
    }


def _serve_workers(settings: Any, overrides: dict[str, object]) -> None:
    """``--workers N``: uvicorn's process manager, each worker building its own app.

    Workers read their settings from the environment, so the command-line overrides
    are exported as ``AUDIO_DETECT_*`` first. The audit store is migrated once here,
    before the workers start (N workers migrating one database at once would race).
    """
    import os

    import uvicorn

    from ..store import Store

    for name, value in overrides.items():
        os.environ[f"AUDIO_DETECT_{name.upper()}"] = (
            ("true" if value else "false") if isinstance(value, bool) else str(value)
        )
    store = Store(settings.resolved_database_url)
    store.migrate()
    store.close()
    if not settings.redis_url:
        err_console.print(
            "[yellow]warning[/yellow]: --workers without AUDIO_DETECT_REDIS_URL: each worker "
            "has its own rate limits (a key gets N times its limit) and runs only the jobs "
            "it received; see docs/deploy.md"
        )
    uvicorn.run(
        _APP_FACTORY,
        factory=True,
        workers=settings.workers,
        # A worker loading its model (onnxruntime session, hash checks) can hold the GIL
        # past uvicorn's 5 s health-check ping on a busy host; it was then killed and
        # restarted in a loop. The ping is for hung workers, so a minute is fine.
        timeout_worker_healthcheck=60,
        **_server_options(settings),
    )
