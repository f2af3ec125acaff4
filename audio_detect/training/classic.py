"""Train the classic LFCC-GMM detector and write a verified model directory.

The whole recipe is one JSON config (``configs/lfcc_gmm.json``)::

    audio-detect train --config configs/lfcc_gmm.json

Steps: read the manifest; split it by speaker and by system when it has no
``split`` column (:func:`group_split`); extract features of the speech of every
training file; fit one GMM per class; write the model directory with an identity
calibration; score the dev split through the real :class:`~audio_detect.detector.Detector`
(same windows as serving); fit the logistic calibration and the tier thresholds
on dev; rewrite the manifest with every file's sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.io import load_audio
from ..audio.vad import speech_regions
from ..audio.windows import concat_regions
from ..calibration import LogisticCalibrator, fit_decision_rule
from ..classifiers.gmm import GMMClassifier
from ..config import FeatureConfig, WindowConfig
from ..constants import SPOOF
from ..datasets.manifest import Manifest, Utterance, read_manifest_csv
from ..exceptions import AudioDetectError, ParameterError
from ..registry import read_manifest, write_manifest

__all__ = ["ClassicConfig", "group_split", "train_classic"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ClassicConfig:
    """Recipe of a classic detector (see ``configs/lfcc_gmm.json``)."""

    name: str
    model: str = "lfcc_gmm"
    version: str = "1.0.0"
    description: str = ""
    sample_rate: int = 8000
    feature: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=dict)
    gmm: dict[str, Any] = field(default_factory=dict)
    manifest: str = ""
    max_files_per_source: int = 300
    eval_fraction: float = 0.25
    dev_fraction: float = 0.2
    target_false_alarm: dict[str, float] = field(
        default_factory=lambda: {"medium": 0.01, "high": 0.001}
    )
    prior: float = 0.5
    seed: int = 0

    @classmethod
    def from_json(cls, path: str | Path) -> ClassicConfig:
        """Read a config file; unknown keys raise :class:`ParameterError`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(f"{path}: unknown keys {unknown}; allowed: {sorted(known)}")
        return cls(**data)


def _bucket(key: str, seed: int) -> float:
    """Deterministic uniform number in [0, 1) from a string (stable across runs)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _group_key(u: Utterance) -> str:
    """Who spoke it: the speaker id, else the folder of the file within its source."""
    if u.speaker:
        return u.speaker.split("/")[0]
    parent = Path(u.utt_id).parent.as_posix()
    return f"{u.get('source')}:{parent}"


def group_split(
    manifest: Manifest, *, eval_fraction: float, dev_fraction: float, seed: int
) -> dict[str, str]:
    """Assign each utterance to ``train``/``dev``/``eval``, disjoint by speaker and by system.

    Spoof systems are drawn into eval (unseen in training) with probability
    ``eval_fraction``; speaker groups likewise. A spoof goes to eval when its
    system or its speaker is an eval one, so eval systems never appear in train
    or dev. The rest splits into train/dev by speaker group.
    """
    out: dict[str, str] = {}
    for u in manifest:
        group = _group_key(u)
        speaker_eval = _bucket("spk:" + group, seed) < eval_fraction
        if u.label == SPOOF and _bucket("sys:" + u.system, seed) < eval_fraction:
            out[u.utt_id] = "eval"  # unseen system, whoever it imitates
        elif speaker_eval:
            if u.label == SPOOF:
                continue  # a seen system on an eval speaker: dropped, eval systems stay unseen
            out[u.utt_id] = "eval"
        else:
            out[u.utt_id] = "dev" if _bucket("dev:" + group, seed) < dev_fraction else "train"
    return out


def _cap_per_source(manifest: Manifest, cap: int, seed: int) -> Manifest:
    by_source: dict[str, list[Utterance]] = {}
    for u in manifest:
        by_source.setdefault(u.get("source") or "", []).append(u)
    kept: list[Utterance] = []
    for items in by_source.values():
        items = sorted(items, key=lambda u: _bucket(u.utt_id, seed))
        kept.extend(items[:cap])
    keep_ids = {u.utt_id for u in kept}
    return manifest.filter(lambda u: u.utt_id in keep_ids)


def _speech_features(u: Utterance, *, sr: int, feature: FeatureConfig) -> np.ndarray | None:
    from ..features import compute_features

    try:
        audio = load_audio(u.path, sr=sr, max_seconds=600.0)
    except AudioDetectError as exc:
        logger.warning("skipping %s: %s", u.path, exc)
        return None
    regions = speech_regions(audio.samples, sr=sr)
    speech, _ = concat_regions(audio.samples, regions)
    if len(speech) < sr // 4:
        return None
    return compute_features(speech, config=feature)


def train_classic(
    config: ClassicConfig,
    *,
    out_dir: Path,
    manifest_path: Path | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train, calibrate and write a classic model directory; return its manifest."""
    from ..evaluation.evaluate import evaluate_manifest

    t_start = time.time()
    feature = FeatureConfig.from_dict({"sr": config.sample_rate, **config.feature})
    window = WindowConfig.from_dict(config.window)
    mpath = Path(manifest_path or config.manifest)
    manifest = _cap_per_source(read_manifest_csv(mpath), config.max_files_per_source, config.seed)
    if "split" in manifest.columns:
        split = {u.utt_id: u.get("split") for u in manifest}
    else:
        split = group_split(
            manifest,
            eval_fraction=config.eval_fraction,
            dev_fraction=config.dev_fraction,
            seed=config.seed,
        )
    parts = {
        name: manifest.filter(lambda u, n=name: split.get(u.utt_id) == n)
        for name in ("train", "dev", "eval")
    }
    for name, part in parts.items():
        logger.info("%s: %d files (%d spoof)", name, len(part), int(np.sum(part.labels == SPOOF)))

    feats: list[np.ndarray] = []
    labels: list[int] = []
    train = list(parts["train"])
    extract = partial(_speech_features, sr=config.sample_rate, feature=feature)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, (u, f) in enumerate(zip(train, pool.map(extract, train, chunksize=8), strict=True)):
            if f is not None:
                feats.append(f)
                labels.append(u.label)
            if progress:
                progress("features", i + 1, len(train))
    clf = GMMClassifier(random_state=config.seed, **config.gmm).fit(feats, labels)

    out_dir.mkdir(parents=True, exist_ok=True)
    clf.save(out_dir / "gmm.safetensors")
    (out_dir / "train_config.json").write_text(
        json.dumps(config.__dict__, indent=2) + "\n", encoding="utf-8"
    )
    protocol_files = []
    for name in ("dev", "eval"):
        parts[name].to_csv(out_dir / f"{name}_protocol.csv", relative=True)
        protocol_files.append(f"{name}_protocol.csv")
    manifest_doc: dict[str, Any] = {
        "name": config.name,
        "version": config.version,
        "format": "gmm",
        "description": config.description,
        "weights": "gmm.safetensors",
        "sample_rate": config.sample_rate,
        "feature": feature.to_dict(),
        "window": window.to_dict(),
        "calibration": LogisticCalibrator.identity().to_dict(),
        "thresholds": {"medium": 0.0, "high": 0.0},
        "prior": config.prior,
        "files": ["gmm.safetensors", "train_config.json", *protocol_files],
    }
    write_manifest(out_dir, manifest_doc)

    # Calibrate through the serving path (same VAD, windows and aggregation).
    dev_result = evaluate_manifest(parts["dev"], model=out_dir, workers=workers, progress=progress)
    dev_labels, dev_scores, _ = dev_result.arrays()
    cal, thresholds = fit_decision_rule(
        dev_scores, dev_labels, target_false_alarm=config.target_false_alarm
    )
    manifest_doc.update(
        calibration=cal.to_dict(),
        thresholds=thresholds,
        versions=_versions(),
        training={
            "manifest": mpath.name,
            "split_rule": "split column" if "split" in manifest.columns else "group_split",
            "seed": config.seed,
            "files": {k: len(v) for k, v in parts.items()},
            "train_files_used": len(feats),
            "systems": {k: sorted(set(v.systems) - {"bonafide"}) for k, v in parts.items()},
            "wall_seconds": round(time.time() - t_start, 1),
        },
    )
    write_manifest(out_dir, manifest_doc)
    return read_manifest(out_dir)


def _versions() -> dict[str, str]:
    import librosa
    import sklearn

    from .. import __version__

    return {
        "audio_detect": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "librosa": librosa.__version__,
        "scikit_learn": sklearn.__version__,
    }
