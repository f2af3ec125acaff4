"""Headerless audio: 16-bit PCM and G.711 (µ-law, A-law).

G.711 is implemented with lookup tables that reproduce ITU-T G.711 exactly as Python's
former ``audioop`` module did (``audioop`` is gone in 3.13). Telephone streams (Twilio
Media Streams, SIP RTP payloads) arrive in this form.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..exceptions import ParameterError

__all__ = [
    "MAX_CHANNELS",
    "MAX_SR",
    "MIN_SR",
    "RAW_ENCODINGS",
    "RawFormat",
    "decode_raw",
    "encode_g711",
]

logger = logging.getLogger(__name__)

#: Encodings accepted for headerless input.
RAW_ENCODINGS = ("pcm_s16le", "mulaw", "alaw")
#: Sample rates outside this range are rejected as absurd (source and target).
MIN_SR = 1000
MAX_SR = 768_000
#: Inputs with more channels than this are rejected as absurd.
MAX_CHANNELS = 256


@dataclass(frozen=True)
class RawFormat:
    """Description of headerless input.

    Parameters
    ----------
    encoding : str
        ``"pcm_s16le"`` (16-bit little-endian PCM), ``"mulaw"`` or ``"alaw"`` (G.711).
    sr : int
        Sample rate in Hz.
    channels : int
        Number of interleaved channels.
    """

    encoding: str
    sr: int
    channels: int = 1

    def __post_init__(self) -> None:
        _check_raw_args(self.encoding, self.sr, self.channels)


# --------------------------------------------------------------------------- G.711


def _g711_tables() -> dict[str, np.ndarray]:
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    ulaw_dec = np.where(u & 0x80, 0x84 - t, t - 0x84)
    a = codes ^ 0x55
    seg = (a & 0x70) >> 4
    t = ((a & 0x0F) << 4) + np.where(seg == 0, 8, 0x108)
    t = t << np.maximum(seg - 1, 0)
    alaw_dec = np.where(a & 0x80, t, -t)

    lin = np.arange(-32768, 32768, dtype=np.int32)
    x = lin >> 2  # 14-bit, as audioop.lin2ulaw
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(x), 8159) + 33
    seg = np.searchsorted(np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]), mag)
    uval = (seg << 4) | ((mag >> np.minimum(seg + 1, 15)) & 0xF)
    ulaw_enc = np.where(seg >= 8, 0x7F ^ mask, uval ^ mask) & 0xFF
    x = lin >> 3  # 13-bit, as audioop.lin2alaw
    mask = np.where(x >= 0, 0xD5, 0x55)
    mag = np.where(x >= 0, x, -x - 1)
    seg = np.searchsorted(np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]), mag)
    aval = (seg << 4) | ((mag >> np.where(seg < 2, 1, np.minimum(seg, 15))) & 0xF)
    alaw_enc = np.where(seg >= 8, 0x7F ^ mask, aval ^ mask) & 0xFF
    return {
        "mulaw_dec": ulaw_dec.astype(np.int16),
        "alaw_dec": alaw_dec.astype(np.int16),
        "mulaw_enc": ulaw_enc.astype(np.uint8),
        "alaw_enc": alaw_enc.astype(np.uint8),
    }


_G711 = _g711_tables()


def encode_g711(y: np.ndarray, *, encoding: str) -> bytes:
    """Encode float samples in [-1, 1] to G.711 bytes.

    Samples are rounded to 16-bit PCM (``round(y * 32768)``, clipped) and companded
    exactly as ``audioop.lin2ulaw`` / ``audioop.lin2alaw`` with width 2.

    Parameters
    ----------
    y : np.ndarray
        Samples, shape ``(n,)`` or ``(channels, n)`` (interleaved on output).
    encoding : str
        ``"mulaw"`` or ``"alaw"``.

    Returns
    -------
    bytes
        One byte per sample.
    """
    if encoding not in ("mulaw", "alaw"):
        raise ParameterError.invalid("encoding", "'mulaw' or 'alaw'", encoding)
    pcm = _float_to_int16(y)
    table = _G711[f"{encoding}_enc"]
    return table[pcm.astype(np.int32) + 32768].tobytes()


def _float_to_int16(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim not in (1, 2):
        raise ParameterError.invalid("y", "a 1-D or 2-D (channels, n) array", f"ndim={y.ndim}")
    if y.ndim == 2:
        y = y.T  # interleave
    y = np.asarray(y, dtype=np.float64)
    if not np.isfinite(y).all():
        raise ParameterError.invalid("y", "finite samples", "an array with NaN or Inf")
    return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16).ravel()


def _check_raw_args(encoding: str, sr: int, channels: int) -> None:
    if encoding not in RAW_ENCODINGS:
        raise ParameterError.invalid("encoding", f"one of {RAW_ENCODINGS}", encoding)
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or not MIN_SR <= sr <= MAX_SR:
        raise ParameterError.invalid("sr", f"an integer in [{MIN_SR}, {MAX_SR}]", sr)
    if isinstance(channels, bool) or not isinstance(channels, int | np.integer):
        raise ParameterError.invalid("channels", f"an integer in [1, {MAX_CHANNELS}]", channels)
    if not 1 <= channels <= MAX_CHANNELS:
        raise ParameterError.invalid("channels", f"an integer in [1, {MAX_CHANNELS}]", channels)


def decode_raw(data: bytes, *, encoding: str, sr: int, channels: int = 1) -> np.ndarray:
    """Decode headerless PCM16 or G.711 bytes to float32.

    A trailing partial frame (bytes that do not fill one sample of every channel) is
    dropped.

    Parameters
    ----------
    data : bytes
        Raw interleaved samples.
    encoding : str
        One of :data:`RAW_ENCODINGS`.
    sr : int
        Sample rate (validated only; the data carry no timing).
    channels : int
        Number of interleaved channels.

    Returns
    -------
    np.ndarray
        float32 in [-1, 1), shape ``(n,)`` for mono, ``(channels, n)`` otherwise.
    """
    _check_raw_args(encoding, sr, channels)
    width = 2 if encoding == "pcm_s16le" else 1
    buf = memoryview(data).cast("B")
    usable = (len(buf) // (width * channels)) * width * channels
    if usable != len(buf):
        logger.debug("decode_raw: dropping %d trailing bytes", len(buf) - usable)
    if encoding == "pcm_s16le":
        pcm = np.frombuffer(buf[:usable], dtype="<i2")
    else:
        pcm = _G711[f"{encoding}_dec"][np.frombuffer(buf[:usable], dtype=np.uint8)]
    y = pcm.astype(np.float32) / np.float32(32768.0)
    if channels == 1:
        return y
    return np.ascontiguousarray(y.reshape(-1, channels).T)
