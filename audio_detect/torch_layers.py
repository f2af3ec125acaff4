"""Torch layers shared by the neural countermeasures and the Whisper stem.

Below both :mod:`audio_detect.features` (the Whisper stem in ``whisper_torch``) and
:mod:`audio_detect.classifiers` (the heads), so neither package imports the other's
internals for them; ``audio_detect.classifiers.layers`` re-exports these names.

:class:`MatmulConv1d` is an ``nn.Conv1d`` (same parameters, same state-dict keys, same
output) whose forward pass is written as one matrix product over stacked taps
(im2col). Exported to ONNX it becomes ``Slice``/``Concat`` + ``MatMul`` instead of
``Conv``, which is what lets :func:`audio_detect.training.quantize.quantize_int8`
give these layers int8 weights: onnxruntime's dynamic quantization has a fast int8
kernel for ``MatMul`` (``DynamicQuantizeMatMul``), while its ``ConvInteger`` is
slower than the float ``Conv`` it replaces (measured 2.2x slower on the default
model), so quantizing ``Conv`` nodes directly is a loss.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ChannelsLastBatchNorm1d", "MatmulConv1d"]


class MatmulConv1d(nn.Conv1d):
    """``nn.Conv1d`` computed as ``taps @ weight`` (``groups=1``, zero padding).

    Input and output are ``(batch, channels, time)`` like ``nn.Conv1d``; with
    ``channels_last=True`` the output is ``(batch, time, channels)`` (what a Transformer
    wants next) and with ``channels_last_input=True`` the input is, which saves the
    transposes between stacked layers.
    """

    def __init__(
        self,
        *args: object,
        channels_last: bool = False,
        channels_last_input: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.groups != 1 or self.padding_mode != "zeros" or isinstance(self.padding, str):
            raise ValueError("MatmulConv1d supports groups=1 and integer zero padding only")
        # Every tap must end on the same output frame: holds when the receptive span
        # d*(k-1) is a multiple of the stride (always for stride 1; Whisper's k=3, s=2).
        if self.dilation[0] * (self.kernel_size[0] - 1) % self.stride[0]:
            raise ValueError("MatmulConv1d needs dilation*(kernel_size-1) divisible by stride")
        self.channels_last = channels_last
        self.channels_last_input = channels_last_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (k,), (s,), (d,), (p,) = self.kernel_size, self.stride, self.dilation, self.padding
        if not self.channels_last_input:
            x = x.transpose(1, 2)  # cheaper here than on the k-times larger taps
        # x is (batch, time, C_in). Tap j of output frame t reads padded input frame
        # t*s + j*d. Split the frames into their s phases (frame i -> phase i % s,
        # position i // s), so that tap j is a plain slice of one phase starting at
        # (j*d) // s: no strided slicing, which torch.export cannot size, and no unfold,
        # which exports as a slow Gather. The k taps, side by side tap-major, make the
        # conv one (k*C_in -> C_out) product.
        x = nn.functional.pad(x, (0, 0, p, p + (-(x.shape[1] + 2 * p)) % s))
        b, c = x.shape[0], x.shape[2]
        phases = x.reshape(b, -1, s, c)  # (batch, n, s, C_in)
        n, last = phases.shape[1], d * (k - 1) // s
        # Range slices only (an integer index exports as a Gather, a full copy).
        offsets = [(j * d // s, j * d % s) for j in range(k)]  # (position, phase) of tap j
        taps = torch.cat([phases[:, o : n - last + o, r : r + 1] for o, r in offsets], dim=2)
        # weight (out, in, k) -> (out, k*in) in the same tap-major order as the taps
        w = self.weight.permute(0, 2, 1).reshape(self.out_channels, k * self.in_channels)
        y = nn.functional.linear(taps.reshape(b, n - last, k * c), w, self.bias)
        return y if self.channels_last else y.transpose(1, 2)


class ChannelsLastBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` over ``(batch, time, channels)`` (same parameters and keys).

    In eval mode it is the per-channel affine map of the running statistics, applied on
    the last axis: no transposes around it in the exported graph.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or self.running_var is None or self.running_mean is None:
            return super().forward(x.transpose(1, 2)).transpose(1, 2)
        scale = torch.rsqrt(self.running_var + self.eps)
        shift = -self.running_mean * scale
        if self.affine:
            scale, shift = scale * self.weight, shift * self.weight + self.bias
        return x * scale + shift
