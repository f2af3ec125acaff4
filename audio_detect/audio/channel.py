"""Seeded telephone / VoIP channel simulation.

A *condition* is a named chain of *stages* (band limit, codec round trip, packet loss,
noise, level, reverberation). :func:`apply_channel` runs a condition on a mono float
signal and returns a signal at the **same** sample rate and length, so a model always
sees one rate whatever channel was simulated. Codecs run in memory through PyAV
(FFmpeg); GSM 06.10 runs through ``sox`` pipes when PyAV lacks an encoder.

The same module serves corpus building (both classes get the same channel mix),
training-time augmentation and robustness reports.

Examples
--------
>>> y2 = apply_channel(y, sr=16000, condition="tel_mulaw", seed=3)  # doctest: +SKIP
>>> y3 = apply_channel(y, sr=16000, condition="bandlimit_8k+noise_snr10", seed=3)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import signal

from ..exceptions import ChannelUnavailableError, ParameterError

__all__ = [
    "CHANNEL_CONDITIONS",
    "ChannelSpec",
    "ChannelUnavailableError",
    "apply_channel",
    "available_conditions",
    "resolve_condition",
]

logger = logging.getLogger(__name__)

StageFn = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with soxr (the one resampling path of this module)."""
    if orig_sr == target_sr:
        return y.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(y.astype(np.float32, copy=False), orig_sr, target_sr, quality="HQ")


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


def _align(out: np.ndarray, ref: np.ndarray, max_lag: int) -> np.ndarray:
    """Remove the codec's algorithmic delay by cross-correlation, return len(ref) samples."""
    n = min(len(ref), 4 * max_lag + 8192)
    if n < 256 or not np.any(ref[:n]):
        return _fit_length(out, len(ref))
    a = out[: n + max_lag]
    b = ref[:n]
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    xc = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lag = int(np.argmax(xc[: max_lag + 1]))
    return _fit_length(out[lag:], len(ref))


# --------------------------------------------------------------------------- codecs


@functools.cache
def _pyav_has_encoder(name: str) -> bool:
    try:
        import av

        av.codec.Codec(name, "w")
    except Exception:  # any failure means "not usable"
        return False
    return True


@functools.cache
def _sox_has_gsm() -> bool:
    exe = shutil.which("sox")
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "-h"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return " gsm " in out


def _pyav_roundtrip(
    y: np.ndarray, *, sr: int, encoder: str, decoder: str, bit_rate: int | None
) -> np.ndarray:
    """Encode ``y`` (at the codec rate ``sr``) and decode it again, all in memory."""
    import av

    enc = av.CodecContext.create(encoder, "w")
    names = [f.name for f in enc.codec.audio_formats or []]
    fmt = next((f for f in ("flt", "fltp", "s16", "s16p") if f in names), names[0])
    enc.sample_rate = sr
    enc.layout = "mono"
    enc.format = fmt
    if bit_rate:
        enc.bit_rate = bit_rate
    enc.open()
    dec = av.CodecContext.create(decoder, "r")
    dec.sample_rate = sr
    dec.layout = "mono"
    if enc.extradata:
        dec.extradata = enc.extradata
    frame_size = enc.frame_size or 1024
    pieces: list[np.ndarray] = []
    out_sr = sr

    def _decode(packets: list) -> None:
        nonlocal out_sr
        for packet in packets:
            for frame in dec.decode(packet):
                arr = frame.to_ndarray()
                if arr.dtype == np.int16:
                    arr = arr.astype(np.float32) / 32768.0
                elif arr.dtype == np.int32:
                    arr = arr.astype(np.float32) / 2147483648.0
                out_sr = frame.sample_rate
                pieces.append(arr.reshape(-1) if arr.shape[0] == 1 else arr.mean(axis=0))

    n_pad = int(np.ceil(len(y) / frame_size)) * frame_size + frame_size
    x = np.clip(np.pad(y, (0, n_pad - len(y))), -1.0, 1.0)
    x = np.round(x * 32767.0).astype(np.int16) if fmt.startswith("s16") else x.astype(np.float32)
    for pts, start in enumerate(range(0, len(x), frame_size)):
        frame = av.AudioFrame.from_ndarray(
            x[None, start : start + frame_size], format=fmt, layout="mono"
        )
        frame.sample_rate = sr
        frame.pts = pts * frame_size
        _decode(enc.encode(frame))
    _decode(enc.encode(None))
    out = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return _resample(out, out_sr, sr)


def _sox_gsm_roundtrip(y: np.ndarray) -> np.ndarray:
    """GSM 06.10 full-rate round trip at 8 kHz through two ``sox`` pipes."""
    exe = shutil.which("sox")
    if exe is None or not _sox_has_gsm():
        raise ChannelUnavailableError("GSM needs 'sox' with GSM support (apt-get install sox).")
    pcm = np.round(np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()
    raw = ["-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1"]
    gsm = subprocess.run(
        [exe, *raw, "-", "-t", "gsm", "-"], input=pcm, capture_output=True, check=True
    ).stdout
    back = subprocess.run(
        [exe, "-t", "gsm", "-r", "8000", "-", *raw, "-"], input=gsm, capture_output=True, check=True
    ).stdout
    return np.frombuffer(back, dtype="<i2").astype(np.float32) / 32768.0


def _codec_stage(
    encoder: str, decoder: str, codec_sr: int, bit_rates: tuple[int, ...] | None
) -> StageFn:
    def stage(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        x = _resample(y, sr, codec_sr)
        bit_rate = int(rng.choice(bit_rates)) if bit_rates else None
        out = _pyav_roundtrip(x, sr=codec_sr, encoder=encoder, decoder=decoder, bit_rate=bit_rate)
        out = _align(out, x, max_lag=codec_sr // 5)
        return _fit_length(_resample(out, codec_sr, sr), len(y))

    return stage


def _gsm_stage(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    x = _resample(y, sr, 8000)
    out = _align(_sox_gsm_roundtrip(x), x, max_lag=1600)
    return _fit_length(_resample(out, 8000, sr), len(y))


# --------------------------------------------------------------------------- DSP stages


def _clean(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    return y


def _bandlimit_8k(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Telephone band (about 300-3400 Hz, edges jittered), via an 8 kHz round trip."""
    x = _resample(y, sr, 8000)
    low = float(rng.uniform(200.0, 350.0))
    high = float(rng.uniform(3300.0, 3600.0))
    sos = signal.butter(6, [low, high], btype="bandpass", fs=8000, output="sos")
    x = signal.sosfilt(sos, x).astype(np.float32)
    return _fit_length(_resample(x, 8000, sr), len(y))


def _packet_loss(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Drop 20 ms frames with probability 5 %; conceal by repeating the last frame, faded."""
    hop = int(0.02 * sr)
    out = y.astype(np.float32).copy()
    last = np.zeros(hop, np.float32)
    fade = np.linspace(1.0, 0.3, hop, dtype=np.float32)
    for start in range(0, len(y) - hop + 1, hop):
        if rng.random() < 0.05:
            out[start : start + hop] = last * fade
            last = out[start : start + hop].copy()
        else:
            last = out[start : start + hop].copy()
    return out


def _coloured_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise (1/f^beta with beta in {0, 1, 2}), unit RMS."""
    beta = float(rng.choice([0.0, 1.0, 2.0]))
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spec / f ** (beta / 2.0), n)
    rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    return (noise / rms).astype(np.float32)


def _active_power(y: np.ndarray, sr: int) -> float:
    """Mean power of the louder half of 20 ms frames (a cheap active-speech level)."""
    hop = max(1, int(0.02 * sr))
    n = len(y) // hop
    if n == 0:
        return float(np.mean(y**2)) if len(y) else 0.0
    frames = (y[: n * hop].astype(np.float64) ** 2).reshape(n, hop).mean(axis=1)
    top = np.sort(frames)[n // 2 :]
    return float(top.mean())


def _noise_stage(snr_db: float) -> StageFn:
    def stage(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        power = _active_power(y, sr)
        if power <= 0:
            return y
        noise = _coloured_noise(len(y), rng)
        gain = np.sqrt(power / 10.0 ** (snr_db / 10.0))
        return (y + gain * noise).astype(np.float32)

    return stage


def _level(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Random gain of -10..+6 dB, then soft limit so nothing clips hard."""
    out = y * np.float32(10.0 ** (rng.uniform(-10.0, 6.0) / 20.0))
    return np.tanh(out).astype(np.float32) if np.max(np.abs(out), initial=0) > 1 else out


def _reverb(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Convolve with exponentially decaying noise (RT60 0.2-0.6 s), energy preserved."""
    rt60 = float(rng.uniform(0.2, 0.6))
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    rir = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    rir[0] = max(1.0, float(np.abs(rir).max()) * 2.0)
    rir /= np.sqrt(np.sum(rir**2))
    out = signal.fftconvolve(y, rir)[: len(y)]
    scale = np.sqrt((np.mean(y**2) + 1e-12) / (np.mean(out**2) + 1e-12))
    return (out * scale).astype(np.float32)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class _Stage:
    name: str
    fn: StageFn
    check: Callable[[], bool] = lambda: True
    needs: str = ""


_STAGES: dict[str, _Stage] = {
    "clean": _Stage("clean", _clean),
    "bandlimit_8k": _Stage("bandlimit_8k", _bandlimit_8k),
    "g711_mulaw": _Stage(
        "g711_mulaw",
        _codec_stage("pcm_mulaw", "pcm_mulaw", 8000, None),
        lambda: _pyav_has_encoder("pcm_mulaw"),
        "PyAV pcm_mulaw",
    ),
    "g711_alaw": _Stage(
        "g711_alaw",
        _codec_stage("pcm_alaw", "pcm_alaw", 8000, None),
        lambda: _pyav_has_encoder("pcm_alaw"),
        "PyAV pcm_alaw",
    ),
    "gsm": _Stage("gsm", _gsm_stage, _sox_has_gsm, "sox with GSM 06.10"),
    "amr_nb": _Stage(
        "amr_nb",
        _codec_stage("libopencore_amrnb", "amrnb", 8000, (7950, 10200, 12200)),
        lambda: _pyav_has_encoder("libopencore_amrnb"),
        "FFmpeg built with libopencore_amrnb",
    ),
    "opus_nb": _Stage(
        "opus_nb",
        _codec_stage("libopus", "libopus", 8000, (8000,)),
        lambda: _pyav_has_encoder("libopus"),
        "FFmpeg built with libopus",
    ),
    "opus_wb": _Stage(
        "opus_wb",
        _codec_stage("libopus", "libopus", 16000, (16000,)),
        lambda: _pyav_has_encoder("libopus"),
        "FFmpeg built with libopus",
    ),
    "mp3": _Stage(
        "mp3",
        _codec_stage("libmp3lame", "mp3", 16000, (32000,)),
        lambda: _pyav_has_encoder("libmp3lame"),
        "FFmpeg built with libmp3lame",
    ),
    "aac": _Stage(
        "aac",
        _codec_stage("aac", "aac", 16000, (32000,)),
        lambda: _pyav_has_encoder("aac"),
        "FFmpeg aac encoder",
    ),
    "packet_loss": _Stage("packet_loss", _packet_loss),
    "noise_snr20": _Stage("noise_snr20", _noise_stage(20.0)),
    "noise_snr10": _Stage("noise_snr10", _noise_stage(10.0)),
    "noise_snr5": _Stage("noise_snr5", _noise_stage(5.0)),
    "level": _Stage("level", _level),
    "reverb": _Stage("reverb", _reverb),
}


@dataclass(frozen=True)
class ChannelSpec:
    """A named chain of stages, applied left to right.

    Parameters
    ----------
    name : str
        Name recorded in manifests (``channel`` column).
    stages : tuple of str
        Stage names from the registry (see :data:`CHANNEL_CONDITIONS`).
    """

    name: str
    stages: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in _STAGES]
        if unknown or not self.stages:
            raise ParameterError.invalid(
                "stages", f"a non-empty sequence of {sorted(_STAGES)}", self.stages
            )

    def available(self) -> bool:
        """True when every stage's encoder or tool is installed."""
        return all(_STAGES[s].check() for s in self.stages)

    def missing(self) -> list[str]:
        """What is missing for the stages that are not available."""
        return [f"{s}: {_STAGES[s].needs}" for s in self.stages if not _STAGES[s].check()]


def _spec(name: str, *stages: str) -> ChannelSpec:
    return ChannelSpec(name, stages or (name,))


#: Every named condition. Primitive stages are conditions of one stage.
CHANNEL_CONDITIONS: dict[str, ChannelSpec] = {
    **{name: _spec(name) for name in _STAGES},
    "tel_mulaw": _spec("tel_mulaw", "bandlimit_8k", "g711_mulaw"),
    "tel_alaw": _spec("tel_alaw", "bandlimit_8k", "g711_alaw"),
    "tel_gsm": _spec("tel_gsm", "bandlimit_8k", "gsm"),
    "tel_amr": _spec("tel_amr", "bandlimit_8k", "amr_nb"),
    "tel_mulaw_loss": _spec("tel_mulaw_loss", "bandlimit_8k", "g711_mulaw", "packet_loss"),
    "voip_opus_nb": _spec("voip_opus_nb", "bandlimit_8k", "opus_nb"),
    "tel_noisy": _spec("tel_noisy", "noise_snr20", "bandlimit_8k", "g711_mulaw"),
    "room_tel": _spec("room_tel", "reverb", "bandlimit_8k", "g711_alaw"),
}


def resolve_condition(condition: str | ChannelSpec) -> ChannelSpec:
    """Return the :class:`ChannelSpec` for a name, a ``'a+b+c'`` chain, or a spec."""
    if isinstance(condition, ChannelSpec):
        return condition
    if not isinstance(condition, str) or not condition:
        raise ParameterError.invalid("condition", "a condition name or ChannelSpec", condition)
    if condition in CHANNEL_CONDITIONS:
        return CHANNEL_CONDITIONS[condition]
    parts = condition.split("+")
    stages: list[str] = []
    for part in parts:
        if part not in CHANNEL_CONDITIONS:
            raise ParameterError.invalid(
                "condition",
                f"one of {sorted(CHANNEL_CONDITIONS)} or a '+' chain of them",
                condition,
            )
        stages.extend(CHANNEL_CONDITIONS[part].stages)
    return ChannelSpec(condition, tuple(stages))


def available_conditions() -> list[str]:
    """Names of the registered conditions whose stages are all installed."""
    return [name for name, spec in CHANNEL_CONDITIONS.items() if spec.available()]


def apply_channel(y: np.ndarray, *, sr: int, condition: str | ChannelSpec, seed: int) -> np.ndarray:
    """Run a channel condition on a mono signal.

    Parameters
    ----------
    y : np.ndarray
        1-D float signal in [-1, 1].
    sr : int
        Its sample rate; the output has the same rate and length.
    condition : str or ChannelSpec
        A name from :data:`CHANNEL_CONDITIONS`, a ``'+'`` chain of names, or a spec.
    seed : int
        Seed of every random choice (band edges, bit rate, losses, noise, RIR).

    Returns
    -------
    np.ndarray
        float32 signal, ``len(y)`` samples at ``sr``.

    Raises
    ------
    ParameterError
        Unknown condition or a non 1-D input.
    ChannelUnavailableError
        A stage's encoder or tool is not installed.
    """
    spec = resolve_condition(condition)
    x = np.asarray(y, dtype=np.float32)
    if x.ndim != 1:
        raise ParameterError.invalid("y", "a 1-D array", f"shape {x.shape}")
    if sr <= 0:
        raise ParameterError.invalid("sr", "a positive integer", sr)
    missing = spec.missing()
    if missing:
        raise ChannelUnavailableError(f"Channel {spec.name!r} unavailable: {'; '.join(missing)}")
    if len(x) == 0:
        return x.copy()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xC4A]))
    for stage in spec.stages:
        x = _STAGES[stage].fn(x, sr, rng).astype(np.float32, copy=False)
    return np.clip(x, -1.0, 1.0).astype(np.float32)
