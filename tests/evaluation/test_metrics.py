"""Tests of audio_detect.evaluation.metrics and .tdcf.

Official reference values and synthetic properties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.metrics import roc_auc_score

from audio_detect.datasets.scores import (
    _read_cm_protocol_keys,
    align_scores,
    read_asv_score_file,
    read_score_file,
)
from audio_detect.evaluation.metrics import (
    act_dcf,
    bayes_threshold,
    breakdown,
    cllr,
    compute_eer,
    det_curve,
    min_cllr,
    min_dcf,
    roc_points,
    summarize,
    system_average,
)
from audio_detect.evaluation.tdcf import (
    AsvOperatingPoint,
    TDCFCostModel2019,
    TDCFCostModel2021,
    asv_operating_point,
    min_tdcf_2019,
    min_tdcf_2021,
    tdcf_curve,
)
from audio_detect.exceptions import ParameterError

# Official ASVspoof evaluation code on these files (reference_scores/README.md).
REFERENCE = {
    "rawgat_st_mul": {
        "eer": 1.0601,
        "tdcf2019": 0.03354,
        "tdcf2021": 0.09417,
        "min_dcf": 0.0299,
        "act_dcf": 0.0444,
        "cllr": 0.0663,
    },
    "lfcc_highres_gmm": {
        "eer": 3.5056,
        "tdcf2019": 0.09344,
        "tdcf2021": 0.15031,
        "min_dcf": 0.0862,
        "act_dcf": 0.4354,
        "cllr": 0.4028,
    },
}


@pytest.fixture(scope="module")
def reference(reference_scores):
    utt_ids, systems, labels = _read_cm_protocol_keys(reference_scores["protocol"])
    rawgat = align_scores(read_score_file(reference_scores["rawgat"]), utt_ids)
    lfcc = read_score_file(reference_scores["lfcc_gmm"], utt_ids=utt_ids.tolist())
    asv = read_asv_score_file(reference_scores["asv"])
    return {
        "labels": labels,
        "systems": systems,
        "scores": {"rawgat_st_mul": rawgat.scores, "lfcc_highres_gmm": lfcc.scores},
        "asv": asv_operating_point(asv.asv_keys, asv.scores),
    }


# ----------------------------------------------------------------------------- reference


@pytest.mark.shared
def test_reference_asv_operating_point(reference):
    asv = reference["asv"]
    assert round(100 * asv.eer, 3) == 2.458
    assert round(asv.pfa_asv, 4) == 0.0246
    assert round(asv.pmiss_asv, 4) == 0.0246
    assert round(asv.pfa_spoof_asv, 4) == 0.7607
    assert asv.pmiss_spoof_asv == pytest.approx(1.0 - asv.pfa_spoof_asv, abs=1e-12)


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_values(reference, name):
    y, s, asv = reference["labels"], reference["scores"][name], reference["asv"]
    expected = REFERENCE[name]
    assert y.size == 71237 and int(y.sum()) == 63882
    eer, _ = compute_eer(y, s)
    assert round(100 * eer, 4) == expected["eer"]
    assert round(min_tdcf_2019(y, s, asv=asv), 5) == expected["tdcf2019"]
    assert round(min_tdcf_2021(y, s, asv=asv), 5) == expected["tdcf2021"]
    assert round(min_dcf(y, s), 4) == expected["min_dcf"]
    assert round(act_dcf(y, s), 4) == expected["act_dcf"]
    assert round(cllr(y, s), 4) == expected["cllr"]


@pytest.mark.shared
def test_reference_summarize_and_per_attack(reference):
    y, s = reference["labels"], reference["scores"]["lfcc_highres_gmm"]
    systems = reference["systems"]
    out = summarize(y, s, llr=True, asv=reference["asv"], groups=systems)
    assert round(out["min_tdcf_2021"], 5) == REFERENCE["lfcc_highres_gmm"]["tdcf2021"]
    per_attack = out["breakdown"]
    assert sorted(per_attack) == [f"A{i:02d}" for i in range(7, 20)]
    for row in per_attack.values():
        assert (row["n_spoof"], row["n_bonafide"], row["bonafide"]) == (4914, 7355, "all")
    keep = (systems == "A17") | (y == 0)
    assert per_attack["A17"]["eer"] == compute_eer(y[keep], s[keep])[0]
    assert per_attack["A17"]["eer"] > out["eer"]  # A17 is the hard attack for LFCC-GMM


# ----------------------------------------------------------------------------- synthetic


def _gaussian(n: int, *, seed: int, mu: float = 1.0, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n)
    s = np.concatenate((rng.normal(-mu, scale, n), rng.normal(mu, scale, n)))
    return y, s


def _calibrated(n: int, *, seed: int, mu: float = 2.0):
    """Calibrated LLRs: spoof ~ N(mu, 2 mu), bona fide ~ N(-mu, 2 mu)."""
    return _gaussian(n, seed=seed, mu=mu, scale=math.sqrt(2 * mu))


def test_perfect_separation():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    eer, thr = compute_eer(y, s)
    assert eer == 0.0
    assert (s[y == 1] >= thr).all() and (s[y == 0] < thr).all()
    assert min_dcf(y, s) == 0.0
    asv = AsvOperatingPoint(pfa_asv=0.02, pmiss_asv=0.03, pmiss_spoof_asv=0.3, pfa_spoof_asv=0.7)
    assert min_tdcf_2019(y, s, asv=asv) == 0.0


def test_identical_distributions_give_half_eer():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20000)
    s = rng.normal(size=y.size)
    eer, _ = compute_eer(y, s)
    assert abs(eer - 0.5) < 0.02
    assert 0.9 < min_dcf(y, s) <= 1.0


def test_det_curve_direction_and_shape():
    y, s = _gaussian(500, seed=1)
    p_miss, p_fa, thr = det_curve(y, s)
    assert p_miss.shape == p_fa.shape == thr.shape == (y.size + 1,)
    assert (p_miss[0], p_fa[0], p_miss[-1], p_fa[-1]) == (0.0, 1.0, 1.0, 0.0)
    assert (np.diff(p_miss) >= 0).all() and (np.diff(p_fa) <= 0).all()
    assert (np.diff(thr) < 0).all()
    for i in (1, 100, 600, y.size):
        assert p_miss[i] == np.mean(s[y == 0] >= thr[i])
        assert p_fa[i] == np.mean(s[y == 1] < thr[i])


def test_roc_points_match_sklearn_auc():
    y, s = _gaussian(800, seed=2, mu=0.6)
    fpr, tpr, _ = roc_points(y, s)
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc > 0.6


def test_sign_flip_mirrors_results():
    y, s = _gaussian(3000, seed=3, mu=0.7)
    eer, _ = compute_eer(y, s)
    # Bona-fide-high scores with bona fide as the "positive" label: the same problem.
    assert compute_eer(1 - y, -s)[0] == pytest.approx(eer, abs=1e-12)
    assert cllr(1 - y, -s) == pytest.approx(cllr(y, s), rel=1e-12)
    # Scores pointing the wrong way: the errors swap.
    assert compute_eer(y, -s)[0] == pytest.approx(1.0 - eer, abs=1.0 / 3000)
    p_miss, p_fa, _ = det_curve(y, s)
    q_miss, q_fa, _ = det_curve(1 - y, -s)
    np.testing.assert_allclose(q_miss, p_fa[::-1], atol=1e-12)
    np.testing.assert_allclose(q_fa, p_miss[::-1], atol=1e-12)


def test_cllr_of_calibrated_gaussian_llrs_matches_analytic_value():
    mu = 2.0
    y, llr = _calibrated(200_000, seed=4, mu=mu)
    sd = math.sqrt(2 * mu)

    def integrand(x: float) -> float:
        return stats.norm.pdf(x, mu, sd) * np.logaddexp(0.0, -x) / math.log(2)

    expected, _ = integrate.quad(integrand, mu - 12 * sd, mu + 12 * sd)
    assert 0.2 < expected < 0.6
    assert cllr(y, llr) == pytest.approx(expected, abs=0.005)
    assert cllr(y, 3.0 * llr) > cllr(y, llr) + 0.05  # over-confident LLRs cost more


def test_cllr_reference_points():
    y = np.array([0, 0, 1, 1])
    assert cllr(y, np.zeros(4)) == pytest.approx(1.0, abs=1e-15)
    assert cllr(y, np.array([-50.0, -40.0, 40.0, 50.0])) < 1e-15
    assert cllr(y, np.array([50.0, 40.0, -40.0, -50.0])) > 50


def test_min_cllr_reference_points():
    y = np.array([0, 1, 0, 1])
    # PAV pools the middle pair (one of each class): LLRs -inf, 0, 0, +inf -> 0.5 bit
    assert min_cllr(y, np.array([0.0, 1.0, 2.0, 3.0])) == pytest.approx(0.5, abs=1e-12)
    assert min_cllr(y, np.array([0.0, 2.0, 1.0, 3.0])) == 0.0  # separable at any scale
    assert min_cllr(y, np.zeros(4)) == pytest.approx(1.0)  # one pool: the prior, 1 bit
    assert min_cllr(y, np.array([3.0, 0.0, 2.0, 1.0])) == pytest.approx(1.0)  # all reversed


@pytest.mark.parametrize("seed", [0, 1])
def test_min_cllr_is_the_calibration_free_floor_of_cllr(seed):
    mu = 2.0
    y, llr = _calibrated(20_000, seed=seed, mu=mu)
    floor = min_cllr(y, llr)
    # calibrated LLRs are already (nearly) optimal: PAV gains only its small-sample edge
    assert floor <= cllr(y, llr) < floor + 0.01
    # any monotone map leaves it unchanged; mis-scaled or shifted LLRs cost more than it
    assert min_cllr(y, np.exp(0.3 * llr)) == pytest.approx(floor, abs=1e-12)
    for a, b in ((3.0, 0.0), (0.3, 0.0), (1.0, 2.0)):
        assert cllr(y, a * llr + b) > floor + 0.02
    # unequal class counts: the trial prior is removed (same floor on a subsample)
    keep = (y == 0) | (np.arange(y.size) % 4 == 0)
    assert min_cllr(y[keep], llr[keep]) == pytest.approx(floor, abs=0.03)


def test_act_dcf_threshold_side():
    assert bayes_threshold() == pytest.approx(math.log(1.9), abs=1e-15)
    # Spoof LLRs; Bayes threshold ln(1.9) ~ 0.642: bona fide 0.5 accepted, spoof 0.7 flagged.
    y = np.array([0, 0, 1, 1])
    llr = np.array([-5.0, 0.5, 0.7, -1.0])
    # miss rate 0, false-alarm rate 1/2: (10 * 0.05 * 0.5) / min(0.95, 0.5) = 0.5
    assert act_dcf(y, llr) == pytest.approx(0.5, abs=1e-15)
    # (On the wrong side, -0.642, bona fide 0.5 would be rejected and the cost be 1.45.)
    assert act_dcf(y, np.array([-5.0, 0.6, 0.65, 0.7])) == 0.0
    # Bona fide 0.7 rejected: (1 * 0.95 * 0.5) / 0.5
    assert act_dcf(y, np.array([-5.0, 0.7, 0.65, 0.7])) == pytest.approx(0.95, abs=1e-15)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
def test_act_dcf_at_least_min_dcf(seed, scale):
    y, s = _gaussian(400, seed=seed, mu=0.8)
    assert act_dcf(y, scale * s + 0.5 * seed) >= min_dcf(y, scale * s + 0.5 * seed) - 1e-12


def test_act_dcf_close_to_min_dcf_when_calibrated():
    y, llr = _calibrated(100_000, seed=5, mu=2.0)
    gap = act_dcf(y, llr) - min_dcf(y, llr)
    assert 0.0 <= gap < 0.02
    assert act_dcf(y, llr + 3.0) - min_dcf(y, llr + 3.0) > 0.1  # shifted LLRs are miscalibrated


def test_min_dcf_costs_and_normalisation():
    y, s = _gaussian(2000, seed=6)
    p_miss, p_fa, _ = det_curve(y, s)
    expected = np.min(2 * p_miss * 0.8 + 3 * p_fa * 0.2) / min(2 * 0.8, 3 * 0.2)
    assert min_dcf(y, s, p_spoof=0.2, c_miss=2, c_fa=3) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ParameterError, match="p_spoof"):
        min_dcf(y, s, p_spoof=1.5)


def test_tdcf_2021_perfect_cm_reaches_asv_floor():
    asv = AsvOperatingPoint(pfa_asv=0.05, pmiss_asv=0.04, pmiss_spoof_asv=0.4, pfa_spoof_asv=0.6)
    cost = TDCFCostModel2021()
    c0 = cost.p_tar * cost.c_miss * 0.04 + cost.p_non * cost.c_fa * 0.05
    c1 = cost.p_tar * cost.c_miss - c0
    c2 = cost.p_spoof * cost.c_fa_spoof * 0.6
    y = np.array([0, 0, 1, 1])
    s = np.array([0.0, 1.0, 2.0, 3.0])
    assert min_tdcf_2021(y, s, asv=asv) == pytest.approx(c0 / (c0 + min(c1, c2)), rel=1e-12)


@pytest.mark.parametrize("formula", ["2019", "2021"])
def test_tdcf_curve_bounds(formula):
    y, s = _gaussian(1000, seed=7, mu=0.5)
    asv = AsvOperatingPoint(pfa_asv=0.02, pmiss_asv=0.02, pmiss_spoof_asv=0.3, pfa_spoof_asv=0.7)
    curve, thr = tdcf_curve(y, s, asv=asv, formula=formula)
    assert curve.shape == thr.shape == (y.size + 1,)
    assert 0.0 < curve.min() <= 1.0 + 1e-12
    # No CM at all (accept everything / reject everything) costs at least 1.
    assert max(curve[0], curve[-1]) >= 1.0 - 1e-12


def test_tdcf_parameter_errors():
    y, s = _gaussian(50, seed=8)
    asv = AsvOperatingPoint(pfa_asv=0.02, pmiss_asv=0.02, pmiss_spoof_asv=0.3, pfa_spoof_asv=0.7)
    with pytest.raises(ParameterError, match="formula"):
        tdcf_curve(y, s, asv=asv, formula="2020")
    with pytest.raises(ParameterError, match="cost_model"):
        min_tdcf_2019(y, s, asv=asv, cost_model=TDCFCostModel2021())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="p_tar"):
        TDCFCostModel2019(p_spoof=0.05, p_tar=0.9, p_non=0.01)
    model = TDCFCostModel2021(p_spoof=0.2)
    assert model.p_tar + model.p_non + model.p_spoof == pytest.approx(1.0)
    assert model.p_tar == pytest.approx(0.8 * 0.99)
    with pytest.raises(ParameterError, match="pfa_asv"):
        AsvOperatingPoint(pfa_asv=1.5, pmiss_asv=0.0, pmiss_spoof_asv=0.0, pfa_spoof_asv=1.0)


def test_asv_operating_point_rates():
    keys = ["target"] * 4 + ["nontarget"] * 4 + ["spoof"] * 5
    scores = [1.0, 2.0, 3.0, 4.0, -1.0, 0.0, 2.5, 5.0, 0.0, 2.0, 2.6, 3.0, 9.0]
    op = asv_operating_point(keys, scores, threshold=2.5)
    assert (op.pfa_asv, op.pmiss_asv) == (0.5, 0.5)
    assert (op.pfa_spoof_asv, op.pmiss_spoof_asv) == (0.6, 0.4)
    default = asv_operating_point(keys, scores)
    # Same EER as the CM function with "nontarget" as the class scored high (negated scores).
    s = -np.asarray(scores[:8])
    y = np.array([0] * 4 + [1] * 4)
    assert default.eer == compute_eer(y, s)[0]
    assert default.threshold == -compute_eer(y, s)[1]
    with pytest.raises(ParameterError, match="asv_keys"):
        asv_operating_point(["target", "impostor"], [1.0, 2.0])


def test_breakdown_pools():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.35, 0.9, 0.05, 0.8, 0.6, 0.7])
    groups = np.array(["-", "-", "-", "-", "A1", "A1", "A2", "A2", "c", "c"])
    out = breakdown(y, s, groups)
    assert sorted(out) == ["A1", "A2", "c"]  # the bona-fide-only group is left out
    assert out["A1"]["bonafide"] == "all" and out["A1"]["n_bonafide"] == 5
    assert out["c"] == {
        "eer": 0.0,
        "threshold": out["c"]["threshold"],
        "n_bonafide": 1,
        "n_spoof": 1,
        "bonafide": "group",
    }
    keep = np.isin(groups, ["A2"]) | (y == 0)
    assert out["A2"]["eer"] == compute_eer(y[keep], s[keep])[0]
    assert out["A2"]["eer"] > 0.0  # spoof 0.05 is below every bona fide score


def test_breakdown_accepts_mixed_group_values():
    y = np.array([0, 0, 1, 1, 1, 1])
    s = np.array([0.0, 0.1, 0.9, 0.8, -1.0, 0.7])
    groups = np.array([None, None, "A01", "A01", 3, 3], dtype=object)
    out = breakdown(y, s, groups)
    assert list(out) == [3, "A01"]
    assert out["A01"]["eer"] == 0.0 and out[3]["eer"] == 0.5


def test_system_average_weighs_each_system_once():
    # A1 has eight spoofs all caught, A2 two spoofs both missed: pooled EER is low,
    # the system mean is not.
    y = np.array([0] * 10 + [1] * 8 + [1] * 2)
    s = np.r_[np.linspace(0.0, 0.4, 10), np.linspace(0.6, 0.9, 8), [-0.5, -0.4]]
    groups = np.array(["-"] * 10 + ["A1"] * 8 + ["A2"] * 2)
    per_system = {k: v["eer"] for k, v in breakdown(y, s, groups).items()}
    assert per_system["A1"] == 0.0 and per_system["A2"] == 1.0
    out = system_average(per_system, families={"A1": "tts"})
    assert out["eer_mean"] == 0.5 > compute_eer(y, s)[0]
    assert (out["eer_max"], out["worst_system"], out["n_systems"]) == (1.0, "A2", 2)
    assert out["by_family"] == {
        "?": {"eer_mean": 1.0, "n_systems": 1},  # a system without a known family
        "tts": {"eer_mean": 0.0, "n_systems": 1},
    }
    assert "by_family" not in system_average(per_system)


def test_system_average_needs_a_system():
    with pytest.raises(ParameterError, match="per_system"):
        system_average({})


def test_summarize_keys():
    y, s = _gaussian(200, seed=9)
    assert set(summarize(y, s, llr=False)) == {
        "n_trials",
        "n_bonafide",
        "n_spoof",
        "eer",
        "eer_threshold",
        "min_dcf",
    }
    asv = AsvOperatingPoint(pfa_asv=0.02, pmiss_asv=0.02, pmiss_spoof_asv=0.3, pfa_spoof_asv=0.7)
    out = summarize(y, s, llr=True, asv=asv, groups=np.where(y == 1, "A", "-"))
    assert out["min_cllr"] <= out["cllr"]
    assert {
        "act_dcf",
        "cllr",
        "min_cllr",
        "min_tdcf_2019",
        "min_tdcf_2021",
        "asv",
        "breakdown",
    } <= set(out)
    assert out["breakdown"]["A"]["eer"] == out["eer"]


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([0, 1, 2], [0.0, 1.0, 2.0], "y_true"),
        ([1, 1, 1], [0.0, 1.0, 2.0], "both"),
        ([0, 1], [0.0, 1.0, 2.0], "y_score"),
        ([0, 1], [0.0, np.nan], "finite"),
    ],
)
def test_input_validation(y, s, match):
    with pytest.raises(ParameterError, match=match):
        compute_eer(y, s)
