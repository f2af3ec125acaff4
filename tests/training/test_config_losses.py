"""TrainConfig JSON round trip and validation; the two losses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audio_detect.exceptions import ParameterError
from audio_detect.training.config import TrainConfig, load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NEURAL = [
    p
    for p in sorted(CONFIGS.glob("*.json"))
    if isinstance(json.loads(p.read_text()).get("model"), dict)
]


@pytest.mark.parametrize("path", NEURAL, ids=lambda p: p.name)
def test_shipped_configs_load_and_round_trip(path: Path) -> None:
    cfg = load_train_config(path)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_key_and_bad_values_rejected(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"name": "x", "epochz": 3}))
    with pytest.raises(ParameterError, match="epochz"):
        load_train_config(p)
    with pytest.raises(ParameterError, match="loss"):
        TrainConfig(loss="hinge")
    with pytest.raises(ParameterError, match=r"feature\.sr"):
        TrainConfig(sample_rate=8000)
    with pytest.raises(ParameterError, match="encoder_lr"):
        TrainConfig(encoder_lr=0.0)


def test_encoder_lr_gives_the_pretrained_encoder_its_own_rate() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    from audio_detect.training.loop import param_groups

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.head = nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.encoder(x)).sum()

    net = Net()
    (one,) = param_groups(net, lr=1e-3, encoder_lr=None)
    assert len(one["params"]) == 4 and one["lr"] == 1e-3
    head, enc = param_groups(net, lr=1e-2, encoder_lr=1e-5)
    assert {id(p) for p in enc["params"]} == {id(p) for p in net.encoder.parameters()}
    assert {id(p) for p in head["params"]} == {id(p) for p in net.head.parameters()}
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    optim = torch.optim.AdamW([head, enc], lr=1e-2, weight_decay=0.0)
    net(torch.randn(8, 4)).backward()
    optim.step()
    moved = {n: float((p.detach() - before[n]).abs().max()) for n, p in net.named_parameters()}
    # Adam's first step moves each weight by about its group's rate.
    assert moved["head.weight"] == pytest.approx(1e-2, rel=0.05)
    assert moved["encoder.weight"] == pytest.approx(1e-5, rel=0.05)
    # A rate nothing would use is refused, not ignored: a frozen encoder, or none.
    net.encoder.requires_grad_(False)
    with pytest.raises(ParameterError, match="encoder_lr"):
        param_groups(net, lr=1e-2, encoder_lr=1e-5)
    with pytest.raises(ParameterError, match="encoder_lr"):
        param_groups(nn.Linear(4, 1), lr=1e-2, encoder_lr=1e-5)


def test_losses() -> None:
    torch = pytest.importorskip("torch")
    from audio_detect.training.losses import OCSoftmaxLoss, WeightedCELoss

    score = torch.tensor([2.0, -1.0, 0.5])
    y = torch.tensor([1.0, 0.0, 0.0])
    logits = torch.stack([torch.zeros(3), score], dim=1)  # two-class softmax, s = l1 - l0
    ce = torch.nn.functional.cross_entropy(logits, y.long())
    assert float(WeightedCELoss()(score, y)) == pytest.approx(float(ce), rel=1e-6)
    oc = OCSoftmaxLoss()
    good = oc(torch.tensor([0.9, -0.95]), torch.tensor([1.0, 0.0]))
    bad = oc(torch.tensor([-0.9, 0.95]), torch.tensor([1.0, 0.0]))
    assert float(good) < float(bad)
