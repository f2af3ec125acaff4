"""One scoring pipeline object for offline and live scoring (issue #18, item 2)."""

from __future__ import annotations

import numpy as np
import pytest

from audio_detect.audio.io import RawFormat, encode_g711, load_audio
from audio_detect.detector import Detector
from audio_detect.evaluation.evaluate import evaluate_manifest
from audio_detect.scoring import ScoringPipeline
from audio_detect.streaming import StreamingScorer


@pytest.fixture
def spied(monkeypatch):
    """Record (pipeline, stage, backend override) for every call of the pipeline stages."""
    calls: list[tuple[ScoringPipeline, str, object]] = []
    for stage in ("speech_regions", "cut", "decide"):
        original = getattr(ScoringPipeline, stage)

        def spy(self, *args, _stage=stage, _original=original, **kwargs):
            calls.append((self, _stage, kwargs.get("backend")))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ScoringPipeline, stage, spy)
    return calls


@pytest.mark.parametrize("mode", ["exact", "frozen"])
def test_live_and_offline_scoring_go_through_the_same_pipeline_object(
    tiny_gmm_dir, fixture_audio, spied, mode
) -> None:
    detector = Detector.load(tiny_gmm_dir)
    y = load_audio(fixture_audio["bonafide_8k_hts1a"], sr=8000).samples
    data = encode_g711(y, encoding="mulaw")

    offline = detector.score_file(data, raw=RawFormat("mulaw", 8000))
    n_offline = len(spied)
    assert {stage for _, stage, _ in spied} == {"speech_regions", "cut", "decide"}

    scorer = StreamingScorer(
        detector, encoding="mulaw", sample_rate=8000, interval_seconds=1.0, scoring=mode
    )
    assert scorer.pipeline is detector.pipeline
    for i in range(0, len(data), 160):  # 20 ms frames, as a phone call arrives
        scorer.push(data[i : i + 160])
    final = scorer.finish()
    live = spied[n_offline:]
    # frozen mode finds speech with an incremental VAD built from the pipeline's VAD
    # settings, cuts its windows incrementally (the same window rule, from the same
    # pipeline's spec) and hands decide() the scores of its complete windows
    stages = {"speech_regions", "cut", "decide"} if mode == "exact" else {"decide"}
    assert {stage for _, stage, _ in live} == stages
    if mode == "frozen":
        vad = scorer._frozen.vad
        assert vad.sr == detector.pipeline.model_rate
        settings = {k: getattr(vad, k) for k in detector.pipeline.vad.kwargs()}
        assert settings == detector.pipeline.vad.kwargs()

    # Every stage of both paths ran on the detector's one pipeline object ...
    assert all(pipeline is detector.pipeline for pipeline, _, _ in spied)
    # ... offline with the pipeline's own backend, live with its window-score cache,
    # which wraps that same backend.
    assert all(b is None for _, stage, b in spied[:n_offline] if stage == "decide")
    if mode == "exact":
        live_backends = {id(b) for _, stage, b in live if stage == "decide"}
        assert live_backends == {id(scorer._backend)}
        assert scorer._backend.backend is detector.pipeline.backend
    assert final.decision.llr == offline.llr and final.decision.tier == offline.tier


def test_batch_style_and_evaluation_callers_use_the_pipeline(
    tiny_gmm_dir, fixture_audio, spied
) -> None:
    from audio_detect.datasets.manifest import Utterance

    detector = Detector.load(tiny_gmm_dir)
    decisions = detector.score_many([fixture_audio["bonafide_8k_hts1a"]])
    assert decisions[0].model["name"] == detector.info["name"]
    trials = [
        Utterance(utt_id=stem, path=path, label=int(stem.startswith("spoof")))
        for stem, path in sorted(fixture_audio.items())
    ]
    n_before = len(spied)
    result = evaluate_manifest(trials, model=tiny_gmm_dir)
    assert len(result.utt_ids) + len(result.failures) == len(trials)
    evaluated = spied[n_before:]
    assert sum(stage == "decide" for _, stage, _ in evaluated) == len(trials)
    assert all(isinstance(p, ScoringPipeline) for p, _, _ in evaluated)


def test_detector_settings_are_the_pipeline_settings(tiny_gmm_dir) -> None:
    detector = Detector.load(tiny_gmm_dir)
    p = detector.pipeline
    assert p.model_rate == detector.model_rate == detector.spec.model_rate
    assert p.vad is detector.vad and p.window is detector.window
    assert p.backend is detector.backend and p.calibrator is detector.calibrator
    y = np.zeros(8000, dtype=np.float32)
    assert detector.score_samples(y).verdict == p.score_samples(y).verdict
