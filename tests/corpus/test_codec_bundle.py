"""The codecs bundled with the package: the default build's, intact, one per configured codec."""

from __future__ import annotations

import json

import pytest

from audio_detect.corpus.codec import CodecConfig, bundled_codec
from audio_detect.corpus.generators.neural_codec import BUNDLED_CODECS, CODECS
from audio_detect.registry import sha256_file


@pytest.mark.parametrize(("cfg", "split"), [(c, s) for c, s, _ in CODECS], ids=lambda v: str(v))
def test_bundle_holds_every_configured_codec_intact(cfg: CodecConfig, split: str) -> None:
    doc = json.loads((BUNDLED_CODECS / cfg.name / "codec.json").read_text())
    info = doc["info"]
    assert CodecConfig.from_dict(doc["config"]) == cfg  # a config change must rebundle
    assert info["split"] == split
    assert info["weights_sha256"] == sha256_file(BUNDLED_CODECS / cfg.name / "codec.safetensors")
    digest = info["train_speech_sha256"]
    assert bundled_codec(cfg, digest, BUNDLED_CODECS) == BUNDLED_CODECS / cfg.name
    assert bundled_codec(cfg, "0" * 64, BUNDLED_CODECS) is None  # other speech: train
    # every codec of one build was trained on the same speech
    assert (
        digest
        == json.loads((BUNDLED_CODECS / CODECS[0][0].name / "codec.json").read_text())["info"][
            "train_speech_sha256"
        ]
    )
