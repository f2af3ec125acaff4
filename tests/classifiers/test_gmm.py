import numpy as np
import pytest

from audio_detect.classifiers.gmm import GMMClassifier
from audio_detect.exceptions import IncompatibleModelError, ParameterError


def _data(seed: int = 0) -> tuple[list[np.ndarray], list[int]]:
    rng = np.random.default_rng(seed)
    feats, labels = [], []
    for i in range(20):
        label = i % 2
        feats.append((rng.normal(size=(6, 50)) + 1.5 * label).astype(np.float32))
        labels.append(label)
    return feats, labels


def test_gmm_separates_shifted_classes_and_round_trips(tmp_path) -> None:
    feats, labels = _data()
    clf = GMMClassifier(n_components=4, random_state=0).fit(feats, labels)
    test_feats, test_labels = _data(seed=1)
    scores = clf.decision_function(test_feats)
    assert np.all((scores > 0) == np.asarray(test_labels, bool))
    path = tmp_path / "gmm.safetensors"
    clf.save(path)
    again = GMMClassifier.load(path)
    np.testing.assert_allclose(again.decision_function(test_feats), scores, rtol=1e-10)


def test_frame_loglik_matches_sklearn() -> None:
    from sklearn.mixture import GaussianMixture

    from audio_detect.classifiers.gmm import DiagonalGMM

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    g = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    np.testing.assert_allclose(DiagonalGMM.from_sklearn(g).frame_loglik(X), g.score_samples(X))


def test_errors(tmp_path) -> None:
    feats, _labels = _data()
    with pytest.raises(ParameterError, match="both classes"):
        GMMClassifier(n_components=2).fit(feats, [0] * len(feats))
    with pytest.raises(ParameterError, match="not fitted"):
        GMMClassifier().decision_function(feats)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(IncompatibleModelError):
        GMMClassifier.load(bad)
