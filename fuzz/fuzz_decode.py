"""Atheris harness: the decode + feature path (``load_audio`` -> VAD -> LFCC -> GMM score).

Any input must either raise a typed :class:`~audio_detect.exceptions.AudioDetectError`
or produce finite, in-range samples, finite features and a finite decision. Anything
else (another exception, NaN, a crash of a C library) is a finding.

The first input byte picks the path: a container (content-detected), headerless
PCM16/µ-law/A-law at a fuzzed rate and channel count, or the detector end to end.

Run (bounded; see fuzz/README.md)::

    .venv/bin/python fuzz/fuzz_decode.py fuzz/corpus/decode -max_total_time=240 \
        -rss_limit_mb=2048 -timeout=30 -artifact_prefix=fuzz/crashers/
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["audio_detect"]):
    import numpy as np

    from audio_detect.audio.io import RawFormat, load_audio
    from audio_detect.exceptions import AudioDetectError

REPO = Path(__file__).resolve().parent.parent
_DETECTOR = None


def detector():  # type: ignore[no-untyped-def]
    """The default model, loaded once (the end-to-end path)."""
    global _DETECTOR
    if _DETECTOR is None:
        from audio_detect.detector import Detector
        from audio_detect.registry import load_model_dir

        _DETECTOR = Detector(load_model_dir(root=REPO / "models"))
    return _DETECTOR


def check(data: bytes) -> None:
    """One input; raises AssertionError (or anything untyped) on a finding."""
    if not data:
        return
    mode, body = data[0] % 4, data[1:]
    try:
        if mode == 3:
            decision = detector().score_file(body, max_seconds=60)
            assert decision.llr is None or np.isfinite(decision.llr), decision
            return
        raw = None
        if mode in (1, 2) and len(body) > 3:
            encoding = ("pcm_s16le", "mulaw", "alaw")[body[0] % 3]
            rate = 1000 + int.from_bytes(body[1:3], "little") * 12
            raw = RawFormat(encoding, rate, 1 + body[3] % 4)
            body = body[4:]
        audio = load_audio(body, sr=8000, max_seconds=60, raw=raw)
    except AudioDetectError:
        return
    y = audio.samples
    assert y.dtype == np.float32 and y.ndim == 1 and y.size > 0
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
    from audio_detect.config import FeatureConfig
    from audio_detect.features import compute_features

    config = FeatureConfig(kind="lfcc", sr=8000, n_fft=256, win_length=160, hop_length=80)
    feats = compute_features(y[: 8000 * 5], config=config)
    assert np.isfinite(feats).all()


def main() -> None:
    """libFuzzer entry point."""
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
