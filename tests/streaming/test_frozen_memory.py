"""Memory of a live call in ``frozen`` mode: bounded, and its buffers reused in place.

A service holds hundreds of calls at once (benchmarks/streams.py: 200 per worker), so what
each call keeps is multiplied: the speech of about one window plus one interval and a few
seconds of audio, in two buffers allocated once, as int16 when the input is PCM16 or G.711
at the model rate. Neither may change a single score: the windows are checked against those
cut from the whole call, and the int16 buffers against the float32 ones.
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
    assert scorer._buf.dtype == np.int16 and scorer._frozen.speech.dtype == np.int16
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
    # the whole per-call audio state: 16 s of int16 at 8 kHz
    assert scorer._buf.nbytes + fz.held_bytes <= 16 * RATE * 2


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


def _updates(scorer: StreamingScorer, chunks: list) -> list[tuple]:
    ups = [u for c in chunks for u in scorer.push(c)] + [scorer.finish()]
    return [(u.seq, u.audio_seconds, u.decision.llr, u.decision.verdict,
             u.decision.speech_seconds, [(w.start, w.llr) for w in u.decision.windows])
            for u in ups]  # fmt: skip


@pytest.mark.parametrize("encoding", ["mulaw", "alaw", "pcm_s16le"])
def test_int16_buffers_score_exactly_as_float32_ones(detector, fixture_audio, encoding):
    y = _synthetic_call(fixture_audio, seed=5)
    if encoding == "pcm_s16le":
        data = (np.clip(np.round(y * 32768), -32768, 32767).astype("<i2")).tobytes()
    else:
        data = encode_g711(y, encoding=encoding)
    width = 2 if encoding == "pcm_s16le" else 1
    step = 160 * width
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    pcm16 = StreamingScorer(detector, encoding=encoding, sample_rate=RATE)
    f32 = StreamingScorer(detector, encoding="float32", sample_rate=RATE)
    assert pcm16._buf.dtype == np.int16 and f32._buf.dtype == np.float32
    floats = [decode_raw(c, encoding=encoding, sr=RATE) for c in chunks]
    expected = _updates(f32, floats)
    assert len(expected) > 5
    assert _updates(pcm16, chunks) == expected  # bit-identical, every rolling verdict


def test_float_samples_pcm16_cannot_hold_switch_the_call_to_float32(detector, fixture_audio):
    y = _synthetic_call(fixture_audio, seed=7)
    data = encode_g711(y, encoding="mulaw")
    half = len(data) // 2
    head = [data[i : i + 800] for i in range(0, half, 800)]
    tail = decode_raw(data[half:], encoding="mulaw", sr=RATE) * np.float32(0.9)  # not k/32768
    scorer = StreamingScorer(detector, encoding="mulaw", sample_rate=RATE)
    first = [u for c in head for u in scorer.push(c)]
    assert scorer._buf.dtype == np.int16
    scorer.push_silence(400)  # zeros: PCM16 holds them, nothing changes
    assert scorer._buf.dtype == np.int16
    rest = scorer.push(tail)
    assert scorer._buf.dtype == np.float32 and scorer._frozen.speech.dtype == np.float32
    final = scorer.finish()
    f32 = StreamingScorer(detector, encoding="float32", sample_rate=RATE)
    chunks = [decode_raw(c, encoding="mulaw", sr=RATE) for c in head]
    expected = _updates(f32, [*chunks, np.zeros(400, np.float32), tail])
    got = [*first, *rest, final]
    assert [(u.seq, u.decision.llr, u.decision.verdict) for u in got] == [
        (e[0], e[2], e[3]) for e in expected
    ]
