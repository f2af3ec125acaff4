"""Generator plug-ins of the open training corpus.

A generator plans *items* (one output recording each, before segmentation) and renders
them to a mono waveform at its native rate. Adding a generator is a subclass of
:class:`Generator` with a ``@register`` decorator:

>>> @register                                              # doctest: +SKIP
... class MyTTS(Generator):
...     name = "mytts"
...     family = "neural-tts"
...     def systems(self): return {"mytts": "neural-tts"}
...     def plan(self, ctx, *, hours): ...
...     def generate(self, item, *, seed): ...
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...constants import BONAFIDE_NAME, SPOOF_NAME
from ...exceptions import ParameterError

__all__ = [
    "GENERATORS",
    "Generator",
    "Item",
    "PlanContext",
    "derive_seed",
    "get_generator",
    "load_builtin_generators",
    "register",
]

logger = logging.getLogger(__name__)

#: Family names used in the ``family`` column (bona fide rows use ``bonafide``).
FAMILIES = (
    "neural-tts",
    "neural-vocoder",
    "neural-codec",
    "formant-tts",
    "unit-selection",
    "hmm-tts",
    "vocoder-copy-synthesis",
    "voice-conversion",
)


def derive_seed(global_seed: int, key: str) -> int:
    """A 63-bit seed from a global seed and an item key (stable across runs and machines)."""
    digest = hashlib.sha256(f"{int(global_seed)}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclass(frozen=True)
class Item:
    """One recording to produce (segmentation may cut it into several rows).

    Attributes
    ----------
    item_id : str
        Unique, filesystem-safe id; output files are ``<item_id>[_sNN].flac``.
    generator : str
        Registered generator name that renders it.
    label : str
        ``bonafide`` or ``spoof``.
    system, family : str
        Exact generating system (settings family) and its family (``bonafide`` for real).
    source, speaker, language, text : str
        Provenance columns of the manifest.
    split : str
        ``train``, ``dev`` or ``eval`` (decided before rendering).
    params : dict
        Generator-specific JSON-ready parameters (voice, paths of source audio...).
    native_sr : int
        Sample rate of the rendered waveform before normalisation (known at plan time).
    est_seconds : float
        Estimated duration (for budgets and the progress bar).
    """

    item_id: str
    generator: str
    label: str
    system: str
    family: str
    source: str
    speaker: str
    language: str
    text: str
    split: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    native_sr: int = 16000
    est_seconds: float = 3.0


@dataclass
class PlanContext:
    """What generators see when they plan.

    Attributes
    ----------
    seed : int
        Global seed.
    smoke : bool
        Tiny build: generators plan a handful of items.
    texts : object
        A :class:`audio_detect.corpus.texts.TextBank`.
    bonafide : list of Item
        Planned bona fide items (the source pool of copy-synthesis and conversion).
    system_split : callable
        ``system_split(system, family) -> split``.
    """

    seed: int
    smoke: bool
    texts: Any
    bonafide: list[Item] = field(default_factory=list)
    system_split: Callable[[str, str], str] = lambda system, family: "train"

    def rng(self, key: str) -> np.random.Generator:
        """A generator seeded from the global seed and ``key``."""
        return np.random.default_rng(derive_seed(self.seed, key))

    def bonafide_pool(self, split: str, *, max_seconds: float = 20.0) -> list[Item]:
        """Bona fide items of one split usable as copy-synthesis sources."""
        return [
            it
            for it in self.bonafide
            if it.split == split and it.label == BONAFIDE_NAME and it.est_seconds <= max_seconds
        ]


class Generator(ABC):
    """A plug-in that plans and renders corpus items."""

    #: Registry key (used by ``--sources``).
    name: ClassVar[str] = ""
    #: Default family of the systems it produces.
    family: ClassVar[str] = ""
    #: True when it transforms real recordings (copy-synthesis, conversion).
    needs_source_audio: ClassVar[bool] = False
    #: Whether it produces bona fide rows (planned first).
    produces_bonafide: ClassVar[bool] = False
    #: Hours of audio planned in a full build (scaled by ``--max-hours``).
    default_hours: ClassVar[float] = 1.0
    #: Included in ``--smoke`` builds.
    smoke: ClassVar[bool] = False
    #: Left out of a build without ``--sources`` (named explicitly to take part).
    opt_in: ClassVar[bool] = False

    def available(self) -> bool:
        """True when the engine, data or package it needs is installed."""
        return True

    def unavailable_reason(self) -> str:
        """Why :meth:`available` is false (for logs)."""
        return "not available"

    @abstractmethod
    def systems(self) -> dict[str, str]:
        """Map of every system name this generator can produce to its family."""

    @abstractmethod
    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        """Return the items to render for about ``hours`` of audio."""

    @abstractmethod
    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        """Render one item; return (mono float32 waveform, sample rate)."""


#: Registered generator classes by name.
GENERATORS: dict[str, type[Generator]] = {}


def register(cls: type[Generator]) -> type[Generator]:
    """Class decorator adding a generator to :data:`GENERATORS`."""
    if not cls.name:
        raise ParameterError.invalid("name", "a non-empty generator name", cls.name)
    if cls.name in GENERATORS and GENERATORS[cls.name] is not cls:
        raise ParameterError(f"Generator {cls.name!r} is registered twice.")
    GENERATORS[cls.name] = cls
    return cls


_BUILTIN_MODULES = (
    "bonafide",
    "kde_edu",
    "espeak",
    "flite",
    "festival",
    "piper",
    "kokoro",
    "hibari",
    "copysynth",
    "neural_vocoder",
    "smoothed_vocoder",
    "neural_codec",
    "voice_conversion",
    "knn_vc",
)


def load_builtin_generators() -> dict[str, type[Generator]]:
    """Import every built-in generator module (idempotent) and return the registry."""
    for mod in _BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{mod}")
    return GENERATORS


def get_generator(name: str) -> Generator:
    """Instantiate a registered generator by name."""
    load_builtin_generators()
    if name not in GENERATORS:
        raise ParameterError.invalid("sources", f"names from {sorted(GENERATORS)}", name)
    return GENERATORS[name]()


def spoof_item(**kwargs: Any) -> Item:
    """Build a spoof :class:`Item` (label filled in)."""
    return Item(label=SPOOF_NAME, **kwargs)


def pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    """One element of ``seq`` chosen with ``rng``."""
    return seq[int(rng.integers(len(seq)))]
