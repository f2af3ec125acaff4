"""Sharpness-aware steps (``audio_detect/training/sam.py``) and their use by the loop."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from extras import needs_whisper_tiny  # noqa: E402
from torch import nn  # noqa: E402

from audio_detect.exceptions import ParameterError  # noqa: E402
from audio_detect.training.config import TrainConfig, load_train_config  # noqa: E402
from audio_detect.training.loop import train_model  # noqa: E402
from audio_detect.training.sam import (  # noqa: E402
    SharpnessAwareStep,
    frozen_batch_statistics,
    head_inputs,
)
from audio_detect.training.seed import seed_everything  # noqa: E402

pytestmark = pytest.mark.torch

REPO = Path(__file__).resolve().parents[2]


def _net_with_grads(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1))
    x = torch.randn(8, 5)
    net(x).pow(2).mean().backward()
    return net


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def test_sam_moves_the_weights_by_rho_along_the_gradient_and_restores_them() -> None:
    net = _net_with_grads()
    before = _flat([p.detach().clone() for p in net.parameters()])
    grad = _flat([p.grad.clone() for p in net.parameters()])
    sam = SharpnessAwareStep(net.parameters(), rho=0.05)
    norm = sam.perturb()
    moved = _flat([p.detach() for p in net.parameters()]) - before
    assert norm == pytest.approx(float(grad.norm()), rel=1e-5)
    assert float(moved.norm()) == pytest.approx(0.05, rel=1e-4)
    # e = rho * g / ||g||: the move points along the gradient.
    assert float(torch.nn.functional.cosine_similarity(moved, grad, dim=0)) > 0.9999
    with pytest.raises(RuntimeError, match="twice"):
        sam.perturb()
    sam.restore()
    assert torch.equal(_flat([p.detach() for p in net.parameters()]), before)


def test_asam_scales_the_move_by_the_weight_magnitude() -> None:
    net = _net_with_grads(seed=1)
    ps = list(net.parameters())
    w = _flat([p.detach().clone() for p in ps])
    g = _flat([p.grad.clone() for p in ps])
    t = w.abs() + 0.01
    expected = 0.5 * t * t * g / torch.linalg.vector_norm(t * g)
    sam = SharpnessAwareStep(ps, rho=0.5, adaptive=True, eta=0.01)
    sam.perturb()
    moved = _flat([p.detach() for p in ps]) - w
    torch.testing.assert_close(moved, expected, rtol=1e-4, atol=1e-7)
    # Not SAM's move: the largest weights move most.
    assert not torch.allclose(moved, 0.5 * g / g.norm(), atol=1e-4)
    sam.restore()
    torch.testing.assert_close(_flat([p.detach() for p in ps]), w, rtol=0, atol=1e-7)


def test_sam_without_gradients_does_not_move_and_refuses_a_bad_radius() -> None:
    net = nn.Linear(3, 1)
    before = [p.detach().clone() for p in net.parameters()]
    sam = SharpnessAwareStep(net.parameters(), rho=0.05)
    assert sam.perturb() == 0.0
    sam.restore()
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    with pytest.raises(ParameterError, match="rho"):
        SharpnessAwareStep(net.parameters(), rho=0.0)
    with pytest.raises(ParameterError, match="sam_rho"):
        TrainConfig(sam_rho=-0.1)


def test_the_perturbed_pass_leaves_batch_norm_running_statistics_alone() -> None:
    bn = nn.BatchNorm1d(3)
    bn.train()
    bn(torch.randn(16, 3) + 5.0)
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    with frozen_batch_statistics(bn):
        out = bn(torch.randn(16, 3) - 7.0)
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    assert bn.momentum == pytest.approx(0.1)
    # Still normalised with the batch's own statistics.
    assert float(out.detach().mean().abs()) < 1e-4
    bn(torch.randn(16, 3) - 7.0)
    assert not torch.equal(bn.running_mean, mean)


@needs_whisper_tiny
def test_frozen_whisper_model_repeats_only_its_head() -> None:
    from audio_detect.classifiers.whisper_cm import WhisperCM

    torch.manual_seed(0)
    model = WhisperCM(encoder="whisper-tiny.en", n_blocks=1, hidden=16, dropout=0.0)
    model.eval()
    x = torch.randn(2, 8000) * 0.1
    fn, inp = head_inputs(model, x)
    assert inp.dim() == 4 and not inp.requires_grad  # (n_states, batch, time, d)
    torch.testing.assert_close(fn(inp), model(x))
    lcnn_like = nn.Linear(4, 1)
    fn2, inp2 = head_inputs(lcnn_like, x[:, :4])
    assert fn2 is lcnn_like and inp2 is not None


def test_training_with_sam_takes_other_steps_than_without(tmp_path: Path, make_clips) -> None:
    base = load_train_config(REPO / "configs" / "tiny_ci.json")
    rng = np.random.default_rng(0)
    train, dev = make_clips(8, rng), make_clips(4, rng)
    results = {}
    for name, rho in (("plain", 0.0), ("again", 0.0), ("sam", 0.05)):
        seed_everything(0)
        cfg = dataclasses.replace(base, sam_rho=rho)
        results[name] = train_model(cfg, train, dev, work_dir=tmp_path / name)
        log = [json.loads(line) for line in (tmp_path / name / "train_log.jsonl").open()]
        assert log[0]["config"]["sam_rho"] == rho and log[-1]["event"] == "end"
        assert results[name].steps == 4
    plain, again, sam = (results[k].model.state_dict() for k in ("plain", "again", "sam"))
    # Seeded runs repeat exactly, so a difference is SAM's doing.
    assert all(torch.equal(plain[k], again[k]) for k in plain)
    assert any(not torch.equal(plain[k], sam[k]) for k in plain if plain[k].is_floating_point())
