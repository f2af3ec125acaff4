"""The ``audio-detect`` command line (typer); one module per command group.

The library's commands are registered here. The screening service's commands
(``serve``, ``keys``, ``audit``) belong to the service package and are found through the
``audio_detect.commands`` entry point group (:data:`COMMAND_GROUP`): an entry point
names a typer command function or a :class:`typer.Typer` group, registered under the
entry point's name. The library never imports the service; when the service's
commands are not installed, ``audio-detect serve`` (``keys``, ``audit``) says which
extra provides them and exits with 2.

:data:`app` is built on first use (``from audio_detect.cli import app``, or
:func:`main`), so that a command module may import the helpers below
(:func:`fail`, :data:`console`, :data:`err_console`) from this package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Annotated, Any

import typer

from ._common import console, err_console, fail, render_flags_as_flags, setup_logging
from .batch import batch
from .corpus import corpus_app
from .evaluate import evaluate
from .fuse import fuse
from .metrics import metrics
from .models import models
from .score import score
from .train import export, train

__all__ = [
    "COMMAND_GROUP",
    "EXAMPLES",
    "SERVICE_COMMANDS",
    "app",
    "build_app",
    "console",
    "err_console",
    "fail",
    "main",
]

logger = logging.getLogger(__name__)

#: Entry point group of commands that other packages (the service) add to the CLI.
COMMAND_GROUP = "audio_detect.commands"

#: Commands the screening service provides, and the extra that installs them.
SERVICE_COMMANDS = ("serve", "keys", "audit")
SERVICE_EXTRA = "api"

render_flags_as_flags()

#: The library's commands: a function is a command, a Typer a command group.
_LIBRARY: dict[str, Callable[..., Any] | typer.Typer] = {
    "score": score,
    "evaluate": evaluate,
    "metrics": metrics,
    "models": models,
    "batch": batch,
    "train": train,
    "export": export,
    "fuse": fuse,
    "corpus": corpus_app,
}

#: The order ``--help`` lists the commands in (entry points not named here come last).
_ORDER = (
    "score", "evaluate", "metrics", "models", "serve", "batch", "train", "export", "fuse",
    "keys", "audit", "corpus",
)  # fmt: skip

#: One example per command, shown at the end of its ``--help``.
EXAMPLES: dict[str, str] = {
    "score": "audio-detect score tests/fixtures/audio/*.flac   (add --json for a JSON list)",
    "evaluate": "audio-detect evaluate --manifest trials.csv --workers 2 --json-out results.json",
    "metrics": "audio-detect metrics --scores scores.txt --protocol ASVspoof2019.LA.cm.dev.trl.txt",
    "models": "audio-detect models --json",
    "serve": "audio-detect serve --dev   (then open http://127.0.0.1:8000/docs)",
    "batch": "audio-detect batch /archive/2026-11-20 --out results/ --workers 2",
    "train": "audio-detect train --config configs/whisper_cm.json",
    "export": "audio-detect export --config configs/whisper_cm.json --checkpoint "
    "work/best.safetensors --out models/my-model",
    "fuse": "audio-detect fuse --member whisper-cm-8k --member lfcc-gmm-8k --manifest dev.csv "
    "--out models/fused",
    "keys create": "audio-detect keys create --name ivr --scopes analyze,read",
    "keys list": "audio-detect keys list --json",
    "keys revoke": "audio-detect keys revoke 3f2a9c",
    "audit export": "audio-detect audit export --format csv --since 30d -o decisions.csv",
    "audit purge": "audio-detect audit purge --older-than 90d --yes",
    "corpus build": "audio-detect corpus build --out data/corpus",
    "corpus audit": "audio-detect corpus audit --manifest data/corpus/manifest.csv --workers 2",
}


def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    setup_logging(verbose)


def _not_installed(name: str, reason: str) -> Callable[..., None]:
    """Stand-in for a service command that is not installed: says so, exits with 2."""

    def command(ctx: typer.Context) -> None:
        raise fail(
            f"`audio-detect {name}` is a command of the screening service, which is not "
            f"installed: pip install 'audio-detect[{SERVICE_EXTRA}]' ({reason})"
        )

    command.__doc__ = (
        f"Not available: needs the {SERVICE_EXTRA} extra (pip install 'audio-detect[api]')."
    )
    return command


def discover_commands(
    found: Iterable[EntryPoint] | None = None,
) -> dict[str, Callable[..., Any] | typer.Typer | str]:
    """The commands of the :data:`COMMAND_GROUP` entry points, by name.

    A service command whose entry point is missing or fails to import maps to the
    reason (a string); other broken entry points are logged and skipped.
    """
    eps = list(entry_points(group=COMMAND_GROUP) if found is None else found)
    out: dict[str, Callable[..., Any] | typer.Typer | str] = {
        name: "its entry point is missing" for name in SERVICE_COMMANDS
    }
    for ep in eps:
        if ep.name in _LIBRARY:
            logger.warning("entry point %s = %s shadows a library command", ep.name, ep.value)
            continue
        try:
            obj = ep.load()
        except ImportError as exc:  # the package providing it is broken or half-installed
            logger.debug("cannot load command %s (%s): %s", ep.name, ep.value, exc)
            if ep.name in SERVICE_COMMANDS:
                out[ep.name] = f"cannot import {ep.value}: {exc}"
            continue
        out[ep.name] = obj
    return out


def _add_examples(app: typer.Typer) -> None:
    groups = {"": app}
    groups.update({g.name: g.typer_instance for g in app.registered_groups if g.name})
    for prefix, group in groups.items():
        if group is None:
            continue
        for info in group.registered_commands:
            name = info.name or (info.callback.__name__ if info.callback else "")
            example = EXAMPLES.get(f"{prefix} {name}".strip())
            if example and not info.epilog:
                info.epilog = f"Example: {example}"


def build_app(
    plugins: dict[str, Callable[..., Any] | typer.Typer | str] | None = None,
) -> typer.Typer:
    """The ``audio-detect`` app: the library's commands plus ``plugins``.

    ``plugins`` defaults to :func:`discover_commands` (the installed entry points).
    """
    plugins = discover_commands() if plugins is None else plugins
    app = typer.Typer(
        name="audio-detect",
        help="Detect synthetic (cloned, TTS, vocoded) speech in call audio.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    commands = {**plugins, **_LIBRARY}
    names = [n for n in _ORDER if n in commands] + sorted(set(commands) - set(_ORDER))
    for name in names:
        obj = commands[name]
        if isinstance(obj, str):  # a service command that is not installed
            app.command(
                name,
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            )(_not_installed(name, obj))
        elif isinstance(obj, typer.Typer):
            app.add_typer(obj, name=name)
        elif callable(obj):
            app.command(name)(obj)
        else:
            logger.warning("entry point %s is neither a command nor a typer group", name)
    _add_examples(app)
    return app


def __getattr__(name: str) -> Any:
    # ``app`` is built on first access: the entry points may import this package.
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    (globals().get("app") or __getattr__("app"))()
