"""One windowing rule shared by offline, streaming and batch scoring.

Speech regions are concatenated (silence and hold music dropped) and the speech
stream is cut into windows of ``window_seconds`` every ``hop_seconds``. When the
speech is shorter than one window but at least ``min_speech_seconds``, the whole
speech stream is one window. Each window remembers where it lies in the original
recording so that callers get a timeline in recording time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import WindowConfig

__all__ = ["SpeechWindows", "concat_regions", "cut_windows", "window_starts"]


@dataclass(frozen=True)
class SpeechWindows:
    """Windows cut from the concatenated speech of one recording.

    Attributes
    ----------
    speech : np.ndarray
        The concatenated speech samples.
    starts : np.ndarray
        Start of each window in ``speech`` (samples).
    length : int
        Window length in samples (the last window may be shorter only when there is
        a single window).
    spans : np.ndarray
        ``(n_windows, 2)`` start and end of each window in the original recording,
        in seconds.
    """

    speech: np.ndarray
    starts: np.ndarray
    length: int
    spans: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def window(self, i: int) -> np.ndarray:
        """Return the samples of window ``i``."""
        s = int(self.starts[i])
        return self.speech[s : s + self.length]

    def stacked(self) -> np.ndarray:
        """Return all windows as a new ``(n_windows, length)`` array.

        Copied window by window: a gather through an ``(n_windows, length)`` index
        array cost 7x the CPU (0.14 vs 0.02 ms for two 4 s windows at 8 kHz).
        """
        out = np.empty((len(self), self.length), dtype=self.speech.dtype)
        for i in range(len(self)):
            out[i] = self.window(i)
        return out


def concat_regions(y: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``y[start:end]`` for each region.

    Returns
    -------
    speech : np.ndarray
        The concatenated samples.
    offsets : np.ndarray
        ``offsets[i]`` is where region ``i`` begins inside ``speech``; length ``n + 1``.
    """
    regions = np.asarray(regions, dtype=np.int64).reshape(-1, 2)
    if len(regions) == 0:
        return y[:0], np.zeros(1, dtype=np.int64)
    lengths = regions[:, 1] - regions[:, 0]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    speech = np.concatenate([y[s:e] for s, e in regions])
    return speech, offsets


def window_starts(n_samples: int, *, length: int, hop: int) -> np.ndarray:
    """Return window starts covering ``n_samples`` with windows of ``length`` every ``hop``.

    The last window is aligned to the end so the tail of the speech is scored too.
    """
    if n_samples <= length:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_samples - length + 1, hop, dtype=np.int64)
    if starts[-1] + length < n_samples:
        starts = np.append(starts, n_samples - length)
    return starts


def _to_recording_time(pos: np.ndarray, regions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Map sample positions in the concatenated speech back to recording samples."""
    idx = np.clip(np.searchsorted(offsets, pos, side="right") - 1, 0, len(regions) - 1)
    return regions[idx, 0] + (pos - offsets[idx])


def cut_windows(
    y: np.ndarray, *, sr: int, regions: np.ndarray, config: WindowConfig
) -> SpeechWindows:
    """Cut the speech regions of ``y`` into windows following ``config``.

    Returns an empty :class:`SpeechWindows` when the speech is shorter than
    ``config.min_speech_seconds`` (the caller reports ``not_enough_speech``).
    """
    regions = np.asarray(regions, dtype=np.int64).reshape(-1, 2)
    speech, offsets = concat_regions(y, regions)
    length = round(config.window_seconds * sr)
    hop = max(1, round(config.hop_seconds * sr))
    min_len = max(1, round(config.min_speech_seconds * sr))
    if len(speech) < min_len:
        return SpeechWindows(speech, np.zeros(0, np.int64), length, np.zeros((0, 2)))
    starts = window_starts(len(speech), length=length, hop=hop)
    length = min(length, len(speech))
    begin = _to_recording_time(starts, regions, offsets)
    end = _to_recording_time(starts + length - 1, regions, offsets) + 1
    spans = np.stack([begin, end], axis=1).astype(np.float64) / sr
    return SpeechWindows(speech, starts, length, spans)
