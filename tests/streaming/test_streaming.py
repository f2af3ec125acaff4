"""StreamingScorer: rolling verdicts equal offline scores of the same audio.

Measured tolerance (asserted here): with input at the model rate the final verdict is
bit-identical to ``Detector.score_file`` on the same bytes (|ΔLLR| = 0) and every rolling
verdict equals ``Detector.score_samples`` on the prefix received so far; with
resampling (16 kHz PCM into an 8 kHz model) |ΔLLR| <= 1e-4 (0 measured).
"""

from __future__ import annotations

import numpy as np
import pytest

from audio_detect.audio.io import RawFormat, encode_g711, load_audio
from audio_detect.detector import Detector
from audio_detect.exceptions import AudioTooLongError, ParameterError
from audio_detect.streaming import StreamingScorer


@pytest.fixture(scope="module")
def detector(tiny_gmm_dir) -> Detector:
    return Detector.load(tiny_gmm_dir)


def _push_random(scorer, data, seed, max_chunk=500):
    rng = np.random.default_rng(seed)
    updates, i = [], 0
    while i < len(data):
        n = int(rng.integers(1, max_chunk))
        updates += scorer.push(data[i : i + n])
        i += n
    return updates


@pytest.mark.parametrize(
    "stem",
    [
        "bonafide_lj001-0001",
        "spoof_wavefake_lj001-0001_gen",
        "bonafide_8k_hts1a",
        "spoof_hn-nsf_slt_arctic_b0474",
    ],
)
def test_final_equals_offline_mulaw(detector, fixture_audio, stem):
    y = load_audio(fixture_audio[stem], sr=8000).samples
    data = encode_g711(y, encoding="mulaw")
    offline = detector.score_file(data, raw=RawFormat("mulaw", 8000))
    scorer = StreamingScorer(detector, encoding="mulaw", sample_rate=8000, interval_seconds=1.0)
    updates = _push_random(scorer, data, seed=len(stem))
    final = scorer.finish()
    assert final.final and final.decision.llr == offline.llr  # bit-identical
    assert final.decision.speech_seconds == offline.speech_seconds
    assert [w.llr for w in final.decision.windows] == [w.llr for w in offline.windows]
    assert updates, "at least one rolling verdict"
    assert updates[0].decision.speech_seconds <= 2.6
    assert [u.seq for u in updates] + [final.seq] == list(range(1, len(updates) + 2))


def test_rolling_verdicts_equal_offline_prefix(detector, fixture_audio):
    y = load_audio(fixture_audio["spoof_wavefake_lj001-0001_gen"], sr=8000).samples
    pcm = np.clip(np.round(y * 32768), -32768, 32767).astype("<i2")
    scorer = StreamingScorer(detector, encoding="pcm_s16le", sample_rate=8000,
                             interval_seconds=1.0, scoring="exact")  # fmt: skip
    updates = _push_random(scorer, pcm.tobytes(), seed=7, max_chunk=999)  # odd sizes
    assert len(updates) >= 4
    x = pcm.astype(np.float32) / 32768.0
    for u in updates:
        n = round(u.audio_seconds * 8000)
        prefix = detector.score_samples(x[:n])
        assert u.decision.llr == prefix.llr and u.decision.tier == prefix.tier
    # the cache means each window is scored about once, not once per update
    assert scorer.windows_scored < 2 * len(scorer.finish().decision.windows) + 2 * len(updates)


def test_resampled_stream_within_tolerance(detector, fixture_audio):
    y = load_audio(fixture_audio["bonafide_lj001-0001"], sr=16000).samples
    data = np.clip(np.round(y * 32768), -32768, 32767).astype("<i2").tobytes()
    offline = detector.score_file(data, raw=RawFormat("pcm_s16le", 16000))
    scorer = StreamingScorer(detector, encoding="pcm_s16le", sample_rate=16000)
    _push_random(scorer, data, seed=3, max_chunk=4001)
    final = scorer.finish().decision
    assert abs(final.llr - offline.llr) <= 1e-4 and abs(final.p_spoof - offline.p_spoof) <= 1e-4
    assert final.verdict == offline.verdict and final.tier == offline.tier


def test_first_verdict_after_two_seconds_of_speech_despite_leading_silence(detector, fixture_audio):
    y = load_audio(fixture_audio["bonafide_lj001-0001"], sr=8000).samples
    x = np.concatenate([np.zeros(8000 * 40, np.float32), y])  # 40 s of hold silence first
    scorer = StreamingScorer(detector, encoding="float32", sample_rate=8000)
    updates = []
    for i in range(0, len(x), 160):
        updates += scorer.push(x[i : i + 160])
        if updates:
            break
    first = updates[0].decision
    assert 2.0 <= first.speech_seconds <= 2.6
    assert updates[0].audio_seconds <= 40 + 3.0


def test_interval_and_growth(detector, fixture_audio):
    y = load_audio(fixture_audio["bonafide_lj001-0001"], sr=8000).samples
    x = np.tile(y, 3)
    scorer = StreamingScorer(detector, encoding="float32", sample_rate=8000,
                             interval_seconds=2.0, interval_growth=0.2,
                             scoring="exact")  # fmt: skip
    updates = _push_random(scorer, x, seed=1, max_chunk=800)
    gaps = np.diff([u.audio_seconds for u in updates])
    assert (gaps >= 2.0 - 0.1).all()
    starts = np.array([u.audio_seconds for u in updates[:-1]])
    assert (gaps >= 0.2 * starts - 0.1).all()


def test_silence_and_limits(detector):
    scorer = StreamingScorer(detector, encoding="mulaw", sample_rate=8000, max_seconds=2.0)
    assert scorer.push_silence(8000) == []
    with pytest.raises(AudioTooLongError):
        scorer.push(b"\xff" * 16000)
    final = scorer.finish()
    assert final.decision.verdict == "not_enough_speech" and final.audio_seconds == 2.0
    with pytest.raises(ParameterError):
        scorer.push(b"\xff")
    with pytest.raises(ParameterError):
        StreamingScorer(detector, encoding="opus")
    with pytest.raises(ParameterError):
        StreamingScorer(detector, sample_rate=10)
    with pytest.raises(ParameterError):
        StreamingScorer(detector, encoding="float32").push(b"\x00\x00")


def test_verdicts_do_not_depend_on_chunking(detector, fixture_audio):
    """One big chunk gives the same rolling verdicts as 20 ms frames (first one at ~2 s)."""
    y = load_audio(fixture_audio["bonafide_lj001-0001"], sr=8000).samples
    data = encode_g711(y, encoding="mulaw")
    framed = StreamingScorer(detector, encoding="mulaw", sample_rate=8000, interval_seconds=1.0)
    small = [u for i in range(0, len(data), 160) for u in framed.push(data[i : i + 160])]
    whole = StreamingScorer(detector, encoding="mulaw", sample_rate=8000, interval_seconds=1.0)
    big = whole.push(data)
    assert len(big) == len(small) >= 2
    assert [u.audio_seconds for u in big] == [u.audio_seconds for u in small]
    assert [u.decision.llr for u in big] == [u.decision.llr for u in small]
    assert big[0].decision.speech_seconds <= 2.6


@pytest.mark.parametrize("rate", [8000, 16000])
def test_samples_to_next_check_lands_exactly_on_checks(detector, fixture_audio, rate):
    """Pushing exactly ``input_samples_to_next_check`` samples reaches each check point."""
    y = load_audio(fixture_audio["bonafide_lj001-0001"], sr=rate).samples
    y = np.concatenate([y, y])
    s = StreamingScorer(detector, encoding="float32", sample_rate=rate)
    assert s.input_samples_to_next_check == 0
    pos, updates = 0, []
    while pos < y.size:
        need = max(1, s.input_samples_to_next_check)
        before = s._next_at
        updates += s.push(y[pos : pos + need])
        pos += need
        if pos < y.size and rate == 8000:  # at the model rate the count is exact
            assert s._next_at > before, "the pushed samples did not reach the check point"
    assert updates and updates[0].seq == 1
    # The schedule is the same as when the audio arrives in 20 ms frames.
    t = StreamingScorer(detector, encoding="float32", sample_rate=rate)
    frames = [u for i in range(0, y.size, rate // 50) for u in t.push(y[i : i + rate // 50])]
    assert [u.audio_seconds for u in updates] == pytest.approx(
        [u.audio_seconds for u in frames], abs=0.03
    )


def test_window_cache_keeps_recent_windows_and_stays_bounded():
    """Windows that come back are not rescored; the cache is an LRU bounded by the current count."""
    from audio_detect.audio.windows import SpeechWindows
    from audio_detect.streaming.cache import CACHE_FACTOR, CACHE_SLACK, CachingBackend

    class Counting:
        def __init__(self) -> None:
            self.rows: list[float] = []

        def score_windows(self, windows: np.ndarray) -> np.ndarray:
            self.rows += [float(w[0]) for w in windows]
            return np.asarray(windows)[:, 0] * 2.0

    def run(backend: CachingBackend, first: int, n: int) -> np.ndarray:
        # Window i holds the value first + i and covers recording samples [k, k + 1).
        speech = np.arange(first, first + n, dtype=np.float32)
        windows = SpeechWindows(speech, np.arange(n), 1, np.zeros((n, 2)))
        backend.bind(windows, [((k, k + 1),) for k in range(first, first + n)])
        return backend.score_windows(np.arange(n)[:, None])

    inner = Counting()
    cache = CachingBackend(inner)
    np.testing.assert_array_equal(run(cache, 0, 3), [0.0, 2.0, 4.0])
    run(cache, 10, 3)  # the regions moved: three new windows
    np.testing.assert_array_equal(run(cache, 0, 3), [0.0, 2.0, 4.0])  # ...and moved back
    assert inner.rows == [0, 1, 2, 10, 11, 12] and cache.scored == 6
    for first in range(100, 100 + 40 * 20, 20):  # many distinct windows: bounded
        run(cache, first, 20)
        assert len(cache.cache) <= CACHE_FACTOR * 20 + CACHE_SLACK
    assert len(cache.cache) == CACHE_FACTOR * 20 + CACHE_SLACK
    assert all(((k, k + 1),) in cache.cache for k in range(880, 900))  # the current ones
    assert ((0, 1),) not in cache.cache  # the least recently used went first


# -- frozen mode (the default): each complete window scored once --------------------------
#: Stated bound of the frozen mode (docs/api.md, "Streaming vs offline agreement"): the
#: final LLR of a live call is within FROZEN_LLR_TOLERANCE of ``audio-detect score``
#: (``Detector.score_file``) on the same bytes, with the same verdict. Freezing only
#: changes the answer where the VAD, seeing ``vad_lookback_seconds`` of history instead
#: of the whole call, puts a region edge elsewhere (measured on these calls: max below).
FROZEN_LLR_TOLERANCE = 0.5


def _synthetic_call(fixture_audio, seed: int, n_clips: int = 6) -> np.ndarray:
    """Fixture clips with 0.3-3 s of line noise between them (a 30-60 s call)."""
    clips = [load_audio(p, sr=8000).samples for p in fixture_audio.values()]
    rng = np.random.default_rng(seed)
    parts = []
    for j in rng.integers(0, len(clips), n_clips):
        gap = rng.normal(0, 0.002, int(rng.uniform(0.3, 3.0) * 8000)).astype(np.float32)
        parts += [gap, clips[j]]
    return np.concatenate(parts)


class _CountingBackend:
    def __init__(self, backend):
        self.backend, self.rows = backend, []

    def score_windows(self, windows):
        self.rows.append(len(windows))
        return self.backend.score_windows(windows)


@pytest.mark.parametrize("seed", range(6))
def test_frozen_final_within_stated_bound_of_offline(detector, fixture_audio, seed):
    y = _synthetic_call(fixture_audio, seed)
    data = encode_g711(y, encoding="mulaw")
    offline = detector.score_file(data, raw=RawFormat("mulaw", 8000))
    scorer = StreamingScorer(detector, encoding="mulaw", sample_rate=8000)
    assert scorer.scoring == "frozen"
    updates = [u for i in range(0, len(data), 160) for u in scorer.push(data[i : i + 160])]
    final = scorer.finish().decision
    assert abs(final.llr - offline.llr) <= FROZEN_LLR_TOLERANCE
    assert final.verdict == offline.verdict
    assert abs(final.speech_seconds - offline.speech_seconds) <= 0.5
    assert abs(len(final.windows) - len(offline.windows)) <= 1
    assert 2.0 <= updates[0].decision.speech_seconds <= 2.5  # first verdict: <= 2.5 s of speech


def test_frozen_scores_each_complete_window_once(detector, fixture_audio, monkeypatch):
    y = _synthetic_call(fixture_audio, seed=11, n_clips=8)
    scorer = StreamingScorer(detector, encoding="float32", sample_rate=8000, interval_seconds=1.0)
    counting = _CountingBackend(detector.pipeline.backend)
    monkeypatch.setattr(scorer.pipeline, "backend", counting)
    vad_lengths = []
    real_vad = scorer.pipeline.speech_regions

    def spy(x):
        vad_lengths.append(len(x))
        return real_vad(x)

    monkeypatch.setattr(scorer.pipeline, "speech_regions", spy)
    updates = [u for i in range(0, len(y), 160) for u in scorer.push(y[i : i + 160])]
    final = scorer.finish()
    fz = scorer._frozen
    n_final = len(final.decision.windows)
    assert fz.scored == n_final  # every window of the final verdict scored exactly once
    assert sum(counting.rows) == n_final + fz.provisional_scored
    # provisional windows only until the first window is complete (4 s of speech)
    assert fz.provisional_scored <= 2 + 4.0 / scorer.probe_seconds
    # the pipeline's VAD never runs over the look-back again: frozen mode's incremental VAD
    # classifies each frame once and keeps at most lookback + context + one interval of it
    assert vad_lengths == []
    vad = fz.vad
    assert vad.n_samples == len(y) and 0 < vad.classified <= len(y) // vad.frame_len
    assert vad.kept_frames * vad.frame_len <= (10.0 + 1.0 + 1.0) * 8000 + 240
    assert len(updates) >= 10
    # and the buffer holds a few seconds (context + one interval), not the look-back
    assert scorer._buf.size <= 8 * 8000 < len(y)


def test_frozen_vad_classifies_each_frame_once(detector, fixture_audio, monkeypatch):
    """A check classifies only the frames since the last one: its cost does not grow.

    Counted with ``IncrementalVad.classified`` (its count of WebRTC calls is checked
    against ``webrtcvad.Vad.is_speech`` in tests/audio/test_vad_stream.py).
    """
    from scipy import signal as sps

    from audio_detect.audio.vad import ENERGY_FLOOR_DBFS, _frame_levels_db, _highpass_sos

    y = _synthetic_call(fixture_audio, seed=3, n_clips=20)  # about 2.5 minutes
    scorer = StreamingScorer(detector, encoding="float32", sample_rate=8000)
    fz = scorer._frozen
    checks = []  # (samples received, frames classified by that check)
    real_update = fz.update

    def update(buf, base, n, *, final):
        before = fz.vad.classified
        real_update(buf, base, n, final=final)
        checks.append((n, fz.vad.classified - before))

    monkeypatch.setattr(fz, "update", update)
    for i in range(0, len(y), 160):
        scorer.push(y[i : i + 160])
    scorer.finish()
    frame = fz.vad.frame_len
    prev = 0
    for n, k in checks:
        assert k <= n // frame - prev // frame  # only the frames completed since the last
        prev = n
    late = [k for n, k in checks if n > 60 * 8000]
    assert len(late) > 20 and max(late) <= 3 * 8000 // frame + 1  # one 3 s interval's worth
    # over the call, every frame above the absolute energy floor is classified exactly once
    frames = sps.sosfilt(_highpass_sos(8000).copy(), y)[: len(y) // frame * frame]
    level = _frame_levels_db(frames.reshape(-1, frame))
    assert fz.vad.classified == sum(k for _, k in checks)
    assert fz.vad.classified == np.count_nonzero(level > ENERGY_FLOOR_DBFS)


def test_frozen_falls_back_to_the_pipeline_vad_at_a_non_webrtc_rate(fixture_audio):
    from types import SimpleNamespace

    from audio_detect.audio.vad import speech_regions
    from audio_detect.config import VadConfig, WindowConfig
    from audio_detect.streaming.frozen import FrozenSpeech

    rate, seen = 11025, []

    def vad(x):
        seen.append(len(x))
        return speech_regions(x, sr=rate)

    pipeline = SimpleNamespace(
        model_rate=rate, vad=VadConfig(), window=WindowConfig(), speech_regions=vad
    )
    fz = FrozenSpeech(pipeline, context=rate, lookback=10 * rate)
    assert fz.vad is None  # WebRTC does not run at 11025 Hz: no incremental VAD
    y = load_audio(fixture_audio["bonafide_lj001-0001"], sr=rate).samples
    fz.update(y, 0, len(y), final=True)
    assert seen == [len(y)]
    assert fz.regions == speech_regions(y, sr=rate).tolist()


@pytest.mark.parametrize("stem", ["bonafide_lj001-0001", "spoof_wavefake_lj001-0001_gen"])
def test_exact_mode_final_bit_identical(detector, fixture_audio, stem):
    y = load_audio(fixture_audio[stem], sr=8000).samples
    data = encode_g711(y, encoding="mulaw")
    offline = detector.score_file(data, raw=RawFormat("mulaw", 8000))
    scorer = StreamingScorer(detector, encoding="mulaw", sample_rate=8000, scoring="exact")
    _push_random(scorer, data, seed=5)
    assert scorer.finish().decision.llr == offline.llr


def test_scoring_mode_is_validated(detector):
    with pytest.raises(ParameterError):
        StreamingScorer(detector, scoring="fast")
    with pytest.raises(ParameterError):
        StreamingScorer(detector, freeze_context_seconds=0.1)
