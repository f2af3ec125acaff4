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
