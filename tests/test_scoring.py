"""Decisions of the scoring pipeline as plain dicts (``Decision.to_dict``)."""

from __future__ import annotations

import dataclasses
import json

from audio_detect.scoring import Decision, WindowScore


def _decision(**over: object) -> Decision:
    values: dict[str, object] = {
        "verdict": "spoof", "tier": "high", "p_spoof": 0.97, "llr": 3.4, "score": 1.2,
        "speech_seconds": 5.28, "duration": 10.0, "prior": 0.5,
        "thresholds": {"medium": 2.7, "high": 3.5},
        "model": {"name": "m", "version": "1", "sha256": "a" * 64},
        "windows": [WindowScore(0.1, 4.2, 1.5, 1.4, 0.8), WindowScore(4.2, 9.9, 0.3, 0.6, 0.6)],
        "audio": {"sr": 8000, "codec": "pcm_s16le", "extra": {"decoder": "soundfile"}},
        "processing_ms": 41.2,
    }  # fmt: skip
    return Decision(**(values | over))  # type: ignore[arg-type]


def test_to_dict_is_asdict_key_for_key() -> None:
    for d in (_decision(), _decision(verdict="not_enough_speech", p_spoof=None, windows=[])):
        out = d.to_dict()
        assert out == dataclasses.asdict(d)
        assert json.dumps(out) == json.dumps(dataclasses.asdict(d))  # same key order


def test_to_dict_shares_nothing_with_the_decision() -> None:
    d = _decision()
    out = d.to_dict()
    out["thresholds"]["high"] = 0.0
    out["model"]["name"] = "x"
    out["windows"][0]["llr"] = 0.0
    out["audio"]["extra"]["decoder"] = "x"
    assert d == _decision()
