"""Label names and the one score convention.

Score direction
---------------
Everywhere inside audio-detect a score, a log-likelihood ratio (LLR) and a
probability are oriented towards **spoof**: higher means more likely synthetic.

* ``llr = ln p(x | spoof) - ln p(x | bonafide)`` (natural log).
* ``label`` is ``1`` for spoof and ``0`` for bona fide (:data:`SPOOF`, :data:`BONAFIDE`).

ASVspoof score files use the opposite direction (higher = bona fide). They are
converted at the edge, in :mod:`audio_detect.datasets.scores`, by negation, which is
exact for LLRs: ``llr_bonafide = -llr_spoof``.
"""

from __future__ import annotations

from typing import Final

BONAFIDE: Final = 0
SPOOF: Final = 1

BONAFIDE_NAME: Final = "bonafide"
SPOOF_NAME: Final = "spoof"

LABEL_NAMES: Final = {BONAFIDE: BONAFIDE_NAME, SPOOF: SPOOF_NAME}

#: Spellings accepted for each label in manifests and protocol files (lower-cased).
LABEL_ALIASES: Final[dict[str, int]] = {
    "bonafide": BONAFIDE,
    "bona-fide": BONAFIDE,
    "bona_fide": BONAFIDE,
    "bona fide": BONAFIDE,
    "genuine": BONAFIDE,
    "real": BONAFIDE,
    "human": BONAFIDE,
    "0": BONAFIDE,
    "spoof": SPOOF,
    "fake": SPOOF,
    "synthetic": SPOOF,
    "deepfake": SPOOF,
    "1": SPOOF,
}

#: Risk tiers, from least to most suspicious, plus the abstention.
TIER_LOW: Final = "low"
TIER_MEDIUM: Final = "medium"
TIER_HIGH: Final = "high"
TIER_NOT_ENOUGH_SPEECH: Final = "not_enough_speech"
TIERS: Final = (TIER_LOW, TIER_MEDIUM, TIER_HIGH, TIER_NOT_ENOUGH_SPEECH)

#: Verdicts reported to callers.
VERDICT_BONAFIDE: Final = "bonafide"
VERDICT_SPOOF: Final = "spoof"
VERDICT_NOT_ENOUGH_SPEECH: Final = "not_enough_speech"

#: ASVspoof 5 detection cost parameters (P_spoof, C_miss, C_fa).
ASVSPOOF5_P_SPOOF: Final = 0.05
ASVSPOOF5_C_MISS: Final = 1.0
ASVSPOOF5_C_FA: Final = 10.0


def parse_label(value: str) -> int:
    """Return :data:`BONAFIDE` or :data:`SPOOF` for a label spelling, or raise ``KeyError``."""
    return LABEL_ALIASES[value.strip().lower()]


# --------------------------------------------------------------------------- defaults
# The one home of the numeric defaults that several layers share (the library, the
# CLI, batch jobs, the service). A model manifest may override the model-specific ones
# (``limits``, ``vad``); see :class:`audio_detect.spec.ModelSpec`.

#: Longest recording accepted by offline scoring (``score``, ``batch``, ``/v1/analyze``).
DEFAULT_MAX_SECONDS: Final = 4 * 3600.0
#: Longest trial decoded by ``evaluate`` (and fusion/calibration fitting): one hour.
EVAL_MAX_SECONDS: Final = 3600.0
#: Longest live stream scored before its final verdict is sent: one hour.
STREAM_MAX_SECONDS: Final = 3600.0
#: Longest training clip decoded.
TRAIN_MAX_SECONDS: Final = 600.0

#: WebRTC VAD mode (0-3) and frame smoothing of :func:`audio_detect.audio.vad.speech_regions`,
#: the speech finder whose output decides which windows a model scores.
DEFAULT_VAD_AGGRESSIVENESS: Final = 2
DEFAULT_VAD_FRAME_MS: Final = 30
DEFAULT_VAD_MIN_SPEECH_MS: Final = 150
DEFAULT_VAD_MERGE_GAP_MS: Final = 300
DEFAULT_VAD_PAD_MS: Final = 90

#: Operating prior P(spoof) of a model whose manifest names none.
DEFAULT_PRIOR: Final = 0.5

#: Input rates accepted from a caller (decoders resample anything in this range).
MIN_INPUT_RATE: Final = 1000
MAX_INPUT_RATE: Final = 192_000

#: Rates a model may run at (``model_rate``, the manifest's ``sample_rate``): narrowband
#: telephony and wideband. Training configs and the Whisper front end accept these.
MODEL_RATES: Final = (8000, 16000)
#: Rate of a model (and its front end) whose config names none.
DEFAULT_MODEL_RATE: Final = 16000
#: Whisper's own rate: its encoders and log-mel front end are defined at 16 kHz.
WHISPER_RATE: Final = 16000
#: ``input_rate`` values a ``/v1/stream`` client may declare for its raw frames.
STREAM_INPUT_RATES: Final = MODEL_RATES
#: G.711 telephony rate: Twilio Media Streams and ``audio/basic`` bodies are 8 kHz
#: µ-law, one byte per sample, so ``TELEPHONY_RATE // 1000`` bytes per millisecond.
TELEPHONY_RATE: Final = 8000


def rates_text(rates: tuple[int, ...] = MODEL_RATES) -> str:
    """``"8000 or 16000"``: a set of rates for error messages."""
    return " or ".join(str(r) for r in rates)
