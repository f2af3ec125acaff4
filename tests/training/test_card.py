"""The training card: what the recipe did, stated from its config and the run record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audio_detect.training.card import model_card
from audio_detect.training.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
THRESHOLDS = {"medium": 1.0, "high": 2.0, "target_false_alarm": {"medium": 0.01}}


def _card(name: str, training: dict | None = None) -> str:
    config = TrainConfig.from_dict(json.loads((CONFIGS / name).read_text()))
    return model_card(config, training=training or {}, metrics={}, thresholds=THRESHOLDS)


@pytest.mark.parametrize(("name", "eq"), [("whisper_cm.json", False), ("whisper_cm_eq.json", True)])
def test_augmentation_line_names_the_equaliser_only_when_used(name: str, eq: bool) -> None:
    line = next(x for x in _card(name).splitlines() if x.startswith("- Augmentation"))
    assert ("random equaliser" in line) is eq
    assert "tel_mulaw" in line


@pytest.mark.parametrize(
    ("name", "sam"), [("whisper_cm.json", ""), ("whisper_cm_sam.json", "SAM, rho 0.05")]
)
def test_model_line_names_sharpness_aware_steps_only_when_used(name: str, sam: str) -> None:
    line = next(x for x in _card(name).splitlines() if x.startswith("- Parameters"))
    assert ("sharpness-aware" in line) is bool(sam)
    assert sam in line and "loss: ce" in line


@pytest.mark.parametrize(
    ("quantization", "expected"),
    [
        (None, "- Weights: float32."),
        ({"weight_storage": "uint8"}, "stored as uint8 with zero point 128"),
        ({"weight_storage": "int8", "weight_bits": 7}, "7-bit weight grid"),
    ],
)
def test_weights_line_states_how_they_are_stored(quantization: dict | None, expected: str) -> None:
    training = {}
    if quantization is not None:
        training["quantization"] = {
            "kind": "dynamic_int8",
            "n_quantized": 11,
            "n_matmul": 13,
            "max_abs_diff": 0.1,
            **quantization,
        }
    assert expected in _card("whisper_cm.json", training)
