"""Tandem detection cost function (t-DCF) of a countermeasure with an ASV system.

The ASVspoof 2019 t-DCF (Kinnunen et al., "t-DCF: a detection cost function for the
tandem assessment of spoofing countermeasures and automatic speaker verification",
Odyssey 2018) and the revised ASVspoof 2021 formula (Kinnunen et al., IEEE/ACM TASLP
2020), computed exactly as the official evaluation packages. CM scores follow the
library direction (higher = spoof, see :mod:`audio_detect.evaluation.metrics`); ASV scores keep
the ASV direction (higher = target speaker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..exceptions import ParameterError
from .det import FloatArray, det_curve, official_eer

__all__ = [
    "AsvOperatingPoint",
    "TDCFCostModel2019",
    "TDCFCostModel2021",
    "asv_operating_point",
    "min_tdcf_2019",
    "min_tdcf_2021",
    "tdcf_curve",
]


def _check_probability(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ParameterError.invalid(name, "a probability in [0, 1]", value)


@dataclass(frozen=True)
class AsvOperatingPoint:
    """Error rates of the ASV system a CM is evaluated in tandem with (fractions).

    Parameters
    ----------
    pfa_asv : float
        Non-target (zero-effort impostor) trials accepted.
    pmiss_asv : float
        Target trials rejected.
    pmiss_spoof_asv : float
        Spoof trials rejected by the ASV (used by the 2019 t-DCF).
    pfa_spoof_asv : float
        Spoof trials accepted by the ASV (used by the 2021 t-DCF).
    threshold, eer : float or None
        ASV threshold the rates were measured at and the ASV EER, when known.
    """

    pfa_asv: float
    pmiss_asv: float
    pmiss_spoof_asv: float
    pfa_spoof_asv: float
    threshold: float | None = None
    eer: float | None = None

    def __post_init__(self) -> None:
        for name in ("pfa_asv", "pmiss_asv", "pmiss_spoof_asv", "pfa_spoof_asv", "eer"):
            _check_probability(name, getattr(self, name))


def asv_operating_point(
    asv_keys: ArrayLike, asv_scores: ArrayLike, *, threshold: float | None = None
) -> AsvOperatingPoint:
    """ASV error rates at ``threshold``, by default the ASV EER threshold (as ASVspoof).

    Parameters
    ----------
    asv_keys : array-like of str
        ``"target"``, ``"nontarget"`` or ``"spoof"`` per ASV trial.
    asv_scores : array-like of float
        ASV scores, higher = target speaker (the ASV direction; not negated).
    threshold : float, optional
        Accept when ``score >= threshold``; default is the official ``compute_eer``
        threshold of target vs non-target scores.
    """
    keys = np.asarray(asv_keys).astype(str)
    scores = np.asarray(asv_scores, dtype=np.float64)
    if keys.shape != scores.shape or keys.ndim != 1:
        raise ParameterError.invalid(
            "asv_scores", f"a 1-D array of length {keys.size}", scores.shape
        )
    unknown = set(np.unique(keys).tolist()) - {"target", "nontarget", "spoof"}
    if unknown:
        raise ParameterError.invalid(
            "asv_keys", "'target', 'nontarget' or 'spoof'", sorted(unknown)
        )
    tar, non, spf = (scores[keys == k] for k in ("target", "nontarget", "spoof"))
    if tar.size == 0 or non.size == 0 or spf.size == 0:
        raise ParameterError.invalid(
            "asv_keys", "target, nontarget and spoof trials", f"{tar.size}/{non.size}/{spf.size}"
        )
    eer, eer_threshold = official_eer(tar, non)
    thr = eer_threshold if threshold is None else float(threshold)
    return AsvOperatingPoint(
        pfa_asv=float(np.count_nonzero(non >= thr) / non.size),
        pmiss_asv=float(np.count_nonzero(tar < thr) / tar.size),
        pmiss_spoof_asv=float(np.count_nonzero(spf < thr) / spf.size),
        pfa_spoof_asv=float(np.count_nonzero(spf >= thr) / spf.size),
        threshold=thr,
        eer=eer,
    )


def _fill_priors(model: Any) -> None:
    """Default ``p_tar``, ``p_non`` to 0.99, 0.01 of ``1 - p_spoof`` as ASVspoof; check the sum."""
    _check_probability("p_spoof", model.p_spoof)
    if model.p_tar is None:
        object.__setattr__(model, "p_tar", (1.0 - model.p_spoof) * 0.99)
    if model.p_non is None:
        object.__setattr__(model, "p_non", (1.0 - model.p_spoof) * 0.01)
    total = model.p_tar + model.p_non + model.p_spoof
    for name in ("p_tar", "p_non"):
        _check_probability(name, getattr(model, name))
    if abs(total - 1.0) > 1e-10:
        raise ParameterError.invalid("p_tar + p_non + p_spoof", "1", total)


def _priors(model: TDCFCostModel2019 | TDCFCostModel2021) -> tuple[float, float]:
    """``(p_tar, p_non)`` of a cost model, filled in by ``__post_init__``."""
    assert model.p_tar is not None and model.p_non is not None
    return model.p_tar, model.p_non


@dataclass(frozen=True)
class TDCFCostModel2019:
    """ASVspoof 2019 t-DCF cost model (Kinnunen et al. 2018, ASVspoof 2019 evaluation plan).

    Separate ASV and CM costs; ``p_tar``, ``p_non`` default to 0.99, 0.01 of ``1 - p_spoof``.
    """

    p_spoof: float = 0.05
    p_tar: float | None = None
    p_non: float | None = None
    c_miss_asv: float = 1.0
    c_fa_asv: float = 10.0
    c_miss_cm: float = 1.0
    c_fa_cm: float = 10.0

    def __post_init__(self) -> None:
        _fill_priors(self)


@dataclass(frozen=True)
class TDCFCostModel2021:
    """ASVspoof 2021 t-DCF cost model (Kinnunen et al. 2020): tandem costs of each error.

    ``c_miss`` rejects a target, ``c_fa`` accepts a non-target, ``c_fa_spoof`` accepts a
    spoof; ``p_tar``, ``p_non`` default to 0.99, 0.01 of ``1 - p_spoof``.
    """

    p_spoof: float = 0.05
    p_tar: float | None = None
    p_non: float | None = None
    c_miss: float = 1.0
    c_fa: float = 10.0
    c_fa_spoof: float = 10.0

    def __post_init__(self) -> None:
        _fill_priors(self)


def tdcf_curve(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    asv: AsvOperatingPoint,
    formula: str = "2021",
    cost_model: TDCFCostModel2019 | TDCFCostModel2021 | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Normalised t-DCF at every CM threshold of :func:`det_curve`.

    ``formula="2019"`` is the ASVspoof 2019 ``compute_tDCF``: ``(C1 Pmiss_cm + C2 Pfa_cm)
    / min(C1, C2)``. ``formula="2021"`` is the revised t-DCF of Kinnunen et al. (2020) used
    by ASVspoof 2021: ``(C0 + C1 Pmiss_cm + C2 Pfa_cm) / (C0 + min(C1, C2))``.

    Returns
    -------
    tdcf : ndarray
        Normalised t-DCF per threshold.
    thresholds : ndarray
        Library-direction CM thresholds (flag when ``score >= threshold``).
    """
    if formula == "2019":
        cm = cost_model or TDCFCostModel2019()
        if not isinstance(cm, TDCFCostModel2019):
            raise ParameterError.invalid("cost_model", "a TDCFCostModel2019", type(cm).__name__)
        p_tar, p_non = _priors(cm)
        c0 = 0.0
        c1 = p_tar * (cm.c_miss_cm - cm.c_miss_asv * asv.pmiss_asv) - (
            p_non * cm.c_fa_asv * asv.pfa_asv
        )
        c2 = cm.c_fa_cm * cm.p_spoof * (1.0 - asv.pmiss_spoof_asv)
    elif formula == "2021":
        cm = cost_model or TDCFCostModel2021()
        if not isinstance(cm, TDCFCostModel2021):
            raise ParameterError.invalid("cost_model", "a TDCFCostModel2021", type(cm).__name__)
        p_tar, p_non = _priors(cm)
        c0 = p_tar * cm.c_miss * asv.pmiss_asv + p_non * cm.c_fa * asv.pfa_asv
        c1 = p_tar * cm.c_miss - c0
        c2 = cm.p_spoof * cm.c_fa_spoof * asv.pfa_spoof_asv
    else:
        raise ParameterError.invalid("formula", "'2019' or '2021'", formula)
    if c1 < 0 or c2 < 0 or min(c1, c2) + c0 <= 0:
        raise ParameterError(
            f"t-DCF weights C0={c0:.5g}, C1={c1:.5g}, C2={c2:.5g} are invalid for this ASV "
            "operating point; check the ASV error rates."
        )
    p_miss, p_fa, thresholds = det_curve(y_true, y_score)
    tdcf = c0 + c1 * p_miss + c2 * p_fa
    return tdcf / (c0 + min(c1, c2)), thresholds


def min_tdcf_2019(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    asv: AsvOperatingPoint,
    cost_model: TDCFCostModel2019 | None = None,
) -> float:
    """Minimum normalised t-DCF with the ASVspoof 2019 formula (see :func:`tdcf_curve`)."""
    curve, _ = tdcf_curve(y_true, y_score, asv=asv, formula="2019", cost_model=cost_model)
    return float(curve.min())


def min_tdcf_2021(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    asv: AsvOperatingPoint,
    cost_model: TDCFCostModel2021 | None = None,
) -> float:
    """Minimum normalised t-DCF with the revised ASVspoof 2021 formula (see :func:`tdcf_curve`)."""
    curve, _ = tdcf_curve(y_true, y_score, asv=asv, formula="2021", cost_model=cost_model)
    return float(curve.min())
