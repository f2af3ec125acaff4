"""Helpers shared by CLI commands: console, progress bars, error reporting."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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


def render_flags_as_flags() -> None:
    """Help shows ``--json`` for a flag and ``FILES...`` for an argument, with no type beside them.

    Typer's rich help prints a type for every parameter, flags included (``--json <bool>``,
    ``files <list[Path]>``), so on/off flags look as if they took a value. Click's own
    help shows a type only for options that take a value; this restores that (idempotent,
    and a no-op on a Typer without these hooks).
    """
    from typer import core

    option = getattr(core, "TyperOption", None)
    argument = getattr(core, "TyperArgument", None)
    orig = getattr(option, "display_type_rich", None)
    if option is None or orig is None or getattr(orig, "_flags_as_flags", False):
        return

    def option_type(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        shown = orig(self, ctx)
        # A repeatable option takes one value each time: --member <str>, not <list[str]>.
        if isinstance(shown, str) and shown.startswith("<list[") and shown.endswith("]>"):
            shown = f"<{shown[6:-2]}>"
        return shown

    def argument_type(self: Any, ctx: Any) -> str | None:
        return None

    option_type._flags_as_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = option_type
    if argument is not None and hasattr(argument, "display_type_rich"):
        argument.display_type_rich = argument_type


def fail(exc: AudioDetectError | str, code: int = 2) -> typer.Exit:
    """Print an error and return the Exit to raise."""
    if isinstance(exc, AudioDetectError):
        err_console.print(f"[red]error[/red] {escape(f'[{exc.code}] {exc}')}")
    else:
        err_console.print(f"[red]error[/red] {escape(str(exc))}")
    return typer.Exit(code)
