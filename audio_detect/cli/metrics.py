"""``audio-detect metrics``: score a CM score file against a protocol, as the ASVspoof packages.

The command is a plain function; the application registers it with
``app.command("metrics")(metrics)``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from ..datasets.scores import (
    _read_cm_protocol_keys,
    align_scores,
    read_asv_score_file,
    read_score_file,
)
from ..evaluation.metrics import summarize
from ..evaluation.tdcf import asv_operating_point
from ..exceptions import AudioDetectError, DatasetFormatError, ParameterError
from ._common import console, fail

__all__ = ["metrics"]

logger = logging.getLogger(__name__)

_FILE = {"exists": True, "dir_okay": False, "readable": True}


def _compute(
    scores: Path,
    protocol: Path | None,
    asv_scores: Path | None,
    higher_is_bonafide: bool,
    llr: bool,
    mat_variable: str | None,
) -> dict[str, Any]:
    """Read the files, join scores to the protocol and return :func:`summarize`'s dict."""
    keys = None if protocol is None else _read_cm_protocol_keys(protocol)
    if scores.suffix.lower() == ".mat" and keys is None:
        raise ParameterError.invalid("--protocol", "given for a .mat score file", None)
    table = read_score_file(
        scores,
        higher_is_bonafide=higher_is_bonafide,
        utt_ids=None if keys is None else keys[0].tolist(),
        variable=mat_variable,
    )
    if keys is None:
        if table.keys is None:
            raise ParameterError(f"{scores} has no KEY column; pass --protocol to give labels.")
        labels, systems = table.keys, table.systems
    else:
        utt_ids, systems, labels = keys
        table = align_scores(table, utt_ids)
        if table.keys is not None:
            differ = np.flatnonzero(table.keys != labels)
            if differ.size:
                raise DatasetFormatError(
                    f"{scores}: the key of {utt_ids[differ[0]]} disagrees with {protocol} "
                    f"({differ.size} trials differ)"
                )
    asv = None
    if asv_scores is not None:
        asv_table = read_asv_score_file(asv_scores)
        asv = asv_operating_point(asv_table.asv_keys, asv_table.scores)
    return summarize(labels, table.scores, llr=llr, asv=asv, groups=systems)


def _print_report(summary: dict[str, Any]) -> None:
    lines = [f"EER: {100 * summary['eer']:.4f}"]
    if "min_tdcf_2019" in summary:
        lines.append(f"min t-DCF (2019): {summary['min_tdcf_2019']:.5f}")
        lines.append(f"min t-DCF (2021): {summary['min_tdcf_2021']:.5f}")
    lines.append(f"minDCF: {summary['min_dcf']:.4f}")
    if "act_dcf" in summary:
        lines.append(f"actDCF: {summary['act_dcf']:.4f}")
        lines.append(f"Cllr: {summary['cllr']:.4f}")
        lines.append(f"min Cllr: {summary['min_cllr']:.4f}")
    for line in lines:
        console.print(line, highlight=False, markup=False)
    groups = summary.get("breakdown") or {}
    if not groups:
        return
    table = Table(title="EER (%) per system")
    for name in ("system", "EER (%)", "spoof", "bona fide", "bona fide from"):
        table.add_column(name, justify="left" if name == "system" else "right")
    for name, row in groups.items():
        table.add_row(
            name,
            f"{100 * row['eer']:.4f}",
            str(row["n_spoof"]),
            str(row["n_bonafide"]),
            row["bonafide"],
        )
    table.add_row(
        "pooled",
        f"{100 * summary['eer']:.4f}",
        str(summary["n_spoof"]),
        str(summary["n_bonafide"]),
        "all",
        style="bold",
    )
    console.print(table, highlight=False)


def metrics(
    scores: Annotated[
        Path, typer.Option("--scores", "-s", help="CM score file (text or .mat).", **_FILE)
    ],
    protocol: Annotated[
        Path | None,
        typer.Option(
            "--protocol",
            "-p",
            help="ASVspoof CM protocol giving labels and attack systems "
            "(optional when the score file has a KEY column; required for .mat).",
            **_FILE,
        ),
    ] = None,
    asv_scores: Annotated[
        Path | None,
        typer.Option(
            "--asv-scores",
            help="ASV score file 'SOURCE ASV_KEY SCORE'; adds min t-DCF (2019 and 2021).",
            **_FILE,
        ),
    ] = None,
    higher_is_bonafide: Annotated[
        bool,
        typer.Option(
            "--higher-is-bonafide/--higher-is-spoof",
            help="Direction of the file's scores (ASVspoof files: higher is bona fide).",
        ),
    ] = True,
    llr: Annotated[
        bool,
        typer.Option(
            "--llr/--no-llr",
            help="Scores are natural-log likelihood ratios: also report actDCF, Cllr and min Cllr.",
        ),
    ] = True,
    mat_variable: Annotated[
        str | None, typer.Option("--mat-variable", help="Variable to read from a .mat file.")
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON object (rates as fractions, EER not in percent)."
        ),
    ] = False,
) -> None:
    """Compute EER, minDCF, actDCF, Cllr and min t-DCF of a CM score file.

    Prints one metric per line (EER in percent), then per-system EERs.
    """
    try:
        summary = _compute(scores, protocol, asv_scores, higher_is_bonafide, llr, mat_variable)
    except AudioDetectError as exc:
        raise fail(exc) from exc
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_report(summary)
