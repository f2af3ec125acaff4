"""Build a countermeasure model from a :class:`~audio_detect.training.config.TrainConfig`."""

from __future__ import annotations

from torch import nn

from .config import TrainConfig

__all__ = ["build_model", "count_parameters"]


def build_model(config: TrainConfig) -> nn.Module:
    """Instantiate the architecture named by ``config.model.arch``.

    The score head follows the loss: ``cosine`` for OC-softmax, ``linear`` for CE.
    """
    params = dict(config.model.params)
    params.setdefault("head", "cosine" if config.loss == "ocsoftmax" else "linear")
    if config.model.arch == "lcnn":
        from ..classifiers.lcnn import LCNN

        return LCNN(config.feature, **params)
    if config.model.arch == "aasist_l":
        from ..classifiers.aasist_l import AASISTL

        return AASISTL(sample_rate=config.sample_rate, **params)
    if config.model.arch == "whisper_cm":
        from ..classifiers.whisper_cm import WhisperCM

        return WhisperCM(sample_rate=config.sample_rate, **params)
    raise ValueError(f"unknown architecture {config.model.arch!r}")  # config validates first


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
