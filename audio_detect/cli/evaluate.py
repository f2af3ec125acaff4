"""``audio-detect evaluate``: score a manifest or a public dataset and print metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..evaluation.evaluate import EvalResult
from ..exceptions import AudioDetectError
from ._common import console, fail, stage_progress


def evaluate(
    manifest: Annotated[
        Path | None, typer.Option(help="Generic CSV manifest (path,label[,system,...]).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Public dataset reader name (with --root).")
    ] = None,
    root: Annotated[Path | None, typer.Option(help="Dataset root for --dataset.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name or directory.")] = None,
    split: Annotated[str | None, typer.Option(help="Keep rows whose split column is this.")] = None,
    channel: Annotated[
        str | None, typer.Option(help="Apply a telephone channel condition before scoring.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    scores_out: Annotated[
        Path | None, typer.Option(help="Write an ASVspoof-format score file here.")
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option(help="Write the metrics and every failed trial (code, message) as JSON here."),
    ] = None,
    update_card: Annotated[
        bool, typer.Option(help="Store the metrics in --model's manifest and MODEL_CARD.md.")
    ] = False,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="Protocol name the card files the metrics under (e.g. 'modern'); "
            "default: the corpus eval protocol."
        ),
    ] = None,
) -> None:
    """Score every trial; print pooled EER ('EER: <percent>'), minDCF, actDCF, Cllr, breakdowns."""
    from ..datasets import load_dataset
    from ..datasets.manifest import read_manifest_csv
    from ..evaluation.evaluate import evaluate_manifest, report

    if (manifest is None) == (dataset is None):
        raise fail("give exactly one of --manifest or --dataset (with --root)")
    try:
        if manifest is not None:
            trials = read_manifest_csv(manifest)
        else:
            if root is None:
                raise fail("--dataset needs --root")
            trials = load_dataset(str(dataset), root)
        if split is not None:
            trials = trials.filter(lambda u: u.get("split") == split)
        with stage_progress() as progress:
            result = evaluate_manifest(
                trials, model=model, channel=channel, workers=workers, progress=progress
            )
        metrics = report(result)
    except AudioDetectError as exc:
        raise fail(exc) from exc
    if scores_out is not None:
        from ..datasets.scores import write_score_file

        write_score_file(
            scores_out,
            result.utt_ids,
            result.llrs,
            systems=result.systems,
            keys=["spoof" if y else "bonafide" for y in result.labels],
        )
    failed = list(result.failure_details.values())
    if json_out is not None:
        doc = {**metrics, "failed": failed}
        json_out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if update_card:
        _update_card(model, metrics, result, channel=channel, protocol=protocol)
    _print(metrics)
    _print_failed(failed)


def _update_card(
    model: str | None,
    metrics: dict[str, Any],
    result: EvalResult,
    *,
    channel: str | None,
    protocol: str | None,
) -> None:
    import shlex
    import sys

    from ..evaluation.model_card import condition_key, det_points, update_model_card
    from ..registry import load_model_dir

    model_dir = load_model_dir(model).path
    command = "audio-detect " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    labels, _, llrs = result.arrays()
    update_model_card(
        model_dir,
        metrics,
        condition=condition_key(protocol, channel),
        command=command,
        det=det_points(labels, llrs),
    )


def _print_failed(failed: list[dict[str, str]]) -> None:
    """Every trial that could not be scored, with its typed error (excluded from the metrics)."""
    if not failed:
        return
    table = Table(title=f"{len(failed)} trial(s) not scored (excluded from the metrics above)")
    table.add_column("file", overflow="fold")
    table.add_column("error", no_wrap=True)
    table.add_column("message", overflow="fold")
    for f in failed:
        table.add_row(f["path"], f["code"], f["message"])
    console.print(table)


def _print(m: dict[str, Any]) -> None:
    console.print(f"EER: {100 * m['eer']:.4f}")
    console.print(f"minDCF: {m['min_dcf']:.4f}")
    console.print(f"actDCF: {m['act_dcf']:.4f}")
    console.print(f"Cllr: {m['cllr']:.4f}")
    console.print(
        f"min Cllr: {m['min_cllr']:.4f} (calibration loss {m['cllr'] - m['min_cllr']:.4f})"
    )
    console.print(
        f"trials: {m['n_trials']} ({m['n_bonafide']} bona fide, {m['n_spoof']} spoof),"
        f" failed: {m['n_failed']}"
    )
    sa = m.get("system_average")
    if sa:
        console.print(
            f"EER averaged over {sa['n_systems']} spoof systems: {100 * sa['eer_mean']:.2f} %"
            f" (worst: {sa['worst_system']}, {100 * sa['eer_max']:.2f} %)"
        )
        for fam, v in sa.get("by_family", {}).items():
            console.print(f"  {fam}: {100 * v['eer_mean']:.2f} % over {v['n_systems']} systems")
    for title, table_data in [("per system", m["per_system"]), *m["per_group"].items()]:
        table = Table(title=f"EER {title}")
        for col in ("group", "EER %", "spoof", "bona fide"):
            table.add_column(col)
        for k, v in table_data.items():
            table.add_row(k, f"{100 * v['eer']:.2f}", str(v["n_spoof"]), str(v["n_bonafide"]))
        console.print(table)
