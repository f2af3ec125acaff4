"""The ``audio-detect`` command line (typer); one module per command group."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import render_flags_as_flags, setup_logging
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

render_flags_as_flags()

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


def _add_examples() -> None:
    groups = {"": app, "keys": keys_app, "audit": audit_app, "corpus": corpus_app}
    for prefix, group in groups.items():
        for info in group.registered_commands:
            name = info.name or (info.callback.__name__ if info.callback else "")
            example = EXAMPLES.get(f"{prefix} {name}".strip())
            if example and not info.epilog:
                info.epilog = f"Example: {example}"


_add_examples()


def main() -> None:
    """Console-script entry point."""
    app()
