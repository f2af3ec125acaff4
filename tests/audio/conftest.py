"""Shared helpers for the audio tests: a speech-like test signal and in-memory encoders."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest


def speechlike(seconds: float = 1.0, sr: int = 16000, *, seed: int = 0) -> np.ndarray:
    """Harmonic tone (f0 around 140 Hz with 5 Hz vibrato), syllable-rate envelope, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    f0 = 140.0 + 15.0 * np.sin(2 * np.pi * 5.0 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    nyq_harmonics = max(1, int((sr / 2 - 200) // 200))
    y = sum(np.sin(k * phase) / k for k in range(1, min(12, nyq_harmonics) + 1))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t) ** 2
    y = 0.25 * envelope * y / np.max(np.abs(y)) + 0.002 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def sf_encode(y: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    """Encode with soundfile to bytes; ``y`` is ``(n,)`` or ``(channels, n)``."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y.T if y.ndim == 2 else y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def av_encode(
    y: np.ndarray, sr: int, fmt: str, codec: str, *, bit_rate: int | None = None
) -> bytes:
    """Encode mono ``y`` with PyAV/FFmpeg to bytes (skips the test if the encoder is missing)."""
    import av

    try:
        av.codec.Codec(codec, "w")
    except Exception:  # any failure means "not available here"
        pytest.skip(f"FFmpeg encoder {codec!r} is not available")
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=sr, layout="mono")
        if bit_rate:
            stream.codec_context.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(
            y[None, :].astype(np.float32), format="flt", layout="mono"
        )
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


@pytest.fixture
def make_speech() -> Callable[..., np.ndarray]:
    """Factory fixture for :func:`speechlike`."""
    return speechlike


@pytest.fixture
def sf_enc() -> Callable[..., bytes]:
    """Factory fixture for :func:`sf_encode`."""
    return sf_encode


@pytest.fixture
def av_enc() -> Callable[..., bytes]:
    """Factory fixture for :func:`av_encode`."""
    return av_encode
