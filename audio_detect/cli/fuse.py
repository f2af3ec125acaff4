"""``audio-detect fuse``: logistic-regression score fusion of installed models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exceptions import AudioDetectError
from ._common import console, fail, stage_progress

__all__ = ["fuse"]


def fuse(
    member: Annotated[list[str], typer.Option(help="Member model name (repeat, at least twice).")],
    manifest: Annotated[Path, typer.Option(help="Manifest CSV holding the dev trials.")],
    out: Annotated[Path, typer.Option(help="Fusion model directory (next to the members).")],
    split: Annotated[str, typer.Option(help="Value of the 'split' column used to fit.")] = "dev",
    c: Annotated[float, typer.Option("--c", help="Inverse L2 strength of the regression.")] = 1.0,
) -> None:
    """Fit a fusion of models on a dev split; write it as a new model directory."""
    from ..datasets.manifest import read_manifest_csv
    from ..evaluation.fusion import fit_fusion

    try:
        trials = read_manifest_csv(manifest)
        if "split" in trials.columns:
            trials = trials.subset(split=split)
        if len(trials) == 0:
            raise fail(f"no trials with split {split!r} in {manifest}")
        with stage_progress() as progress:
            doc = fit_fusion(member, list(trials), out_dir=out, c=c, progress=progress)
    except AudioDetectError as exc:
        raise fail(exc) from exc
    weights = ", ".join(f"{e['name']} {e['weight']:+.4f}" for e in doc["members"])
    console.print(f"wrote {out}: weights {weights}, bias {doc['fusion_bias']:+.4f}")
    console.print(f"  calibration {doc['calibration']}, thresholds {doc['thresholds']}")
