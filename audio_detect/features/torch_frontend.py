"""Torch front ends matching the numpy features, exportable to ONNX.

This is the only module of :mod:`audio_detect.features` that imports torch; the rest
of the package works without it.

The STFT is a strided ``conv1d`` with fixed windowed real and imaginary DFT kernels
(``win_length`` taps, ``1 + n_fft // 2`` frequencies each), preceded by constant (zero)
padding chosen with :func:`~audio_detect.features.spectrum.frame_padding` so that the
frames are exactly those of :func:`~audio_detect.features.spectrum.power_spectrogram`
with ``center=True``. No complex tensors are involved, so the module exports with
``torch.onnx.export(..., dynamo=True)`` with dynamic batch and sample axes and runs
in onnxruntime.

Filter banks and the DCT come from torchaudio (``linear_fbanks``, ``melscale_fbanks``
with Slaney scale and norm, ``create_dct`` with ``norm="ortho"``) and are registered as
buffers. Deltas use the same 3-frame regression with replicated edges as
:func:`~audio_detect.features.spectrum.delta` (equal to
:func:`torchaudio.functional.compute_deltas` with ``win_length=3``), written with
slicing because ``compute_deltas`` builds a grouped convolution whose group count
depends on the input shape, which ONNX cannot express.

Parity with the numpy features (float32 module against
:func:`~audio_detect.features.compute_features`, identical framing, committed speech
at 16 kHz and 8 kHz; ``tests/features/test_torch_frontend.py``): measured max
``|diff|`` is 5e-5 for LFCC and MFCC (static, delta and delta-delta rows), 2e-4 for
log-mel, and up to 7e-3 for log-linear only in bins within a few nats of the 1e-10
floor (< 1e-3 wherever the bin power exceeds 1e-6). The tests assert 2e-4 (cepstra),
1e-3 (log-mel) and 1e-3 (log-linear above 1e-6). Running the module in float64 does not
tighten LFCC beyond ~3e-5 because torchaudio builds the filter and DCT matrices in
float32. The exported ONNX graph matches the torch module to < 1e-5 on speech.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torchaudio.functional as taf
from torch import nn

from ..config import FeatureConfig
from ..exceptions import ParameterError
from .spectrum import AMIN, DEFAULT_WINDOW, frame_padding, get_window, resolve_band, resolve_framing

__all__ = [
    "FRONTEND_KINDS",
    "RawFrontend",
    "SpectralFrontend",
    "build_frontend",
    "delta",
    "dft_kernel",
]

logger = logging.getLogger(__name__)

#: Feature kinds the torch front end implements (CQCC has no torch version).
FRONTEND_KINDS = ("lfcc", "mfcc", "logmel", "linear", "raw")


def dft_kernel(window: np.ndarray, n_fft: int) -> torch.Tensor:
    """Conv1d weights ``(2 * (1 + n_fft // 2), 1, len(window))``: windowed real DFT rows,
    then minus the imaginary ones, so a strided ``conv1d`` is an STFT without complex
    tensors (exportable to ONNX)."""
    n_freq = n_fft // 2 + 1
    angle = 2.0 * np.pi * np.outer(np.arange(n_freq), np.arange(len(window))) / n_fft
    kernel = np.concatenate([window * np.cos(angle), -window * np.sin(angle)], axis=0)
    return torch.from_numpy(kernel[:, None, :]).float()


def delta(x: torch.Tensor) -> torch.Tensor:
    """3-frame regression delta ``(x[t+1] - x[t-1]) / 2`` along the last axis, edges replicated."""
    padded = torch.cat([x[..., :1], x, x[..., -1:]], dim=-1)
    return (padded[..., 2:] - padded[..., :-2]) * 0.5


class SpectralFrontend(nn.Module):
    """Waveform batch ``(batch, n_samples)`` to features ``(batch, n_features, n_frames)``.

    Parameters
    ----------
    kind : str
        ``"lfcc"``, ``"mfcc"``, ``"logmel"`` or ``"linear"``.
    sr, n_fft, win_length, hop_length : int
        As in :class:`~audio_detect.config.FeatureConfig`; ``n_fft`` must be even.
    n_filter, n_coeff : int
        Filter count (linear or mel) and cepstral coefficients kept (c0 included).
    fmin, fmax : float
        Filter-bank band; ``fmax=None`` means ``sr / 2``.
    deltas : bool
        Append delta and delta-delta rows.
    window : str
        Analysis window name (periodic), ``"hamming"`` as in ``compute_features``.
    """

    def __init__(
        self,
        *,
        kind: str,
        sr: int,
        n_fft: int,
        win_length: int,
        hop_length: int,
        n_filter: int = 20,
        n_coeff: int = 20,
        fmin: float = 0.0,
        fmax: float | None = None,
        deltas: bool = True,
        window: str = DEFAULT_WINDOW,
    ) -> None:
        super().__init__()
        if kind not in ("lfcc", "mfcc", "logmel", "linear"):
            raise ParameterError.invalid("kind", "one of lfcc, mfcc, logmel, linear", kind)
        sr, n_fft, win_length, hop_length = resolve_framing(sr, n_fft, win_length, hop_length)
        if n_fft % 2:
            raise ParameterError.invalid("n_fft", "even for the torch front end", n_fft)
        self.kind = kind
        self.hop_length = hop_length
        self.deltas = bool(deltas)
        self.pad_left, self.pad_right, _ = frame_padding(n_fft, win_length, center=True)
        n_freq = n_fft // 2 + 1
        self.n_freq = n_freq

        self.register_buffer("dft_kernel", dft_kernel(get_window(window, win_length), n_fft))

        fbank: torch.Tensor | None = None
        dct: torch.Tensor | None = None
        if kind != "linear":
            fmin, fmax = resolve_band(sr, fmin, fmax)
            if kind == "lfcc":
                fbank = taf.linear_fbanks(n_freq, fmin, fmax, n_filter, sr)
            else:
                fbank = taf.melscale_fbanks(
                    n_freq, fmin, fmax, n_filter, sr, norm="slaney", mel_scale="slaney"
                )
            fbank = fbank.T.contiguous()  # (n_filter, n_freq)
        if kind in ("lfcc", "mfcc"):
            if not 0 < n_coeff <= n_filter:
                raise ParameterError.invalid("n_coeff", f"in [1, n_filter={n_filter}]", n_coeff)
            dct = taf.create_dct(n_coeff, n_filter, norm="ortho").T.contiguous()
        self.register_buffer("fbank", fbank)
        self.register_buffer("dct", dct)
        n_static = n_coeff if dct is not None else (n_filter if fbank is not None else n_freq)
        self.n_features = n_static * (3 if self.deltas else 1)

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` input samples: ``1 + n_samples // hop_length``."""
        padded = n_samples + self.pad_left + self.pad_right
        return 1 + (padded - self.dft_kernel.shape[-1]) // self.hop_length

    def power(self, waveform: torch.Tensor) -> torch.Tensor:
        """Power spectrogram ``(batch, 1 + n_fft // 2, n_frames)``."""
        x = nn.functional.pad(waveform.unsqueeze(1), (self.pad_left, self.pad_right))
        spec = nn.functional.conv1d(x, self.dft_kernel, stride=self.hop_length)
        real, imag = spec[:, : self.n_freq], spec[:, self.n_freq :]
        return real * real + imag * imag

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, n_samples)`` float audio to ``(batch, n_features, n_frames)``."""
        if waveform.dim() != 2:
            raise ParameterError.invalid("waveform", "a (batch, n_samples) tensor", waveform.shape)
        out = self.power(waveform)
        if self.fbank is not None:
            out = torch.matmul(self.fbank, out)
        out = torch.log(torch.clamp(out, min=AMIN))
        if self.dct is not None:
            out = torch.matmul(self.dct, out)
        if self.deltas:
            d1 = delta(out)
            out = torch.cat([out, d1, delta(d1)], dim=1)
        return out


class RawFrontend(nn.Module):
    """Identity front end: ``(batch, n_samples)`` to ``(batch, 1, n_samples)``."""

    n_features = 1

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Add the feature axis."""
        if waveform.dim() != 2:
            raise ParameterError.invalid("waveform", "a (batch, n_samples) tensor", waveform.shape)
        return waveform.unsqueeze(1)


def build_frontend(config: FeatureConfig) -> nn.Module:
    """Build the torch front end matching :func:`audio_detect.features.compute_features`.

    Parameters
    ----------
    config : FeatureConfig
        ``kind`` must be one of :data:`FRONTEND_KINDS` (CQCC relies on librosa's
        multirate CQT and has no torch version). ``n_filter`` is the linear (LFCC) or
        mel (MFCC, log-mel) filter count, ``n_coeff`` the cepstral order.

    Returns
    -------
    torch.nn.Module
        Float32 module mapping ``(batch, n_samples)`` to ``(batch, n_features,
        n_frames)``, with ``n_features`` as attribute; ``n_frames = 1 + n_samples //
        hop_length`` (centred framing, zero padding).

    Raises
    ------
    ParameterError
        For ``kind="cqcc"`` or parameters the front end cannot use.
    """
    if not isinstance(config, FeatureConfig):
        raise ParameterError.invalid("config", "a FeatureConfig", type(config).__name__)
    if config.kind == "raw":
        return RawFrontend().eval()
    if config.kind not in FRONTEND_KINDS:
        raise ParameterError.invalid("kind", f"one of {FRONTEND_KINDS} for torch", config.kind)
    module = SpectralFrontend(
        kind=config.kind,
        sr=config.sr,
        n_fft=config.n_fft,
        win_length=config.win_length,
        hop_length=config.hop_length,
        n_filter=config.n_filter,
        n_coeff=config.n_coeff,
        fmin=config.fmin,
        fmax=config.fmax,
        deltas=config.deltas,
    )
    logger.debug("built %s torch front end with %d features", config.kind, module.n_features)
    return module.eval()
