"""Helpers shared by CLI commands: console, progress bars, error reporting."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..exceptions import AudioDetectError

console = Console()
err_console = Console(stderr=True)


def setup_logging(verbose: bool = False) -> None:
    """Route library logging through rich on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )


def progress_bar() -> Progress:
    """A rich progress bar on stderr (stdout stays clean for results)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


@contextmanager
def stage_progress() -> Iterator[Callable[[str, int, int], None]]:
    """Yield a ``progress(stage, done, total)`` callback backed by one rich task per stage."""
    tasks: dict[str, int] = {}
    with progress_bar() as bar:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def fail(exc: AudioDetectError | str, code: int = 2) -> typer.Exit:
    """Print an error and return the Exit to raise."""
    if isinstance(exc, AudioDetectError):
        err_console.print(f"[red]error[/red] {escape(f'[{exc.code}] {exc}')}")
    else:
        err_console.print(f"[red]error[/red] {escape(str(exc))}")
    return typer.Exit(code)
