"""Sharpness-aware minimisation around the training loop's optimiser.

SAM (Foret et al., ICLR 2021) takes each step from the gradient at the worst point
of a small ball around the weights, ``w + e`` with ``e = rho * g / ||g||``, so it
prefers minima whose loss stays low nearby. ASAM (Kwon et al., ICML 2021) scales the
ball by each weight's magnitude, ``e = rho * T^2 g / ||T g||`` with ``T = |w| + eta``,
so the radius does not depend on how the network is parameterised. Shim et al.
(Interspeech 2023, "Multi-dataset co-training with sharpness-aware optimization for
audio anti-spoofing") found both lower the EER of countermeasures on unseen data.

The step costs a second forward and backward pass. A model with a frozen encoder
(:class:`~audio_detect.classifiers.whisper_cm.WhisperCM` without ``train_blocks``)
computes its encoder states once and repeats only the head, so SAM adds little to its
step (:func:`head_inputs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..classifiers.whisper_cm import WhisperCM
from ..exceptions import ParameterError

__all__ = ["SharpnessAwareStep", "frozen_batch_statistics", "head_inputs"]

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def head_inputs(model: nn.Module, x: torch.Tensor) -> tuple[ScoreFn, torch.Tensor]:
    """The function to differentiate and its input for batch ``x``.

    A :class:`WhisperCM` whose encoder is frozen returns ``(model.score_states, states)``
    with the encoder states computed once without autograd; any other model returns
    ``(model, x)``. ``fn(inp)`` equals ``model(x)`` either way.
    """
    if isinstance(model, WhisperCM) and not model.train_blocks:
        with torch.no_grad():
            return model.score_states, model.hidden_states(x)
    return model, x


@contextmanager
def frozen_batch_statistics(model: nn.Module) -> Iterator[None]:
    """Batch norms use batch statistics but leave their running averages untouched.

    The perturbed pass of a SAM step must not count the batch a second time.
    """
    saved: list[tuple[nn.modules.batchnorm._BatchNorm, float | None]] = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            saved.append((m, m.momentum))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in saved:
            m.momentum = momentum


class SharpnessAwareStep:
    """Perturb the trainable weights towards the local worst case, then restore them.

    Parameters
    ----------
    params : iterable of torch.nn.Parameter
        The weights the optimiser trains.
    rho : float
        Radius of the neighbourhood (SAM: ~0.05; ASAM: ~0.5).
    adaptive : bool
        ASAM's weight-scaled neighbourhood instead of SAM's sphere.
    eta : float
        ASAM's offset, so that zero weights are perturbed too.

    Notes
    -----
    One step::

        loss(fn(inp), y).backward()      # g at w
        sam.perturb()                     # w <- w + e(g)
        optim.zero_grad(); loss(fn(inp), y).backward()   # g at w + e
        sam.restore()                     # w <- w; the optimiser steps with g(w + e)
    """

    def __init__(
        self,
        params: Iterator[nn.Parameter] | list[nn.Parameter],
        *,
        rho: float,
        adaptive: bool = False,
        eta: float = 0.01,
    ) -> None:
        if not rho > 0:
            raise ParameterError.invalid("rho", "> 0", rho)
        if not eta >= 0:
            raise ParameterError.invalid("eta", ">= 0", eta)
        self.params = [p for p in params if p.requires_grad]
        self.rho = float(rho)
        self.adaptive = bool(adaptive)
        self.eta = float(eta)
        self._offsets: list[tuple[nn.Parameter, torch.Tensor]] = []

    @torch.no_grad()
    def perturb(self) -> float:
        """Move every weight with a gradient by ``e``; return ``||T g||`` (0: no move)."""
        if self._offsets:
            raise RuntimeError("perturb() called twice without restore()")
        with_grad = [p for p in self.params if p.grad is not None]
        scaled = [
            (p.abs() + self.eta) * p.grad if self.adaptive else p.grad for p in with_grad
        ]  # fmt: skip
        if not scaled:
            return 0.0
        norm = float(torch.linalg.vector_norm(torch.stack([s.norm() for s in scaled])))
        if norm == 0.0 or not math.isfinite(norm):
            return 0.0
        for p, s in zip(with_grad, scaled, strict=True):
            e = s * (self.rho / norm)
            if self.adaptive:
                e = e * (p.abs() + self.eta)
            p.add_(e)
            self._offsets.append((p, e))
        return norm

    @torch.no_grad()
    def restore(self) -> None:
        """Put the weights back where :meth:`perturb` found them."""
        for p, e in self._offsets:
            p.sub_(e)
        self._offsets.clear()
