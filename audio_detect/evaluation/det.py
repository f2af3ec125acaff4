"""The DET curve and the EER exactly as the official ASVspoof evaluation code.

The shared core of :mod:`audio_detect.evaluation.metrics` (EER, DCF, Cllr) and
:mod:`audio_detect.evaluation.tdcf` (tandem costs); both import it and neither imports the other
at module level. Score direction: see :mod:`audio_detect.evaluation.metrics`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import BONAFIDE, SPOOF
from ..exceptions import ParameterError

__all__ = ["FloatArray", "check_binary", "det_curve", "official_det", "official_eer"]

FloatArray = NDArray[np.float64]


# ----------------------------------------------------------------------------- inputs


def check_binary(y_true: ArrayLike, y_score: ArrayLike, *, name: str = "y_score"):
    """Validate labels and scores; return ``(bonafide_scores, spoof_scores)`` as given."""
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim != 1:
        raise ParameterError.invalid("y_true", "a 1-D array", f"shape {y.shape}")
    if s.shape != y.shape:
        raise ParameterError.invalid(name, f"a 1-D array of length {y.size}", f"shape {s.shape}")
    values = np.unique(y)
    if not np.isin(values, (BONAFIDE, SPOOF)).all():
        raise ParameterError.invalid(
            "y_true", "an array of 0 (bona fide) and 1 (spoof)", f"values {values[:5].tolist()}"
        )
    if not np.isfinite(s).all():
        raise ParameterError.invalid(name, "finite numbers", "nan or inf")
    is_spoof = y == SPOOF
    if is_spoof.all() or not is_spoof.any():
        raise ParameterError.invalid(
            "y_true", "both bona fide (0) and spoof (1) trials", f"only label {int(y[0])}"
        )
    return s[~is_spoof], s[is_spoof]


def official_det(target: FloatArray, nontarget: FloatArray):
    """``compute_det_curve`` of the ASVspoof packages (target = higher scores).

    Returns ``(frr, far, thresholds)`` with ``frr[i]`` the fraction of targets with a
    score ranked at or below ``thresholds[i]``; ties keep targets first (stable sort).
    """
    n_tar, n_non = target.size, nontarget.size
    all_scores = np.concatenate((target, nontarget))
    labels = np.concatenate((np.ones(n_tar), np.zeros(n_non)))
    order = np.argsort(all_scores, kind="mergesort")
    tar_sums = np.cumsum(labels[order])
    non_sums = n_non - (np.arange(1, all_scores.size + 1) - tar_sums)
    frr = np.concatenate(([0.0], tar_sums / n_tar))
    far = np.concatenate(([1.0], non_sums / n_non))
    thresholds = np.concatenate(([all_scores[order[0]] - 0.001], all_scores[order]))
    return frr, far, thresholds


def official_eer(target: FloatArray, nontarget: FloatArray) -> tuple[float, float]:
    """EER and its threshold as the official ``compute_eer`` (target = higher scores)."""
    frr, far, thresholds = official_det(target, nontarget)
    i = int(np.argmin(np.abs(frr - far)))
    return float(np.mean((frr[i], far[i]))), float(thresholds[i])


# ----------------------------------------------------------------------------- curves, EER


def det_curve(y_true: ArrayLike, y_score: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Miss and false-alarm rates at every threshold (the official ASVspoof DET curve).

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        ``1`` for spoof, ``0`` for bona fide.
    y_score : array-like of float, shape (n,)
        Scores, higher = more spoof.

    Returns
    -------
    p_miss : ndarray, shape (n + 1,)
        Fraction of bona fide trials with ``score >= threshold`` (rejected), increasing.
    p_fa : ndarray, shape (n + 1,)
        Fraction of spoof trials with ``score < threshold`` (accepted), decreasing.
    thresholds : ndarray, shape (n + 1,)
        Decreasing; the first one (``max(score) + 0.001``) flags nothing.
    """
    bona, spoof = check_binary(y_true, y_score)
    p_miss, p_fa, thresholds = official_det(-bona, -spoof)
    return p_miss, p_fa, -thresholds
