"""Nuisance audit: can the label be predicted from things that are not the voice?

Features are whole-file properties a detector should not rely on (sample rate, duration,
level, peak, leading/trailing silence, DC offset, clipping, spectral roll-off, centroid and
bandwidth of the long-term spectrum, codec and bit depth). A logistic regression trained
on the train split is scored on the eval split; an EER near 50 % means the corpus carries
no such shortcut. Per-feature EERs show which cue to fix when the EER is low.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..constants import SPOOF_NAME
from ..exceptions import DatasetFormatError, ParameterError

__all__ = ["FEATURE_NAMES", "AuditResult", "audit_manifest", "eer", "nuisance_features"]

logger = logging.getLogger(__name__)

FEATURE_NAMES = (
    "sample_rate",
    "log_duration",
    "rms_db",
    "peak_db",
    "crest_db",
    "lead_silence_s",
    "trail_silence_s",
    "dc_offset",
    "clip_ratio",
    "rolloff85_hz",
    "centroid_hz",
    "bandwidth_hz",
    "bit_depth",
    "codec_is_flac",
)


def eer(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Equal error rate (y_true 1 = spoof, higher score = more spoof).

    Uses :func:`audio_detect.evaluation.metrics.compute_eer` when present.
    """
    try:
        from ..evaluation.metrics import compute_eer

        return float(compute_eer(y_true, y_score)[0])
    except ImportError:  # pragma: no cover - metrics module is part of the package
        pass
    y_true = np.asarray(y_true, dtype=int)
    order = np.argsort(y_score, kind="mergesort")
    labels = y_true[order]
    n_pos, n_neg = labels.sum(), len(labels) - labels.sum()
    miss = np.concatenate([[0], np.cumsum(labels)]) / max(n_pos, 1)
    fa = 1 - np.concatenate([[0], np.cumsum(1 - labels)]) / max(n_neg, 1)
    i = int(np.argmin(np.abs(miss - fa)))
    return float((miss[i] + fa[i]) / 2)


def nuisance_features(path: str | Path) -> np.ndarray:
    """Whole-file nuisance features of one audio file, in :data:`FEATURE_NAMES` order."""
    info = sf.info(str(path))
    y, sr = sf.read(str(path), dtype="float64", always_2d=True)
    y = y.mean(axis=1)
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_U8": 8, "PCM_S8": 8}.get(info.subtype, 0)
    if len(y) == 0:
        return np.zeros(len(FEATURE_NAMES))
    hop = max(1, sr // 100)
    n = max(1, len(y) // hop)
    e = (np.pad(y, (0, max(0, n * hop - len(y))))[: n * hop] ** 2).reshape(n, hop).mean(axis=1)
    e_db = 10 * np.log10(e + 1e-12)
    active = np.flatnonzero(e_db > e_db.max() - 35.0)
    lead = active[0] * hop / sr if len(active) else len(y) / sr
    trail = (n - 1 - active[-1]) * hop / sr if len(active) else 0.0
    rms = float(np.sqrt(np.mean(y**2)) + 1e-12)
    peak = float(np.max(np.abs(y)) + 1e-12)
    n_fft = 1024
    frames = (
        np.lib.stride_tricks.sliding_window_view(y, n_fft)[:: n_fft // 2]
        if len(y) >= n_fft
        else np.pad(y, (0, n_fft - len(y)))[None, :]
    )
    spec = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2).mean(axis=0)
    f = np.fft.rfftfreq(n_fft, 1 / sr)
    p = spec / (spec.sum() + 1e-20)
    rolloff = float(f[min(len(f) - 1, np.searchsorted(np.cumsum(p), 0.85))])
    centroid = float((f * p).sum())
    bandwidth = float(np.sqrt(((f - centroid) ** 2 * p).sum()))
    return np.array(
        [
            sr,
            np.log(len(y) / sr),
            20 * np.log10(rms),
            20 * np.log10(peak),
            20 * np.log10(peak / rms),
            lead,
            trail,
            float(np.mean(y)),
            float(np.mean(np.abs(y) >= 0.999)),
            rolloff,
            centroid,
            bandwidth,
            bits,
            float(info.format == "FLAC"),
        ]
    )


@dataclass
class AuditResult:
    """Outcome of :func:`audit_manifest`.

    Attributes
    ----------
    eer : float
        EER of the all-features logistic regression on the eval split (0.5 = no cue).
    per_feature : list of (name, eer, auc_distance)
        Single-feature logistic-regression EERs on eval, worst (lowest) first, with
        ``|AUC - 0.5|`` measured on eval (direction-free separability).
    n_train, n_eval : int
        Files used.
    """

    eer: float
    per_feature: list[tuple[str, float, float]] = field(default_factory=list)
    n_train: int = 0
    n_eval: int = 0
    train_split: str = "train"
    eval_split: str = "eval"


def _read_rows(manifest: Path) -> list[dict[str, str]]:
    if not manifest.is_file():
        raise DatasetFormatError(f"{manifest}: manifest not found")
    with manifest.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"path", "label", "split"} <= set(rows[0]):
        raise DatasetFormatError(f"{manifest}: needs path, label and split columns")
    return rows


def _features(paths: Sequence[str], workers: int) -> np.ndarray:
    if workers > 1 and len(paths) > 200:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return np.array(list(pool.map(nuisance_features, paths, chunksize=64)))
    return np.array([nuisance_features(p) for p in paths])


def _fit_score(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")
    )
    model.fit(xtr, ytr)
    return model.predict_proba(xte)[:, 1]


def audit_manifest(
    manifest: str | Path,
    *,
    train_split: str = "train",
    eval_split: str = "eval",
    workers: int = 1,
    max_files: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> AuditResult:
    """Train a nuisance-only classifier on one split and report its EER on another.

    Parameters
    ----------
    manifest : path
        Corpus ``manifest.csv`` (paths relative to it).
    train_split, eval_split : str
        Values of the ``split`` column.
    workers : int
        Processes for feature extraction.
    max_files : int, optional
        Random subsample per split (for quick checks).
    seed : int
        Subsampling seed.
    progress : callable, optional
        Called with a short status message.

    Returns
    -------
    AuditResult
    """
    manifest = Path(manifest)
    rows = _read_rows(manifest)
    rng = np.random.default_rng(seed)
    data = {}
    for split in (train_split, eval_split):
        sel = [r for r in rows if r["split"] == split]
        if max_files and len(sel) > max_files:
            sel = [sel[i] for i in sorted(rng.choice(len(sel), max_files, replace=False))]
        labels = np.array([r["label"] == SPOOF_NAME for r in sel], dtype=int)
        if len(set(labels.tolist())) < 2:
            raise ParameterError(f"Split {split!r} of {manifest} needs both labels to audit.")
        if progress:
            progress(f"features of {len(sel)} {split} files")
        feats = _features([str(manifest.parent / r["path"]) for r in sel], workers)
        data[split] = (feats, labels)
    (xtr, ytr), (xte, yte) = data[train_split], data[eval_split]
    overall = eer(yte, _fit_score(xtr, ytr, xte))
    per: list[tuple[str, float, float]] = []
    for j, name in enumerate(FEATURE_NAMES):
        if np.ptp(xtr[:, j]) == 0:
            per.append((name, 0.5, 0.0))
            continue
        e = eer(yte, _fit_score(xtr[:, [j]], ytr, xte[:, [j]]))
        from sklearn.metrics import roc_auc_score

        auc = roc_auc_score(yte, xte[:, j]) if np.ptp(xte[:, j]) > 0 else 0.5
        per.append((name, e, abs(auc - 0.5)))
    per.sort(key=lambda t: t[1])
    return AuditResult(overall, per, len(ytr), len(yte), train_split, eval_split)
