"""Speech activity detection: WebRTC VAD behind an energy gate.

:func:`speech_regions` runs the WebRTC VAD (``webrtcvad``) frame by frame on a
high-passed copy of the signal and accepts a frame as speech only if, in addition,

* its RMS level is above :data:`ENERGY_FLOOR_DBFS` (digital silence, DC offsets and
  very quiet noise are never speech), and
* its level is at least :data:`NOISE_MARGIN_DB` above the noise floor, estimated as
  the :data:`NOISE_PERCENTILE` th percentile of the levels of the frames above the
  absolute floor.

Frame decisions are then smoothed: speech runs closer than ``merge_gap_ms`` are merged,
runs shorter than ``min_speech_ms`` are dropped, and the survivors are padded by
``pad_ms`` on both sides.

Behaviour on non-speech signals
-------------------------------
Digital silence and DC give no speech. Stationary signals (white noise, a steady
pure tone, hum) give none or almost none, because the relative gate rejects frames
that are no louder than the signal's own floor. A tone or noise burst that *starts and
stops* over a quieter background passes the energy gate and is then left to WebRTC,
which often calls tones and music speech: this VAD measures "enough voiced-band
activity to score", not "a human is talking".

Rates 8, 16, 32 and 48 kHz are processed natively; any other rate is resampled to
16 kHz internally and the regions are mapped back to indices of the input.

Live audio: :class:`~audio_detect.audio.vad_stream.IncrementalVad` applies this rule to a
growing signal, classifying each frame once (with the differences it documents).
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import webrtcvad
from scipy import signal as sps

from ..constants import (
    DEFAULT_VAD_AGGRESSIVENESS,
    DEFAULT_VAD_FRAME_MS,
    DEFAULT_VAD_MERGE_GAP_MS,
    DEFAULT_VAD_MIN_SPEECH_MS,
    DEFAULT_VAD_PAD_MS,
)
from ..exceptions import ParameterError

__all__ = [
    "ENERGY_FLOOR_DBFS",
    "NOISE_MARGIN_DB",
    "NOISE_PERCENTILE",
    "speech_mask",
    "speech_regions",
    "speech_seconds",
]

logger = logging.getLogger(__name__)

#: Frames quieter than this RMS level (dB re full scale) are never speech.
ENERGY_FLOOR_DBFS = -55.0
#: Frames must be this much louder than the estimated noise floor.
NOISE_MARGIN_DB = 3.0
#: Percentile of frame levels taken as the noise floor.
NOISE_PERCENTILE = 10.0

_NATIVE_RATES = (8000, 16000, 32000, 48000)
_INTERNAL_SR = 16000
_HIGHPASS_HZ = 60.0


def _check_signal(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError.invalid("y", "a 1-D (mono) array", f"shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError.invalid("y", "a floating-point array in [-1, 1]", str(y.dtype))
    if not np.isfinite(y).all():
        raise ParameterError.invalid("y", "finite samples", "an array with NaN or Inf")
    return y


def _check_settings(
    sr: int, aggressiveness: int, frame_ms: int,
    min_speech_ms: int, merge_gap_ms: int, pad_ms: int,
) -> None:  # fmt: skip
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr < 1000:
        raise ParameterError.invalid("sr", "an integer >= 1000", sr)
    if aggressiveness not in (0, 1, 2, 3) or isinstance(aggressiveness, bool):
        raise ParameterError.invalid("aggressiveness", "0, 1, 2 or 3", aggressiveness)
    if frame_ms not in (10, 20, 30) or isinstance(frame_ms, bool):
        raise ParameterError.invalid("frame_ms", "10, 20 or 30", frame_ms)
    for name, value in (
        ("min_speech_ms", min_speech_ms),
        ("merge_gap_ms", merge_gap_ms),
        ("pad_ms", pad_ms),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ParameterError.invalid(name, "a non-negative integer", value)


def _check(
    y: np.ndarray, sr: int, aggressiveness: int, frame_ms: int,
    min_speech_ms: int, merge_gap_ms: int, pad_ms: int,
) -> np.ndarray:  # fmt: skip
    y = _check_signal(y)
    _check_settings(sr, aggressiveness, frame_ms, min_speech_ms, merge_gap_ms, pad_ms)
    return y


def _frame_levels_db(frames: np.ndarray) -> np.ndarray:
    power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / frames.shape[1]
    return 10.0 * np.log10(np.maximum(power, 1e-20))


@functools.lru_cache(maxsize=8)
def _highpass_sos(sr: int) -> np.ndarray:
    """The VAD's high-pass filter (designing it costs ~15 % of a 10 s VAD call)."""
    return sps.butter(2, _HIGHPASS_HZ, btype="highpass", fs=sr, output="sos").astype(np.float32)


def _energy_gate(level: np.ndarray) -> np.ndarray:
    """Frames above :data:`ENERGY_FLOOR_DBFS` and :data:`NOISE_MARGIN_DB` above the noise floor.

    The noise floor is the :data:`NOISE_PERCENTILE` th percentile of the levels (dB) of
    the frames above the absolute floor, among the frames of ``level``.
    """
    gate = level > ENERGY_FLOOR_DBFS
    if gate.any():
        floor = np.percentile(level[gate], NOISE_PERCENTILE)
        gate &= level >= floor + NOISE_MARGIN_DB
    return gate


def _classify(vad: webrtcvad.Vad, frames: np.ndarray, sr: int) -> np.ndarray:
    """WebRTC flags of the high-passed ``(n, frame_len)`` float ``frames``, fed in order."""
    pcm = np.clip(frames * 32768.0, -32768.0, 32767.0).astype("<i2").tobytes()
    step = 2 * frames.shape[1]
    return np.fromiter(
        (vad.is_speech(pcm[k * step : (k + 1) * step], sr) for k in range(len(frames))),
        dtype=bool,
        count=len(frames),
    )


def _frame_decisions(x: np.ndarray, sr: int, aggressiveness: int, frame_len: int) -> np.ndarray:
    """Per-frame speech flags for ``x`` at a WebRTC-supported rate."""
    n_frames = x.size // frame_len
    if n_frames == 0:
        return np.zeros(0, dtype=bool)
    sos = _highpass_sos(sr).copy()  # scipy's sosfilt wants a writable array
    hp = sps.sosfilt(sos, np.asarray(x[: n_frames * frame_len], dtype=np.float32))
    frames = hp.reshape(n_frames, frame_len)
    candidates = np.flatnonzero(_energy_gate(_frame_levels_db(frames)))
    flags = np.zeros(n_frames, dtype=bool)
    if candidates.size == 0:
        return flags
    flags[candidates] = _classify(webrtcvad.Vad(int(aggressiveness)), frames[candidates], sr)
    return flags


def _runs(flags: np.ndarray) -> np.ndarray:
    """``(n, 2)`` [start, end) frame indices of the True runs of ``flags``."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def _merge(regions: np.ndarray, gap: int) -> np.ndarray:
    """Merge regions separated by fewer than ``gap`` samples (overlaps always merge)."""
    if len(regions) < 2:
        return regions
    out = [list(regions[0])]
    for start, end in regions[1:]:
        if start - out[-1][1] < gap or start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return np.asarray(out, dtype=np.int64)


def _smooth(
    flags: np.ndarray, *, sr: int, frame_len: int,
    min_speech_ms: int, merge_gap_ms: int, pad_ms: int,
) -> np.ndarray:  # fmt: skip
    """Regions (samples, not clipped) of the speech frames: merge, drop the short, pad."""
    regions = _runs(flags) * frame_len
    regions = _merge(regions, sr * merge_gap_ms // 1000)
    keep = (regions[:, 1] - regions[:, 0]) >= sr * min_speech_ms // 1000
    regions = regions[keep]
    pad = sr * pad_ms // 1000
    return regions + np.array([-pad, pad])


def _clip(regions: np.ndarray, n: int) -> np.ndarray:
    """``regions`` clipped to ``[0, n]`` (``n`` samples), overlaps merged, empties dropped."""
    regions = np.clip(regions, 0, n).astype(np.int64)
    regions = _merge(regions, 0)
    return regions[regions[:, 1] > regions[:, 0]]


def speech_regions(
    y: np.ndarray,
    *,
    sr: int,
    aggressiveness: int = DEFAULT_VAD_AGGRESSIVENESS,
    frame_ms: int = DEFAULT_VAD_FRAME_MS,
    min_speech_ms: int = DEFAULT_VAD_MIN_SPEECH_MS,
    merge_gap_ms: int = DEFAULT_VAD_MERGE_GAP_MS,
    pad_ms: int = DEFAULT_VAD_PAD_MS,
) -> np.ndarray:
    """Find the speech regions of a mono signal.

    Parameters
    ----------
    y : np.ndarray
        Mono float samples in [-1, 1].
    sr : int
        Sample rate of ``y``.
    aggressiveness : int
        WebRTC VAD mode, 0 (least) to 3 (most aggressive in rejecting non-speech).
    frame_ms : int
        VAD frame length: 10, 20 or 30 ms.
    min_speech_ms : int
        Speech runs shorter than this (after merging) are dropped.
    merge_gap_ms : int
        Speech runs separated by a gap shorter than this are merged.
    pad_ms : int
        Each region is extended by this much on both sides (clipped to the signal).

    Returns
    -------
    np.ndarray
        int64 array of shape ``(n_regions, 2)`` with ``[start, end)`` sample indices
        into ``y``, sorted and non-overlapping.
    """
    y = _check(y, sr, aggressiveness, frame_ms, min_speech_ms, merge_gap_ms, pad_ms)
    empty = np.zeros((0, 2), dtype=np.int64)
    if y.size == 0:
        return empty
    work_sr = int(sr) if sr in _NATIVE_RATES else _INTERNAL_SR
    x = y
    if work_sr != sr:
        from .io import resample

        x = resample(y, orig_sr=int(sr), target_sr=work_sr)
    frame_len = work_sr * frame_ms // 1000
    flags = _frame_decisions(x, work_sr, aggressiveness, frame_len)
    if not flags.any():
        logger.debug("speech_regions: no speech in %.2f s", y.size / sr)
        return empty
    regions = _smooth(
        flags, sr=work_sr, frame_len=frame_len, min_speech_ms=min_speech_ms,
        merge_gap_ms=merge_gap_ms, pad_ms=pad_ms,
    )  # fmt: skip
    if len(regions) == 0:
        return empty
    if work_sr != sr:
        regions = np.round(regions * (sr / work_sr)).astype(np.int64)
    regions = _clip(regions, y.size)
    logger.debug(
        "speech_regions: %d regions, %.2f of %.2f s", len(regions),
        speech_seconds(regions, sr=sr), y.size / sr,
    )  # fmt: skip
    return regions.astype(np.int64, copy=False)


def speech_mask(
    y: np.ndarray,
    *,
    sr: int,
    aggressiveness: int = DEFAULT_VAD_AGGRESSIVENESS,
    frame_ms: int = DEFAULT_VAD_FRAME_MS,
    min_speech_ms: int = DEFAULT_VAD_MIN_SPEECH_MS,
    merge_gap_ms: int = DEFAULT_VAD_MERGE_GAP_MS,
    pad_ms: int = DEFAULT_VAD_PAD_MS,
) -> np.ndarray:
    """Per-sample speech flags; same parameters as :func:`speech_regions`.

    Returns
    -------
    np.ndarray
        bool array of ``len(y)``, True inside a speech region.
    """
    regions = speech_regions(
        y, sr=sr, aggressiveness=aggressiveness, frame_ms=frame_ms,
        min_speech_ms=min_speech_ms, merge_gap_ms=merge_gap_ms, pad_ms=pad_ms,
    )  # fmt: skip
    mask = np.zeros(np.asarray(y).shape[0], dtype=bool)
    for start, end in regions:
        mask[start:end] = True
    return mask


def speech_seconds(regions: np.ndarray, *, sr: int) -> float:
    """Total duration of ``regions`` in seconds.

    Parameters
    ----------
    regions : np.ndarray
        ``(n, 2)`` ``[start, end)`` sample indices, as from :func:`speech_regions`.
    sr : int
        Sample rate the indices refer to.
    """
    regions = np.asarray(regions)
    if regions.size == 0:
        return 0.0
    if regions.ndim != 2 or regions.shape[1] != 2:
        raise ParameterError.invalid("regions", "an (n, 2) array", f"shape {regions.shape}")
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise ParameterError.invalid("sr", "a positive integer", sr)
    return float(np.sum(regions[:, 1] - regions[:, 0])) / float(sr)
