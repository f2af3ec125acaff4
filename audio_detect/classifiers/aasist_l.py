"""AASIST-L: raw-waveform spectro-temporal graph attention countermeasure.

Jung, Heo, Tak, Shim, Chung, Lee, Yu & Evans, "AASIST: Audio anti-spoofing using
integrated spectro-temporal graph attention networks", ICASSP 2022 (the ``-L``
light configuration has about 85k parameters). Structure, as in the reference
implementation (clovaai/aasist, MIT):

1. fixed sinc band-pass filter bank on the waveform (mel-spaced, Ravanelli &
   Bengio 2018), ``|.|``, 2-D max pooling, batch norm, SELU;
2. residual 2-D convolutional encoder (RawNet2-style blocks, time max pooling);
3. a spectral graph (one node per sub-band, max over time, positional embedding)
   and a temporal graph (one node per frame, max over sub-bands), each through a
   graph attention layer and top-k graph pooling;
4. two branches of heterogeneous stacking graph attention (HS-GAL) with a master
   node, combined by element-wise max, then max/mean readout and a score head.

Changes for CPU training and ONNX export (all optional, see parameters): a stride
on the sinc convolution and an extra time pooling factor reduce the compute of
the first encoder blocks, which dominate the cost; the heterogeneous attention
map is assembled with masks instead of slicing; top-k pooling sizes are computed
from symbolic shapes so the temporal graph keeps a dynamic number of nodes.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import nn

from .heads import ScoreHead

__all__ = ["AASISTL", "sinc_filterbank"]

logger = logging.getLogger(__name__)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def sinc_filterbank(n_filters: int, kernel_size: int, sr: int) -> np.ndarray:
    """Fixed mel-spaced sinc band-pass filters as in AASIST's ``CONV`` layer.

    Returns a ``(n_filters, 1, kernel_size)`` float32 array (Hamming windowed).
    """
    if kernel_size % 2 == 0:
        kernel_size += 1
    nfft = 512
    f = int(sr / 2) * np.linspace(0, 1, int(nfft / 2) + 1)
    fmel = _hz_to_mel(f)
    filbandwidthsmel = np.linspace(np.min(fmel), np.max(fmel), n_filters + 1)
    mel = _mel_to_hz(filbandwidthsmel)
    hsupp = np.arange(-(kernel_size - 1) / 2, (kernel_size - 1) / 2 + 1)
    window = np.hamming(kernel_size)
    bank = np.zeros((n_filters, kernel_size))
    for i in range(n_filters):
        fmin, fmax = mel[i], mel[i + 1]
        h_high = (2 * fmax / sr) * np.sinc(2 * fmax * hsupp / sr)
        h_low = (2 * fmin / sr) * np.sinc(2 * fmin * hsupp / sr)
        bank[i] = window * (h_high - h_low)
    return bank[:, None, :].astype(np.float32)


class _ResidualBlock(nn.Module):
    """RawNet2/AASIST 2-D residual block with (1, ``pool``) max pooling over time."""

    def __init__(self, c_in: int, c_out: int, *, first: bool = False, pool: int = 3) -> None:
        super().__init__()
        self.first = first
        self.bn1 = nn.Identity() if first else nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, (2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, (2, 3), padding=(0, 1))
        self.act = nn.SELU()
        self.down = nn.Conv2d(c_in, c_out, (1, 3), padding=(0, 1)) if c_in != c_out else None
        self.pool = nn.MaxPool2d((1, pool)) if pool > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.first else self.act(self.bn1(x))
        out = self.conv2(self.act(self.bn2(self.conv1(out))))
        identity = self.down(x) if self.down is not None else x
        return self.pool(out + identity)


def _pairwise(x: torch.Tensor) -> torch.Tensor:
    """``(B, N, D) -> (B, N, N, D)`` element-wise products of node pairs."""
    return x.unsqueeze(2) * x.unsqueeze(1)


class GraphAttention(nn.Module):
    """Graph attention layer of AASIST (fully connected graph, temperature softmax)."""

    def __init__(self, d_in: int, d_out: int, *, temperature: float = 1.0) -> None:
        super().__init__()
        self.att_proj = nn.Linear(d_in, d_out)
        self.att_weight = nn.Parameter(torch.empty(d_out, 1))
        nn.init.xavier_normal_(self.att_weight)
        self.proj_with_att = nn.Linear(d_in, d_out)
        self.proj_without_att = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)
        self.drop = nn.Dropout(0.2)
        self.act = nn.SELU()
        self.temp = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, d_in) -> (B, N, d_out)``."""
        x = self.drop(x)
        att = torch.matmul(torch.tanh(self.att_proj(_pairwise(x))), self.att_weight)
        att = torch.softmax(att.squeeze(-1) / self.temp, dim=-2)  # (B, N, N)
        x = self.proj_with_att(torch.matmul(att, x)) + self.proj_without_att(x)
        return self.act(self.bn(x.transpose(1, 2)).transpose(1, 2))


class HtrgGraphAttention(nn.Module):
    """Heterogeneous graph attention (HS-GAL) over two node types plus a master node."""

    def __init__(self, d_in: int, d_out: int, *, temperature: float = 1.0) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(d_in, d_in)
        self.proj_type2 = nn.Linear(d_in, d_in)
        self.att_proj = nn.Linear(d_in, d_out)
        self.att_projM = nn.Linear(d_in, d_out)
        self.att_weight11 = nn.Parameter(torch.empty(d_out, 1))
        self.att_weight22 = nn.Parameter(torch.empty(d_out, 1))
        self.att_weight12 = nn.Parameter(torch.empty(d_out, 1))
        self.att_weightM = nn.Parameter(torch.empty(d_out, 1))
        for w in (self.att_weight11, self.att_weight22, self.att_weight12, self.att_weightM):
            nn.init.xavier_normal_(w)
        self.proj_with_att = nn.Linear(d_in, d_out)
        self.proj_without_att = nn.Linear(d_in, d_out)
        self.proj_with_attM = nn.Linear(d_in, d_out)
        self.proj_without_attM = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)
        self.drop = nn.Dropout(0.2)
        self.act = nn.SELU()
        self.temp = temperature

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Update type-1 ``(B, N1, D)``, type-2 ``(B, N2, D)`` and master ``(B, 1, D)`` nodes."""
        n1 = x1.shape[1]
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        x = self.drop(x)
        # Attention map: separate weights for within-type-1, within-type-2 and cross pairs.
        h = torch.tanh(self.att_proj(_pairwise(x)))  # (B, N, N, D)
        e11 = torch.matmul(h, self.att_weight11).squeeze(-1)
        e22 = torch.matmul(h, self.att_weight22).squeeze(-1)
        e12 = torch.matmul(h, self.att_weight12).squeeze(-1)
        is2 = (torch.arange(x.shape[1], device=x.device) >= n1).to(x.dtype)  # (N,)
        m22 = is2.unsqueeze(1) * is2.unsqueeze(0)
        m11 = (1 - is2).unsqueeze(1) * (1 - is2).unsqueeze(0)
        m12 = 1 - m11 - m22
        att = torch.softmax((m11 * e11 + m22 * e22 + m12 * e12) / self.temp, dim=-2)
        # Master node attends to every node.
        hm = torch.tanh(self.att_projM(x * master))
        attm = torch.softmax(torch.matmul(hm, self.att_weightM) / self.temp, dim=-2)  # (B, N, 1)
        master = self.proj_with_attM(
            torch.matmul(attm.transpose(1, 2), x)
        ) + self.proj_without_attM(master)
        x = self.proj_with_att(torch.matmul(att, x)) + self.proj_without_att(x)
        x = self.act(self.bn(x.transpose(1, 2)).transpose(1, 2))
        return x[:, :n1], x[:, n1:], master


class GraphPool(nn.Module):
    """Top-k graph pooling (Gao & Ji, "Graph U-Nets", ICML 2019), keeping ``ratio`` of nodes."""

    def __init__(self, ratio: float, dim: int, p: float = 0.3) -> None:
        super().__init__()
        self.ratio = ratio
        self.num, self.den = _as_fraction(ratio)
        self.proj = nn.Linear(dim, 1)
        self.drop = nn.Dropout(p) if p > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, N, D) -> (B, max(N * ratio, 1), D)``."""
        scores = torch.sigmoid(self.proj(self.drop(h)))  # (B, N, 1)
        n = h.shape[1]
        k = torch.sym_max(n * self.num // self.den, 1)
        _, idx = torch.topk(scores, k, dim=1)
        idx = idx.expand(-1, -1, h.shape[2])
        return torch.gather(h * scores, 1, idx)


def _as_fraction(ratio: float) -> tuple[int, int]:
    den = 1000
    num = round(ratio * den)
    g = math.gcd(num, den)
    return num // g, den // g


class AASISTL(nn.Module):
    """AASIST-L: waveform ``(B, N)`` -> raw spoof score ``(B,)``.

    Parameters
    ----------
    sample_rate : int
        Input rate (sets the sinc filter bank).
    sinc_filters, sinc_kernel : int
        Number and length of the fixed sinc band-pass filters (70 and 128 in AASIST).
    sinc_stride : int
        Stride of the sinc convolution (1 in AASIST; 2-3 makes CPU training viable).
    filts : list
        Encoder widths ``[[1, c1], [c1, c2], [c2, c3], [c3, c4]]``; the last block
        is repeated twice more, as in AASIST (6 blocks in total).
    pools : list of int
        Time max-pooling factor of each of the 6 encoder blocks (all 3 in AASIST).
        With a strided sinc convolution, smaller late factors keep about as many
        temporal graph nodes per second as AASIST.
    gat_dims : list of int
        Graph attention sizes (``[24, 32]`` in AASIST-L).
    pool_ratios : list of float
        Top-k ratios of the spectral, temporal and HS-GAL pools.
    temperatures : list of float
        Attention temperatures of the spectral, temporal and HS-GAL layers.
    head : str
        ``linear`` or ``cosine``, see :class:`~audio_detect.classifiers.heads.ScoreHead`.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        sinc_filters: int = 70,
        sinc_kernel: int = 128,
        sinc_stride: int = 1,
        filts: list[list[int]] | None = None,
        gat_dims: list[int] | None = None,
        pool_ratios: list[float] | None = None,
        temperatures: list[float] | None = None,
        pools: list[int] | None = None,
        dropout: float = 0.5,
        head: str = "linear",
    ) -> None:
        super().__init__()
        filts = filts or [[1, 32], [32, 32], [32, 24], [24, 24]]
        pools = pools or [3, 3, 3, 3, 3, 3]
        if len(pools) != len(filts) + 2:
            raise ValueError(f"pools needs {len(filts) + 2} entries, got {pools}")
        gat_dims = gat_dims or [24, 32]
        pool_ratios = pool_ratios or [0.4, 0.5, 0.7, 0.5]
        temperatures = temperatures or [2.0, 2.0, 100.0, 100.0]
        self.sample_rate = sample_rate
        bank = torch.from_numpy(sinc_filterbank(sinc_filters, sinc_kernel, sample_rate))
        self.register_buffer("sinc", bank, persistent=True)
        self.sinc_stride = int(sinc_stride)
        self.first_bn = nn.BatchNorm2d(1)
        self.act = nn.SELU()
        specs = [*filts, filts[-1], filts[-1]]
        blocks = [
            _ResidualBlock(c_in, c_out, first=i == 0, pool=p)
            for i, ((c_in, c_out), p) in enumerate(zip(specs, pools, strict=True))
        ]
        self.encoder = nn.Sequential(*blocks)
        c_enc = filts[-1][-1]
        n_spec = sinc_filters // 3
        self.pos_S = nn.Parameter(torch.randn(1, n_spec, c_enc))
        self.master1 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.master2 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.gat_S = GraphAttention(c_enc, gat_dims[0], temperature=temperatures[0])
        self.gat_T = GraphAttention(c_enc, gat_dims[0], temperature=temperatures[1])
        self.htrg11 = HtrgGraphAttention(gat_dims[0], gat_dims[1], temperature=temperatures[2])
        self.htrg12 = HtrgGraphAttention(gat_dims[1], gat_dims[1], temperature=temperatures[2])
        self.htrg21 = HtrgGraphAttention(gat_dims[0], gat_dims[1], temperature=temperatures[2])
        self.htrg22 = HtrgGraphAttention(gat_dims[1], gat_dims[1], temperature=temperatures[2])
        self.pool_S = GraphPool(pool_ratios[0], gat_dims[0])
        self.pool_T = GraphPool(pool_ratios[1], gat_dims[0])
        self.pool_hS1 = GraphPool(pool_ratios[2], gat_dims[1])
        self.pool_hT1 = GraphPool(pool_ratios[2], gat_dims[1])
        self.pool_hS2 = GraphPool(pool_ratios[2], gat_dims[1])
        self.pool_hT2 = GraphPool(pool_ratios[2], gat_dims[1])
        self.drop = nn.Dropout(dropout)
        self.drop_way = nn.Dropout(0.2)
        self.head = ScoreHead(5 * gat_dims[1], kind=head)

    def _branch(
        self,
        out_T: torch.Tensor,
        out_S: torch.Tensor,
        master: torch.Tensor,
        first: HtrgGraphAttention,
        second: HtrgGraphAttention,
        pool_S: GraphPool,
        pool_T: GraphPool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t, s, m = first(out_T, out_S, master)
        s = pool_S(s)
        t = pool_T(t)
        t_aug, s_aug, m_aug = second(t, s, m)
        return t + t_aug, s + s_aug, m + m_aug

    def embedding(self, waveform: torch.Tensor) -> torch.Tensor:
        """Return the readout vector ``(B, 5 * gat_dims[1])``."""
        x = torch.nn.functional.conv1d(waveform.unsqueeze(1), self.sinc, stride=self.sinc_stride)
        x = torch.nn.functional.max_pool2d(torch.abs(x).unsqueeze(1), (3, 3))
        x = self.act(self.first_bn(x))
        e = self.encoder(x)  # (B, C, F, T)
        e_S = torch.amax(torch.abs(e), dim=3).transpose(1, 2) + self.pos_S  # (B, F, C)
        out_S = self.pool_S(self.gat_S(e_S))
        e_T = torch.amax(torch.abs(e), dim=2).transpose(1, 2)  # (B, T, C)
        out_T = self.pool_T(self.gat_T(e_T))
        b = waveform.shape[0]
        m1 = self.master1.expand(b, -1, -1)
        m2 = self.master2.expand(b, -1, -1)
        t1, s1, m1 = self._branch(
            out_T, out_S, m1, self.htrg11, self.htrg12, self.pool_hS1, self.pool_hT1
        )
        t2, s2, m2 = self._branch(
            out_T, out_S, m2, self.htrg21, self.htrg22, self.pool_hS2, self.pool_hT2
        )
        out_T = torch.maximum(self.drop_way(t1), self.drop_way(t2))
        out_S = torch.maximum(self.drop_way(s1), self.drop_way(s2))
        master = torch.maximum(self.drop_way(m1), self.drop_way(m2))
        hidden = torch.cat(
            [
                torch.amax(torch.abs(out_T), dim=1),
                out_T.mean(dim=1),
                torch.amax(torch.abs(out_S), dim=1),
                out_S.mean(dim=1),
                master.squeeze(1),
            ],
            dim=1,
        )
        return self.drop(hidden)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Raw score, higher = spoof, shape ``(B,)``."""
        return self.head(self.embedding(waveform))
