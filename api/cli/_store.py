"""The screening service's store, shared by ``audio-detect audit`` and ``audio-detect keys``."""

from __future__ import annotations

from typing import Annotated

import typer

from audio_detect.cli import fail

DbOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Audit store URL (default: AUDIO_DETECT_DATABASE_URL)."),
]


def open_store(database_url: str | None):  # type: ignore[no-untyped-def]
    """Open (and migrate) the store at ``database_url``, by default the service's setting."""
    try:
        from ..settings import Settings
        from ..store import Store
    except ImportError as exc:
        raise fail(f"needs the api extra: pip install 'audio-detect[api]' ({exc})") from exc
    settings = Settings(database_url=database_url) if database_url else Settings()
    store = Store(settings.resolved_database_url)
    store.migrate()
    return store
