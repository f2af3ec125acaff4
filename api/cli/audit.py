"""``audio-detect audit export|purge``: the screening service's audit trail."""

# Registered on the ``audio-detect`` CLI through the ``audio_detect.commands`` entry
# point group (pyproject.toml); see audio_detect_service.cli.

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from audio_detect.cli import err_console, fail

from ._store import DbOption, open_store

audit_app = typer.Typer(help="Export or purge recorded decisions.", no_args_is_help=True)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, *, now: datetime | None = None) -> datetime:
    """``30d``/``12h``/``90m``/``2w`` ago, or an ISO 8601 date/time (UTC if no zone)."""
    now = now or datetime.now(UTC)
    m = _DURATION.match(value)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected a duration like 30d/12h/90m or an ISO date, got {value!r}"
        ) from exc
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else value


@audit_app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "jsonl",
    since: Annotated[str | None, typer.Option(help="30d, 12h, or an ISO date.")] = None,
    until: Annotated[str | None, typer.Option(help="30d, 12h, or an ISO date.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout).")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Export decisions (oldest first) as CSV or JSON lines."""
    if fmt not in ("csv", "jsonl"):
        raise fail(f"--format must be csv or jsonl, got {fmt!r}")
    store = open_store(database_url)
    from ..store import DECISION_COLUMNS

    out: TextIO = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
    n = 0
    try:
        rows = store.iter_decisions(
            since=parse_when(since) if since else None, until=parse_when(until) if until else None
        )
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=list(DECISION_COLUMNS))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(v) for k, v in row.items()})
                n += 1
        else:
            for row in rows:
                out.write(json.dumps(row, separators=(",", ":")) + "\n")
                n += 1
    finally:
        store.close()
        if output:
            out.close()
    err_console.print(f"exported {n} decision(s)")


@audit_app.command("purge")
def purge(
    older_than: Annotated[
        str, typer.Option(help="Delete decisions older than 30d, 12h, or a date.")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    database_url: DbOption = None,
) -> None:
    """Delete decisions (and their audio and jobs) older than a cutoff, plus expired audio."""
    cutoff = parse_when(older_than)
    if not yes:
        typer.confirm(f"Delete every decision recorded before {cutoff.isoformat()}?", abort=True)
    store = open_store(database_url)
    try:
        counts = store.purge(older_than=cutoff)
    finally:
        store.close()
    err_console.print(
        f"purged {counts['decisions']} decision(s), {counts['audio']} audio blob(s), "
        f"{counts['jobs']} job(s) older than {cutoff.isoformat()}"
    )
    typer.echo(json.dumps(counts))
