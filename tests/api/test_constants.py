"""The service's rates and limits come from audio_detect.constants (one source, issue #18)."""

from __future__ import annotations

from audio_detect import constants as C  # noqa: N812
from audio_detect.config import AudioConfig, FeatureConfig
from audio_detect.training.config import TrainConfig
from audio_detect_service import live
from audio_detect_service.routers.stream import StreamStart
from audio_detect_service.schemas import AnalyzeParams
from audio_detect_service.settings import Settings


def test_service_rates_and_limits_are_the_library_constants():
    assert StreamStart.model_json_schema()["properties"]["sample_rate"]["enum"] == list(
        C.STREAM_INPUT_RATES
    )
    rate = AnalyzeParams.model_json_schema()["properties"]["sample_rate"]["anyOf"][0]
    assert (rate["minimum"], rate["maximum"]) == (C.MIN_INPUT_RATE, C.MAX_INPUT_RATE)
    assert Settings(_env_file=None).stream_max_seconds == C.STREAM_MAX_SECONDS
    # Twilio: 8 kHz µ-law, one byte per sample; a gap is filled with at most 10 s.
    assert live._MULAW_BYTES_PER_MS == C.TELEPHONY_RATE / 1000
    assert live.MAX_GAP_BYTES == 10 * C.TELEPHONY_RATE


def test_model_rate_defaults_and_checks_share_one_set():
    assert FeatureConfig().sr == AudioConfig().sr == C.DEFAULT_MODEL_RATE in C.MODEL_RATES
    assert TrainConfig().sample_rate == C.DEFAULT_MODEL_RATE
    assert C.rates_text() == "8000 or 16000"
