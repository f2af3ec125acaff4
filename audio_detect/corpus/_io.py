"""The corpus's one private audio I/O helper (reading sources, writing FLAC atomically).

Kept small so it can switch to :mod:`audio_detect.audio.io` wholesale.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from ..exceptions import AudioDecodeError

__all__ = ["read_audio", "resample", "write_flac"]


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a file as mono float32 at its own rate (GSM and other sox formats via sox)."""
    p = Path(path)
    try:
        y, sr = sf.read(str(p), dtype="float32", always_2d=True)
        return y.mean(axis=1).astype(np.float32), int(sr)
    except (sf.LibsndfileError, RuntimeError) as exc:
        exe = shutil.which("sox")
        if exe is None:
            raise AudioDecodeError(f"Cannot decode {p}: {exc}") from exc
    proc = subprocess.run(
        [exe, str(p), "-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-"],
        capture_output=True,
        check=False,
    )
    info = subprocess.run([exe, "--i", "-r", str(p)], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or info.returncode != 0:
        raise AudioDecodeError(f"Cannot decode {p}: {proc.stderr.decode(errors='replace')}")
    y = np.frombuffer(proc.stdout, dtype="<i2").astype(np.float32) / 32768.0
    return y, int(float(info.stdout.strip()))


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with soxr HQ through :func:`audio_detect.audio.io.resample`."""
    from ..audio.io import resample as _resample

    return _resample(
        np.asarray(y, dtype=np.float32), orig_sr=int(orig_sr), target_sr=int(target_sr)
    )


def write_flac(path: str | os.PathLike[str], y: np.ndarray, sr: int) -> None:
    """Write 16-bit FLAC through a temporary name and an atomic rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    sf.write(str(tmp), np.clip(y, -1.0, 1.0), sr, subtype="PCM_16", format="FLAC")
    os.replace(tmp, p)
