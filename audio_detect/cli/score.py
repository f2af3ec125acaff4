"""``audio-detect score FILE...``: verdicts for recordings of any length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..constants import DEFAULT_MAX_SECONDS
from ..exceptions import AudioDetectError
from ._common import console, err_console, fail

_NOTE = (
    "P(spoof) is one risk signal, not a verdict on a caller: {name} misses clones and flags "
    "genuine speech at measured rates{eer}; its limits, per family and channel: {card}"
)


def _reading_note(detector: Any) -> str:
    """The one line under the table: what the score means and where its limits are measured."""
    model = detector.model
    card = Path(model.path) / "MODEL_CARD.md"
    try:
        card_text = str(card.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        card_text = str(card)
    eer = ((model.manifest.get("metrics") or {}).get("eval") or {}).get("eer")
    eer_text = f" (EER {100 * eer:.1f} % on systems unseen in training)" if eer else ""
    return escape(_NOTE.format(name=model.name, eer=eer_text, card=card_text))


def _channel(value: str) -> str | int:
    return int(value) if value.isdigit() else value


def score(
    files: Annotated[
        list[Path],
        typer.Argument(help="Audio files (any format FFmpeg decodes).", metavar="FILE..."),
    ],
    model: Annotated[str | None, typer.Option(help="Model name or directory.")] = None,
    channel: Annotated[
        str, typer.Option(help="'mix' or the 0-based channel of the caller in stereo files.")
    ] = "mix",
    prior: Annotated[float | None, typer.Option(help="P(spoof) prior for the posterior.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list, one object per file (errors too).")
    ] = False,
    timeline: Annotated[bool, typer.Option(help="Also print the per-window timeline.")] = False,
    max_seconds: Annotated[
        float, typer.Option(help="Longest audio accepted.")
    ] = DEFAULT_MAX_SECONDS,
) -> None:
    """Score recordings: label, P(spoof), log-likelihood ratio, risk tier, per-window timeline.

    Exit status 0 when every file was scored, 1 when one or more could not be (each is
    reported with its error code and a one-sentence reason), 2 when the model cannot load.
    """
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
        # Always a list, whatever the number of files: one shape to parse.
        console.print_json(json.dumps(results))
    else:
        _print_table(results, timeline=timeline, model=detector.info)
        for r in results:
            if "error" in r:
                line = f"[{r['error']['code']}] {r['error']['message']}"
                err_console.print(f"[red]error[/red] {escape(line)}")
        if failures < len(results):
            console.print(_reading_note(detector))
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
