"""Fixtures of the batch tests: an archive of real recordings in several encodings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]

try:  # the batch extra (pyarrow, ray[data]); without it these tests are not collected
    import pyarrow  # noqa: F401
except ImportError:  # pragma: no cover
    collect_ignore_glob = ["test_*.py"]
#: (suffix, soundfile format, subtype, sample rate or None for the source rate, stereo)
VARIANTS = (
    (".flac", None, None, None, False),  # byte copy of the committed clip
    (".wav", "WAV", "PCM_16", None, False),
    (".wav", "WAV", "ULAW", 8000, False),  # telephone G.711 u-law
    (".ogg", "OGG", "VORBIS", None, False),
    (".mp3", "MP3", "MPEG_LAYER_III", None, False),
    (".wav", "WAV", "PCM_16", 8000, True),  # stereo, caller on both channels
)
N_SHARED = 12


def shared_dir() -> Path:
    """``$AUDIO_DETECT_SHARED`` or ``<repo>/../shared`` (as in the top-level conftest)."""
    return Path(os.environ.get("AUDIO_DETECT_SHARED", REPO.parent / "shared"))


def _resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    from audio_detect.audio.io import resample

    return resample(y, orig_sr=sr, target_sr=target)


def build_archive(root: Path, fixture_audio: dict[str, Path]) -> list[Path]:
    """Re-encode the four committed clips six ways each, plus a few shared-corpus files."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, src in fixture_audio.items():
        y, sr = sf.read(src, dtype="float32")
        for i, (suffix, fmt, subtype, rate, stereo) in enumerate(VARIANTS):
            out = root / f"{stem}_v{i}{suffix}"
            if fmt is None:
                shutil.copyfile(src, out)
            else:
                z, zr = (y, sr) if rate is None or rate == sr else (_resample(y, sr, rate), rate)
                data = np.stack([z, 0.5 * z], axis=1) if stereo else z
                sf.write(out, data, zr, format=fmt, subtype=subtype)
            paths.append(out)
    corpus = shared_dir() / "corpus"
    if (corpus / "manifest.csv").is_file():
        sub = root / "shared"
        sub.mkdir()
        for src in sorted(corpus.rglob("*.flac"))[::97][:N_SHARED]:
            dst = sub / f"{src.parent.name}_{src.name}"
            shutil.copyfile(src, dst)
            paths.append(dst)
    return sorted(paths)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, fixture_audio) -> list[Path]:
    """A few dozen real recordings (24 re-encoded fixture clips + shared corpus files)."""
    return build_archive(tmp_path_factory.mktemp("archive"), fixture_audio)
