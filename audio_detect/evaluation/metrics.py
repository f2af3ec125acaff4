"""Detection metrics for spoofing countermeasures, matching the official ASVspoof code.

Score direction
---------------
Every function here takes scores in the library direction of
:mod:`audio_detect.constants`: **higher = more spoof**, ``y_true`` is ``1`` for spoof
and ``0`` for bona fide, LLRs are ``ln p(x|spoof) - ln p(x|bonafide)``. Score files
from ASVspoof (higher = bona fide) are negated when read, in
:mod:`audio_detect.datasets.scores`; do not negate them again here.

Error names follow ASVspoof, whose positive (target) class is **bona fide**:

* *miss* — a bona fide trial rejected (flagged as spoof); rate ``p_miss``;
* *false alarm* — a spoof trial accepted as bona fide; rate ``p_fa``.

A trial is flagged as spoof when ``score >= threshold`` (for the Bayes decision of
:func:`act_dcf`, strictly ``llr > threshold``, as ASVspoof 5 does). Internally the
curves are computed exactly as the official ``compute_det_curve`` on the negated
(bona-fide-high) scores, with the same tie handling, so results equal the official
numbers. The tandem t-DCF (with ASV scores, higher = target speaker) is in
:mod:`audio_detect.evaluation.tdcf`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..constants import ASVSPOOF5_C_FA, ASVSPOOF5_C_MISS, ASVSPOOF5_P_SPOOF, SPOOF
from ..exceptions import ParameterError
from .det import FloatArray, check_binary, det_curve, official_det, official_eer

if TYPE_CHECKING:
    from .tdcf import AsvOperatingPoint

__all__ = [
    "act_dcf",
    "bayes_threshold",
    "breakdown",
    "cllr",
    "compute_eer",
    "det_curve",
    "min_cllr",
    "min_dcf",
    "roc_points",
    "summarize",
    "system_average",
]

logger = logging.getLogger(__name__)

# The DET curve and the official EER live in .det, below both this module and .tdcf.
_check_binary = check_binary
_official_det = official_det
_official_eer = official_eer


# ----------------------------------------------------------------------------- curves, EER


def roc_points(y_true: ArrayLike, y_score: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ROC of spoof detection: spoof is the positive class, as in :func:`sklearn.metrics.roc_curve`.

    Returns
    -------
    fpr : ndarray
        Fraction of bona fide trials flagged (``p_miss`` of :func:`det_curve`).
    tpr : ndarray
        Fraction of spoof trials flagged (``1 - p_fa``).
    thresholds : ndarray
        Decreasing; flag when ``score >= threshold``.
    """
    p_miss, p_fa, thresholds = det_curve(y_true, y_score)
    return p_miss, 1.0 - p_fa, thresholds


def compute_eer(y_true: ArrayLike, y_score: ArrayLike) -> tuple[float, float]:
    """Equal error rate as the official ASVspoof ``compute_eer``.

    The DET point where ``|p_miss - p_fa|`` is smallest is taken and the EER is the
    mean of the two rates there.

    Returns
    -------
    eer : float
        As a fraction (multiply by 100 for the percent ASVspoof prints).
    threshold : float
        Library-direction threshold of that point (flag when ``score >= threshold``).
    """
    bona, spoof = _check_binary(y_true, y_score)
    eer, threshold = _official_eer(-bona, -spoof)
    return eer, -threshold


# ----------------------------------------------------------------------------- ASVspoof 5 costs


def _check_costs(p_spoof: float, c_miss: float, c_fa: float) -> None:
    if not 0.0 < p_spoof < 1.0:
        raise ParameterError.invalid("p_spoof", "in (0, 1)", p_spoof)
    if not c_miss > 0:
        raise ParameterError.invalid("c_miss", "> 0", c_miss)
    if not c_fa > 0:
        raise ParameterError.invalid("c_fa", "> 0", c_fa)


def bayes_threshold(
    *,
    p_spoof: float = ASVSPOOF5_P_SPOOF,
    c_miss: float = ASVSPOOF5_C_MISS,
    c_fa: float = ASVSPOOF5_C_FA,
) -> float:
    """Bayes decision threshold on spoof LLRs: flag as spoof when ``llr > threshold``.

    ``threshold = ln(c_miss * (1 - p_spoof) / (c_fa * p_spoof))``; ``ln(1.9) ≈ 0.642``
    with the ASVspoof 5 defaults (the official ``-ln(beta)`` on bona fide LLRs, negated).
    """
    _check_costs(p_spoof, c_miss, c_fa)
    return math.log(c_miss * (1.0 - p_spoof) / (c_fa * p_spoof))


def min_dcf(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    p_spoof: float = ASVSPOOF5_P_SPOOF,
    c_miss: float = ASVSPOOF5_C_MISS,
    c_fa: float = ASVSPOOF5_C_FA,
) -> float:
    """Normalised minimum detection cost, as ASVspoof 5.

    ``min_t [c_miss (1 - p_spoof) p_miss(t) + c_fa p_spoof p_fa(t)] /
    min(c_miss (1 - p_spoof), c_fa p_spoof)``, where a miss is a bona fide trial
    rejected and a false alarm a spoof accepted; ``p_spoof`` is the spoof prior.
    """
    _check_costs(p_spoof, c_miss, c_fa)
    p_miss, p_fa, _ = det_curve(y_true, y_score)
    cost = c_miss * p_miss * (1.0 - p_spoof) + c_fa * p_fa * p_spoof
    return float(cost.min() / min(c_miss * (1.0 - p_spoof), c_fa * p_spoof))


def act_dcf(
    y_true: ArrayLike,
    llr: ArrayLike,
    *,
    p_spoof: float = ASVSPOOF5_P_SPOOF,
    c_miss: float = ASVSPOOF5_C_MISS,
    c_fa: float = ASVSPOOF5_C_FA,
) -> float:
    """Normalised actual detection cost of LLRs at the Bayes threshold, as ASVspoof 5.

    Parameters
    ----------
    y_true : array-like of int
        ``1`` for spoof, ``0`` for bona fide.
    llr : array-like of float
        Natural-log spoof-vs-bona-fide likelihood ratios; a trial is flagged when
        ``llr >`` :func:`bayes_threshold` (ASVspoof 5 accepts bona fide LLRs ``>= -ln beta``).
    p_spoof, c_miss, c_fa : float
        Spoof prior, cost of rejecting a bona fide trial, cost of accepting a spoof.
    """
    threshold = bayes_threshold(p_spoof=p_spoof, c_miss=c_miss, c_fa=c_fa)
    bona, spoof = _check_binary(y_true, llr, name="llr")
    rate_miss = np.count_nonzero(bona > threshold) / bona.size
    rate_fa = np.count_nonzero(spoof <= threshold) / spoof.size
    cost = c_miss * (1.0 - p_spoof) * rate_miss + c_fa * p_spoof * rate_fa
    return float(cost / min(c_fa * p_spoof, c_miss * (1.0 - p_spoof)))


def cllr(y_true: ArrayLike, llr: ArrayLike) -> float:
    """Log-likelihood-ratio cost in bits, as ASVspoof 5 (natural-log LLRs in, bits out).

    ``0.5 * (mean(log2(1 + e^llr_bonafide_trials)) + mean(log2(1 + e^-llr_spoof_trials)))``;
    a system that always outputs ``llr = 0`` scores exactly 1. The result is the same for
    bona-fide-vs-spoof LLRs with flipped labels, since ``llr_spoof = -llr_bonafide``.
    """
    bona, spoof = _check_binary(y_true, llr, name="llr")
    bits = np.mean(np.logaddexp(0.0, bona)) + np.mean(np.logaddexp(0.0, -spoof))
    return float(0.5 * bits / math.log(2.0))


#: |LLR| standing in for a one-class PAV pool's infinite LLR (log1p(e^-1000) == 0.0).
_PURE_POOL_LLR = 1000.0


def min_cllr(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """The lowest Cllr any monotone calibration of the scores reaches, in bits.

    The scores are mapped to posteriors by the pool-adjacent-violators algorithm (isotonic
    regression on the labels, the optimal monotone map), the trial prior is removed to
    give LLRs, and :func:`cllr` is taken (Brümmer and du Preez, Computer Speech and
    Language 2006; the ``min_cllr`` of the BOSARIS toolkit). ``cllr(llr) - min_cllr`` is
    the calibration loss; ``min_cllr`` itself depends only on the ranking (how well the
    classes are separated), so no calibration brings ``cllr`` below it. Any score
    direction with higher = more spoof works; the result is at most 1.
    """
    from sklearn.isotonic import IsotonicRegression

    bona, spoof = _check_binary(y_true, y_score)
    scores = np.concatenate([bona, spoof])
    labels = np.concatenate([np.zeros(bona.size), np.ones(spoof.size)])
    post = IsotonicRegression(increasing=True).fit_transform(scores, labels)
    prior_odds = spoof.size / bona.size
    with np.errstate(divide="ignore"):
        # LLR = posterior odds / prior odds; a pool of one class only gives +-inf, which
        # costs 0 on the trials it holds (they are all of that class): capped at a value
        # whose cost on those trials is exactly 0 in float64, so cllr() takes it.
        llr = np.log(post) - np.log1p(-post) - math.log(prior_odds)
    capped = np.clip(llr, -_PURE_POOL_LLR, _PURE_POOL_LLR)
    return min(1.0, cllr(labels, capped))


# ----------------------------------------------------------------------------- reports


def breakdown(
    y_true: ArrayLike, y_score: ArrayLike, groups: ArrayLike
) -> dict[Hashable, dict[str, Any]]:
    """EER and trial counts per group (attack system, codec, channel...).

    A group holding both classes is scored on its own trials (per-condition EER). A
    group holding only spoofs is scored against **all** bona fide trials, which is the
    ASVspoof per-attack EER. Groups without spoof trials (such as ``"-"``, the bona
    fide "system" of ASVspoof protocols) are left out.

    Returns
    -------
    dict
        ``{group: {"eer", "threshold", "n_bonafide", "n_spoof", "bonafide": "group" | "all"}}``,
        groups sorted by their string form (any hashable values, ``None`` included).
    """
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    g = np.asarray(groups)
    _check_binary(y, s)
    if g.shape != y.shape:
        raise ParameterError.invalid("groups", f"an array of length {y.size}", f"shape {g.shape}")
    is_spoof = y == SPOOF
    index: dict[Hashable, int] = {}
    codes = np.array([index.setdefault(v, len(index)) for v in g.tolist()], dtype=np.intp)
    out: dict[Hashable, dict[str, Any]] = {}
    for group in sorted(index, key=lambda v: (v is None, str(v))):
        in_group = codes == index[group]
        spoof = in_group & is_spoof
        if not spoof.any():
            continue
        bona = in_group & ~is_spoof
        pool = "group" if bona.any() else "all"
        if pool == "all":
            bona = ~is_spoof
        keep = spoof | bona
        eer, threshold = compute_eer(y[keep], s[keep])
        out[group] = {
            "eer": eer,
            "threshold": threshold,
            "n_bonafide": int(np.count_nonzero(bona)),
            "n_spoof": int(np.count_nonzero(spoof)),
            "bonafide": pool,
        }
    return out


def system_average(
    per_system: Mapping[str, float], *, families: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The per-system EERs of a protocol summed up: their mean, their worst, per family.

    A pooled EER weighs each attack system by its number of trials, so a protocol where
    one generator made a third of the spoofs (or one voice half of the bona fide) mostly
    measures that generator. The mean of the per-system EERs (each system against all
    bona fide trials, as :func:`breakdown` scores a spoof-only group) counts every system
    once, which is what a screen facing many unseen generators needs; the worst system
    is the one a fraudster would pick.

    Parameters
    ----------
    per_system : mapping of str to float
        EER (fraction) of each spoof system.
    families : mapping of str to str, optional
        Family of each system: adds ``by_family``, the mean of each family's systems.

    Returns
    -------
    dict
        ``n_systems``, ``eer_mean``, ``eer_max``, ``worst_system`` and, with
        ``families``, ``by_family`` (``{family: {"eer_mean", "n_systems"}}``).
    """
    if not per_system:
        raise ParameterError.invalid("per_system", "at least one spoof system", "none")
    eers = {str(k): float(v) for k, v in per_system.items()}
    worst = max(eers, key=lambda k: (eers[k], k))
    out: dict[str, Any] = {
        "n_systems": len(eers),
        "eer_mean": float(np.mean(list(eers.values()))),
        "eer_max": eers[worst],
        "worst_system": worst,
    }
    if families is not None:
        grouped: dict[str, list[float]] = {}
        for system, eer in eers.items():
            grouped.setdefault(str(families.get(system, "?")), []).append(eer)
        out["by_family"] = {
            fam: {"eer_mean": float(np.mean(v)), "n_systems": len(v)}
            for fam, v in sorted(grouped.items())
        }
    return out


def summarize(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    llr: bool,
    asv: AsvOperatingPoint | None = None,
    groups: ArrayLike | None = None,
) -> dict[str, Any]:
    """Every applicable metric, as plain JSON-ready values.

    Parameters
    ----------
    y_true, y_score : array-like
        Labels (1 = spoof) and library-direction scores.
    llr : bool
        Scores are natural-log LLRs: add ``act_dcf``, ``cllr`` and ``min_cllr`` (the
        Cllr of the best monotone calibration; ``cllr - min_cllr`` is the calibration
        loss).
    asv : AsvOperatingPoint, optional
        Add ``min_tdcf_2019`` and ``min_tdcf_2021`` (and the ASV rates under ``"asv"``).
    groups : array-like, optional
        Add a per-group ``"breakdown"`` (see :func:`breakdown`).

    Returns
    -------
    dict
        ``n_trials``, ``n_bonafide``, ``n_spoof``, ``eer`` (fraction), ``eer_threshold``,
        ``min_dcf`` and the optional entries above.
    """
    bona, spoof = _check_binary(y_true, y_score)
    eer, eer_threshold = compute_eer(y_true, y_score)
    out: dict[str, Any] = {
        "n_trials": int(bona.size + spoof.size),
        "n_bonafide": int(bona.size),
        "n_spoof": int(spoof.size),
        "eer": eer,
        "eer_threshold": eer_threshold,
        "min_dcf": min_dcf(y_true, y_score),
    }
    if llr:
        out["act_dcf"] = act_dcf(y_true, y_score)
        out["cllr"] = cllr(y_true, y_score)
        out["min_cllr"] = min_cllr(y_true, y_score)
    if asv is not None:
        from .tdcf import min_tdcf_2019, min_tdcf_2021

        out["min_tdcf_2019"] = min_tdcf_2019(y_true, y_score, asv=asv)
        out["min_tdcf_2021"] = min_tdcf_2021(y_true, y_score, asv=asv)
        out["asv"] = asdict(asv)
    if groups is not None:
        out["breakdown"] = {str(k): v for k, v in breakdown(y_true, y_score, groups).items()}
    logger.debug("summarize: %d trials, EER %.4f %%", out["n_trials"], 100 * eer)
    return out
