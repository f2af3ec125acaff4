"""Score a manifest with a detector and report ASVspoof-grade metrics.

Used by ``audio-detect evaluate``, by training (dev calibration) and by model
cards, so every number of a card comes from this one path. Scoring can run in
worker processes, each loading the model once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import EVAL_MAX_SECONDS, SPOOF
from ..datasets.manifest import Utterance
from ..exceptions import AudioDetectError, ParameterError

__all__ = ["EvalResult", "evaluate_manifest", "report"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass
class EvalResult:
    """Per-trial outcome of scoring a manifest.

    Trials whose audio failed to decode or held too little speech are listed in
    ``failures`` (utt_id -> error code) and excluded from the arrays; ``failure_details``
    gives each one's path, code and message (the typed error's one-sentence reason).
    """

    utt_ids: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    llrs: list[float] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    failure_details: dict[str, dict[str, str]] = field(default_factory=dict)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Labels, raw scores and LLRs as arrays."""
        return np.asarray(self.labels), np.asarray(self.scores), np.asarray(self.llrs)


_WORKER: dict[str, Any] = {}


def _init_worker(model: str | None, channel: str | None, seed: int) -> None:
    from ..detector import Detector

    _WORKER["detector"] = Detector.load(model)
    _WORKER["channel"] = channel
    _WORKER["seed"] = seed


_Scored = tuple[int, float | None, float | None, tuple[str, str] | None]


def _score_one(item: tuple[int, str, str]) -> _Scored:
    """Score one file in a worker: (index, raw score, llr, (error code, message) or None)."""
    index, utt_id, path = item
    detector = _WORKER["detector"]
    try:
        if _WORKER["channel"]:
            from ..audio.channel import apply_channel
            from ..audio.io import load_audio

            audio = load_audio(path, sr=detector.model_rate, max_seconds=EVAL_MAX_SECONDS)
            y = apply_channel(
                audio.samples,
                sr=audio.sr,
                condition=_WORKER["channel"],
                seed=_WORKER["seed"] + index,
            )
            decision = detector.score_samples(y)
        else:
            decision = detector.score_file(path, max_seconds=EVAL_MAX_SECONDS)
    except AudioDetectError as exc:
        logger.warning("%s: %s", utt_id, exc)
        return index, None, None, (exc.code, str(exc))
    if decision.score is None:
        return index, None, None, ("not_enough_speech", "Too little speech for a verdict.")
    return index, decision.score, decision.llr, None


def evaluate_manifest(
    manifest: Sequence[Utterance],
    *,
    model: str | Path | None = None,
    channel: str | None = None,
    workers: int = 1,
    seed: int = 0,
    group_columns: Sequence[str] = ("family", "channel", "source", "language"),
    progress: Progress | None = None,
) -> EvalResult:
    """Score every utterance of ``manifest`` with the model.

    Parameters
    ----------
    manifest : sequence of Utterance
        Trials with audio paths.
    model : str or Path, optional
        Model name or directory (default model when None).
    channel : str, optional
        A telephone channel condition (see :mod:`audio_detect.audio.channel`) applied
        before scoring, seeded per trial, for robustness reports.
    workers : int
        Worker processes (each loads the model once).
    group_columns : sequence of str
        Manifest columns kept for per-group breakdowns when present.
    """
    if workers < 1:
        raise ParameterError.invalid("workers", "an integer >= 1", workers)
    items = []
    for i, u in enumerate(manifest):
        if u.path is None:
            raise ParameterError(f"Trial {u.utt_id!r} has no audio path.")
        items.append((i, u.utt_id, str(u.path)))
    results: list[_Scored] = []
    if workers == 1:
        _init_worker(str(model) if model else None, channel, seed)
        for n, item in enumerate(items, 1):
            results.append(_score_one(item))
            if progress:
                progress("scoring", n, len(items))
    else:
        ctx_workers = min(workers, os.cpu_count() or 1)
        with ProcessPoolExecutor(
            max_workers=ctx_workers,
            initializer=_init_worker,
            initargs=(str(model) if model else None, channel, seed),
        ) as pool:
            for n, res in enumerate(pool.map(_score_one, items, chunksize=8), 1):
                results.append(res)
                if progress:
                    progress("scoring", n, len(items))
    out = EvalResult()
    manifest_list = list(manifest)
    present = [c for c in group_columns if any(u.get(c) for u in manifest_list)]
    out.groups = {c: [] for c in present}
    for index, score, llr, error in sorted(results):
        u = manifest_list[index]
        if error is not None:
            code, message = error
            out.failures[u.utt_id] = code
            out.failure_details[u.utt_id] = {
                "utt_id": u.utt_id, "path": str(u.path), "code": code, "message": message,
            }  # fmt: skip
            continue
        out.utt_ids.append(u.utt_id)
        out.labels.append(u.label)
        out.scores.append(float(score))  # type: ignore[arg-type]
        out.llrs.append(float(llr))  # type: ignore[arg-type]
        out.systems.append(u.system)
        for c in present:
            out.groups[c].append(u.get(c) or "-")
    return out


def report(result: EvalResult) -> dict[str, Any]:
    """Metrics of an :class:`EvalResult`: pooled (on LLRs), per system and per group column."""
    from .metrics import breakdown, summarize, system_average

    y, _, llr = result.arrays()
    if y.size == 0 or len(set(y.tolist())) < 2:
        raise ParameterError(
            "Evaluation needs scored trials of both classes; got "
            f"{int(np.sum(y == SPOOF))} spoof and {int(np.sum(y != SPOOF))} bona fide "
            f"({len(result.failures)} failed)."
        )
    out = summarize(y, llr, llr=True)
    per_system = breakdown(y, llr, np.asarray(result.systems))
    out["per_system"] = {str(k): v for k, v in per_system.items()}
    families = None
    if "family" in result.groups:
        families = {
            str(sy): str(fam)
            for sy, fam, yy in zip(result.systems, result.groups["family"], y, strict=True)
            if yy == SPOOF
        }
    out["system_average"] = system_average(
        {k: v["eer"] for k, v in out["per_system"].items()}, families=families
    )
    out["per_group"] = {
        col: {str(k): v for k, v in breakdown(y, llr, np.asarray(vals)).items()}
        for col, vals in result.groups.items()
    }
    out["n_failed"] = len(result.failures)
    return out
