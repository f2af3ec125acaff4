"""``audio-detect train``: train, export, calibrate and write a model directory.

Neural configs (``"model": {"arch": "lcnn" | "aasist_l", ...}``) run
:func:`audio_detect.training.pipeline.run_training`; classic configs
(``"model": "lfcc_gmm"``) are handed to the classic trainer.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from ..exceptions import AudioDetectError
from ._common import console, fail, stage_progress

__all__ = ["export", "train"]


def _file_logger(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    pkg = logging.getLogger("audio_detect")
    pkg.addHandler(handler)
    if pkg.getEffectiveLevel() > logging.INFO:
        pkg.setLevel(logging.INFO)
    return handler


def train(
    config: Annotated[Path, typer.Option(help="Training config (configs/*.json).")],
    manifest: Annotated[Path | None, typer.Option(help="Override the config's manifest.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Model directory to write (default models/<name>).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's seed.")] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Wall-clock budget of the training loop.")
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(help="Checkpoints and logs (default <out>.work next to the model dir)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (classic models).")] = 2,
) -> None:
    """Train a detector from a config and write a verified model directory."""
    from .train_classic import is_classic_config, run_classic

    if not config.is_file():
        raise fail(f"config file {config} not found")
    if is_classic_config(config):
        run_classic(config, manifest=manifest, out=out, workers=workers)
        return

    from ..training.config import load_train_config
    from ..training.pipeline import run_training

    try:
        cfg = load_train_config(config)
        if seed is not None:
            cfg = cfg.replace(seed=seed)
        out_dir = out or Path("models") / cfg.name
        wdir = work_dir or out_dir.parent / f"{out_dir.name}.work"
        handler = _file_logger(wdir / "train.log")
        try:
            with stage_progress() as progress:
                doc = run_training(
                    cfg,
                    out_dir=out_dir,
                    manifest_path=manifest,
                    work_dir=wdir,
                    max_minutes=max_minutes,
                    progress=progress,
                )
        finally:
            logging.getLogger("audio_detect").removeHandler(handler)
            handler.close()
    except AudioDetectError as exc:
        raise fail(exc) from exc
    _print_metrics(out_dir, doc)
    console.print(f"  log: {wdir / 'train_log.jsonl'}")


def export(
    config: Annotated[Path, typer.Option(help="Training config the checkpoint was trained with.")],
    checkpoint: Annotated[
        list[Path],
        typer.Option(
            help="best.safetensors from a training work dir; repeat it to export an ensemble "
            "of runs of the config (different seeds) sharing one frozen encoder."
        ),
    ],
    manifest: Annotated[Path | None, typer.Option(help="Override the config's manifest.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Model directory to write (default models/<name>).")
    ] = None,
    trained_by: Annotated[
        list[Path] | None,
        typer.Option(
            help="manifest.json of the model the checkpoint was trained for: its training-loop "
            "facts (steps, epochs, history, wall time) are carried over. With several "
            "checkpoints, one per checkpoint in the same order."
        ),
    ] = None,
) -> None:
    """Export trained checkpoint(s) to ONNX, calibrate on dev and write a model directory."""
    from ..training.config import load_train_config
    from ..training.pipeline import export_checkpoint

    for path in checkpoint:
        if not path.is_file():
            raise fail(f"checkpoint {path} not found")
    if trained_by and len(trained_by) != len(checkpoint):
        raise fail(
            f"{len(trained_by)} --trained-by for {len(checkpoint)} --checkpoint; give one per "
            "checkpoint, in the same order"
        )
    try:
        cfg = load_train_config(config)
        out_dir = out or Path("models") / cfg.name
        previous = [_training_section(p) for p in trained_by] if trained_by else None
        with stage_progress() as progress:
            doc = export_checkpoint(
                cfg, checkpoint, out_dir=out_dir, manifest_path=manifest,
                trained_by=previous, progress=progress,
            )  # fmt: skip
    except AudioDetectError as exc:
        raise fail(exc) from exc
    _print_metrics(out_dir, doc)


def _training_section(path: Path) -> dict[str, Any]:
    """The ``training`` object of a model manifest given as ``--trained-by``."""
    try:
        section = json.loads(path.read_text(encoding="utf-8")).get("training", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise fail(f"cannot read --trained-by {path}: {exc}") from exc
    if not isinstance(section, dict):
        raise fail(f"--trained-by {path}: 'training' is not an object")
    return section


def _print_metrics(out_dir: Path, doc: dict[str, Any]) -> None:
    tr, metrics = doc["training"], doc["metrics"]
    if tr.get("ensemble"):
        seeds = ", ".join(str(m.get("seed", "?")) for m in tr["ensemble"])
        run = f"ensemble of {len(tr['ensemble'])} runs (seeds {seeds})"
    else:
        run = (
            f"{tr.get('steps', '-')} steps, best dev epoch {tr.get('best_epoch', '-')}, "
            f"{tr.get('train_wall_seconds', '-')} s training"
        )
    console.print(f"wrote {out_dir}: {tr['n_parameters']} parameters, {run}")
    for key, m in metrics.items():
        if "eer" in m:
            act, cllr = m.get("act_dcf", float("nan")), m.get("cllr", float("nan"))
            console.print(
                f"  {key:<24} EER {100 * m['eer']:6.2f} %  minDCF {m['min_dcf']:.3f}  "
                f"actDCF {act:.3f}  Cllr {cllr:.3f}"
            )
