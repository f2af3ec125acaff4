"""The ``audio-detect`` command line (typer); one module per command group."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import setup_logging
from .audit import audit_app
from .batch import batch
from .corpus import corpus_app
from .evaluate import evaluate
from .fuse import fuse
from .keys import keys_app
from .metrics import metrics
from .models import models
from .score import score
from .serve import serve
from .train import export, train

app = typer.Typer(
    name="audio-detect",
    help="Detect synthetic (cloned, TTS, vocoded) speech in call audio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    setup_logging(verbose)


app.command("score")(score)
app.command("evaluate")(evaluate)
app.command("metrics")(metrics)
app.command("models")(models)
app.command("serve")(serve)
app.command("batch")(batch)
app.command("train")(train)
app.command("export")(export)
app.command("fuse")(fuse)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(corpus_app, name="corpus")


def main() -> None:
    """Console-script entry point."""
    app()
