"""Decoding of call recordings from any container into mono float32.

:func:`load_audio` is the front door of the product: every recording, whatever its
origin, goes through it. It accepts a path, bytes or a binary file object, detects the
container **by content** (never by file extension), decodes with libsndfile
(``soundfile``) when it can and with FFmpeg (PyAV) otherwise, selects or mixes channels,
resamples with soxr and returns an :class:`~audio_detect.audio.types.Audio`.

Hostile input never crashes or hangs the caller; it raises a typed error:

* :class:`~audio_detect.exceptions.AudioDecodeError` for empty input, truncated or
  corrupt data, non-audio data, absurd header values (sample rate outside
  ``[MIN_SR, MAX_SR]``, 0 or more than ``MAX_CHANNELS`` channels) and non-finite
  samples. :class:`~audio_detect.exceptions.UnsupportedFormatError` (a subclass) when a
  container is recognised but holds no decodable audio stream.
* :class:`~audio_detect.exceptions.AudioTooLongError` when the input is larger than
  ``max_bytes`` (checked before decoding) or decodes to more than ``max_seconds``
  (checked block by block *while* decoding, so decompression bombs stop early with
  bounded memory).
* :class:`~audio_detect.exceptions.AudioTooShortError` when a well-formed input holds
  zero samples (a WAV header with an empty data chunk, say).
* :class:`~audio_detect.exceptions.ParameterError` for invalid arguments, including a
  ``channel`` index the input does not have.

Headerless PCM16 and G.711 (µ-law, A-law) live in :mod:`audio_detect.audio.raw` and are
re-exported here.
"""

from __future__ import annotations

import io
import logging
import math
import os
import stat
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import soundfile as sf
import soxr

from ..constants import DEFAULT_MAX_SECONDS
from ..exceptions import (
    AudioDecodeError,
    AudioDetectError,
    AudioFileNotFoundError,
    AudioTooLongError,
    AudioTooShortError,
    EmptyAudioError,
    NotAFileError,
    NotAudioError,
    ParameterError,
    UnsupportedFormatError,
)
from .raw import (
    MAX_CHANNELS,
    MAX_SR,
    MIN_SR,
    RAW_ENCODINGS,
    RawFormat,
    decode_raw,
    encode_g711,
)
from .types import Audio

__all__ = [
    "MAX_CHANNELS",
    "MAX_SR",
    "MIN_SR",
    "RAW_ENCODINGS",
    "RawFormat",
    "decode_raw",
    "encode_g711",
    "load_audio",
    "resample",
    "save_audio",
]

logger = logging.getLogger(__name__)

_BLOCK_SAMPLES = 2**18  # samples (all channels) per soundfile read: 1 MiB of float32
#: Decoding work bound: at most ``max_seconds`` x this many samples (all channels), the
#: work of 48 kHz stereo. Without it a 270 kB FLAC declaring 655 kHz kept a core busy
#: for a minute within the duration limit (tests/fixtures/hostile/bomb_655khz.flac).
MAX_WORK_RATE = 96_000
#: Largest single allocation FFmpeg may make (``av_max_alloc``). A 72-byte WAV whose
#: LIST/INFO sub-chunk declares 2 GB otherwise made FFmpeg allocate and zero 2 GB.
FFMPEG_MAX_ALLOC = 32 * 2**20
_RAW_CODECS = {"pcm_s16le": ("pcm_s16le", 16), "mulaw": ("pcm_mulaw", 8), "alaw": ("pcm_alaw", 8)}
_SAVE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}
# libsndfile containers used on the fast path; anything else (MP3...) goes to FFmpeg.
_SF_CONTAINERS = {
    "WAV": "wav", "WAVEX": "wav", "RF64": "rf64", "W64": "w64", "FLAC": "flac",
    "OGG": "ogg", "AIFF": "aiff", "AU": "au", "CAF": "caf", "NIST": "nist",
}  # fmt: skip
_SF_CODECS = {
    "PCM_S8": ("pcm_s8", 8), "PCM_U8": ("pcm_u8", 8), "PCM_16": ("pcm_s16", 16),
    "PCM_24": ("pcm_s24", 24), "PCM_32": ("pcm_s32", 32), "FLOAT": ("pcm_f32", 32),
    "DOUBLE": ("pcm_f64", 64), "ULAW": ("pcm_mulaw", 8), "ALAW": ("pcm_alaw", 8),
    "GSM610": ("gsm", None), "IMA_ADPCM": ("adpcm_ima", None), "MS_ADPCM": ("adpcm_ms", None),
    "G721_32": ("g721", None), "VORBIS": ("vorbis", None), "OPUS": ("opus", None),
}  # fmt: skip
_EMPTY = np.zeros(0, dtype=np.float32)
_PAGE_MIN, _PAGE_MAX = 2**16, 2**22  # samples per storage page (256 kB .. 16 MB)
_AV_CONTAINERS = {"mov": "mp4", "matroska": "matroska", "amr": "amr", "wav": "wav"}


# --------------------------------------------------------------------------- resampling


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with soxr (quality ``"HQ"``).

    Parameters
    ----------
    y : np.ndarray
        Samples, shape ``(n,)`` or ``(channels, n)``.
    orig_sr, target_sr : int
        Sample rates in Hz.

    Returns
    -------
    np.ndarray
        float32, ``round(n * target_sr / orig_sr)`` samples per channel.
    """
    for name, rate in (("orig_sr", orig_sr), ("target_sr", target_sr)):
        if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
            raise ParameterError.invalid(name, "a positive integer", rate)
    y = np.asarray(y, dtype=np.float32)
    if y.ndim not in (1, 2):
        raise ParameterError.invalid("y", "a 1-D or 2-D (channels, n) array", f"ndim={y.ndim}")
    if orig_sr == target_sr or y.shape[-1] == 0:
        n = round(y.shape[-1] * target_sr / orig_sr)
        return y[..., :n].copy() if orig_sr == target_sr else np.zeros((*y.shape[:-1], n), "f4")
    out = soxr.resample(y.T, int(orig_sr), int(target_sr), quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).T)


# --------------------------------------------------------------------------- saving


def save_audio(
    path: str | os.PathLike[str], y: np.ndarray, *, sr: int, subtype: str | None = None
) -> None:
    """Write samples with soundfile; the format follows the suffix (wav, flac, ogg).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; suffix ``.wav``, ``.flac`` or ``.ogg``.
    y : np.ndarray
        float samples, shape ``(n,)`` or ``(channels, n)``.
    sr : int
        Sample rate.
    subtype : str, optional
        soundfile subtype (``"PCM_16"``, ``"FLOAT"``, ``"ULAW"``...); soundfile's
        default for the format when None (Vorbis for ``.ogg``).
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in _SAVE_FORMATS:
        raise ParameterError.invalid("path", f"a file name ending in {sorted(_SAVE_FORMATS)}", path)
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise ParameterError.invalid("sr", "a positive integer", sr)
    y = np.asarray(y)
    if y.ndim not in (1, 2):
        raise ParameterError.invalid("y", "a 1-D or 2-D (channels, n) array", f"ndim={y.ndim}")
    if not np.isfinite(y).all():
        raise ParameterError.invalid("y", "finite samples", "an array with NaN or Inf")
    fmt = _SAVE_FORMATS[suffix]
    if subtype is not None and not sf.check_format(fmt, subtype):
        raise ParameterError.invalid("subtype", f"a soundfile subtype valid for {fmt}", subtype)
    data = y.T if y.ndim == 2 else y
    sf.write(os.fspath(path), data, int(sr), subtype=subtype, format=fmt)


# --------------------------------------------------------------------------- loading


@dataclass
class _Sink:
    """Collects decoded blocks: limit check, finiteness, channel pick, streaming resample."""

    source_sr: int
    channels: int
    channel: str | int
    target_sr: int
    max_seconds: float
    name: str = "The input"
    frames: int = 0
    clipped: int = 0
    stored: int = 0
    pages: list[np.ndarray] = field(default_factory=list)
    _stream: Any = None

    def __post_init__(self) -> None:
        if not MIN_SR <= self.source_sr <= MAX_SR:
            raise AudioDecodeError(
                f"{self.name} declares a sample rate of {self.source_sr} Hz, outside "
                f"[{MIN_SR}, {MAX_SR}] (corrupt header)."
            )
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise AudioDecodeError(
                f"{self.name} declares {self.channels} channels, outside [1, {MAX_CHANNELS}] "
                "(corrupt header)."
            )
        if isinstance(self.channel, int) and self.channel >= self.channels:
            raise ParameterError.invalid(
                "channel", f"'mix' or an integer in [0, {self.channels})", self.channel
            )
        if self.target_sr != self.source_sr:
            self._stream = soxr.ResampleStream(
                self.source_sr, self.target_sr, 1, dtype="float32", quality="HQ"
            )

    def push(self, block: np.ndarray) -> None:
        """Add a ``(frames, channels)`` block at the source rate."""
        self.frames += block.shape[0]
        if self.frames > self.max_seconds * self.source_sr:
            raise AudioTooLongError(
                f"{self.name} is longer than max_seconds={self.max_seconds:g} "
                f"(stopped decoding after {self.frames / self.source_sr:.1f} s)."
            )
        if self.frames * self.channels > self.max_seconds * MAX_WORK_RATE:
            raise AudioTooLongError(
                f"{self.name} is too long for its rate: a {self.source_sr} Hz x "
                f"{self.channels} channel input may hold at most "
                f"max_seconds x {MAX_WORK_RATE} samples (the decoding work of 48 kHz stereo); "
                f"stopped after {self.frames / self.source_sr:.1f} s."
            )
        if not np.isfinite(block).all():
            raise AudioDecodeError(f"{self.name} contains non-finite samples (NaN or Inf).")
        if isinstance(self.channel, int):
            mono = block[:, self.channel]
        elif block.shape[1] > 1:
            mono = block.mean(axis=1, dtype=np.float32)
        else:
            mono = block[:, 0]
        mono = np.asarray(mono, dtype=np.float32)
        self.clipped += int(np.count_nonzero(np.abs(mono) > 1.0))
        if self._stream is not None:
            mono = self._stream.resample_chunk(np.ascontiguousarray(mono), last=False)
        self._store(np.asarray(mono, dtype=np.float32))

    def _store(self, mono: np.ndarray) -> None:
        # Geometrically growing pages up to 16 MB: large pages are mmap-ed by malloc, so
        # releasing them in finish() returns memory to the OS and the peak stays near
        # one copy of the signal (a list of small blocks + concatenate would double it).
        pos = 0
        while pos < mono.size:
            used = self.stored - sum(p.size for p in self.pages[:-1])
            if not self.pages or used == self.pages[-1].size:
                size = min(_PAGE_MAX, max(_PAGE_MIN, self.stored))
                self.pages.append(np.empty(size, dtype=np.float32))
                used = 0
            n = min(mono.size - pos, self.pages[-1].size - used)
            self.pages[-1][used : used + n] = mono[pos : pos + n]
            self.stored += n
            pos += n

    def finish(self) -> np.ndarray:
        """Return the mono float32 signal at the target rate, clipped to [-1, 1]."""
        if self._stream is not None:
            tail = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._store(np.asarray(tail, dtype=np.float32))
            self._stream = None
        pages, self.pages = self.pages, []
        y = np.empty(self.stored, dtype=np.float32)
        pos = 0
        for i, page in enumerate(pages):
            n = min(page.size, self.stored - pos)
            y[pos : pos + n] = page[:n]
            pos += n
            pages[i] = _EMPTY  # release as we go
        return np.clip(y, -1.0, 1.0, out=y)


@dataclass
class _Decoded:
    sink: _Sink
    codec: str
    container: str
    bit_depth: int | None
    decoder: str
    extra: dict[str, object] = field(default_factory=dict)


def load_audio(
    source: str | os.PathLike[str] | bytes | bytearray | BinaryIO,
    *,
    sr: int | None = None,
    channel: str | int = "mix",
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_bytes: int | None = 512 * 2**20,
    raw: RawFormat | None = None,
) -> Audio:
    """Decode any supported recording into mono float32.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray or binary file object
        The recording. Paths are read through a file object so the container is
        always detected by content, never by extension.
    sr : int, optional
        Target sample rate (soxr ``HQ``); None keeps the source rate.
    channel : str or int
        ``"mix"`` averages all channels; an integer selects that 0-based channel.
    max_seconds : float
        Longest accepted duration; decoding stops with ``AudioTooLongError`` as soon
        as more than this has been decoded.
    max_bytes : int, optional
        Largest accepted input size in bytes, checked before decoding
        (``AudioTooLongError``); None for no limit.
    raw : RawFormat, optional
        Treat the input as headerless PCM16 / G.711 with this format.

    Returns
    -------
    Audio
        Samples in [-1, 1] and the origin metadata. ``extra["decoder"]`` tells which
        path decoded it (``"soundfile"``, ``"pyav"`` or ``"raw"``).

    Raises
    ------
    AudioDecodeError
        Empty, corrupt, truncated or non-audio input; absurd header values;
        NaN/Inf samples; an unreadable path.
    AudioTooLongError
        Input larger than ``max_bytes`` or longer than ``max_seconds``.
    AudioTooShortError
        Well-formed input that holds zero samples.
    ParameterError
        Invalid arguments, or a ``channel`` index the input lacks.
    """
    _check_load_args(sr=sr, channel=channel, max_seconds=max_seconds, max_bytes=max_bytes, raw=raw)
    channel = "mix" if isinstance(channel, str) else int(channel)
    sr = None if sr is None else int(sr)
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else "The input"
    fobj, close = _open_source(source, max_bytes=max_bytes, name=name)
    try:
        if raw is not None:
            decoded = _decode_raw_input(fobj, raw, sr, channel, max_seconds, name)
        else:
            decoded = _decode_any(fobj, sr, channel, max_seconds, name)
    finally:
        if close:
            fobj.close()
    sink = decoded.sink
    if sink.frames == 0:
        raise AudioTooShortError(f"{name} is well-formed but holds zero audio samples.")
    samples = sink.finish()
    if samples.size == 0:  # e.g. 2 samples at 48 kHz resampled to 8 kHz (found by fuzzing)
        raise AudioTooShortError(
            f"{name} holds {sink.frames} sample(s) at {sink.source_sr} Hz: "
            f"none remain at {sink.target_sr} Hz."
        )
    extra = {"decoder": decoded.decoder, **decoded.extra}
    if sink.clipped:
        extra["clipped_samples"] = sink.clipped
    logger.debug(
        "load_audio: %s/%s via %s, %d Hz x %d ch -> %d samples at %d Hz",
        decoded.container, decoded.codec, decoded.decoder, sink.source_sr, sink.channels,
        samples.size, sink.target_sr,
    )  # fmt: skip
    return Audio(
        samples=samples,
        sr=sink.target_sr,
        source_sr=sink.source_sr,
        channels=sink.channels,
        codec=decoded.codec,
        container=decoded.container,
        bit_depth=decoded.bit_depth,
        extra=extra,
    )


def _check_load_args(*, sr: Any, channel: Any, max_seconds: Any, max_bytes: Any, raw: Any) -> None:
    if sr is not None and (
        isinstance(sr, bool) or not isinstance(sr, int | np.integer) or not MIN_SR <= sr <= MAX_SR
    ):
        raise ParameterError.invalid("sr", f"None or an integer in [{MIN_SR}, {MAX_SR}]", sr)
    if channel != "mix" and (
        isinstance(channel, bool) or not isinstance(channel, int | np.integer) or channel < 0
    ):
        raise ParameterError.invalid("channel", "'mix' or a non-negative integer", channel)
    if isinstance(max_seconds, bool) or not isinstance(max_seconds, int | float):
        raise ParameterError.invalid("max_seconds", "a positive number", max_seconds)
    if not (math.isfinite(max_seconds) and max_seconds > 0):
        raise ParameterError.invalid("max_seconds", "a positive number", max_seconds)
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0
    ):
        raise ParameterError.invalid("max_bytes", "None or a positive integer", max_bytes)
    if raw is not None and not isinstance(raw, RawFormat):
        raise ParameterError.invalid("raw", "None or a RawFormat", raw)


def _open_source(source: Any, *, max_bytes: int | None, name: str) -> tuple[BinaryIO, bool]:
    """Return a seekable binary file object and whether the caller must close it."""
    limit = max_bytes if max_bytes is not None else -1
    if isinstance(source, bytes | bytearray | memoryview):
        size = memoryview(source).nbytes
        _check_size(size, max_bytes, name)
        return io.BytesIO(source), True
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            fobj = open(path, "rb")  # noqa: SIM115 - closed by load_audio
            st = os.fstat(fobj.fileno())
        except FileNotFoundError as exc:
            raise AudioFileNotFoundError(f"{path} does not exist (no such file).") from exc
        except IsADirectoryError as exc:
            raise NotAFileError(f"{path} is a directory, not an audio file.") from exc
        except OSError as exc:
            raise AudioDecodeError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        try:
            if not stat.S_ISREG(st.st_mode):
                raise NotAFileError(f"{path} is not a regular file (a device, FIFO or socket).")
            _check_size(st.st_size, max_bytes, name)
        except AudioDetectError:
            fobj.close()
            raise
        return fobj, True  # type: ignore[return-value]
    if hasattr(source, "read"):
        buf = _read_limited(source, limit)
        _check_size(buf.tell(), max_bytes, name, at_least=True)
        buf.seek(0)
        return buf, True
    raise ParameterError.invalid(
        "source", "a path, bytes or a binary file object", type(source).__name__
    )


def _read_limited(source: Any, limit: int) -> io.BytesIO:
    """Copy a file object to EOF, or to ``limit + 1`` bytes (``limit < 0``: no limit)."""
    out = io.BytesIO()
    total = 0
    while limit < 0 or total <= limit:
        want = 2**20 if limit < 0 else min(2**20, limit + 1 - total)
        try:
            chunk = source.read(want)
        except Exception as exc:
            raise AudioDecodeError(f"Cannot read from the file object: {exc}.") from exc
        if isinstance(chunk, str) or not isinstance(chunk, bytes | bytearray | memoryview | None):
            raise ParameterError.invalid(
                "source", "a file object opened in binary mode", type(source).__name__
            )
        if not chunk:  # b"" at EOF (None: a non-blocking stream with nothing to give)
            break
        total += out.write(chunk)
    return out


def _check_size(size: int, max_bytes: int | None, name: str, *, at_least: bool = False) -> None:
    if size == 0:
        raise EmptyAudioError(f"{name} is empty (0 bytes).")
    if max_bytes is not None and size > max_bytes:
        more = "more than " if at_least else ""
        raise AudioTooLongError(f"{name} is {more}{size} bytes, above max_bytes={max_bytes}.")


def _decode_raw_input(
    fobj: BinaryIO,
    raw: RawFormat,
    sr: int | None,
    channel: str | int,
    max_seconds: float,
    name: str,
) -> _Decoded:
    data = fobj.read()
    width = 2 if raw.encoding == "pcm_s16le" else 1
    n_frames = len(data) // (width * raw.channels)
    sink = _Sink(raw.sr, raw.channels, channel, sr or raw.sr, max_seconds, name)
    if n_frames > max_seconds * raw.sr:
        raise AudioTooLongError(
            f"{name} (raw) holds {n_frames / raw.sr:.1f} s, above max_seconds={max_seconds:g}."
        )
    y = decode_raw(data, encoding=raw.encoding, sr=raw.sr, channels=raw.channels)
    block = y[:, None] if y.ndim == 1 else y.T
    for start in range(0, block.shape[0], _BLOCK_SAMPLES):
        sink.push(block[start : start + _BLOCK_SAMPLES])
    codec, bits = _RAW_CODECS[raw.encoding]
    return _Decoded(sink, codec, "raw", bits, "raw")


def _decode_any(
    fobj: BinaryIO, sr: int | None, channel: str | int, max_seconds: float, name: str
) -> _Decoded:
    def make_sink(source_sr: int, channels: int) -> _Sink:
        return _Sink(
            int(source_sr), int(channels), channel, sr or int(source_sr), max_seconds, name
        )

    fobj.seek(0)
    head = fobj.read(_MAGIC_BYTES)
    fobj.seek(0)
    decoded, sf_reason = None, "skipped (MPEG audio)"
    # MPEG audio goes straight to FFmpeg: libsndfile's mpg123 probe chatters on stderr.
    if not _looks_like_mpeg_audio(head[:4]):
        try:
            decoded = _decode_soundfile(fobj, make_sink)
            sf_reason = "format left to FFmpeg" if decoded is None else "zero frames"
        except AudioDetectError:
            raise
        except Exception as exc:  # libsndfile rejected the data: let FFmpeg try
            sf_reason = f"{type(exc).__name__}: {exc}"
            logger.debug("load_audio: soundfile failed (%s); trying PyAV", sf_reason)
    if decoded is not None and decoded.sink.frames > 0:
        return decoded
    try:
        return _decode_pyav(fobj, make_sink, name)
    except AudioDetectError:
        raise
    except Exception as exc:
        # The decoders' own reasons (with object reprs) are for debugging, not for users.
        logger.debug(
            "load_audio: %s: soundfile: %s; FFmpeg: %s: %s", name, sf_reason,
            type(exc).__name__, exc,
        )  # fmt: skip
        kind = _known_audio_container(head)
        if kind is None:
            raise NotAudioError(
                f"{name} is not an audio file (no known audio format detected)."
            ) from exc
        raise AudioDecodeError(
            f"{name} looks like {kind} but cannot be decoded (corrupt or truncated)."
        ) from exc


_MAGIC_BYTES = 64

# Leading bytes of the audio containers the loader knows, for telling "corrupt audio"
# from "not audio at all" once both decoders have given up.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "a WAV (RIFF) file"),
    (0, b"RIFX", "a WAV (RIFX) file"),
    (0, b"RF64", "a WAV (RF64) file"),
    (0, b"BW64", "a WAV (BW64) file"),
    (0, b"FORM", "an AIFF file"),
    (0, b"fLaC", "a FLAC file"),
    (0, b"OggS", "an Ogg file"),
    (0, b"ID3", "an MP3 file"),
    (4, b"ftyp", "an MP4/M4A file"),
    (0, b"#!AMR", "an AMR file"),
    (0, b"\x1aE\xdf\xa3", "a Matroska/WebM file"),
    (0, b".snd", "an AU file"),
    (0, b"caff", "a CAF file"),
    (0, b"wvpk", "a WavPack file"),
    (0, b"NIST_1A", "a NIST SPHERE file"),
    (0, b"MAC ", "a Monkey's Audio file"),
    (0, b"0&\xb2u\x8ef\xcf\x11", "an ASF/WMA file"),
)


def _known_audio_container(head: bytes) -> str | None:
    """What ``head`` (the first bytes) claims to be, or None if no known audio format."""
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "an MPEG audio file"
    return None


def _looks_like_mpeg_audio(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


class _SeekSafe:
    """A file object for libsndfile's virtual I/O whose ``seek`` never raises.

    libsndfile seeks to negative offsets on some corrupt headers; the exception then
    escaped soundfile's cffi callback and was printed with a traceback on stderr (in a
    server log, for every such upload). A failed seek now reports position -1, which
    libsndfile treats as the I/O error it is.
    """

    mode = "rb"

    def __init__(self, fobj: BinaryIO) -> None:
        self._f = fobj
        self._failed = False

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def readinto(self, buf: Any) -> int:
        return self._f.readinto(buf)  # type: ignore[attr-defined]

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return self._f.seek(offset, whence)
        except (OSError, ValueError):
            self._failed = True
            return -1

    def tell(self) -> int:
        if self._failed:
            self._failed = False
            return -1
        return self._f.tell()


def _decode_soundfile(fobj: BinaryIO, make_sink: Any) -> _Decoded | None:
    fobj.seek(0)
    with sf.SoundFile(_SeekSafe(fobj)) as f:
        container = _SF_CONTAINERS.get(f.format)
        if container is None:
            logger.debug("load_audio: soundfile sees %s; leaving it to PyAV", f.format)
            return None
        sink = make_sink(f.samplerate, f.channels)
        block = max(256, _BLOCK_SAMPLES // f.channels)
        while True:
            data = f.read(block, dtype="float32", always_2d=True)
            if data.shape[0] == 0:
                break
            sink.push(data)
        codec, bits = _SF_CODECS.get(f.subtype, (f.subtype.lower(), None))
        if container == "flac":
            codec = "flac"
        elif codec.startswith("pcm_s") or codec.startswith("pcm_f"):
            codec += "be" if container in ("aiff", "au", "caf") else "le"
        elif codec == "gsm" and container == "wav":
            codec = "gsm_ms"
        return _Decoded(sink, codec, container, bits, "soundfile")


class _Unnamed:
    """A read-only view of a file object without its ``name``.

    PyAV hands a file object's ``name`` to FFmpeg as the URL, and FFmpeg's probe then
    scores formats by the file extension too, so a path ending in ``.sph`` decoded
    differently from the same bytes in memory. Without a name, detection is by content.
    """

    def __init__(self, fobj: BinaryIO) -> None:
        self._f = fobj

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def seekable(self) -> bool:
        return True


_ffmpeg_capped = False


def _cap_ffmpeg_allocations(av_module: Any) -> None:
    """Set FFmpeg's ``av_max_alloc`` to :data:`FFMPEG_MAX_ALLOC` (once per process).

    The libavutil PyAV loaded is found among the process's mappings (Linux) or next to
    the ``av`` package (wheels bundle it); when it cannot be found the cap is skipped
    with a warning.
    """
    global _ffmpeg_capped
    if _ffmpeg_capped:
        return
    _ffmpeg_capped = True
    import ctypes
    import glob

    candidates: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            candidates = [ln.split()[-1] for ln in maps if "libavutil" in ln and "/" in ln]
    except OSError:
        pass
    pkg = os.path.dirname(av_module.__file__)
    for pattern in ("../av.libs/libavutil*", ".dylibs/libavutil*", "../av.libs/avutil*"):
        candidates += sorted(glob.glob(os.path.join(pkg, pattern)))
    for path in candidates:
        try:
            ctypes.CDLL(path).av_max_alloc(ctypes.c_size_t(FFMPEG_MAX_ALLOC))
        except (OSError, AttributeError):
            continue
        logger.debug("FFmpeg allocations capped at %d bytes (%s)", FFMPEG_MAX_ALLOC, path)
        return
    logger.warning("could not cap FFmpeg allocations: libavutil not found")


def _decode_pyav(fobj: BinaryIO, make_sink: Any, name: str) -> _Decoded:
    import av

    _cap_ffmpeg_allocations(av)
    fobj.seek(0)
    head = fobj.read(64)
    fobj.seek(0)
    # _Unnamed: FFmpeg would otherwise take the file name's extension as a format hint.
    with av.open(_Unnamed(fobj), mode="r", metadata_errors="replace") as container:
        fmt = container.format.name.split(",")[0]
        if not container.streams.audio:
            if _known_audio_container(head) is None:  # an image, text read as subtitles...
                raise NotAudioError(
                    f"{name} is not an audio file ({fmt} data with no audio stream)."
                )
            raise UnsupportedFormatError(f"{name} ({fmt}) has no audio stream.")
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        if ctx is None or ctx.codec is None:
            raise UnsupportedFormatError(
                f"{name} ({fmt}) holds audio in a codec that cannot be decoded (no decoder)."
            )
        codec = ctx.codec.canonical_name
        sink = make_sink(ctx.sample_rate or 0, ctx.channels or 0)
        resampler: Any = None
        errors = packets = 0
        for packet in container.demux(stream):
            packets += 1
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                errors += 1
                logger.debug("load_audio: skipping undecodable packet: %s", exc)
                continue
            for frame in frames:
                if resampler is None:
                    resampler = av.AudioResampler(
                        format="flt", layout=frame.layout, rate=frame.sample_rate
                    )
                    if frame.sample_rate != sink.source_sr or frame.layout.nb_channels != (
                        sink.channels
                    ):
                        sink = make_sink(frame.sample_rate, frame.layout.nb_channels)
                for out in resampler.resample(frame):
                    sink.push(out.to_ndarray().reshape(-1, sink.channels))
        if resampler is not None:
            for out in resampler.resample(None):
                sink.push(out.to_ndarray().reshape(-1, sink.channels))
        if errors and sink.frames == 0:
            raise AudioDecodeError(
                f"{name} ({fmt}, {codec}) cannot be decoded: none of its {packets} audio "
                "packets decode (corrupt or truncated)."
            )
        if errors:
            logger.warning("load_audio: skipped %d of %d undecodable packets", errors, packets)
        if fmt == "matroska" and b"webm" in head:
            container_name = "webm"
        else:
            container_name = _AV_CONTAINERS.get(fmt, fmt)
        bits = _pcm_bits(codec, getattr(ctx.format, "bits", None))
        return _Decoded(sink, codec, container_name, bits, "pyav", {"decode_errors": errors})


def _pcm_bits(codec: str, raw_bits: int | None) -> int | None:
    if codec in ("pcm_mulaw", "pcm_alaw", "pcm_u8", "pcm_s8"):
        return 8
    if codec.startswith("pcm_"):
        digits = "".join(ch for ch in codec[5:] if ch.isdigit())
        return int(digits) if digits else None
    if codec in ("flac", "alac", "wavpack") and raw_bits:
        return int(raw_bits)
    return None
