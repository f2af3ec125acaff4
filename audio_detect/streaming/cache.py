"""Window scores a live stream already has, served through the pipeline's backend hook.

:meth:`~audio_detect.scoring.ScoringPipeline.decide` takes the windows and a ``backend``
that scores them. A stream passes windows whose ``stacked()`` yields row indices
(:class:`IndexWindows`) and one of two backends that answer from what it knows:

* :class:`CachingBackend` (``exact`` mode): raw scores keyed by the recording samples
  each window covers (:func:`window_keys`); only windows not seen before reach the
  model's backend;
* :class:`ListBackend` (``frozen`` mode): the raw scores of the windows already scored
  once, by row.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable

import numpy as np

from ..audio.windows import SpeechWindows
from ..backends import Backend

__all__ = [
    "CACHE_FACTOR",
    "CACHE_SLACK",
    "CachingBackend",
    "IndexWindows",
    "ListBackend",
    "window_keys",
]


class IndexWindows(SpeechWindows):
    """Speech windows whose ``stacked()`` yields row indices instead of samples.

    :meth:`~audio_detect.scoring.ScoringPipeline.decide` hands ``stacked()`` to the
    backend; with :class:`CachingBackend` or :class:`ListBackend` this avoids
    materialising every window of a long call.
    """

    def stacked(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.int64)[:, None]


#: The window-score cache keeps the current windows plus up to this many times as many
#: recent others (least recently used dropped first), and at least CACHE_SLACK of them.
CACHE_FACTOR = 4
CACHE_SLACK = 256


class CachingBackend:
    """Backend proxy that scores only windows it has not seen (by sample-span key).

    The cache is not limited to the current windows: the VAD's noise floor is a
    percentile of the whole prefix, so region edges move back and forth by a frame
    from one update to the next, and a window dropped by one update often comes back
    a few updates later. Keeping the recent ones (LRU, bounded by a multiple of the
    current window count) scores 15 % fewer windows on a 30 s call and a third fewer
    on a 300 s one (whisper-cm-8k); the entries are small beside the audio buffer.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.cache: dict[Hashable, float] = {}
        self._windows: SpeechWindows | None = None
        self._keys: list[Hashable] = []
        self.scored = 0

    def bind(self, windows: SpeechWindows, keys: list[Hashable]) -> None:
        self._windows, self._keys = windows, keys

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        assert self._windows is not None  # internal invariant (bind before decide)
        idx = [int(i) for i in np.asarray(windows).reshape(len(windows), -1)[:, 0]]
        missing = [i for i in idx if self._keys[i] not in self.cache]
        if missing:
            batch = np.stack([self._windows.window(i) for i in missing])
            raw = np.asarray(self.backend.score_windows(batch), dtype=np.float64).reshape(-1)
            for i, r in zip(missing, raw, strict=True):
                self.cache[self._keys[i]] = float(r)
            self.scored += len(missing)
        out = np.array([self.cache[self._keys[i]] for i in idx], dtype=np.float64)
        cache = self.cache
        for key in self._keys:  # most recently used last (dicts keep insertion order)
            cache[key] = cache.pop(key)
        excess = len(cache) - (CACHE_FACTOR * len(self._keys) + CACHE_SLACK)
        for key in list(itertools.islice(cache, max(0, excess))):
            del cache[key]
        return out


def window_keys(windows: SpeechWindows, regions: np.ndarray) -> list[Hashable]:
    """Identify each window by the recording sample ranges it covers."""
    regions = np.asarray(regions, dtype=np.int64).reshape(-1, 2)
    if len(windows) == 0:
        return []
    offsets = np.concatenate([[0], np.cumsum(regions[:, 1] - regions[:, 0])])
    keys: list[Hashable] = []
    for start in windows.starts:
        a, b = int(start), int(start) + windows.length
        first = int(np.searchsorted(offsets, a, side="right") - 1)
        last = int(np.searchsorted(offsets, b - 1, side="right") - 1)
        pieces = []
        for r in range(first, last + 1):
            lo = max(a, int(offsets[r])) - int(offsets[r]) + int(regions[r, 0])
            hi = min(b, int(offsets[r + 1])) - int(offsets[r]) + int(regions[r, 0])
            pieces.append((lo, hi))
        keys.append(tuple(pieces))
    return keys


class ListBackend:
    """Backend over already-known raw scores (``windows`` are row indices)."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        idx = np.asarray(windows, dtype=np.int64).reshape(len(windows), -1)[:, 0]
        return self.scores[idx]
