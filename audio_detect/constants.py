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
