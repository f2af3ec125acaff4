"""Ensemble of trained heads on one shared frozen encoder.

Runs of the default recipe that differ only in their seed score the unseen `modern`
protocol 27-34 % EER apart (``docs/training.md``, "Seed spread"): the frozen Whisper
features are the same in every run, and the small head fitted on top of them is where
the runs disagree. Averaging the scores of several independently trained heads removes
much of that variance (the seed ensembles of Lakshminarayanan et al., "Simple and
scalable predictive uncertainty estimation using deep ensembles", NeurIPS 2017).

Since every member's encoder is the same frozen pretrained weights, the ensemble runs the
front end and encoder once and only the heads ``n`` times, so a 3-member ensemble costs
a small fraction more than one model, not three times as much, and it exports to one
ONNX graph like any other model::

    waveform (B, N) -> RMS normalisation -> Whisper log-mel -> frozen encoder   (once)
                    -> head_1 ... head_n                                        (each)
                    -> mean of the n raw scores                                  (B,)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..exceptions import ParameterError
from .whisper_cm import WhisperCM

__all__ = ["HeadEnsemble"]


def _shared_state(model: WhisperCM) -> dict[str, torch.Tensor]:
    """Tensors every member must hold identically: front end and encoder."""
    out = {f"frontend.{k}": v for k, v in model.frontend.state_dict().items()}
    out.update({f"encoder.{k}": v for k, v in model.encoder.state_dict().items()})
    return out


class HeadEnsemble(nn.Module):
    """Mean raw score of several :class:`WhisperCM` heads over one shared frozen encoder.

    Parameters
    ----------
    members : sequence of WhisperCM
        Trained models with a frozen encoder (``train_blocks=False``) and identical front
        end, encoder weights and level normalisation; their heads may differ in anything.

    Raises
    ------
    ParameterError
        Fewer than two members, a member that is not a ``WhisperCM``, a fine-tuned encoder,
        or members whose front ends or encoders differ.
    """

    def __init__(self, members: Sequence[WhisperCM]) -> None:
        super().__init__()
        members = list(members)
        if len(members) < 2:
            raise ParameterError.invalid("members", "at least two models", len(members))
        for i, m in enumerate(members):
            if not isinstance(m, WhisperCM):
                raise ParameterError.invalid(f"members[{i}]", "a WhisperCM", type(m).__name__)
            if m.train_blocks:
                raise ParameterError(
                    f"members[{i}] fine-tunes its encoder; an ensemble shares one frozen "
                    "encoder, so every member must keep it frozen (train_blocks=False)."
                )
        ref = _shared_state(members[0])
        for i, m in enumerate(members[1:], start=1):
            state = _shared_state(m)
            differs = sorted(
                k for k in ref.keys() | state.keys()
                if k not in ref or k not in state or ref[k].shape != state[k].shape
                or not torch.equal(ref[k], state[k])
            )  # fmt: skip
            if differs or m.rms_target != members[0].rms_target:
                what = differs[0] if differs else "rms_dbfs"
                raise ParameterError(
                    f"members[{i}] does not share members[0]'s front end and encoder "
                    f"({len(differs) or 1} tensor(s) differ, first {what!r}); an ensemble "
                    "needs runs of one recipe on the same pretrained encoder."
                )
        self.members = nn.ModuleList(members)
        self.notice = members[0].notice

    @property
    def n_members(self) -> int:
        """Number of heads averaged."""
        return len(self.members)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Score ``(batch, n_samples)`` windows: the mean of the members' raw scores."""
        if waveform.dim() != 2:
            raise ParameterError.invalid("waveform", "a (batch, n_samples) tensor", waveform.shape)
        first = self.members[0]
        states = first.hidden_states(waveform)
        scores = [m.score_states(states) for m in self.members]
        return torch.stack(scores, dim=0).mean(dim=0)
