"""The analyst console's pictures: spectrogram PNGs and DET curves in probit space.

Pure functions of samples and manifests (no HTTP, no store), used by
:mod:`audio_detect_service.routers.console`:

* :func:`spectrogram_payload`: a log-power STFT (the library's
  :func:`~audio_detect.features.linear_spectrogram`) as a colour PNG, with the speech
  regions of the model's VAD;
* :func:`encode_png`: the dependency-free PNG encoder it uses;
* :func:`det_payload`: the DET curves a manifest stores (``evaluate --update-card``)
  on probit axes.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from typing import Any

import numpy as np

from audio_detect.audio.vad import speech_regions
from audio_detect.config import VadConfig

__all__ = ["det_payload", "encode_png", "spectrogram_payload"]

_DB_RANGE = 80.0
# inferno at 0, 1/4, 1/2, 3/4, 1 (dark = quiet); the score trace is drawn in cyan over it.
_CMAP = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float64
)
_DET_TICKS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9)


# -- spectrogram ----------------------------------------------------------------------
def encode_png(rgb: np.ndarray) -> bytes:
    """Encode an ``(height, width, 3)`` uint8 array as a PNG (no dependency)."""
    h, w, _ = rgb.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _colorize(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> RGB uint8 through :data:`_CMAP`."""
    xs = np.linspace(0.0, 1.0, len(_CMAP))
    return np.stack([np.interp(values, xs, _CMAP[:, c]) for c in range(3)], axis=-1).astype(
        np.uint8
    )


def spectrogram_payload(
    y: np.ndarray, sr: int, *, max_columns: int = 1000, vad: VadConfig | None = None
) -> dict[str, Any]:
    """Spectrogram image and speech regions of mono samples ``y`` at ``sr``.

    Parameters
    ----------
    y : np.ndarray
        Mono float samples.
    sr : int
        Their sample rate (the model's, so the picture shows what the model heard).
    max_columns : int
        Most STFT frames kept: the hop grows with the duration (at least 10 ms).
    vad : VadConfig, optional
        The speech finder of the regions: the detector's (``Detector.vad``, the
        model's ``spec.vad``), so the regions are those its pipeline scores. Default:
        the library defaults.

    Returns
    -------
    dict
        ``png`` (base64 RGB PNG, low frequencies at the bottom, one column per frame),
        ``width``, ``height``, ``duration``, ``sample_rate``, ``hop_seconds``,
        ``fmax``, ``db_max``, ``db_range`` and ``speech_regions`` (``[start, end]`` s).
    """
    y = np.asarray(y, dtype=np.float32)
    n_fft = 1 << max(6, math.ceil(math.log2(0.032 * sr)))
    hop = max(int(0.01 * sr), math.ceil(len(y) / max_columns))
    from audio_detect.features import linear_spectrogram  # librosa: loaded on first use

    logp = linear_spectrogram(y=y, sr=sr, n_fft=n_fft, win_length=n_fft, hop_length=hop)
    db = logp * (10.0 / math.log(10.0))
    top = float(np.percentile(db, 99.5))
    scaled = np.clip((db - (top - _DB_RANGE)) / _DB_RANGE, 0.0, 1.0)
    rgb = np.ascontiguousarray(_colorize(scaled[::-1]))
    regions = speech_regions(y, sr=sr, **(vad or VadConfig()).kwargs())
    return {
        "png": base64.b64encode(encode_png(rgb)).decode("ascii"),
        "width": int(rgb.shape[1]),
        "height": int(rgb.shape[0]),
        "duration": round(len(y) / sr, 4),
        "sample_rate": int(sr),
        "hop_seconds": round(hop / sr, 6),
        "fmax": sr / 2,
        "db_max": round(top, 2),
        "db_range": _DB_RANGE,
        "speech_regions": [[round(s / sr, 3), round(e / sr, 3)] for s, e in regions.tolist()],
    }


# -- DET curves -----------------------------------------------------------------------
def det_payload(manifest: dict[str, Any]) -> dict[str, Any]:
    """Stored DET curves of a manifest in probit space, with axis ticks."""
    from scipy.stats import norm

    lo, hi = _DET_TICKS[0] / 2, _DET_TICKS[-1]

    def z(p: list[float]) -> list[float]:
        return [round(float(v), 4) for v in norm.ppf(np.clip(np.asarray(p, float), lo, hi))]

    conditions = []
    evaluations = (manifest.get("metrics") or {}).get("evaluations") or {}
    for cond, ev in evaluations.items():
        det = ev.get("det") or {}
        entry: dict[str, Any] = {
            "condition": cond,
            "eer": ev.get("eer"),
            "min_dcf": ev.get("min_dcf"),
            "points": [],
        }
        if det.get("p_miss") and det.get("p_fa"):
            entry["points"] = [list(p) for p in zip(z(det["p_fa"]), z(det["p_miss"]), strict=False)]
        if ev.get("eer") is not None:
            entry["eer_point"] = z([ev["eer"]]) * 2
        conditions.append(entry)
    ticks = [{"p": p, "z": z([p])[0], "label": f"{100 * p:g}"} for p in _DET_TICKS]
    return {
        "name": manifest.get("name"),
        "axis": {"min": z([lo])[0], "max": z([hi])[0], "ticks": ticks},
        "conditions": conditions,
    }
