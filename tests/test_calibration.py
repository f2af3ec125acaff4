import numpy as np
import pytest

from audio_detect.calibration import (
    LogisticCalibrator,
    TierThresholds,
    assign_tier,
    posterior,
    threshold_for_false_alarm,
)
from audio_detect.exceptions import ParameterError


def _gaussian_scores(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n, int), np.ones(n, int)]
    # raw scores: bona fide ~ N(-1, 1), spoof ~ N(1, 1) scaled by 3 and shifted
    s = np.r_[rng.normal(-1, 1, n), rng.normal(1, 1, n)] * 3.0 + 5.0
    return s, y


def test_fit_recovers_true_llr_of_gaussian_classes() -> None:
    s, y = _gaussian_scores(20000)
    cal = LogisticCalibrator().fit(s, y)
    # true LLR for unit-variance classes at +-1 in z = (s-5)/3 is 2 z
    # so llr = (2/3) s - 10/3
    assert cal.a_ == pytest.approx(2 / 3, rel=0.03)
    assert cal.b_ == pytest.approx(-10 / 3, rel=0.03)


def test_round_trip_dict() -> None:
    s, y = _gaussian_scores(500)
    cal = LogisticCalibrator(prior=0.3).fit(s, y)
    again = LogisticCalibrator.from_dict(cal.to_dict())
    np.testing.assert_array_equal(cal.transform(s), again.transform(s))
    assert again.prior == 0.3


def test_unfitted_and_bad_input_raise() -> None:
    with pytest.raises(ParameterError, match="not fitted"):
        LogisticCalibrator().transform(1.0)
    with pytest.raises(ParameterError, match="both classes"):
        LogisticCalibrator().fit(np.array([1.0, 2.0]), np.array([1, 1]))
    with pytest.raises(ParameterError, match="finite"):
        LogisticCalibrator().fit(np.array([np.nan, 2.0]), np.array([0, 1]))


def test_posterior_and_prior() -> None:
    assert posterior(0.0, prior=0.5) == pytest.approx(0.5)
    assert posterior(0.0, prior=0.05) == pytest.approx(0.05)
    assert posterior(np.log(19.0), prior=0.05) == pytest.approx(0.5)
    with pytest.raises(ParameterError, match="prior"):
        posterior(0.0, prior=1.0)


def test_threshold_for_false_alarm_hits_the_rate() -> None:
    rng = np.random.default_rng(1)
    bona = rng.normal(size=10000)
    thr = threshold_for_false_alarm(bona, rate=0.01)
    assert np.mean(bona >= thr) == pytest.approx(0.01, abs=1e-4)
    thr_hi = threshold_for_false_alarm(bona, rate=1e-5)  # below 1/n: above all trials
    assert np.mean(bona >= thr_hi) == 0.0


def test_tiers() -> None:
    t = TierThresholds(medium=1.0, high=3.0)
    assert [assign_tier(v, t) for v in (0.0, 1.0, 2.9, 3.0)] == ["low", "medium", "medium", "high"]
    with pytest.raises(ParameterError):
        TierThresholds(medium=2.0, high=1.0)
