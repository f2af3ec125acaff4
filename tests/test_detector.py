import io

import numpy as np
import pytest
import soundfile as sf

from audio_detect.calibration import TierThresholds
from audio_detect.config import WindowConfig
from audio_detect.detector import Detector, aggregate
from audio_detect.exceptions import AudioDecodeError, ParameterError


@pytest.fixture(scope="module")
def detector(tiny_gmm_dir) -> Detector:
    return Detector.load(tiny_gmm_dir)


def test_decision_fields_on_real_speech(detector, fixture_audio) -> None:
    d = detector.score_file(fixture_audio["bonafide_lj001-0001"])
    assert d.verdict in ("bonafide", "spoof")
    assert d.tier in ("low", "medium", "high")
    assert 0.0 <= d.p_spoof <= 1.0
    assert d.llr == pytest.approx(0.5 * d.score + 0.1)  # the tiny model's calibration
    assert 5.0 < d.speech_seconds <= d.duration
    assert d.duration == pytest.approx(9.65, abs=0.01)
    assert d.model["name"] == "tiny-gmm" and len(d.model["sha256"]) == 64
    assert d.audio["source_sr"] == 16000
    # windows: 2 s every 1 s over the speech, spans inside the recording, sorted
    assert len(d.windows) >= 5
    starts = [w.start for w in d.windows]
    assert starts == sorted(starts) and d.windows[-1].end <= d.duration + 1e-6
    top3 = sorted((w.score for w in d.windows), reverse=True)[:3]
    assert d.score == pytest.approx(np.mean(top3))


def test_tiny_model_ranks_its_training_clips(detector, fixture_audio) -> None:
    scores = {k: detector.score_file(p).score for k, p in fixture_audio.items()}
    bona = [v for k, v in scores.items() if k.startswith("bonafide")]
    spoof = [v for k, v in scores.items() if k.startswith("spoof")]
    assert min(spoof) > max(bona)


def test_silence_is_not_enough_speech(detector) -> None:
    d = detector.score_samples(np.zeros(8000 * 5, dtype=np.float32))
    assert d.verdict == "not_enough_speech" and d.tier == "not_enough_speech"
    assert d.llr is None and d.p_spoof is None and d.windows == []


def test_overrides(detector, fixture_audio) -> None:
    path = fixture_audio["spoof_wavefake_lj001-0001_gen"]
    base = detector.score_file(path)
    low_prior = detector.score_file(path, prior=0.01)
    assert low_prior.llr == pytest.approx(base.llr)
    assert low_prior.p_spoof < base.p_spoof
    forced = detector.score_file(path, thresholds=TierThresholds(medium=-1e9, high=-1e9))
    assert forced.tier == "high"
    coarse = detector.score_file(path, window=WindowConfig(window_seconds=4.0, hop_seconds=4.0))
    assert len(coarse.windows) < len(base.windows)
    with pytest.raises(ParameterError, match="prior"):
        detector.score_file(path, prior=0.0)


def test_bytes_stereo_and_long_input(detector, fixture_audio) -> None:
    y, sr = sf.read(fixture_audio["bonafide_8k_hts1a"], dtype="float32")
    stereo = np.stack([y, np.zeros_like(y)], axis=1)
    buf = io.BytesIO()
    sf.write(buf, stereo, sr, format="WAV")
    caller = detector.score_file(buf.getvalue(), channel=0)
    agent = detector.score_file(buf.getvalue(), channel=1)
    assert caller.verdict != "not_enough_speech"
    assert agent.verdict == "not_enough_speech"
    # A recording of a minute: many windows, still one call score
    long = np.tile(y, 20)
    d = detector.score_samples(long)
    assert len(d.windows) > 40 and d.duration == pytest.approx(60.0, abs=0.1)
    with pytest.raises(AudioDecodeError):
        detector.score_file(b"definitely not audio")


def test_aggregate_rule() -> None:
    s = np.array([1.0, 5.0, 3.0, 2.0])
    assert aggregate(s, top_k=2) == 4.0
    assert aggregate(s, top_k=0) == 2.75
    assert aggregate(s, top_k=10) == 2.75
    with pytest.raises(ParameterError):
        aggregate(np.array([]), top_k=1)
