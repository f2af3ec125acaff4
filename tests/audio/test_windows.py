import numpy as np
import pytest

from audio_detect.audio.windows import concat_regions, cut_windows, window_starts
from audio_detect.config import WindowConfig
from audio_detect.exceptions import ParameterError


def test_window_starts_cover_the_tail() -> None:
    starts = window_starts(10, length=4, hop=3)
    assert starts.tolist() == [0, 3, 6]
    starts = window_starts(11, length=4, hop=3)
    assert starts.tolist() == [0, 3, 6, 7]
    assert window_starts(3, length=4, hop=1).tolist() == [0]


def test_concat_regions_offsets() -> None:
    y = np.arange(100, dtype=np.float32)
    speech, offsets = concat_regions(y, np.array([[10, 20], [50, 55]]))
    assert speech.tolist() == list(range(10, 20)) + list(range(50, 55))
    assert offsets.tolist() == [0, 10, 15]


def test_cut_windows_maps_back_to_recording_time() -> None:
    sr = 100
    y = np.zeros(1000, dtype=np.float32)
    regions = np.array([[100, 400], [600, 900]])  # 3 s + 3 s of speech
    w = cut_windows(y, sr=sr, regions=regions, config=WindowConfig(4.0, 1.0, 1.0, 3))
    assert len(w) == 3 and w.length == 400
    assert w.stacked().shape == (3, 400)
    # first window: speech [0, 400) = recording [100, 400) + [600, 700)
    assert w.spans[0].tolist() == [1.0, 7.0]
    assert w.spans[-1].tolist() == [3.0, 9.0]


def test_short_and_empty_speech() -> None:
    sr = 100
    y = np.zeros(1000, dtype=np.float32)
    cfg = WindowConfig(window_seconds=4.0, hop_seconds=1.0, min_speech_seconds=1.0)
    one = cut_windows(y, sr=sr, regions=np.array([[0, 150]]), config=cfg)
    assert len(one) == 1 and one.length == 150
    none = cut_windows(y, sr=sr, regions=np.array([[0, 50]]), config=cfg)
    assert len(none) == 0
    empty = cut_windows(y, sr=sr, regions=np.zeros((0, 2)), config=cfg)
    assert len(empty) == 0


@pytest.mark.parametrize("regions", [[[100, 400], [600, 900]], [[0, 150]], [[0, 50]]])
def test_stacked_copies_each_window(regions: list[list[int]]) -> None:
    y = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    cfg = WindowConfig(window_seconds=4.0, hop_seconds=1.0, min_speech_seconds=1.0)
    w = cut_windows(y, sr=100, regions=np.array(regions), config=cfg)
    x = w.stacked()
    assert x.shape == (len(w), w.length) and x.dtype == np.float32
    for i in range(len(w)):
        s = int(w.starts[i])
        assert np.array_equal(x[i], w.speech[s : s + w.length])
    assert not np.shares_memory(x, w.speech)


def test_window_config_validation() -> None:
    with pytest.raises(ParameterError, match="hop_seconds"):
        WindowConfig(window_seconds=1.0, hop_seconds=2.0)
