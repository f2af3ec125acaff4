"""``audio-detect score FILE...``: verdicts for recordings of any length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..exceptions import AudioDetectError
from ._common import console, err_console, fail


def _channel(value: str) -> str | int:
    return int(value) if value.isdigit() else value


def score(
    files: Annotated[list[Path], typer.Argument(help="Audio files (any format FFmpeg decodes).")],
    model: Annotated[str | None, typer.Option(help="Model name or directory.")] = None,
    channel: Annotated[
        str, typer.Option(help="'mix' or the 0-based channel of the caller in stereo files.")
    ] = "mix",
    prior: Annotated[float | None, typer.Option(help="P(spoof) prior for the posterior.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON per file.")] = False,
    timeline: Annotated[bool, typer.Option(help="Also print the per-window timeline.")] = False,
    max_seconds: Annotated[float, typer.Option(help="Longest audio accepted.")] = 4 * 3600.0,
) -> None:
    """Score recordings: label, P(spoof), log-likelihood ratio, risk tier, per-window timeline."""
    from ..detector import Detector

    try:
        detector = Detector.load(model)
    except AudioDetectError as exc:
        raise fail(exc) from exc
    results: list[dict] = []
    failures = 0
    for path in files:
        try:
            decision = detector.score_file(
                path, channel=_channel(channel), max_seconds=max_seconds, prior=prior
            )
            results.append({"file": str(path), **decision.to_dict()})
        except (AudioDetectError, OSError) as exc:
            failures += 1
            code = getattr(exc, "code", "io_error")
            results.append({"file": str(path), "error": {"code": code, "message": str(exc)}})
    if as_json:
        console.print_json(json.dumps(results if len(results) > 1 else results[0]))
    else:
        _print_table(results, timeline=timeline, model=detector.info)
    if failures:
        err_console.print(f"{failures} of {len(files)} file(s) could not be scored")
        raise typer.Exit(1)


def _print_table(results: list[dict], *, timeline: bool, model: dict[str, str]) -> None:
    table = Table(title=f"model {model['name']} {model['version']}")
    table.add_column("file", overflow="fold")
    for col in ("verdict", "tier", "P(spoof)", "LLR", "speech s", "windows"):
        table.add_column(col, no_wrap=True)
    for r in results:
        if "error" in r:
            table.add_row(
                Path(r["file"]).name, "[red]error[/red]", r["error"]["code"], "", "", "", ""
            )
            continue
        p = "" if r["p_spoof"] is None else f"{r['p_spoof']:.3f}"
        llr = "" if r["llr"] is None else f"{r['llr']:+.2f}"
        color = {"spoof": "red", "bonafide": "green"}.get(r["verdict"], "yellow")
        table.add_row(
            Path(r["file"]).name,
            f"[{color}]{r['verdict']}[/{color}]",
            r["tier"],
            p,
            llr,
            f"{r['speech_seconds']:.1f}",
            str(len(r["windows"])),
        )
    console.print(table)
    if timeline:
        for r in results:
            for w in r.get("windows", []):
                console.print(
                    f"{r['file']}\t{w['start']:8.2f}-{w['end']:8.2f}s\tLLR {w['llr']:+.2f}"
                    f"\tP(spoof) {w['p_spoof']:.3f}"
                )
