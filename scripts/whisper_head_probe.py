"""Compare heads on cached Whisper block-1 frames: pick the epoch on dev, report eval.

Usage: python scripts/whisper_head_probe.py HEAD [HEAD ...]   (meanstd, convasp, framemlp)

Reads ``FRAMES_DIR`` (default ``runs/whisper_frames``, written by
``scripts/whisper_frames_cache.py``). Crop-level EER (one 4 s crop per file) on dev and
eval, clean / tel_mulaw / tel_gsm; 12 epochs of 6,000 balanced draws, AdamW, the epoch
with the lowest mean dev EER kept. A development tool: the shipped model's numbers come
from ``audio-detect train`` / ``audio-detect evaluate``.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from torch import nn

from audio_detect.classifiers.heads import AttentiveStatsPool
from audio_detect.evaluation.metrics import compute_eer

torch.set_num_threads(1)
FRAMES = os.environ.get("FRAMES_DIR", "runs/whisper_frames")
CONDITIONS = ("clean", "tel_mulaw", "tel_gsm")


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.load(f"{FRAMES}/{split}_X.npy", mmap_mode="r")
    return x, np.load(f"{FRAMES}/{split}_meta.npy", allow_pickle=True)


class MeanStd(nn.Module):
    def __init__(self, d: int = 384, h: int = 256, p: float = 0.3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.BatchNorm1d(2 * d), nn.Linear(2 * d, h), nn.GELU(), nn.Dropout(p), nn.Linear(h, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x.mean(1), x.std(1)], 1)).squeeze(1)


class ConvASP(nn.Module):
    def __init__(self, d: int = 384, c: int = 128, p: float = 0.3) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(d)
        self.conv = nn.Sequential(
            nn.Conv1d(d, c, 3, padding=1), nn.BatchNorm1d(c), nn.GELU(),
            nn.Conv1d(c, c, 3, padding=2, dilation=2), nn.BatchNorm1d(c), nn.GELU(),
        )  # fmt: skip
        self.pool = AttentiveStatsPool(c, hidden=64)
        self.out = nn.Sequential(nn.Dropout(p), nn.Linear(2 * c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.pool(self.conv(self.norm(x.transpose(1, 2))))).squeeze(1)


class FrameMLP(nn.Module):
    def __init__(self, d: int = 384, h: int = 128, p: float = 0.3) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(d)
        self.net = nn.Sequential(nn.Linear(d, h), nn.GELU(), nn.Dropout(p), nn.Linear(h, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.net(z).squeeze(2).mean(1)


HEADS = {"meanstd": MeanStd, "convasp": ConvASP, "framemlp": FrameMLP}


def scores(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        out = [
            model(torch.from_numpy(np.asarray(x[i : i + 256], dtype=np.float32)))
            for i in range(0, len(x), 256)
        ]
    return torch.cat(out).numpy()


def crop_eers(model: nn.Module, x: np.ndarray, meta: np.ndarray) -> dict[str, float]:
    s = scores(model, x)
    out = {}
    for c in CONDITIONS:
        k = meta[:, 4] == c
        out[c] = round(100 * float(compute_eer(meta[k, 1].astype(int), s[k])[0]), 2)
    return out


def run(name: str, *, epochs: int = 12, draws: int = 6000, seed: int = 0) -> None:
    x_tr, m_tr = load("train")
    x_dv, m_dv = load("dev")
    x_ev, m_ev = load("eval")
    y_tr = m_tr[:, 1].astype(int)
    x_tr_t = torch.from_numpy(np.asarray(x_tr))  # float16 in RAM
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = HEADS[name]()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    p = np.where(y_tr == 1, 0.5 / (y_tr == 1).sum(), 0.5 / (y_tr == 0).sum())
    best: tuple[float, int, dict[str, torch.Tensor]] = (np.inf, -1, {})
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        idx = rng.choice(len(y_tr), size=draws, p=p)
        for b in range(0, draws, 64):
            j = np.sort(idx[b : b + 64])
            y = torch.from_numpy(y_tr[j]).float()
            loss = nn.functional.binary_cross_entropy_with_logits(model(x_tr_t[j].float()), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        dev = crop_eers(model, x_dv, m_dv)
        mean = float(np.mean(list(dev.values())))
        if mean < best[0]:
            best = (mean, epoch, {k: v.clone() for k, v in model.state_dict().items()})
        print(name, epoch, "dev", dev, f"{time.time() - t0:.0f}s", flush=True)
    model.load_state_dict(best[2])
    ev = crop_eers(model, x_ev, m_ev)
    print(f"RESULT {name} best epoch {best[1]} dev mean {best[0]:.2f} eval {ev}", flush=True)


if __name__ == "__main__":
    for head in sys.argv[1:]:
        run(head)
