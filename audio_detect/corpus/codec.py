"""Small neural audio codecs trained here, for codec-resynthesis spoofs.

Neural codecs (SoundStream, Zeghidour et al. 2021; EnCodec, Défossez et al. 2022; DAC,
Kumar et al. 2023) are the front end of the newest zero-shot TTS systems (VALL-E,
UniAudio, ...) and a spoof of their own: real speech resynthesised through a codec keeps
the speaker and the words and carries only the codec's artefacts. No codec with
offline weights ships on PyPI (``encodec``, ``dac``, ``snac`` download them), so the
corpus trains its own: a convolutional encoder, a residual vector quantiser (RVQ) with
quantiser dropout (one model, several bitrates) and a mirrored decoder, trained on the
bona fide *training* speech with a multi-resolution STFT loss. They are much smaller
and cruder than the published codecs; what they share with them is the family of
artefacts: strided-convolution up-sampling, a few kbit/s of codebook indices and a
decoder that invents the fine structure.

Weights are saved as safetensors with a JSON config (no pickle) that records their
sha256 and the sha256 of the speech they were trained on (:func:`speech_sha256`); the
``neural_codec`` generator resynthesises bona fide items through every trained codec it
finds, and takes a committed codec (:func:`bundled_codec`) instead of training one when
it was trained with the same config on the same speech.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import ModelIntegrityError, ParameterError
from ..registry import sha256_file

if TYPE_CHECKING:
    import torch

__all__ = [
    "CODEC_SR",
    "CodecConfig",
    "bundled_codec",
    "load_codec",
    "read_codec_doc",
    "resynthesise",
    "save_codec",
    "speech_sha256",
    "train_codec",
    "write_codec_doc",
]

logger = logging.getLogger(__name__)

#: Sample rate of every codec (the corpus's working rate).
CODEC_SR = 16000
_CONFIG_NAME = "codec.json"
_WEIGHTS_NAME = "codec.safetensors"


@dataclass(frozen=True)
class CodecConfig:
    """Architecture and training settings of one codec.

    Attributes
    ----------
    name : str
        System name of the codec (``rvq-codec-a``).
    strides : tuple of int
        Down-sampling factor of each encoder stage (their product is the hop).
    channels : tuple of int
        Width of each encoder stage (the decoder mirrors it).
    latent : int
        Dimension of the quantised latent.
    codebook_size : int
        Entries per RVQ codebook.
    n_quantizers : int
        Codebooks in the residual stack (the highest bitrate).
    bitrates_q : tuple of int
        Codebook counts the generator decodes with (one system per setting).
    steps, batch_size, crop_seconds, lr : int, int, float, float
        Training loop settings.
    seed : int
        Seed of the initialisation, the crops and the batches.
    """

    name: str = "rvq-codec-a"
    strides: tuple[int, ...] = (2, 4, 5, 8)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    latent: int = 64
    codebook_size: int = 256
    n_quantizers: int = 8
    bitrates_q: tuple[int, ...] = (2, 4, 8)
    steps: int = 3000
    batch_size: int = 8
    crop_seconds: float = 0.5
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.strides) != len(self.channels) or not self.strides:
            raise ParameterError.invalid(
                "strides/channels", "two sequences of the same non-zero length", self.strides
            )
        if not all(1 <= q <= self.n_quantizers for q in self.bitrates_q):
            raise ParameterError.invalid(
                "bitrates_q", f"codebook counts in 1..{self.n_quantizers}", self.bitrates_q
            )

    @property
    def hop(self) -> int:
        """Samples per latent frame."""
        return math.prod(self.strides)

    def kbps(self, n_q: int) -> float:
        """Bitrate with ``n_q`` codebooks, in kbit/s."""
        return CODEC_SR / self.hop * n_q * math.log2(self.codebook_size) / 1000.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CodecConfig:
        """Inverse of :func:`dataclasses.asdict` (lists become tuples)."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ParameterError.invalid("codec config", f"keys in {sorted(known)}", unknown)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _build(cfg: CodecConfig) -> torch.nn.Module:
    """The codec module of ``cfg`` (torch is imported here: the ``train`` extra)."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, ch: int, dilation: int) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.ELU(),
                nn.Conv1d(ch, ch, 3, dilation=dilation, padding=dilation),
                nn.ELU(),
                nn.Conv1d(ch, ch, 1),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.body(x)

    class Down(nn.Module):
        def __init__(self, c_in: int, c_out: int, s: int) -> None:
            super().__init__()
            self.res = nn.Sequential(Residual(c_in, 1), Residual(c_in, 3))
            self.conv = nn.Conv1d(c_in, c_out, 2 * s, stride=s, padding=(s + 1) // 2)
            self.s = s

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n = x.shape[-1] // self.s
            return self.conv(nn.functional.elu(self.res(x)))[..., :n]

    class Up(nn.Module):
        def __init__(self, c_in: int, c_out: int, s: int) -> None:
            super().__init__()
            self.conv = nn.ConvTranspose1d(c_in, c_out, 2 * s, stride=s, padding=s // 2)
            self.res = nn.Sequential(Residual(c_out, 1), Residual(c_out, 3))
            self.s = s

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n = x.shape[-1] * self.s
            return self.res(self.conv(nn.functional.elu(x))[..., :n])

    class RVQ(nn.Module):
        """Residual VQ, codebooks updated by EMA k-means with dead-code restarts."""

        def __init__(self, n_q: int, k: int, d: int) -> None:
            super().__init__()
            self.register_buffer("codebooks", torch.randn(n_q, k, d) * 0.1)
            self.register_buffer("counts", torch.ones(n_q, k))
            self.register_buffer("sums", self.codebooks.clone())

        def forward(self, z: torch.Tensor, n_q: int) -> tuple[torch.Tensor, torch.Tensor]:
            x = z.transpose(1, 2).reshape(-1, z.shape[1])  # (B*T, D)
            residual, out, commit = x, torch.zeros_like(x), x.new_zeros(())
            for q in range(n_q):
                book = self.codebooks[q]
                idx = torch.cdist(residual, book).argmin(dim=1)
                chosen = book[idx]
                if self.training:
                    self._ema(q, residual.detach(), idx)
                commit = commit + torch.mean((residual - chosen.detach()) ** 2)
                out = out + chosen
                residual = residual - chosen
            out = x + (out - x).detach()  # straight-through
            b, d, t = z.shape
            return out.reshape(b, t, d).transpose(1, 2), commit

        @torch.no_grad()
        def _ema(self, q: int, x: torch.Tensor, idx: torch.Tensor, decay: float = 0.99) -> None:
            k = self.codebooks.shape[1]
            onehot = torch.zeros(x.shape[0], k, device=x.device)
            onehot[torch.arange(x.shape[0]), idx] = 1.0
            self.counts[q].mul_(decay).add_(onehot.sum(0), alpha=1 - decay)
            self.sums[q].mul_(decay).add_(onehot.t() @ x, alpha=1 - decay)
            self.codebooks[q].copy_(self.sums[q] / self.counts[q].clamp(min=1e-5)[:, None])
            dead = self.counts[q] < 1e-2
            if dead.any():  # restart unused entries on random residuals of this batch
                pick = torch.randint(0, x.shape[0], (int(dead.sum()),), device=x.device)
                self.codebooks[q][dead] = x[pick]
                self.sums[q][dead] = x[pick]
                self.counts[q][dead] = 1.0

    class Codec(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            ch = cfg.channels
            self.enc_in = nn.Conv1d(1, ch[0], 7, padding=3)
            self.down = nn.ModuleList(
                Down(ch[i], ch[i + 1] if i + 1 < len(ch) else ch[i], s)
                for i, s in enumerate(cfg.strides)
            )
            self.enc_out = nn.Conv1d(ch[-1], cfg.latent, 3, padding=1)
            self.rvq = RVQ(cfg.n_quantizers, cfg.codebook_size, cfg.latent)
            self.dec_in = nn.Conv1d(cfg.latent, ch[-1], 7, padding=3)
            rev = list(reversed(ch))
            self.up = nn.ModuleList(
                Up(rev[i], rev[i + 1] if i + 1 < len(rev) else rev[i], s)
                for i, s in enumerate(reversed(cfg.strides))
            )
            self.dec_out = nn.Conv1d(rev[-1], 1, 7, padding=3)

        def forward(self, wav: torch.Tensor, n_q: int) -> tuple[torch.Tensor, torch.Tensor]:
            x = self.enc_in(wav.unsqueeze(1))
            for blk in self.down:
                x = blk(x)
            z, commit = self.rvq(self.enc_out(x), n_q)
            y = self.dec_in(z)
            for blk in self.up:
                y = blk(y)
            return torch.tanh(self.dec_out(nn.functional.elu(y))).squeeze(1), commit

    return Codec()


def _stft_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence + L1 of log magnitudes."""
    import torch

    loss = y.new_zeros(())
    for n_fft in (256, 512, 1024):
        win = torch.hann_window(n_fft, device=x.device)
        sx = torch.stft(x, n_fft, n_fft // 4, window=win, return_complex=True).abs()
        sy = torch.stft(y, n_fft, n_fft // 4, window=win, return_complex=True).abs()
        sc = torch.linalg.norm(sx - sy) / torch.linalg.norm(sx).clamp(min=1e-7)
        mag = torch.mean(torch.abs(torch.log(sx + 1e-5) - torch.log(sy + 1e-5)))
        loss = loss + sc + mag
    return loss


def train_codec(
    speech: Sequence[np.ndarray],
    cfg: CodecConfig,
    *,
    max_minutes: float | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> torch.nn.Module:
    """Train a codec on 16 kHz speech arrays; return the torch module (eval mode).

    Parameters
    ----------
    speech : sequence of np.ndarray
        Mono float32 speech at :data:`CODEC_SR` (bona fide training utterances).
    cfg : CodecConfig
        Architecture and loop settings.
    max_minutes : float, optional
        Wall-time cap (the run then stops early, and is no longer step-reproducible).
    progress : callable, optional
        ``progress(step, steps, loss)`` every 20 steps.
    """
    import torch

    crop = int(cfg.crop_seconds * CODEC_SR) // cfg.hop * cfg.hop
    pool = [np.asarray(s, dtype=np.float32) for s in speech if len(s) >= crop]
    if not pool:
        raise ParameterError.invalid("speech", f"clips of at least {cfg.crop_seconds} s", 0)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = _build(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.8, 0.99))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    model.train()
    t0 = time.monotonic()
    for step in range(1, cfg.steps + 1):
        batch = []
        for _ in range(cfg.batch_size):
            clip = pool[int(rng.integers(len(pool)))]
            start = int(rng.integers(len(clip) - crop + 1))
            seg = clip[start : start + crop]
            peak = float(np.max(np.abs(seg))) or 1.0
            batch.append(seg / peak * float(rng.uniform(0.3, 0.95)))
        x = torch.from_numpy(np.stack(batch))
        n_q = int(rng.integers(1, cfg.n_quantizers + 1))  # quantiser dropout
        y, commit = model(x, n_q)
        loss = _stft_loss(y, x) + 0.1 * torch.mean(torch.abs(y - x)) + 0.25 * commit
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if progress is not None and step % 20 == 0:
            progress(step, cfg.steps, float(loss))
        if max_minutes is not None and time.monotonic() - t0 > 60.0 * max_minutes:
            logger.info("codec %s: time cap after %d steps", cfg.name, step)
            break
    return model.eval()


def save_codec(
    model: torch.nn.Module,
    cfg: CodecConfig,
    out_dir: str | Path,
    *,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write ``codec.safetensors`` and ``codec.json`` (config + training facts)."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / _WEIGHTS_NAME))
    write_codec_doc(out, cfg, info or {})
    return out


def write_codec_doc(out: Path, cfg: CodecConfig, info: dict[str, Any]) -> None:
    """Write ``out/codec.json``: ``cfg`` and ``info`` with the sha256 of the weights in ``out``."""
    info = {**info, "weights_sha256": sha256_file(out / _WEIGHTS_NAME)}
    doc = {"config": asdict(cfg), "info": info}
    (out / _CONFIG_NAME).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


@dataclass
class LoadedCodec:
    """A trained codec ready to resynthesise (``__call__``)."""

    cfg: CodecConfig
    model: Any = field(repr=False)

    def __call__(self, y: np.ndarray, *, n_q: int) -> np.ndarray:
        """Encode and decode 16 kHz audio with ``n_q`` codebooks (same length out)."""
        import torch

        x = np.asarray(y, dtype=np.float32)
        n = len(x)
        pad = (-n) % self.cfg.hop
        peak = float(np.max(np.abs(x), initial=0.0)) or 1.0
        with torch.inference_mode():
            t = torch.from_numpy(np.pad(x / peak * 0.9, (0, pad)))[None]
            out = self.model(t, n_q)[0][0].numpy()
        return (out[:n] * peak / 0.9).astype(np.float32)


def speech_sha256(speech: Sequence[np.ndarray]) -> str:
    """sha256 of a codec's training speech: each clip's length and float32 samples, in order."""
    h = hashlib.sha256()
    for clip in speech:
        a = np.ascontiguousarray(clip, dtype=np.float32)
        h.update(a.size.to_bytes(8, "little"))
        h.update(a.tobytes())
    return h.hexdigest()


def read_codec_doc(p: Path) -> tuple[CodecConfig, dict[str, Any]]:
    """Config and info of the codec directory ``p``; its weights checked against the sha256
    recorded at save time (directories saved before that was recorded are not checked).

    Raises
    ------
    ModelIntegrityError
        The weights file's sha256 is not the one ``codec.json`` records.
    """
    doc = json.loads((p / _CONFIG_NAME).read_text(encoding="utf-8"))
    cfg = CodecConfig.from_dict(doc["config"])
    info = doc.get("info") or {}
    want = info.get("weights_sha256")
    if want is not None and sha256_file(p / _WEIGHTS_NAME) != want:
        raise ModelIntegrityError(f"{p / _WEIGHTS_NAME}: sha256 differs from {_CONFIG_NAME}'s")
    return cfg, info


def bundled_codec(cfg: CodecConfig, speech_digest: str, root: str | Path) -> Path | None:
    """The codec directory ``root/<cfg.name>`` if it was trained with ``cfg`` on the speech
    whose :func:`speech_sha256` is ``speech_digest`` and its weights are intact, else None."""
    p = Path(root) / cfg.name
    if not (p / _CONFIG_NAME).is_file():
        return None
    try:
        saved, info = read_codec_doc(p)
    except (ModelIntegrityError, ValueError, KeyError) as exc:  # ParameterError is a ValueError
        logger.warning("bundled codec %s not used: %s", p, exc)
        return None
    if saved != cfg or info.get("train_speech_sha256") != speech_digest:
        logger.info("bundled codec %s was trained otherwise (config or speech); not used", p)
        return None
    return p


def load_codec(path: str | Path) -> LoadedCodec:
    """Load a codec directory written by :func:`save_codec` (safetensors, no pickle).

    Raises
    ------
    ModelIntegrityError
        The weights file's sha256 is not the one its ``codec.json`` records.
    """
    from safetensors.torch import load_file

    p = Path(path)
    cfg, _ = read_codec_doc(p)
    model = _build(cfg)
    model.load_state_dict(load_file(str(p / _WEIGHTS_NAME)))
    return LoadedCodec(cfg, model.eval())


def resynthesise(codec: LoadedCodec, y: np.ndarray, sr: int, *, n_q: int) -> np.ndarray:
    """Resample ``y`` to 16 kHz and pass it through ``codec`` with ``n_q`` codebooks."""
    from ._io import resample

    return codec(resample(np.asarray(y, dtype=np.float32), sr, CODEC_SR), n_q=n_q)
