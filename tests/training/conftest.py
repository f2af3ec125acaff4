"""Shared helpers of the training tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:  # the training package needs torch, which the core install lacks
    from audio_detect.training.data import CachedClip


def tone_clips(n: int, rng: np.random.Generator) -> list[CachedClip]:
    """``n`` 2 s clips at 16 kHz, alternating bona fide (clean tone) and spoof (noisy tone)."""
    from audio_detect.training.data import CachedClip

    t = np.arange(2 * 16000) / 16000
    clips = []
    for i in range(n):
        label = i % 2
        wave = np.sin(2 * np.pi * (150 + 40 * rng.random()) * t)
        wave = wave + (0.3 if label else 0.05) * rng.standard_normal(t.size)
        audio = (0.3 * wave / np.abs(wave).max() * 32767).astype(np.int16)
        clips.append(
            CachedClip(
                utt_id=f"u{i}", audio=audio, regions=np.array([[0, audio.size]]), label=label,
                system="bonafide" if label == 0 else "sys", group=f"g{i % 4}",
            )
        )  # fmt: skip
    return clips


@pytest.fixture
def make_clips() -> Callable[[int, np.random.Generator], list[CachedClip]]:
    """:func:`tone_clips`, for tests that train a tiny model."""
    return tone_clips
