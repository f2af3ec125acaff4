"""Fixed seeds and thread counts for reproducible CPU training."""

from __future__ import annotations

import logging
import os
import random

import numpy as np

__all__ = ["seed_everything", "worker_rng"]

logger = logging.getLogger(__name__)


def seed_everything(seed: int, *, num_threads: int | None = 2, deterministic: bool = True) -> None:
    """Seed ``random``, numpy and torch, and fix torch's CPU thread count.

    Parameters
    ----------
    seed : int
        Seed for every generator.
    num_threads : int or None
        ``torch.set_num_threads`` value (None leaves it unchanged).
    deterministic : bool
        Ask torch for deterministic algorithms where available (warn-only).
    """
    import torch

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    logger.debug("seeded everything with %d (threads=%s)", seed, num_threads)


def worker_rng(seed: int, *keys: int) -> np.random.Generator:
    """Return an independent numpy generator for ``(seed, *keys)`` (e.g. epoch, index)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *keys]))
