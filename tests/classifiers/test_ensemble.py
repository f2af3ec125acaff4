"""Head ensemble: one frozen encoder, the mean of several heads, one ONNX graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from extras import needs_whisper_tiny  # noqa: E402

from audio_detect.audio.io import load_audio  # noqa: E402
from audio_detect.exceptions import ParameterError  # noqa: E402

pytestmark = [pytest.mark.torch, needs_whisper_tiny]


def _member(seed: int, **params):
    from audio_detect.classifiers.whisper_cm import WhisperCM

    torch.manual_seed(seed)
    m = WhisperCM(sample_rate=8000, pooling="conv_asp", hidden=16, dropout=0.0, **params)
    # Trained-looking batch-norm statistics, different per member.
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm1d) and mod.running_mean is not None:
            mod.running_mean.normal_(0.0, 0.1)
    return m.eval()


def _speech(fixture_audio: dict[str, Path], n: int = 16000) -> np.ndarray:
    clips = [load_audio(p, sr=8000).samples[:n] for p in fixture_audio.values()]
    return np.stack([c for c in clips if len(c) == n]).astype(np.float32)


def test_score_is_the_mean_of_the_members(fixture_audio: dict[str, Path]) -> None:
    from audio_detect.classifiers.ensemble import HeadEnsemble

    members = [_member(s) for s in (0, 1, 2)]
    ens = HeadEnsemble(members).eval()
    x = torch.from_numpy(_speech(fixture_audio))
    with torch.no_grad():
        each = torch.stack([m(x) for m in members])
        got = ens(x)
    assert ens.n_members == 3
    assert float((each[0] - each[1]).abs().max()) > 1e-3  # the heads differ
    torch.testing.assert_close(got, each.mean(dim=0), rtol=0, atol=1e-5)
    assert ens.notice == members[0].notice


def test_onnx_export_of_the_ensemble_matches_torch(fixture_audio, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    from audio_detect.classifiers.ensemble import HeadEnsemble
    from audio_detect.training.export import check_onnx_parity, export_onnx

    ens = HeadEnsemble([_member(0), _member(1)]).eval()
    path = export_onnx(ens, tmp_path / "ens.onnx", sample_rate=8000)
    for n in (8000, 16000):
        assert check_onnx_parity(ens, path, _speech(fixture_audio, n), atol=1e-4) <= 1e-4


def test_members_must_share_a_frozen_encoder() -> None:
    from audio_detect.classifiers.ensemble import HeadEnsemble

    with pytest.raises(ParameterError, match="at least two"):
        HeadEnsemble([_member(0)])
    with pytest.raises(ParameterError, match="does not share"):
        HeadEnsemble([_member(0), _member(1, n_blocks=2)])
    with pytest.raises(ParameterError, match="does not share"):
        HeadEnsemble([_member(0), _member(1, rms_dbfs=-20.0)])
    changed = _member(1)
    with torch.no_grad():
        next(changed.encoder.parameters()).add_(1e-3)
    with pytest.raises(ParameterError, match="does not share"):
        HeadEnsemble([_member(0), changed])
    with pytest.raises(ParameterError, match="frozen"):
        HeadEnsemble([_member(0), _member(1, train_blocks=True)])
    with pytest.raises(ParameterError, match="WhisperCM"):
        HeadEnsemble([_member(0), torch.nn.Linear(2, 1)])
