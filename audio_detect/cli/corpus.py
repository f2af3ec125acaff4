"""``audio-detect corpus build|audit``: the open training corpus."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from ..exceptions import AudioDetectError

__all__ = ["corpus_app"]

corpus_app = typer.Typer(help="Build and audit the open training corpus.", no_args_is_help=True)
console = Console(stderr=True)


@corpus_app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", "-o", help="Corpus folder (outside the repo).")],
    sources: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated generators (default: all that are not opt-in); "
            "+NAME adds an opt-in one (kde_edu, neural_codec) to the default list.",
        ),
    ] = None,
    shared_corpus: Annotated[
        Path | None,
        typer.Option(envvar="AUDIO_DETECT_SHARED_CORPUS", help="Developers' corpus root."),
    ] = None,
    fixtures: Annotated[
        Path | None, typer.Option(help="Folder of bonafide_*/spoof_*.flac (fixtures source).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes.")] = 1,
    seed: Annotated[int, typer.Option(help="Global seed.")] = 0,
    smoke: Annotated[bool, typer.Option(help="Tiny build (a few generators, seconds).")] = False,
    max_hours: Annotated[
        float | None, typer.Option(min=0.01, help="Budget: scale generator hours down to this.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Generate (or resume) the corpus: FLAC files, manifest.csv and protocols/."""
    from ..corpus.builder import BuildOptions, build_corpus

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    opts = BuildOptions(
        out_dir=out,
        sources=[s.strip() for s in sources.split(",") if s.strip()] if sources else None,
        shared_corpus=shared_corpus,
        fixtures=fixtures,
        workers=workers,
        seed=seed,
        smoke=smoke,
        max_hours=max_hours,
    )
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("rendering", total=None)

            def _progress(done: int, total: int, item_id: str) -> None:
                bar.update(task, completed=done, total=total)

            result = build_corpus(opts, progress=_progress)
    except AudioDetectError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    for name, reason in result.skipped_sources.items():
        console.print(f"[yellow]skipped[/yellow] {name}: {reason}")
    table = Table(title=f"corpus {result.manifest}")
    for col in (
        "split",
        "files",
        "hours",
        "bona fide h",
        "spoof h",
        "systems",
        "families",
        "speakers",
        "languages",
    ):
        table.add_column(col)
    for split in ("train", "dev", "eval", "all"):
        s = result.summary[split]
        assert isinstance(s, dict)
        table.add_row(
            split,
            str(s["files"]),
            f"{s['hours']:.2f}",
            f"{s['bonafide_hours']:.2f}",
            f"{s['spoof_hours']:.2f}",
            str(len(s["spoof_systems"])),
            str(len(s["families"])),
            str(s["bonafide_speakers"]),
            ",".join(s["languages"]),
        )
    console.print(table)
    console.print(json.dumps(result.summary["checks"]))
    if result.failed:
        console.print(f"[yellow]{len(result.failed)} items failed[/yellow] (see the log)")


@corpus_app.command("audit")
def audit(
    manifest: Annotated[Path, typer.Option(help="Corpus manifest.csv.")],
    split: Annotated[str, typer.Option(help="Split scored (the model trains on train).")] = "eval",
    train_split: Annotated[str, typer.Option(help="Split the nuisance model trains on.")] = "train",
    workers: Annotated[int, typer.Option(min=1)] = 1,
    max_files: Annotated[int | None, typer.Option(help="Subsample per split.")] = None,
    min_eer: Annotated[float, typer.Option(help="Exit 1 when the EER is below this.")] = 0.35,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Nuisance-only EER (sample rate, duration, level, silence, band...): should be near 50 %."""
    from ..corpus.audit import audit_manifest

    try:
        res = audit_manifest(
            manifest,
            train_split=train_split,
            eval_split=split,
            workers=workers,
            max_files=max_files,
        )
    except AudioDetectError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    payload = {
        "eer": round(res.eer, 4),
        "n_train": res.n_train,
        "n_eval": res.n_eval,
        "train_split": res.train_split,
        "eval_split": res.eval_split,
        "per_feature": [
            {"feature": n, "eer": round(e, 4), "abs_auc_minus_half": round(a, 4)}
            for n, e, a in res.per_feature
        ],
        "pass": res.eer >= min_eer,
    }
    if json_out:
        typer.echo(json.dumps(payload, indent=2))
    else:
        table = Table(title=f"nuisance-only EER on {split}: {100 * res.eer:.1f} %")
        table.add_column("feature")
        table.add_column("single-feature EER")
        table.add_column("|AUC-0.5|")
        for n, e, a in res.per_feature:
            table.add_row(n, f"{100 * e:.1f} %", f"{a:.3f}")
        Console().print(table)
    if res.eer < min_eer:
        raise typer.Exit(1)
