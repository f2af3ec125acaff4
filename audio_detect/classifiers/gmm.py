"""Two-class Gaussian mixture countermeasure (the ASVspoof 2019 LFCC-GMM baseline).

One diagonal-covariance GMM is fitted on the feature frames of bona fide speech
and one on spoofed speech; an utterance scores the mean per-frame log-likelihood
ratio ``ln p(x|spoof) - ln p(x|bonafide)`` (higher = spoof, see
:mod:`audio_detect.constants`). Todisco et al., "ASVspoof 2019: Future horizons
in spoofed and fake audio detection", Interspeech 2019; Sahidullah et al.,
"A comparison of features for synthetic speech detection", Interspeech 2015.

Fitted parameters are plain arrays, stored with safetensors (no pickle).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture

from ..constants import BONAFIDE, SPOOF
from ..exceptions import IncompatibleModelError, ParameterError

__all__ = ["DiagonalGMM", "GMMClassifier"]

logger = logging.getLogger(__name__)

_LOG_2PI = float(np.log(2.0 * np.pi))


class DiagonalGMM:
    """Arrays of a fitted diagonal GMM with a vectorised frame log-likelihood.

    Parameters
    ----------
    weights : np.ndarray
        Mixture weights, shape ``(n_components,)``.
    means : np.ndarray
        Component means, shape ``(n_components, n_features)``.
    variances : np.ndarray
        Diagonal variances, shape ``(n_components, n_features)``.
    """

    def __init__(self, weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> None:
        if means.shape != variances.shape or weights.shape != (means.shape[0],):
            raise IncompatibleModelError(
                f"GMM array shapes disagree: weights {weights.shape}, means {means.shape}, "
                f"variances {variances.shape}."
            )
        if np.any(variances <= 0) or not np.all(np.isfinite(means)):
            raise IncompatibleModelError("GMM variances must be positive and means finite.")
        self.weights = weights.astype(np.float64)
        self.means = means.astype(np.float64)
        self.variances = variances.astype(np.float64)
        prec = 1.0 / self.variances
        # log N(x; m, v) = -0.5 sum(x^2 p) + x.(m p) - 0.5 sum(m^2 p) - 0.5 sum(log v) - d/2 log 2pi
        self._prec = prec
        self._mp = self.means * prec
        self._const = (
            np.log(self.weights)
            - 0.5 * np.sum(self.means**2 * prec, axis=1)
            - 0.5 * np.sum(np.log(self.variances), axis=1)
            - 0.5 * self.means.shape[1] * _LOG_2PI
        )

    @property
    def n_features(self) -> int:
        """Feature dimension."""
        return int(self.means.shape[1])

    def frame_loglik(self, X: np.ndarray) -> np.ndarray:
        """Return ``ln p(x_t)`` for each row of ``X`` (shape ``(n_frames, n_features)``)."""
        X = np.asarray(X, dtype=np.float64)
        comp = -0.5 * (X**2) @ self._prec.T + X @ self._mp.T + self._const
        return logsumexp(comp, axis=1)

    @classmethod
    def from_sklearn(cls, gmm: GaussianMixture) -> DiagonalGMM:
        """Copy the arrays out of a fitted diagonal ``GaussianMixture``."""
        return cls(gmm.weights_, gmm.means_, gmm.covariances_)


class GMMClassifier:
    """Bona fide vs. spoof GMM pair following scikit-learn's estimator contract.

    Parameters
    ----------
    n_components : int
        Mixture components per class (the ASVspoof baseline uses 512; 128 trains
        in minutes on two cores with little loss).
    max_frames : int
        Frames per class sampled for EM (random, seeded) to bound training time.
    max_iter : int
        EM iterations.
    random_state : int
        Seed for frame sampling and initialisation.

    Attributes
    ----------
    gmm_bonafide_, gmm_spoof_ : DiagonalGMM
        Fitted class models.
    """

    def __init__(
        self,
        *,
        n_components: int = 128,
        max_frames: int = 200_000,
        max_iter: int = 100,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.max_frames = max_frames
        self.max_iter = max_iter
        self.random_state = random_state

    def _fit_one(self, frames: np.ndarray, rng: np.random.Generator) -> DiagonalGMM:
        if len(frames) > self.max_frames:
            frames = frames[rng.choice(len(frames), self.max_frames, replace=False)]
        gmm = GaussianMixture(
            n_components=self.n_components,
            covariance_type="diag",
            max_iter=self.max_iter,
            reg_covar=1e-3,
            init_params="k-means++",
            random_state=self.random_state,
        )
        gmm.fit(frames)
        logger.info("GMM fitted on %d frames, converged=%s", len(frames), gmm.converged_)
        return DiagonalGMM.from_sklearn(gmm)

    def fit(self, features: Sequence[np.ndarray], y: Sequence[int]) -> Self:
        """Fit on a list of feature matrices ``(n_features, n_frames)`` and labels (1 = spoof)."""
        labels = np.asarray(y)
        if len(features) != len(labels):
            raise ParameterError.invalid("y", f"{len(features)} labels", len(labels))
        if set(np.unique(labels).tolist()) != {BONAFIDE, SPOOF}:
            raise ParameterError.invalid("y", "labels of both classes {0, 1}", np.unique(labels))
        rng = np.random.default_rng(self.random_state)
        stacks = {}
        for cls_ in (BONAFIDE, SPOOF):
            stacks[cls_] = np.concatenate(
                [f.T for f, lab in zip(features, labels, strict=True) if lab == cls_]
            )
        self.gmm_bonafide_ = self._fit_one(stacks[BONAFIDE], rng)
        self.gmm_spoof_ = self._fit_one(stacks[SPOOF], rng)
        return self

    def frame_llr(self, features: np.ndarray) -> np.ndarray:
        """Per-frame LLR for one feature matrix ``(n_features, n_frames)``."""
        self._check_fitted()
        X = np.asarray(features).T
        if X.shape[1] != self.gmm_spoof_.n_features:
            raise ParameterError.invalid(
                "features", f"{self.gmm_spoof_.n_features} feature rows", X.shape[1]
            )
        return self.gmm_spoof_.frame_loglik(X) - self.gmm_bonafide_.frame_loglik(X)

    def decision_function(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """Mean frame LLR per utterance (higher = spoof)."""
        return np.array([float(np.mean(self.frame_llr(f))) for f in features])

    def _check_fitted(self) -> None:
        if not hasattr(self, "gmm_spoof_"):
            raise ParameterError("This GMMClassifier is not fitted yet; call 'fit' first.")

    # -- storage ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted arrays to a safetensors file."""
        from safetensors.numpy import save_file

        self._check_fitted()
        tensors = {}
        for name, g in (("bonafide", self.gmm_bonafide_), ("spoof", self.gmm_spoof_)):
            tensors[f"{name}.weights"] = g.weights
            tensors[f"{name}.means"] = g.means
            tensors[f"{name}.variances"] = g.variances
        save_file(tensors, str(path))

    @classmethod
    def load(cls, path: str | Path) -> GMMClassifier:
        """Read arrays written by :meth:`save` (safetensors; never unpickles)."""
        from safetensors.numpy import load_file

        try:
            t = load_file(str(path))
        except Exception as exc:  # safetensors raises several types on corrupt files
            raise IncompatibleModelError(f"Cannot read GMM arrays from {path}: {exc}") from exc
        clf = cls(n_components=int(t["spoof.weights"].shape[0]))
        try:
            clf.gmm_bonafide_ = DiagonalGMM(
                t["bonafide.weights"], t["bonafide.means"], t["bonafide.variances"]
            )
            clf.gmm_spoof_ = DiagonalGMM(t["spoof.weights"], t["spoof.means"], t["spoof.variances"])
        except KeyError as exc:
            raise IncompatibleModelError(f"{path} lacks GMM array {exc}") from exc
        return clf
