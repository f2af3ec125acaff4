"""One-command neural training: data -> train -> ONNX export -> calibration -> model dir.

Steps of :func:`run_training`:

1. read the manifest; use its ``split`` column, or make a speaker- and
   system-disjoint split (:func:`audio_detect.training.classic.group_split`);
2. decode train/dev(/eval) audio at the model rate into RAM (:mod:`.data`);
3. train with the best dev epoch kept (:mod:`.loop`);
4. export to ONNX, check torch/onnxruntime parity on real dev speech and, with
   ``quantize="int8"``, replace the graph by its int8 version (:mod:`.quantize`);
5. score the dev split with the exported model through the serving
   :class:`~audio_detect.detector.Detector` (same VAD, windows and top-k rule),
   fit the logistic calibration and the tier thresholds on dev bona fide speech;
6. score the eval split, clean and through telephone channels, for the metrics;
7. write the verified model directory (:func:`.export.write_model_dir`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..calibration import LogisticCalibrator, fit_decision_rule
from ..constants import BONAFIDE, SPOOF
from ..datasets.manifest import Manifest, read_manifest_csv
from ..exceptions import ParameterError
from .card import model_card
from .config import TrainConfig
from .data import CachedClip, load_clips
from .export import check_onnx_parity, export_onnx, write_model_dir
from .loop import stratified_subset, train_model
from .models import build_model, count_parameters
from .quantize import quantize_int8, score_deviation
from .seed import seed_everything

__all__ = [
    "export_checkpoint",
    "finalize_model",
    "run_training",
    "score_clips",
    "split_manifest",
]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def split_manifest(manifest: Manifest, config: TrainConfig) -> dict[str, Manifest]:
    """Return ``{"train", "dev", "eval"}`` sub-manifests (eval may be empty)."""
    if "split" in manifest.columns and any(u.get("split") for u in manifest):
        parts = {
            "train": manifest.subset(split=config.train_split),
            "dev": manifest.subset(split=config.dev_split),
            "eval": manifest.subset(split=config.eval_split),
        }
    else:
        from .classic import group_split

        assign = group_split(
            manifest, eval_fraction=config.split_eval_fraction,
            dev_fraction=config.split_dev_fraction, seed=config.seed,
        )  # fmt: skip
        parts = {
            name: manifest.filter(lambda u, n=name: assign.get(u.utt_id) == n)
            for name in ("train", "dev", "eval")
        }
    for name in ("train", "dev"):
        labels = set(parts[name].labels.tolist()) if len(parts[name]) else set()
        if labels != {BONAFIDE, SPOOF}:
            raise ParameterError(
                f"The {name!r} split must hold both bona fide and spoof utterances; "
                f"got labels {sorted(labels)} in {len(parts[name])} utterances."
            )
    return parts


def score_clips(
    model_dir: Path,
    clips: list[CachedClip],
    *,
    channel: str | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    stage: str = "score",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Call-level raw scores of ``clips`` through the serving :class:`Detector`.

    Returns ``(scores, labels, systems)`` for the clips that had enough speech.
    With ``channel`` the whole recording first passes through that telephone
    condition (:func:`audio_detect.audio.channel.apply_channel`) and the VAD runs again.
    """
    from ..audio.windows import cut_windows
    from ..detector import Detector

    det = Detector.load(model_dir)
    scores, labels, systems = [], [], []
    for i, clip in enumerate(clips):
        if progress is not None:
            progress(stage, i, len(clips))
        y = clip.full()
        if channel is None:
            windows = cut_windows(y, sr=det.sample_rate, regions=clip.regions, config=det.window)
        else:
            from ..audio.channel import apply_channel

            y = apply_channel(y, sr=det.sample_rate, condition=channel, seed=seed + i)
            windows = det.speech_windows(y)
        decision = det.decide(windows, duration=len(y) / det.sample_rate)
        if decision.score is None:
            continue
        scores.append(decision.score)
        labels.append(clip.label)
        systems.append(clip.system)
    if progress is not None:
        progress(stage, len(clips), len(clips))
    return np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64), systems


def _summary(y: np.ndarray, llr: np.ndarray, systems: list[str]) -> dict[str, Any]:
    from ..evaluation.metrics import summarize

    if len(set(y.tolist())) < 2:
        return {"n_trials": len(y), "note": "one class only; no metrics"}
    out = summarize(y, llr, llr=True, groups=np.asarray(systems))
    if "breakdown" in out:
        out["breakdown"] = {
            str(k): {"eer": v["eer"], "n_spoof": v["n_spoof"], "n_bonafide": v["n_bonafide"]}
            for k, v in out["breakdown"].items()
        }
    return out


def _prepare(
    config: TrainConfig, manifest_path: Path | None, progress: Progress | None
) -> tuple[Path, str, dict[str, list[CachedClip]]]:
    """Seed, read and split the manifest, decode every split."""
    seed_everything(config.seed, num_threads=config.num_threads)
    mpath = manifest_path or (Path(config.manifest) if config.manifest else None)
    if mpath is None:
        raise ParameterError("No manifest: pass --manifest or set 'manifest' in the config.")
    manifest = read_manifest_csv(mpath)
    parts = split_manifest(manifest, config)
    protocol = "split column" if "split" in manifest.columns else "group_split"
    clips = {
        name: load_clips(
            part,
            sr=config.sample_rate,
            min_speech_seconds=config.window.min_speech_seconds,
            cache_dir=config.cache_dir,
            progress=progress,
            stage=f"decode {name}",
        )
        for name, part in parts.items()
        if len(part)
    }
    return mpath, protocol, clips


def _split_summary(clips: dict[str, list[CachedClip]], sr: int) -> dict[str, Any]:
    return {
        name: {
            "n_utterances": len(cl),
            "n_bonafide": int(sum(c.label == BONAFIDE for c in cl)),
            "n_spoof": int(sum(c.label == SPOOF for c in cl)),
            "systems": sorted({c.system for c in cl if c.label == SPOOF}),
            "speech_hours": round(sum(c.n_speech for c in cl) / sr / 3600, 3),
        }
        for name, cl in clips.items()
    }


def finalize_model(
    config: TrainConfig,
    model: nn.Module,
    clips: dict[str, list[CachedClip]],
    *,
    out_dir: Path,
    training: dict[str, Any],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Export ``model``, check parity, calibrate on dev, evaluate, write ``out_dir``.

    ``training`` is the summary stored in the manifest (parity and timings are added).
    Returns the written manifest as a dict.
    """
    from ..registry import read_manifest

    t0 = time.perf_counter()
    sr = config.sample_rate
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = export_onnx(model, out_dir / "model.onnx", sample_rate=sr)
    speech = [c.speech()[: 4 * sr] for c in clips["dev"][:4]]
    n = min(len(p) for p in speech)
    probe = np.stack([p[:n] for p in speech])  # equal-length dev speech, (4, n)
    parity = check_onnx_parity(model, onnx_path, probe, atol=np.inf)
    if parity > 1e-4:  # keep the trained model, but say so loudly
        logger.error("torch/ONNX parity %.3g exceeds 1e-4 on dev speech", parity)
    training = {**training, "onnx_parity_max_abs_diff": parity}
    if config.quantize in ("int8", "int7"):
        # Parity above is of the float32 graph; the int8 graph that replaces it is what
        # dev calibration and eval below score, so the shipped numbers are its own.
        float_path = out_dir / "model.float32.onnx"
        onnx_path.replace(float_path)
        quant = quantize_int8(float_path, onnx_path, weight_bits=int(config.quantize[3:]))
        quant["max_abs_score_diff_vs_float32"] = score_deviation(float_path, onnx_path, probe)
        float_path.unlink()
        training["quantization"] = quant
    # Provisional directory (identity calibration) so the serving Detector can score dev.
    identity = LogisticCalibrator.identity().to_dict()
    provisional = {"medium": 0.0, "high": 0.0, "target_false_alarm": config.target_false_alarm}
    write_model_dir(
        out_dir, model=model, config=config, calibration=identity, thresholds=provisional,
        training=training, metrics={}, card="(provisional)\n", onnx_path=onnx_path,
    )  # fmt: skip
    dev_s, dev_y, dev_sys = score_clips(out_dir, clips["dev"], progress=progress, stage="score dev")
    cal, thresholds = fit_decision_rule(dev_s, dev_y, target_false_alarm=config.target_false_alarm)
    metrics: dict[str, Any] = {"dev": _summary(dev_y, np.asarray(cal.transform(dev_s)), dev_sys)}
    if "eval" in clips:
        conditions: list[str | None] = [None, *config.eval_channels]
        subset = stratified_subset(clips["eval"], config.eval_channel_max_utts, config.seed)
        for cond in conditions:
            key = "eval" if cond is None else f"eval_{cond}"
            try:
                s, y, sy = score_clips(
                    out_dir,
                    clips["eval"] if cond is None else subset,
                    channel=cond,
                    seed=config.seed,
                    progress=progress,
                    stage=f"score {key}",
                )
            except Exception as exc:  # an unavailable codec must not lose the model
                logger.warning("skipping %s: %s", key, exc)
                continue
            metrics[key] = _summary(y, np.asarray(cal.transform(s)), sy)
    training["finalize_wall_seconds"] = round(time.perf_counter() - t0, 1)
    card = model_card(config, training=training, metrics=metrics, thresholds=thresholds)
    path = write_model_dir(
        out_dir, model=model, config=config, calibration=cal.to_dict(), thresholds=thresholds,
        training=training, metrics=metrics, card=card, onnx_path=onnx_path,
    )  # fmt: skip
    logger.info("wrote %s", out_dir)
    return read_manifest(path.parent)


def run_training(
    config: TrainConfig,
    *,
    out_dir: Path,
    manifest_path: Path | None = None,
    work_dir: Path | None = None,
    max_minutes: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train, export, calibrate and evaluate; write ``out_dir``; return its manifest dict.

    Parameters
    ----------
    config : TrainConfig
        The run (its ``seed`` seeds everything).
    out_dir : Path
        Model directory to write.
    manifest_path : Path, optional
        Overrides ``config.manifest``.
    work_dir : Path, optional
        Checkpoint and ``train_log.jsonl`` directory (default ``out_dir/../<name>.work``).
    max_minutes : float, optional
        Overrides ``config.max_minutes`` for the training loop.
    progress : callable, optional
        ``progress(stage, done, total)``.
    """
    t_start = time.perf_counter()
    mpath, protocol, clips = _prepare(config, manifest_path, progress)
    work_dir = work_dir or out_dir.parent / f"{out_dir.name}.work"
    result = train_model(
        config, clips["train"], clips["dev"], work_dir=work_dir, progress=progress,
        max_minutes=max_minutes,
    )  # fmt: skip
    training: dict[str, Any] = {
        "manifest": str(mpath),
        "protocol": protocol,
        "splits": _split_summary(clips, config.sample_rate),
        "seed": config.seed,
        "arch": config.model.arch,
        "loss": config.loss,
        "n_parameters": result.n_parameters,
        "steps": result.steps,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "best_dev_eer_crops": result.best_dev_eer,
        "stopped_by": result.stopped_by,
        "train_wall_seconds": round(result.wall_seconds, 1),
        "history": [
            {k: h[k] for k in ("epoch", "step", "train_loss", "dev_loss", "dev_eer")}
            for h in result.history
        ],
    }
    doc = finalize_model(
        config, result.model, clips, out_dir=out_dir, training=training, progress=progress
    )
    logger.info("total %.1f s", time.perf_counter() - t_start)
    return doc


def export_checkpoint(
    config: TrainConfig,
    checkpoint: Path | Sequence[Path],
    *,
    out_dir: Path,
    manifest_path: Path | None = None,
    trained_by: dict[str, Any] | Sequence[dict[str, Any] | None] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Rebuild the model from ``best.safetensors`` checkpoint(s) and finalize it.

    Re-runs export, parity, calibration and evaluation without retraining (e.g. on a
    new dev split, after an interrupted run, or to ship an int8 graph).
    ``trained_by`` is the ``training`` section of the manifest of the model the
    checkpoint was trained for; its training-loop facts (steps, epochs, history,
    wall time) are carried over, since this run does not retrain.

    Several checkpoints (runs of ``config``'s recipe with different seeds) become one
    :class:`~audio_detect.classifiers.ensemble.HeadEnsemble`: their heads share the
    frozen encoder and the exported score is the mean of theirs. ``trained_by`` is then
    a sequence of one section (or ``None``) per checkpoint, and the manifest lists the
    members. A wrong number of sections, or several checkpoints of another architecture,
    raise :class:`ParameterError` before any audio is decoded.
    """
    from safetensors.torch import load_file

    paths = [Path(checkpoint)] if isinstance(checkpoint, str | Path) else list(checkpoint)
    if not paths:
        raise ParameterError("No checkpoint given.")
    if trained_by is None:
        sections: list[dict[str, Any] | None] = [None] * len(paths)
    else:
        sections = [trained_by] if isinstance(trained_by, dict) else list(trained_by)
    if len(sections) != len(paths):
        raise ParameterError(
            f"Got {len(sections)} training summaries for {len(paths)} checkpoints; give one "
            "per checkpoint, in the same order."
        )
    if len(paths) > 1 and config.model.arch != "whisper_cm":  # before any decoding
        raise ParameterError(
            f"An ensemble of checkpoints needs the whisper_cm architecture (one shared "
            f"frozen encoder); {config.model.arch!r} checkpoints can be combined with "
            "`audio-detect fuse` instead."
        )
    mpath, protocol, clips = _prepare(config, manifest_path, progress)
    models = []
    for path in paths:
        member = build_model(config)
        member.load_state_dict(load_file(str(path)))
        models.append(member)
    members = [
        {"checkpoint": str(path), **{k: v for k, v in (sec or {}).items() if k in _MEMBER_KEYS}}
        for path, sec in zip(paths, sections, strict=True)
    ]
    if len(models) == 1:
        model: nn.Module = models[0]
        carried = {k: v for k, v in (sections[0] or {}).items() if k in _TRAINING_LOOP_KEYS}
        extra: dict[str, Any] = {**carried, "checkpoint": members[0]["checkpoint"]}
    else:
        from ..classifiers.ensemble import HeadEnsemble

        model = HeadEnsemble(models)
        extra = {"ensemble": members}
    training = {
        "manifest": str(mpath),
        "protocol": protocol,
        "splits": _split_summary(clips, config.sample_rate),
        "seed": config.seed,
        "arch": config.model.arch,
        "loss": config.loss,
        "n_parameters": count_parameters(model),
        **extra,
    }
    return finalize_model(
        config, model, clips, out_dir=out_dir, training=training, progress=progress
    )


#: Facts of the training loop that a re-export copies from the original manifest.
_TRAINING_LOOP_KEYS = (
    "steps", "epochs", "best_epoch", "best_dev_eer_crops", "stopped_by",
    "train_wall_seconds", "history",
)  # fmt: skip

#: Facts of each member's run that an ensemble's manifest lists.
_MEMBER_KEYS = ("seed", "steps", "best_epoch", "best_dev_eer_crops", "train_wall_seconds")
