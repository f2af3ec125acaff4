"""``audio-detect batch INPUT --out OUT``: screen a whole call archive into Parquet shards."""

from __future__ import annotations

import json
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..constants import DEFAULT_MAX_SECONDS
from ..exceptions import AudioDetectError
from ._common import console, err_console, fail


class Engine(StrEnum):
    """Where the files are scored."""

    local = "local"
    ray = "ray"


def _channel(value: str) -> str | int:
    return int(value) if value.isdigit() else value


def _rate(done: int, audio_seconds: float, elapsed: float) -> str:
    if elapsed <= 0:
        return ""
    files_s = done / elapsed
    audio_h_s = audio_seconds / 3600.0 / elapsed
    return f"{files_s:.1f} files/s  {audio_h_s:.4f} audio-h/s ({audio_h_s * 3600:.0f}x real time)"


def _quiet_ray_logs() -> None:
    """Ray logs every pipeline start at INFO level; keep the terminal for the bar."""
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")  # read when Ray Data sets up logging
    try:
        import ray  # noqa: F401 - sets up the "ray" logger, which we then quieten
    except ImportError:  # reported by the engine with the install hint
        return
    logging.getLogger("ray").setLevel(logging.ERROR)


def batch(
    source: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="Folder, glob pattern (quote it), or manifest .csv/.parquet with a 'path' column.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder of Parquet shards.")],
    engine: Annotated[Engine, typer.Option(help="Process pool here, or Ray.")] = Engine.local,
    ray_address: Annotated[
        str | None, typer.Option(help="Existing Ray cluster (e.g. ray://head:10001, auto).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes/actors (default: all CPUs).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name or directory.")] = None,
    audit_db: Annotated[
        str | None, typer.Option(help="Also copy rows to the API audit store at this URL.")
    ] = None,
    shard_rows: Annotated[int, typer.Option(min=1, help="Rows per Parquet shard.")] = 1000,
    batch_size: Annotated[int, typer.Option(min=1, help="Files per worker task.")] = 4,
    channel: Annotated[
        str, typer.Option(help="'mix' or the 0-based channel of the caller in stereo files.")
    ] = "mix",
    prior: Annotated[float | None, typer.Option(help="P(spoof) prior for the posterior.")] = None,
    max_seconds: Annotated[
        float, typer.Option(help="Longest audio accepted.")
    ] = DEFAULT_MAX_SECONDS,
    retry_failed: Annotated[
        bool, typer.Option(help="Rescore files whose earlier rows hold an error.")
    ] = False,
    all_files: Annotated[
        bool, typer.Option(help="List every file of a folder, not only audio extensions.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Score every recording of an archive; one Parquet row per file, resumable."""
    try:
        from ..batch import AUDIO_EXTENSIONS, BatchProgress, ScoreOptions, run_batch
    except ImportError as exc:  # pyarrow missing
        raise fail(f"{exc}; install the batch extra: pip install 'audio-detect[batch]'") from exc

    if engine is Engine.ray:
        _quiet_ray_logs()
    columns = (
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("scoring", total=None, rate="starting workers...")

        def update(p: BatchProgress) -> None:
            bar.update(
                task,
                completed=p.done,
                total=p.total,
                rate=_rate(p.done, p.audio_seconds, p.elapsed),
            )

        try:
            summary = run_batch(
                source,
                out=out,
                engine=engine.value,
                workers=workers,
                model=model,
                ray_address=ray_address,
                shard_rows=shard_rows,
                batch_size=batch_size,
                options=ScoreOptions(
                    channel=_channel(channel), max_seconds=max_seconds, prior=prior
                ),
                retry_failed=retry_failed,
                audit_db=audit_db,
                extensions=None if all_files else AUDIO_EXTENSIONS,
                progress=update,
            )
        except AudioDetectError as exc:
            raise fail(exc) from exc
    if audit_db and (summary.audit_error or summary.audit_rows < summary.scored - summary.failed):
        err_console.print(
            "[yellow]warning[/yellow] audit store incomplete or skipped (see the log)"
        )
    if as_json:
        console.print_json(json.dumps(summary.to_dict()))
        return
    _print_summary(summary.to_dict())


def _print_summary(s: dict) -> None:
    if s["total"] == 0:
        err_console.print("[yellow]warning[/yellow] no input files")
    wall = s["wall_seconds"]
    console.print(f"{s['out']}  (model {s['model']['name']} {s['model']['version']})")
    table = Table(show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    rows = [
        ("input files", str(s["total"])),
        ("scored now", str(s["scored"])),
        ("  of which failed", str(s["failed"])),
        ("skipped (already scored)", str(s["skipped"])),
        ("shards written", str(len(s["shards"]))),
        ("audio hours", f"{s['audio_seconds'] / 3600:.3f}"),
        ("wall time", f"{wall:.1f} s"),
        ("files/s", f"{s['scored'] / wall:.2f}" if wall else "-"),
        ("audio hours per hour", f"{s['audio_hours_per_hour']:.1f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
