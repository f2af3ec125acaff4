"""``audio-detect keys create|list|revoke``: API keys of the screening service."""

# Registered on the ``audio-detect`` CLI through the ``audio_detect.commands`` entry
# point group (pyproject.toml); see audio_detect_service.cli.

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from audio_detect.cli import console, err_console, fail

from ._store import DbOption, open_store

keys_app = typer.Typer(
    help="Create, list and revoke API keys (stored hashed).", no_args_is_help=True
)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who/what uses the key.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: analyze, read.")] = "analyze",
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per minute (default: the service's).")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Create a key and print it ONCE (only its hash is stored)."""
    store = open_store(database_url)
    from ..security import create_key

    try:
        key_id, key = create_key(
            store, name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()],
            rate_limit=rate_limit,
        )  # fmt: skip
    except ValueError as exc:
        raise fail(str(exc)) from exc
    finally:
        store.close()
    err_console.print(f"created key [bold]{key_id}[/bold] ({name}); it is shown only once:")
    typer.echo(key)


@keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    database_url: DbOption = None,
) -> None:
    """List keys (ids, names, scopes, state, last use, use count); secrets are never shown."""
    store = open_store(database_url)
    try:
        rows = store.list_keys()
    finally:
        store.close()
    items = [
        {
            "id": r.id, "name": r.name, "scopes": r.scopes.split(","),
            "rate_limit_per_minute": r.rate_limit_per_minute,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
            "use_count": r.use_count or 0,
        }
        for r in rows
    ]  # fmt: skip
    if as_json:
        for item in items:
            typer.echo(json.dumps(item))
        return
    table = Table(title="API keys")
    for col in ("id", "name", "scopes", "rate/min", "created", "state", "last used", "uses"):
        table.add_column(col)
    for i in items:
        table.add_row(
            i["id"], i["name"], ",".join(i["scopes"]), str(i["rate_limit_per_minute"] or "default"),
            i["created_at"][:19], "revoked" if i["revoked_at"] else "active",
            (i["last_used_at"] or "never")[:19], str(i["use_count"]),
        )  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (from `keys list`).")],
    database_url: DbOption = None,
) -> None:
    """Revoke a key (effective immediately)."""
    store = open_store(database_url)
    try:
        ok = store.revoke_key(key_id)
    finally:
        store.close()
    if not ok:
        raise fail(f"no active key with id {key_id!r}")
    err_console.print(f"revoked key {key_id}")
