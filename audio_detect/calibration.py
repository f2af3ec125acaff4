"""Score calibration to log-likelihood ratios, posteriors, and risk tiers.

A detector's raw score is mapped to a natural-log likelihood ratio
``llr = a * score + b`` (spoof over bona fide, see :mod:`audio_detect.constants`)
by prior-weighted logistic regression fitted on a held-out dev split
(Brümmer & du Preez, "Application-independent evaluation of speaker detection",
Computer Speech & Language 2006; the BOSARIS toolkit's linear calibration).

The posterior for a prior ``P(spoof) = pi`` is ``sigmoid(llr + logit(pi))``.
Risk tiers compare the LLR to thresholds chosen for target false-alarm rates on
genuine (bona fide) speech, e.g. 1 % for ``medium`` and 0.1 % for ``high``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from scipy.optimize import minimize

from .constants import BONAFIDE, SPOOF, TIER_HIGH, TIER_LOW, TIER_MEDIUM
from .exceptions import ParameterError

__all__ = [
    "LogisticCalibrator",
    "TierThresholds",
    "assign_tier",
    "fit_decision_rule",
    "logit",
    "posterior",
    "threshold_for_false_alarm",
]

logger = logging.getLogger(__name__)


def logit(p: float) -> float:
    """Return ``ln(p / (1 - p))`` for ``0 < p < 1``."""
    if not 0.0 < p < 1.0:
        raise ParameterError.invalid("prior", "a probability strictly between 0 and 1", p)
    return float(np.log(p) - np.log1p(-p))


def posterior(llr: np.ndarray | float, *, prior: float) -> np.ndarray | float:
    """Return ``P(spoof | x)`` from a spoof LLR and a prior ``P(spoof)``."""
    z = np.asarray(llr, dtype=np.float64) + logit(prior)
    out = 0.5 * (1.0 + np.tanh(0.5 * z))  # numerically stable sigmoid
    return float(out) if np.ndim(out) == 0 else out


def _validate_scores(scores: np.ndarray, y: np.ndarray | None = None) -> None:
    if scores.ndim != 1 or scores.size == 0:
        raise ParameterError.invalid("scores", "a non-empty 1-D array", scores.shape)
    if not np.all(np.isfinite(scores)):
        raise ParameterError("The 'scores' parameter must hold finite values only.")
    if y is not None:
        if y.shape != scores.shape:
            raise ParameterError.invalid("y", f"an array of shape {scores.shape}", y.shape)
        present = set(np.unique(y).tolist())
        if present != {BONAFIDE, SPOOF}:
            raise ParameterError.invalid("y", "labels with both classes {0, 1}", sorted(present))


class LogisticCalibrator:
    """Affine score-to-LLR calibration by prior-weighted logistic regression.

    Parameters
    ----------
    prior : float
        Effective prior P(spoof) at which the cross-entropy is weighted (0.5 weighs
        both classes equally, which is what Cllr measures).
    reg : float
        Small L2 penalty on the slope and offset, keeping the fit finite on
        separable data.

    Attributes
    ----------
    a_, b_ : float
        Fitted slope and offset: ``llr = a_ * score + b_``.
    """

    def __init__(self, *, prior: float = 0.5, reg: float = 1e-4) -> None:
        self.prior = prior
        self.reg = reg

    def fit(self, scores: np.ndarray, y: np.ndarray) -> Self:
        """Fit on raw ``scores`` (higher = spoof) with labels ``y`` (1 = spoof)."""
        s = np.asarray(scores, dtype=np.float64)
        t = np.asarray(y)
        _validate_scores(s, t)
        offset = logit(self.prior)
        w_spoof = self.prior / max(int(np.sum(t == SPOOF)), 1)
        w_bona = (1.0 - self.prior) / max(int(np.sum(t == BONAFIDE)), 1)
        weights = np.where(t == SPOOF, w_spoof, w_bona)
        sign = np.where(t == SPOOF, 1.0, -1.0)
        scale = float(np.std(s)) or 1.0  # optimise on standardised scores for conditioning
        mean = float(np.mean(s))
        z = (s - mean) / scale

        def objective(p: np.ndarray) -> tuple[float, np.ndarray]:
            act = sign * (p[0] * z + p[1] + offset)
            loss_terms = np.logaddexp(0.0, -act)
            grad_act = -0.5 * (1.0 - np.tanh(0.5 * act))  # d/dact log(1+e^-act)
            g = weights * grad_act * sign
            loss = float(np.sum(weights * loss_terms)) + self.reg * float(p @ p)
            grad = np.array([np.sum(g * z), np.sum(g)]) + 2 * self.reg * p
            return loss, grad

        res = minimize(objective, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        a_std, b_std = (float(v) for v in res.x)
        self.a_ = a_std / scale
        self.b_ = b_std - a_std * mean / scale
        logger.debug("calibration fitted: a=%.6g b=%.6g (%s)", self.a_, self.b_, res.message)
        return self

    def transform(self, scores: np.ndarray | float) -> np.ndarray | float:
        """Return calibrated LLRs for raw scores."""
        if not hasattr(self, "a_"):
            raise ParameterError("This LogisticCalibrator is not fitted yet; call 'fit' first.")
        out = self.a_ * np.asarray(scores, dtype=np.float64) + self.b_
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description (``kind``, ``a``, ``b``, ``prior``)."""
        return {"kind": "logistic", "a": self.a_, "b": self.b_, "prior": self.prior}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogisticCalibrator:
        """Rebuild a fitted calibrator from :meth:`to_dict` output."""
        if data.get("kind") != "logistic":
            raise ParameterError.invalid("calibration.kind", "'logistic'", data.get("kind"))
        cal = cls(prior=float(data.get("prior", 0.5)))
        cal.a_ = float(data["a"])
        cal.b_ = float(data["b"])
        return cal

    @classmethod
    def identity(cls) -> LogisticCalibrator:
        """Return a calibrator that passes scores through unchanged."""
        return cls.from_dict({"kind": "logistic", "a": 1.0, "b": 0.0})


def threshold_for_false_alarm(bonafide_llr: np.ndarray, *, rate: float) -> float:
    """Return the lowest LLR threshold flagging at most ``rate`` of bona fide trials.

    A trial is flagged when ``llr >= threshold``. With ``n`` bona fide trials a rate
    below ``1/n`` cannot be measured; the threshold then sits just above the
    largest bona fide LLR and a warning is logged.
    """
    llr = np.sort(np.asarray(bonafide_llr, dtype=np.float64))
    if llr.size == 0:
        raise ParameterError.invalid("bonafide_llr", "a non-empty array", llr.size)
    if not 0.0 < rate < 1.0:
        raise ParameterError.invalid("rate", "a probability strictly between 0 and 1", rate)
    n_allowed = int(np.floor(rate * llr.size))
    if n_allowed == 0:
        logger.warning(
            "false-alarm rate %.4g is below 1/%d bona fide trials; threshold set above all",
            rate,
            llr.size,
        )
        return float(np.nextafter(llr[-1], np.inf))
    # Flag the n_allowed highest values: threshold just above the next one down.
    return float(np.nextafter(llr[-n_allowed - 1], np.inf))


@dataclass(frozen=True)
class TierThresholds:
    """LLR thresholds for the ``medium`` and ``high`` risk tiers (``medium <= high``)."""

    medium: float
    high: float

    def __post_init__(self) -> None:
        if not self.medium <= self.high:
            raise ParameterError(
                f"The 'medium' threshold must not exceed 'high'. Got medium={self.medium}, "
                f"high={self.high}."
            )

    def to_dict(self) -> dict[str, float]:
        """Return ``{"medium": ..., "high": ...}``."""
        return {"medium": self.medium, "high": self.high}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TierThresholds:
        """Build from a dict with ``medium`` and ``high`` keys (extra keys ignored)."""
        return cls(medium=float(data["medium"]), high=float(data["high"]))


def fit_decision_rule(
    scores: np.ndarray,
    y: np.ndarray,
    *,
    target_false_alarm: dict[str, float],
    prior: float = 0.5,
) -> tuple[LogisticCalibrator, dict[str, Any]]:
    """Fit the calibration and the risk-tier thresholds on held-out (dev) call scores.

    Parameters
    ----------
    scores : np.ndarray
        Raw call scores (higher = spoof) of a dev split the model never trained on.
    y : np.ndarray
        Labels, 1 = spoof.
    target_false_alarm : dict
        Bona fide false-alarm rates of the ``medium`` and ``high`` tiers, e.g.
        ``{"medium": 0.01, "high": 0.001}``.
    prior : float
        Effective prior of the logistic calibration.

    Returns
    -------
    calibrator : LogisticCalibrator
        Fitted raw-score to LLR map.
    thresholds : dict
        ``{"medium": llr, "high": llr, "target_false_alarm": {...}}`` (``high >= medium``).
    """
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(y)
    cal = LogisticCalibrator(prior=prior).fit(s, t)
    bona = np.asarray(cal.transform(s[t == BONAFIDE]))
    medium = threshold_for_false_alarm(bona, rate=float(target_false_alarm["medium"]))
    high = max(threshold_for_false_alarm(bona, rate=float(target_false_alarm["high"])), medium)
    return cal, {"medium": medium, "high": high, "target_false_alarm": dict(target_false_alarm)}


def assign_tier(llr: float, thresholds: TierThresholds) -> str:
    """Return ``low``, ``medium`` or ``high`` for a call LLR."""
    if llr >= thresholds.high:
        return TIER_HIGH
    if llr >= thresholds.medium:
        return TIER_MEDIUM
    return TIER_LOW
