"""Incremental speech activity detection for live audio: each frame classified once.

:class:`IncrementalVad` takes a signal in chunks and answers, at any time, "which
samples of ``[start, now)`` are speech" with the rule of
:func:`~audio_detect.audio.vad.speech_regions`, at a cost that does not grow with the
length of the signal. The expensive per-frame work is done once per frame, as the audio
arrives: the high-pass filter (its state carried across chunks), the frame level and
the WebRTC decision (one ``webrtcvad.Vad`` fed the frames in order). A call of
:meth:`IncrementalVad.regions` only redoes the cheap parts over the frames it is asked
about: the relative energy gate (noise-floor percentile of those frames) and the
smoothing (merge, minimum length, padding), with the helpers ``speech_regions`` uses.

Differences from :func:`~audio_detect.audio.vad.speech_regions` on the same samples
--------------------------------------------------------------------------------------
* **WebRTC sees other frames.** Offline, WebRTC is fed only the frames that pass both
  energy gates, and a fresh ``Vad`` on every call. The relative gate is not known when a
  frame arrives (it depends on the frames around it), so here every frame above
  :data:`~audio_detect.audio.vad.ENERGY_FLOOR_DBFS` is fed, in order, to one ``Vad``
  for the whole stream; a frame is speech if WebRTC said so *and* it passes the
  relative gate computed at query time. WebRTC adapts to what it is fed, so a few
  frame decisions differ from the offline ones (tested: speech-sample IoU >= 0.9 with
  ``speech_regions`` on the speech fixtures).
* **The filter has history.** The high-pass state runs from the first sample pushed, so
  with ``start > 0`` the first frames of the queried span are filtered with their true
  past rather than from rest (over the whole signal, ``start=0``, the filtered samples and
  frame levels are bit-identical to the offline ones).
* **Native rates only.** WebRTC runs at 8, 16, 32 and 48 kHz; ``speech_regions``
  resamples other rates internally, which a chunked input cannot do the same way, so
  other rates raise :class:`~audio_detect.exceptions.ParameterError` (resample first).

Frames are on the absolute grid of the stream (frame ``k`` covers samples
``[k * frame_len, (k + 1) * frame_len)``); samples of an incomplete last frame are
held until the frame completes and, like the trailing partial frame offline, are never
speech by themselves (padding can still reach them).
"""

from __future__ import annotations

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
from .vad import (
    _NATIVE_RATES,
    ENERGY_FLOOR_DBFS,
    _check_settings,
    _check_signal,
    _classify,
    _clip,
    _energy_gate,
    _frame_levels_db,
    _highpass_sos,
    _smooth,
)

__all__ = ["IncrementalVad"]


class IncrementalVad:
    """Speech regions of a growing signal, each frame high-passed and classified once.

    Parameters
    ----------
    sr : int
        Sample rate: 8000, 16000, 32000 or 48000 (the rates WebRTC runs at).
    aggressiveness, frame_ms, min_speech_ms, merge_gap_ms, pad_ms : int
        As in :func:`~audio_detect.audio.vad.speech_regions`.

    Attributes
    ----------
    n_samples : int
        Samples pushed so far.
    classified : int
        Frames given to WebRTC so far (one ``is_speech`` call each; the frames at or
        below the absolute energy floor are never given to it).

    Raises
    ------
    ParameterError
        A setting is invalid, or ``sr`` is not a rate WebRTC runs at.

    Notes
    -----
    Memory grows with the frames kept (a float level and a flag per frame) until
    :meth:`trim` drops those a caller no longer asks about; the high-passed samples are
    not kept (only those of the incomplete last frame). How the answers differ from
    :func:`~audio_detect.audio.vad.speech_regions` is described in
    :mod:`audio_detect.audio.vad_stream`.
    """

    #: The sample rates it accepts (those WebRTC runs at).
    SAMPLE_RATES: tuple[int, ...] = _NATIVE_RATES

    def __init__(
        self,
        *,
        sr: int,
        aggressiveness: int = DEFAULT_VAD_AGGRESSIVENESS,
        frame_ms: int = DEFAULT_VAD_FRAME_MS,
        min_speech_ms: int = DEFAULT_VAD_MIN_SPEECH_MS,
        merge_gap_ms: int = DEFAULT_VAD_MERGE_GAP_MS,
        pad_ms: int = DEFAULT_VAD_PAD_MS,
    ) -> None:
        _check_settings(sr, aggressiveness, frame_ms, min_speech_ms, merge_gap_ms, pad_ms)
        if sr not in self.SAMPLE_RATES:
            raise ParameterError.invalid(
                "sr", f"a WebRTC VAD rate, one of {self.SAMPLE_RATES} (resample first)", sr
            )
        self.sr = int(sr)
        self.aggressiveness = int(aggressiveness)
        self.frame_ms = int(frame_ms)
        self.min_speech_ms = int(min_speech_ms)
        self.merge_gap_ms = int(merge_gap_ms)
        self.pad_ms = int(pad_ms)
        self.frame_len = self.sr * self.frame_ms // 1000
        self.n_samples = 0
        self.classified = 0
        self._sos = _highpass_sos(self.sr).copy()  # scipy's sosfilt wants a writable array
        self._zi = np.zeros((self._sos.shape[0], 2), dtype=np.float32)
        self._vad = webrtcvad.Vad(self.aggressiveness)
        self._partial = np.zeros(0, dtype=np.float32)  # high-passed, incomplete last frame
        self._first = 0  # frame index of _level[0] / _speech[0]
        self._level = np.zeros(0, dtype=np.float64)  # frame levels, dB re full scale
        self._speech = np.zeros(0, dtype=bool)  # WebRTC's flags (False at or below the floor)

    @property
    def kept_frames(self) -> int:
        """Frames whose level and WebRTC flag are held (see :meth:`trim`)."""
        return int(self._level.size)

    @property
    def first_sample(self) -> int:
        """First sample :meth:`regions` can start at (the start of the first kept frame)."""
        return self._first * self.frame_len

    def push(self, y: np.ndarray) -> None:
        """Append samples: filter them, and level and classify the frames they complete.

        Parameters
        ----------
        y : np.ndarray
            Mono float samples in [-1, 1], the continuation of those pushed before.
        """
        y = _check_signal(y)
        if y.size == 0:
            return
        hp, self._zi = sps.sosfilt(self._sos, y.astype(np.float32, copy=False), zi=self._zi)
        hp = np.concatenate([self._partial, hp.astype(np.float32, copy=False)])
        n = hp.size // self.frame_len
        self._partial = hp[n * self.frame_len :].copy()
        self.n_samples += y.size
        if n == 0:
            return
        frames = hp[: n * self.frame_len].reshape(n, self.frame_len)
        level = _frame_levels_db(frames)
        speech = np.zeros(n, dtype=bool)
        loud = np.flatnonzero(level > ENERGY_FLOOR_DBFS)
        if loud.size:
            speech[loud] = _classify(self._vad, frames[loud], self.sr)
            self.classified += int(loud.size)
        self._level = np.concatenate([self._level, level])
        self._speech = np.concatenate([self._speech, speech])

    def regions(self, start: int = 0) -> np.ndarray:
        """Speech regions of the samples ``[start, n_samples)``.

        The energy gate's noise floor is estimated over the frames of that span only,
        as :func:`~audio_detect.audio.vad.speech_regions` would on that slice.

        Parameters
        ----------
        start : int
            First sample of the span: a multiple of :attr:`frame_len`, at least
            :attr:`first_sample` and at most :attr:`n_samples`.

        Returns
        -------
        np.ndarray
            int64 ``(n_regions, 2)`` ``[start, end)`` indices of the stream's samples
            (not of the span), sorted and non-overlapping, within ``[start, n_samples]``.

        Raises
        ------
        ParameterError
            ``start`` is not frame-aligned, already trimmed, or past the end.
        """
        self._check_start(start)
        empty = np.zeros((0, 2), dtype=np.int64)
        i = start // self.frame_len - self._first
        flags = self._speech[i:] & _energy_gate(self._level[i:])
        if not flags.any():
            return empty
        regions = _smooth(
            flags, sr=self.sr, frame_len=self.frame_len, min_speech_ms=self.min_speech_ms,
            merge_gap_ms=self.merge_gap_ms, pad_ms=self.pad_ms,
        )  # fmt: skip
        if len(regions) == 0:
            return empty
        return _clip(regions, self.n_samples - start) + start

    def trim(self, before: int) -> None:
        """Drop the frames that end at or before sample ``before`` (bounds memory).

        Afterwards :meth:`regions` accepts starts from the first frame not dropped.
        """
        drop = min(int(before) // self.frame_len - self._first, self._level.size)
        if drop > 0:
            self._level = self._level[drop:].copy()
            self._speech = self._speech[drop:].copy()
            self._first += drop

    def _check_start(self, start: int) -> None:
        if (
            isinstance(start, bool)
            or not isinstance(start, int | np.integer)
            or start % self.frame_len
            or not self.first_sample <= start <= self.n_samples
        ):
            raise ParameterError.invalid(
                "start",
                f"a multiple of {self.frame_len} in [{self.first_sample}, {self.n_samples}]",
                start,
            )
