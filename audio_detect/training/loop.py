"""The training loop: AdamW, warm-up + cosine/step schedule, per-epoch dev EER.

The best dev epoch (lowest dev EER on centre crops, ties broken by dev loss) is
checkpointed with ``safetensors`` (never pickle) and restored at the end. A JSON-lines
log records every epoch (and every ``log_every`` steps).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader

from ..allocator import keep_freed_memory
from ..exceptions import ParameterError
from .augment import Augmenter
from .config import TrainConfig
from .data import (
    BalancedSampler,
    CachedClip,
    CropDataset,
    PairedSampler,
    collate,
    partner_index,
    sampling_weights,
)
from .losses import build_loss
from .models import build_model, count_parameters
from .sam import SharpnessAwareStep, frozen_batch_statistics, head_inputs
from .swa import WeightAverage

__all__ = ["TrainResult", "eer", "score_crops", "stratified_subset", "train_model"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def eer(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Equal error rate (fraction) via :func:`audio_detect.evaluation.metrics.compute_eer`."""
    from ..evaluation.metrics import compute_eer

    return float(compute_eer(y_true, y_score)[0])


@dataclass
class TrainResult:
    """What :func:`train_model` returns (the model holds the best weights)."""

    model: nn.Module
    best_epoch: int
    best_dev_eer: float
    steps: int
    epochs: int
    wall_seconds: float
    n_parameters: int
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str = "epochs"


def param_groups(model: nn.Module, *, lr: float, encoder_lr: float | None) -> list[dict[str, Any]]:
    """AdamW parameter groups: one, or a pretrained ``encoder`` apart.

    With ``encoder_lr`` the parameters of ``model.encoder`` get their own rate (the
    schedule scales both groups alike); without it, every parameter is in one group,
    as before the option existed (checkpoints' optimiser states keep their layout).
    Frozen parameters never get a gradient, so AdamW leaves them alone either way;
    an ``encoder_lr`` that nothing would use (no ``encoder``, or a frozen one) is
    refused rather than ignored.
    """
    params = list(model.parameters())
    if encoder_lr is None:
        return [{"params": params, "lr": lr}]
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module) or not any(p.requires_grad for p in encoder.parameters()):
        raise ParameterError.invalid(
            "encoder_lr",
            "null unless the model trains a pretrained encoder (whisper_cm with train_blocks)",
            encoder_lr,
        )
    enc_ids = {id(p) for p in encoder.parameters()}
    return [
        {"params": [p for p in params if id(p) not in enc_ids], "lr": lr},
        {"params": [p for p in params if id(p) in enc_ids], "lr": encoder_lr},
    ]


def _lr_factor(step: int, *, total: int, warmup: int, kind: str) -> float:
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if kind == "constant" or total <= warmup:
        return 1.0
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "cosine":
        return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * p))
    return 0.5 ** min(3, int(p * 4))  # step: halve every quarter


def stratified_subset(clips: Sequence[CachedClip], n: int, seed: int) -> list[CachedClip]:
    """At most ``n`` clips (0 = all), seeded, keeping the label proportions."""
    clips = list(clips)
    if n <= 0 or n >= len(clips):
        return clips
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for label in (0, 1):
        idx = [i for i, c in enumerate(clips) if c.label == label]
        k = min(len(idx), max(1, round(n * len(idx) / len(clips)))) if idx else 0
        keep.extend(rng.choice(idx, size=k, replace=False).tolist())
    return [clips[i] for i in sorted(keep)]


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    keep_freed_memory()


def _state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def _dev_metrics(
    model: nn.Module, dev_ds: CropDataset, loss_fn: nn.Module, progress: Progress | None = None
) -> tuple[float, float]:
    """Crop-level (EER, loss) of the model on the dev crops."""
    scores = score_crops(model, dev_ds, progress=progress)
    y = dev_ds.labels
    loss = float(loss_fn(torch.from_numpy(scores), torch.from_numpy(y.astype(np.float32))))
    return eer(y, scores), loss


def _keep_average(
    model: nn.Module,
    averager: WeightAverage,
    dev_ds: CropDataset,
    loss_fn: nn.Module,
    ckpt_path: Path,
) -> tuple[float, float]:
    """Save the averaged weights as the run's checkpoint; return their dev (EER, loss).

    A run stopped by its time budget before the averaged epochs keeps its last weights.
    """
    if averager.n_averaged_:
        model.load_state_dict(averager.state_dict())
    else:
        logger.warning("stopped before the averaged epochs: keeping the last weights")
    dev_eer, loss = _dev_metrics(model, dev_ds, loss_fn)
    logger.info(
        "weights averaged over %d epochs: dev loss %.4f dev EER %.2f %%",
        averager.n_averaged_, loss, 100 * dev_eer,
    )  # fmt: skip
    save_file(_state_dict(model), str(ckpt_path))
    return dev_eer, loss


@torch.no_grad()
def score_crops(
    model: nn.Module,
    dataset: CropDataset,
    *,
    batch_size: int = 32,
    progress: Progress | None = None,
    stage: str = "dev",
) -> np.ndarray:
    """Raw scores of the deterministic crops of ``dataset`` (eval mode)."""
    model.eval()
    out = []
    n = len(dataset)
    for i in range(0, n, batch_size):
        xs = torch.stack([dataset[j][0] for j in range(i, min(i + batch_size, n))])
        out.append(model(xs).float().numpy())
        if progress is not None:
            progress(stage, min(i + batch_size, n), n)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def train_model(
    config: TrainConfig,
    train_clips: Sequence[CachedClip],
    dev_clips: Sequence[CachedClip],
    *,
    work_dir: Path,
    progress: Progress | None = None,
    max_minutes: float | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``train_clips`` and select the epoch on ``dev_clips``.

    Parameters
    ----------
    config : TrainConfig
        Hyper-parameters (seeding is the caller's job, see :func:`seed_everything`).
    train_clips, dev_clips : sequence of CachedClip
        Decoded data (both classes must be present in each).
    work_dir : Path
        Receives ``best.safetensors`` and ``train_log.jsonl``.
    progress : callable, optional
        ``progress(stage, done, total)`` for a progress bar.
    max_minutes : float, optional
        Wall-clock budget overriding ``config.max_minutes`` (0 or None: config value).

    Returns
    -------
    TrainResult
        The model with the best dev weights loaded, and the run's history.
    """
    t0 = time.perf_counter()
    # Batches of the same shapes every step: reuse freed tensors instead of page-faulting
    # them in again (audio_detect/allocator.py).
    keep_freed_memory()
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "train_log.jsonl"
    ckpt_path = work_dir / "best.safetensors"
    budget_min = max_minutes if max_minutes else config.max_minutes
    budget_s = budget_min * 60.0 if budget_min and budget_min > 0 else math.inf

    model = build_model(config)
    n_params = count_parameters(model)
    loss_fn = build_loss(config.loss)
    augmenter = Augmenter(config.augment, sr=config.sample_rate)
    train_ds = CropDataset(
        train_clips, sr=config.sample_rate, crop_seconds=config.crop_seconds, train=True,
        augmenter=augmenter,
    )  # fmt: skip
    dev_sel = stratified_subset(dev_clips, config.dev_max_utts, config.seed)
    dev_ds = CropDataset(
        dev_sel, sr=config.sample_rate, crop_seconds=config.crop_seconds, train=False
    )
    epoch_size = config.epoch_size or len(train_ds)
    steps_per_epoch = max(1, epoch_size // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    weights = sampling_weights(train_clips, mode=config.balance)
    sampler: BalancedSampler
    if config.pair_copies > 0:
        partners = partner_index(train_clips)
        logger.info(
            "pairing: %d of %d training spoofs have their bona fide source in training",
            int(np.sum(partners >= 0)), int(np.sum(train_ds.labels == 1)),
        )  # fmt: skip
        sampler = PairedSampler(
            weights, partners=partners, labels=train_ds.labels, p_pair=config.pair_copies,
            num_samples=steps_per_epoch * config.batch_size, seed=config.seed,
        )  # fmt: skip
    else:
        sampler = BalancedSampler(
            weights, num_samples=steps_per_epoch * config.batch_size, seed=config.seed
        )
    loader = DataLoader(
        train_ds,
        batch_size=config.batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=config.num_workers,
        drop_last=True,
        worker_init_fn=_worker_init,
        persistent_workers=config.num_workers > 0,
    )
    optim = torch.optim.AdamW(
        param_groups(model, lr=config.lr, encoder_lr=config.encoder_lr),
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    sam = (
        SharpnessAwareStep(model.parameters(), rho=config.sam_rho, adaptive=config.sam_adaptive)
        if config.sam_rho > 0
        else None
    )
    warmup, kind = config.warmup_steps, config.scheduler
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: _lr_factor(s, total=total_steps, warmup=warmup, kind=kind)
    )
    logger.info(
        "training %s: %d parameters, %d train / %d dev clips, %d steps/epoch, %d steps max",
        config.model.arch, n_params, len(train_ds), len(dev_ds), steps_per_epoch, total_steps,
    )  # fmt: skip

    # Stochastic weight averaging over the last epochs the step budget reaches.
    averager = WeightAverage() if config.average_epochs else None
    average_from = math.ceil(total_steps / steps_per_epoch) - config.average_epochs
    history: list[dict[str, Any]] = []
    best = (math.inf, math.inf)
    best_epoch, step, epoch, stopped_by = -1, 0, 0, "epochs"
    with log_path.open("w", encoding="utf-8") as log:

        def write(rec: dict[str, Any]) -> None:
            log.write(json.dumps(rec) + "\n")
            log.flush()

        write(
            {
                "event": "start",
                "config": config.to_dict(),
                "n_parameters": n_params,
                "n_train": len(train_ds),
                "n_dev": len(dev_ds),
                "total_steps": total_steps,
            }
        )
        for epoch in range(config.epochs):
            sampler.set_epoch(epoch)
            model.train()
            losses = []
            for x, y in loader:
                fn, inp = head_inputs(model, x)
                loss = loss_fn(fn(inp), y)
                optim.zero_grad(set_to_none=True)
                loss.backward()
                if sam is not None and sam.perturb() > 0:
                    optim.zero_grad(set_to_none=True)
                    with frozen_batch_statistics(model):
                        loss_fn(fn(inp), y).backward()
                    sam.restore()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optim.step()
                sched.step()
                step += 1
                losses.append(float(loss.detach()))
                if progress is not None:
                    progress("train", step, total_steps)
                if step % 20 == 0:
                    write(
                        {
                            "event": "step",
                            "step": step,
                            "epoch": epoch,
                            "loss": float(np.mean(losses[-20:])),
                            "lr": sched.get_last_lr()[0],
                            "elapsed_s": round(time.perf_counter() - t0, 1),
                        }
                    )
                if step >= total_steps or time.perf_counter() - t0 > budget_s:
                    break
            dev_eer, dev_loss = _dev_metrics(model, dev_ds, loss_fn, progress)
            rec = {
                "event": "epoch",
                "epoch": epoch,
                "step": step,
                "train_loss": float(np.mean(losses)) if losses else None,
                "dev_loss": dev_loss,
                "dev_eer": dev_eer,
                "lr": sched.get_last_lr()[0],
                "elapsed_s": round(time.perf_counter() - t0, 1),
            }
            history.append(rec)
            write(rec)
            logger.info(
                "epoch %d step %d: train loss %.4f dev loss %.4f dev EER %.2f %%",
                epoch,
                step,
                rec["train_loss"] or float("nan"),
                dev_loss,
                100 * dev_eer,
            )
            if averager is None and (dev_eer, dev_loss) < best:
                best, best_epoch = (dev_eer, dev_loss), epoch
                save_file(_state_dict(model), str(ckpt_path))
            if averager is not None and epoch >= average_from:
                averager.update(model)
            if step >= total_steps:
                stopped_by = "steps"
                break
            if time.perf_counter() - t0 > budget_s:
                stopped_by = "time"
                break
        if averager is not None:
            best, best_epoch = _keep_average(model, averager, dev_ds, loss_fn, ckpt_path), epoch
            write({"event": "average", "epochs": averager.n_averaged_, "dev_eer": best[0]})
        wall = time.perf_counter() - t0
        write(
            {
                "event": "end",
                "best_epoch": best_epoch,
                "best_dev_eer": best[0],
                "steps": step,
                "epochs": epoch + 1,
                "wall_seconds": round(wall, 1),
                "stopped_by": stopped_by,
            }
        )
    model.load_state_dict(load_file(str(ckpt_path)))
    model.eval()
    return TrainResult(
        model=model, best_epoch=best_epoch, best_dev_eer=float(best[0]), steps=step,
        epochs=epoch + 1, wall_seconds=wall, n_parameters=n_params, history=history,
        stopped_by=stopped_by,
    )  # fmt: skip
