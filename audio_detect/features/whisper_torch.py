"""Whisper's log-mel front end and encoder blocks as torch modules (ONNX-exportable).

Used in two places: :func:`audio_detect.features.pretrained.export_onnx` (the whole
encoder, for embedding extraction) and the Whisper-feature countermeasure
(:mod:`audio_detect.classifiers.whisper_cm`), which keeps only the convolutional stem
and the first block(s) and puts a small head on top.

The log-mel front end follows Whisper (Radford et al., 2022): periodic Hann window,
25 ms / 10 ms framing, 80 Slaney mel bands of a 16 kHz, 400-point FFT, ``log10``, an
8-decade floor below the per-example maximum and ``(x + 4) / 4``. At 8 kHz the same
analysis is done with a 200-point FFT (same 40 Hz bin spacing, same 25 ms / 10 ms
frames): the first 101 bins of the 16 kHz filter bank are applied and the power is
multiplied by 4, which is what an ideally 2x-upsampled 8 kHz signal gives in the
16 kHz analysis. Mel bands above 4 kHz are then empty and sit at the floor, exactly as
they do for telephone audio fed to Whisper at 16 kHz; this lets 8 kHz calls go in
without resampling and makes a model trained this way see every input at telephone
bandwidth.

``band_hz=(low, high)`` zeroes the DFT bins outside a fixed band before the mel bank (a
brick-wall band-pass in the feature domain, inside the exported graph): with the telephone
band (300, 3400) every input is analysed in the same band whatever its recording chain
left below 300 Hz or between 3.4 and 4 kHz (microphone low end, resampler roll-off), so
those nuisances cannot separate the classes; mel bands wholly outside sit at the floor.

The STFT is a strided ``conv1d`` with fixed real/imaginary DFT kernels (no complex
tensors), so the module exports with ``torch.onnx.export(..., dynamo=True)`` with
dynamic batch and length axes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..constants import MODEL_RATES, WHISPER_RATE, rates_text
from ..exceptions import ParameterError
from ..torch_layers import MatmulConv1d
from .torch_frontend import dft_kernel
from .whisper_weights import WhisperEncoderWeights

__all__ = ["WhisperBlock", "WhisperEncoderModule", "WhisperLogMel"]

_LN_EPS = 1e-5
_N_MELS = 80


class WhisperLogMel(nn.Module):
    """Waveform ``(batch, n_samples)`` at 8 or 16 kHz to Whisper log-mel ``(batch, 80, frames)``.

    ``frames = n_samples // hop`` (Whisper drops the last STFT frame), ``hop`` = 10 ms.

    Parameters
    ----------
    sample_rate : int
        The model rate: one of :data:`~audio_detect.constants.MODEL_RATES` (8000 or
        16000); Whisper's own rate is :data:`~audio_detect.constants.WHISPER_RATE`.
    band_hz : tuple of float or None
        ``(low, high)``: only DFT bins with ``low <= f <= high`` reach the mel bank
        (``None``: the whole band).
    """

    def __init__(
        self, *, sample_rate: int = WHISPER_RATE, band_hz: tuple[float, float] | None = None
    ) -> None:
        super().__init__()
        import librosa

        if sample_rate not in MODEL_RATES:
            raise ParameterError.invalid("sample_rate", rates_text(), sample_rate)
        self.sample_rate = sample_rate
        factor = WHISPER_RATE // sample_rate
        self.n_fft = 400 // factor
        self.hop = 160 // factor
        n_freq = self.n_fft // 2 + 1
        mel = librosa.filters.mel(sr=WHISPER_RATE, n_fft=400, n_mels=_N_MELS)[:, :n_freq]
        # Ideal 2x upsampling doubles each DFT magnitude of the same-duration frame.
        mel = mel * float(factor**2)
        if band_hz is not None:
            low, high = (float(v) for v in band_hz)
            if not 0.0 <= low < high <= sample_rate / 2:
                raise ParameterError.invalid(
                    "band_hz", f"(low, high) with 0 <= low < high <= {sample_rate // 2}", band_hz
                )
            freqs = np.arange(n_freq) * sample_rate / self.n_fft
            mel = mel * ((freqs >= low) & (freqs <= high))[None, :]
        self.band_hz = None if band_hz is None else (float(band_hz[0]), float(band_hz[1]))
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.n_fft) / self.n_fft)  # periodic Hann
        self.n_freq = n_freq
        self.register_buffer("dft_kernel", dft_kernel(window, self.n_fft))
        self.register_buffer("mel", torch.from_numpy(np.ascontiguousarray(mel)).float())

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, n_samples)`` to ``(batch, 80, n_samples // hop)``."""
        pad = self.n_fft // 2
        x = nn.functional.pad(waveform.unsqueeze(1), (pad, pad), mode="reflect")
        spec = nn.functional.conv1d(x, self.dft_kernel, stride=self.hop)[..., :-1]
        real, imag = spec[:, : self.n_freq], spec[:, self.n_freq :]
        power = torch.matmul(self.mel, real * real + imag * imag)
        log_spec = torch.log10(torch.clamp(power, min=1e-10))
        peak = log_spec.amax(dim=(1, 2), keepdim=True)
        log_spec = torch.maximum(log_spec, peak - 8.0)
        return (log_spec + 4.0) / 4.0


class WhisperBlock(nn.Module):
    """One pre-norm Transformer block of the Whisper encoder (fused q/k/v projection)."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.d_model, self.n_heads = d_model, n_heads
        self.ln1 = nn.LayerNorm(d_model, eps=_LN_EPS)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model, eps=_LN_EPS)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)

    def load(self, arrays: dict[str, torch.Tensor], prefix: str) -> None:
        """Copy CTranslate2 variables ``prefix + ...`` (e.g. ``"layer_0/"``) into the block."""
        with torch.no_grad():
            for ln, key in ((self.ln1, "self_attention/layer_norm"), (self.ln2, "ffn/layer_norm")):
                ln.weight.copy_(arrays[prefix + key + "/gamma"])
                ln.bias.copy_(arrays[prefix + key + "/beta"])
            for mod, key in (
                (self.qkv, "self_attention/linear_0"),
                (self.out, "self_attention/linear_1"),
                (self.fc1, "ffn/linear_0"),
                (self.fc2, "ffn/linear_1"),
            ):
                mod.weight.copy_(arrays[prefix + key + "/weight"])
                mod.bias.copy_(arrays[prefix + key + "/bias"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, time, d)`` to ``(batch, time, d)``."""
        b, t, d = x.shape
        h = self.n_heads
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        s = torch.softmax((q @ k.transpose(-1, -2)) * (d // h) ** -0.5, dim=-1)
        x = x + self.out((s @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))


class WhisperEncoderModule(nn.Module):
    """The Whisper encoder (or its first ``n_blocks`` blocks) with pretrained weights.

    ``forward(mel)`` maps ``(batch, 80, frames)`` to the hidden states ``(n_states,
    batch, frames // 2, d)``: the stem (convolutions + positional encodings), the
    output of each kept block and, when every block is kept, the final layer norm.

    Parameters
    ----------
    weights : WhisperEncoderWeights
        From :func:`audio_detect.features.pretrained.load_whisper_encoder_weights`.
    n_blocks : int, optional
        Keep only the first ``n_blocks`` blocks (``None``: all, plus the final norm).
    max_frames : int
        Longest input in mel frames (positional encodings kept: ``max_frames // 2``).
    """

    def __init__(
        self, weights: WhisperEncoderWeights, *, n_blocks: int | None = None, max_frames: int = 3000
    ) -> None:
        super().__init__()
        a = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.arrays.items()}
        d, h = weights.d_model, weights.n_heads
        keep = weights.n_layers if n_blocks is None else n_blocks
        if not 0 <= keep <= weights.n_layers:
            raise ParameterError.invalid("n_blocks", f"in [0, {weights.n_layers}]", n_blocks)
        self.d_model = d
        # Matmul form (see audio_detect.torch_layers) so int8 export quantizes the stem too.
        self.conv1 = MatmulConv1d(_N_MELS, d, 3, padding=1, channels_last=True)
        self.conv2 = MatmulConv1d(
            d, d, 3, stride=2, padding=1, channels_last=True, channels_last_input=True
        )
        self.blocks = nn.ModuleList(WhisperBlock(d, h) for _ in range(keep))
        self.ln_post = nn.LayerNorm(d, eps=_LN_EPS) if n_blocks is None else None
        pos = a["position_encodings/encodings"][: max_frames // 2].contiguous()
        self.pos: torch.Tensor
        self.register_buffer("pos", pos)
        with torch.no_grad():
            for conv, key in ((self.conv1, "conv1"), (self.conv2, "conv2")):
                conv.weight.copy_(a[key + "/weight"])
                assert conv.bias is not None
                conv.bias.copy_(a[key + "/bias"])
            for i, blk in enumerate(self.blocks):
                blk.load(a, f"layer_{i}/")
            if self.ln_post is not None:
                self.ln_post.weight.copy_(a["layer_norm/gamma"])
                self.ln_post.bias.copy_(a["layer_norm/beta"])

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """All kept hidden states, stacked on a new first axis."""
        gelu = nn.functional.gelu
        x = gelu(self.conv2(gelu(self.conv1(mel))))  # (batch, frames, d): channels-last
        x = x + self.pos[: x.shape[1]]
        states = [x]
        for blk in self.blocks:
            x = blk(x)
            states.append(x)
        if self.ln_post is not None:
            states.append(self.ln_post(x))
        return torch.stack(states)
