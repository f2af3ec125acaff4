"""Weight averaging over the last epochs (``audio_detect/training/swa.py``) in the loop."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file  # noqa: E402
from torch import nn  # noqa: E402

from audio_detect.exceptions import ParameterError  # noqa: E402
from audio_detect.training import loop  # noqa: E402
from audio_detect.training.config import TrainConfig, load_train_config  # noqa: E402
from audio_detect.training.seed import seed_everything  # noqa: E402
from audio_detect.training.swa import WeightAverage  # noqa: E402

pytestmark = pytest.mark.torch

REPO = Path(__file__).resolve().parents[2]


def test_the_average_is_the_mean_of_the_snapshots_and_counters_keep_the_last() -> None:
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    avg = WeightAverage()
    with pytest.raises(RuntimeError, match="update"):
        avg.state_dict()
    snapshots = []
    for k in range(3):
        with torch.no_grad():
            for p in net.parameters():
                p.fill_(float(k))
        net.train()
        net(torch.randn(8, 3) + k)  # moves the running statistics and the counter
        snapshots.append({n: v.clone() for n, v in net.state_dict().items()})
        avg.update(net)
    assert avg.n_averaged_ == 3
    state = avg.state_dict()
    for name, value in state.items():
        if value.is_floating_point():
            expected = torch.stack([s[name] for s in snapshots]).mean(0)
            torch.testing.assert_close(value, expected)
        else:
            assert torch.equal(value, snapshots[-1][name])  # num_batches_tracked
    assert state["0.weight"].eq(1.0).all()  # (0 + 1 + 2) / 3
    net.load_state_dict(state)  # loadable as is
    state["0.weight"].add_(1.0)
    assert avg.state_dict()["0.weight"].eq(1.0).all()  # copies, not views


def test_average_epochs_is_checked() -> None:
    with pytest.raises(ParameterError, match="average_epochs"):
        TrainConfig(epochs=3, average_epochs=4)
    with pytest.raises(ParameterError, match="average_epochs"):
        TrainConfig(average_epochs=-1)


def test_the_run_keeps_the_average_of_its_last_epochs(
    tmp_path: Path, monkeypatch, make_clips
) -> None:
    snapshots: list[dict[str, torch.Tensor]] = []

    class Recording(WeightAverage):
        def update(self, model: nn.Module) -> None:
            snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            super().update(model)

    monkeypatch.setattr(loop, "WeightAverage", Recording)
    base = load_train_config(REPO / "configs" / "tiny_ci.json")
    rng = np.random.default_rng(0)
    train, dev = make_clips(8, rng), make_clips(4, rng)
    cfg = dataclasses.replace(base, epochs=3, max_steps=6, average_epochs=2)
    seed_everything(0)
    result = loop.train_model(cfg, train, dev, work_dir=tmp_path)
    assert result.steps == 6 and len(snapshots) == 2  # epochs 1 and 2 of 0..2
    kept = load_file(str(tmp_path / "best.safetensors"))
    for name, value in kept.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (snapshots[0][name] + snapshots[1][name]) / 2)
    assert any(
        not torch.equal(kept[k], snapshots[-1][k]) for k in kept if kept[k].is_floating_point()
    )  # not the last epoch's weights
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").open()]
    (average,) = [r for r in log if r["event"] == "average"]
    assert average["epochs"] == 2 and average["dev_eer"] == result.best_dev_eer
    assert log[-1]["event"] == "end"
