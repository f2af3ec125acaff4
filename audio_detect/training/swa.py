"""Weight averaging over the last epochs (stochastic weight averaging).

Izmailov et al. (UAI 2018, "Averaging weights leads to wider optima and better
generalization") average the weights a run passes through late in training: the mean
lies nearer the centre of a wide, flat region of the loss than any one of them, which
tends to transfer better to data unlike the training set. Here the run's own cosine
schedule provides the late, low-rate epochs; :class:`WeightAverage` keeps the running
mean of the model's state at the end of each averaged epoch, BatchNorm running
statistics included (averaging them as well is sound when the averaged weights are
close, as at the end of a cosine schedule; the integer batch counters keep their last
value).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["WeightAverage"]


class WeightAverage:
    """Running mean of a model's ``state_dict`` over the snapshots it is given.

    Attributes
    ----------
    n_averaged_ : int
        Snapshots averaged so far.
    """

    def __init__(self) -> None:
        self._mean: dict[str, torch.Tensor] = {}
        self.n_averaged_ = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Add the model's current state to the mean."""
        self.n_averaged_ += 1
        for name, value in model.state_dict().items():
            value = value.detach().cpu()
            if name not in self._mean or not value.is_floating_point():
                self._mean[name] = value.clone()
            else:
                self._mean[name] += (value - self._mean[name]) / self.n_averaged_

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged state (contiguous copies), loadable into the model."""
        if not self.n_averaged_:
            raise RuntimeError("no snapshot averaged yet: call update() first")
        return {k: v.contiguous().clone() for k, v in self._mean.items()}
