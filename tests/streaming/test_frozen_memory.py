"""Memory of a live call in ``frozen`` mode: bounded, and its buffers reused in place.

A service holds hundreds of calls at once (benchmarks/streams.py: 200 per worker), so what
each call keeps is multiplied: the speech of about one window plus one interval and a few
seconds of audio, in two buffers allocated once. Dropping the older speech must not
change a single window: the scores are checked against windows cut from the whole call.
"""

from __future__ import annotations

import numpy as np
import pytest

from audio_detect.audio.io import encode_g711
from audio_detect.audio.raw import decode_raw
from audio_detect.audio.windows import window_starts
from audio_detect.detector import Detector
from audio_detect.streaming import StreamingScorer

from .test_streaming import _synthetic_call

RATE = 8000


@pytest.fixture(scope="module")
def detector(tiny_gmm_dir) -> Detector:
    return Detector.load(tiny_gmm_dir)


@pytest.fixture(scope="module")
def long_call(fixture_audio) -> bytes:
    """About 2.5 minutes of µ-law speech with pauses."""
    return encode_g711(_synthetic_call(fixture_audio, seed=3, n_clips=20), encoding="mulaw")


def _stream(detector: Detector, data: bytes, frame: int = 160):
    scorer = StreamingScorer(detector, encoding="mulaw", sample_rate=RATE)
    fz = scorer._frozen
    buffers = (scorer._buf, fz._speech_buf)
    held = []
    for i in range(0, len(data), frame):
        scorer.push(data[i : i + frame])
        held.append(fz.speech.size)
    final = scorer.finish()
    return scorer, final, buffers, held


def test_frozen_call_holds_one_window_and_an_interval_in_buffers_reused_in_place(
    detector, long_call
):
    scorer, final, (buf, speech_buf), held = _stream(detector, long_call)
    fz = scorer._frozen
    assert len(long_call) > 120 * RATE and len(final.decision.windows) > 10
    # the two buffers are those of the first frame: compacted in place, never reallocated
    # (a fresh array per compaction fragmented the heap of a server holding 200 calls)
    assert scorer._buf is buf and fz._speech_buf is speech_buf
    # speech held: at most one window plus the speech of one interval (3 s) and the
    # freeze context (1 s), however long the call
    assert max(held) <= fz.length + 4 * RATE
    assert fz.speech_base > len(long_call) // 4
    # the whole per-call audio state: 16 s of float32 at 8 kHz
    assert scorer._buf.nbytes + fz.held_bytes <= 16 * RATE * 4


def test_frozen_windows_equal_those_cut_from_the_whole_calls_speech(detector, long_call):
    scorer, final, _, _ = _stream(detector, long_call, frame=480)
    fz = scorer._frozen
    y = np.clip(decode_raw(long_call, encoding="mulaw", sr=RATE), -1.0, 1.0)
    speech = np.concatenate([y[a:b] for a, b in fz.regions])
    assert len(speech) == fz.speech_n
    starts = window_starts(len(speech), length=fz.length, hop=fz.hop)
    expected = detector.pipeline.backend.score_windows(
        np.stack([speech[s : s + fz.length] for s in starts])
    )
    assert len(fz.scores) == len(starts)
    np.testing.assert_allclose(fz.scores, expected, rtol=0, atol=1e-9)
    assert [w.start for w in final.decision.windows] == [s for s, _ in fz.spans]
