"""Score-level fusion of several detectors by logistic regression.

A fusion model directory (``format: "fusion"``) names its member models, pins the
sha256 of each member's weights file, and holds one weight per member and an offset.
Every member scores the *same* windows (same rate, VAD and window rule, taken from the
fusion manifest); the fused raw window score is ``sum_i w_i * s_i + b`` and then goes
through the usual top-k aggregation and calibration of :class:`~audio_detect.detector.
Detector`. This is the linear logistic-regression fusion of FoCal/BOSARIS (Brümmer &
du Preez, 2006), used by most ASVspoof submissions to combine classic and neural
countermeasures.

Fitting (:func:`fit_fusion`) uses a held-out dev split only: window-level logistic
regression on the members' raw window scores (each utterance weighted equally), then
the call-level calibration and risk-tier thresholds through the serving detector, as
for any other model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .audio.io import load_audio
from .calibration import LogisticCalibrator, fit_decision_rule
from .config import WindowConfig
from .constants import BONAFIDE, SPOOF
from .datasets.manifest import Utterance
from .exceptions import IncompatibleModelError, ModelIntegrityError, ParameterError
from .registry import ModelDir, load_model_dir, write_manifest

__all__ = ["FusionBackend", "fit_fusion", "member_weights_file"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def member_weights_file(model: ModelDir) -> str:
    """Name of the file holding a member's weights (what a fusion pins)."""
    if model.format == "fusion":
        raise IncompatibleModelError(f"{model.name}: a fusion cannot be a fusion member")
    default = "gmm.safetensors" if model.format == "gmm" else "model.onnx"
    return str(model.manifest.get("weights", default))


def _load_member(entry: dict[str, Any], root: Path) -> ModelDir:
    member = load_model_dir(entry["name"], root=root)
    fname = member_weights_file(member)
    actual = member.manifest["files"].get(fname)
    if actual != entry["sha256"]:
        raise ModelIntegrityError(
            f"fusion member {entry['name']!r}: weights {fname} have sha256 {actual}, the "
            f"fusion was fitted on {entry['sha256']}; refit the fusion for the new member."
        )
    return member


class FusionBackend:
    """Backend of a ``fusion`` model: members' raw window scores, linearly combined."""

    def __init__(self, model: ModelDir, *, intra_op_threads: int | None = None) -> None:
        from .detector import build_backend

        m = model.manifest
        members = m.get("members")
        if not isinstance(members, list) or not members:
            raise IncompatibleModelError(f"{model.path}: fusion manifest has no 'members'")
        self.weights = np.asarray([float(e["weight"]) for e in members], dtype=np.float64)
        self.bias = float(m.get("fusion_bias", 0.0))
        self.members = []
        for entry in members:
            member = _load_member(entry, model.path.parent)
            if member.sample_rate != model.sample_rate:
                raise IncompatibleModelError(
                    f"fusion member {member.name!r} runs at {member.sample_rate} Hz, "
                    f"the fusion at {model.sample_rate} Hz"
                )
            self.members.append(build_backend(member, intra_op_threads=intra_op_threads))

    def member_scores(self, windows: np.ndarray) -> np.ndarray:
        """Raw scores ``(n_windows, n_members)``."""
        return np.stack([b.score_windows(windows) for b in self.members], axis=1)

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        """Fused raw score of each window."""
        return self.member_scores(windows) @ self.weights + self.bias


def _window_scores(
    members: Sequence[ModelDir],
    trials: Sequence[Utterance],
    *,
    window: WindowConfig,
    progress: Progress | None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Members' raw scores ``(n_windows, n_members)`` per trial, on the serving windows."""
    from .detector import Detector

    detectors = [Detector(m) for m in members]
    per_utt, labels = [], []
    for i, u in enumerate(trials):
        if progress is not None:
            progress("fusion dev windows", i, len(trials))
        if u.path is None:
            raise ParameterError(f"Trial {u.utt_id!r} has no audio path.")
        y = load_audio(u.path, sr=detectors[0].sample_rate).samples
        w = detectors[0].speech_windows(y, window=window)
        if len(w) == 0:
            continue  # not_enough_speech: the serving path gives such a call no score either
        x = w.stacked()
        per_utt.append(np.stack([d.backend.score_windows(x) for d in detectors], axis=1))
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

    from .evaluation import evaluate_manifest

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
        {"name": d.name, "sha256": d.manifest["files"][member_weights_file(d)], "weight": float(k)}
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
        "feature": dirs[0].manifest["feature"],
        "window": window.to_dict(),
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
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))
