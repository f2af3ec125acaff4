"""Score-level fusion of several detectors by logistic regression.

A fusion model directory (``format: "fusion"``) names its member models, pins the
sha256 of each member's weights file, and holds one weight per member and an offset.
Every member scores the *same* windows (same rate, VAD and window rule, taken from the
fusion manifest); the fused raw window score is ``sum_i w_i * s_i + b`` and then goes
through the usual top-k aggregation and calibration of :class:`~audio_detect.detector.
Detector`. This is the linear logistic-regression fusion of FoCal/BOSARIS (Brümmer &
du Preez, 2006), used by most ASVspoof submissions to combine classic and neural
countermeasures.

The serving half (:class:`~audio_detect.backends.FusionBackend`) lives in
:mod:`audio_detect.backends`, below the detector; this module is the fitting half and
sits above the detector and the evaluation loop it drives
(:mod:`audio_detect.evaluation.evaluate`). Fitting (:func:`fit_fusion`) uses a held-out
dev split only: window-level logistic regression on the members' raw window scores
(each utterance weighted equally), then the call-level calibration and risk-tier
thresholds through the serving detector, as for any other model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.io import load_audio
from ..backends import member_weights_file
from ..calibration import LogisticCalibrator, fit_decision_rule
from ..config import WindowConfig
from ..constants import BONAFIDE, SPOOF
from ..datasets.manifest import Utterance
from ..detector import Detector
from ..exceptions import ParameterError
from ..registry import ModelDir, load_model_dir, read_manifest, write_manifest
from .evaluate import evaluate_manifest

__all__ = ["fit_fusion"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def _window_scores(
    members: Sequence[ModelDir],
    trials: Sequence[Utterance],
    *,
    window: WindowConfig,
    progress: Progress | None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Members' raw scores ``(n_windows, n_members)`` per trial, on the serving windows."""
    detectors = [Detector(m) for m in members]
    per_utt, labels = [], []
    for i, u in enumerate(trials):
        if progress is not None:
            progress("fusion dev windows", i, len(trials))
        if u.path is None:
            raise ParameterError(f"Trial {u.utt_id!r} has no audio path.")
        y = load_audio(u.path, sr=detectors[0].sample_rate).samples
        w = detectors[0].pipeline.speech_windows(y, window=window)
        if len(w) == 0:
            continue  # not_enough_speech: the serving path gives such a call no score either
        x = w.stacked()
        per_utt.append(np.stack([d.pipeline.backend.score_windows(x) for d in detectors], axis=1))
        labels.append(int(u.label))
    return per_utt, np.asarray(labels, dtype=np.int64)


def fit_fusion(
    members: Sequence[str],
    dev: Sequence[Utterance],
    *,
    out_dir: str | Path,
    name: str | None = None,
    window: WindowConfig | None = None,
    c: float = 1.0,
    target_false_alarm: dict[str, float] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit a logistic-regression fusion of ``members`` on ``dev`` and write ``out_dir``.

    Parameters
    ----------
    members : sequence of str
        Names (in the models root, where ``out_dir`` must also live) of two or more
        model directories with the same sample rate.
    dev : sequence of Utterance
        Held-out trials with both labels (never the eval protocol).
    out_dir : path-like
        Fusion model directory to write; its parent is the models root of the members.
    name : str, optional
        Model name (default: the directory name).
    window : WindowConfig, optional
        Window rule (default: the first member's).
    c : float
        Inverse L2 strength of the logistic regression.
    target_false_alarm : dict, optional
        Bona fide false-alarm rates of the tiers (default 1 % and 0.1 %).

    Returns
    -------
    dict
        The written manifest.
    """
    from sklearn.linear_model import LogisticRegression

    out = Path(out_dir)
    root = out.parent
    if len(members) < 2:
        raise ParameterError.invalid("members", "at least two model names", list(members))
    dirs = [load_model_dir(m, root=root) for m in members]
    rates = {d.sample_rate for d in dirs}
    if len(rates) != 1:
        raise ParameterError.invalid("members", "models with one sample rate", sorted(rates))
    sr = rates.pop()
    window = window or dirs[0].window
    fa = target_false_alarm or {"medium": 0.01, "high": 0.001}
    per_utt, labels = _window_scores(dirs, dev, window=window, progress=progress)
    if set(labels.tolist()) != {BONAFIDE, SPOOF}:
        raise ParameterError("The dev trials must hold both bona fide and spoof speech.")
    x = np.concatenate(per_utt)
    y = np.concatenate([np.full(len(s), lab) for s, lab in zip(per_utt, labels, strict=True)])
    # Each utterance counts once, each class half: long files must not dominate.
    w = np.concatenate([np.full(len(s), 1.0 / len(s)) for s in per_utt])
    for cls in (BONAFIDE, SPOOF):
        w[y == cls] /= w[y == cls].sum()
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-12
    lr = LogisticRegression(C=c, max_iter=1000).fit((x - mu) / sd, y, sample_weight=w * len(y))
    coef = lr.coef_[0] / sd
    bias = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mu / sd))
    entries = [
        {"name": d.name, "sha256": d.spec.files[member_weights_file(d)], "weight": float(k)}
        for d, k in zip(dirs, coef, strict=True)
    ]
    out.mkdir(parents=True, exist_ok=True)
    card = out / "MODEL_CARD.md"
    card.write_text(f"# Fusion of {', '.join(members)}\n\n(not evaluated yet)\n", encoding="utf-8")
    doc: dict[str, Any] = {
        "name": name or out.name,
        "version": "1.0.0",
        "format": "fusion",
        "description": f"Logistic-regression score fusion of {', '.join(members)}",
        "sample_rate": sr,
        "feature": dirs[0].feature.to_dict(),
        "window": window.to_dict(),
        "vad": dirs[0].vad.to_dict(),
        "members": entries,
        "fusion_bias": bias,
        "calibration": LogisticCalibrator.identity().to_dict(),
        "thresholds": {"medium": 0.0, "high": 0.0},
        "files": ["MODEL_CARD.md"],
        "training": {
            "rule": "window-level logistic regression on dev, each utterance weighted equally",
            "n_dev_utterances": len(per_utt),
            "n_dev_windows": len(y),
            "C": c,
        },
    }
    write_manifest(out, doc)
    # Calibrate the fused call score through the serving path (VAD, windows, top-k).
    result = evaluate_manifest(dev, model=out, progress=progress)
    dev_y, dev_s, _ = result.arrays()
    cal, thresholds = fit_decision_rule(dev_s, dev_y, target_false_alarm=fa)
    doc.update(calibration=cal.to_dict(), thresholds=thresholds)
    write_manifest(out, doc)
    logger.info("fusion weights %s bias %.4g", [round(e["weight"], 4) for e in entries], bias)
    return read_manifest(out)
