"""Recorded words of KDE's educational games: many volunteer voices, microphones and rooms.

KTuberling (``ktuberling-data``) names the pieces of its game in 25 languages and
KLettres (``klettres-data``) says letters and syllables in 20; each language was recorded
by a volunteer on their own equipment. Speech is short (a word or a syllable), so a
language's recordings are chained into 2-8 s sequences like the Asterisk prompts. The
value for the corpus is not the hours (about one) but the number of genuine recording
set-ups: the Asterisk voices are a handful of studio IVR recordings, and a detector that
has seen few genuine sources calls every new one a clone.

Both packages are GPL-2+ (Debian's copyright files). Opt-in (``--sources +kde_edu``
adds it to the default list) until a measured build includes it, so the documented
default build keeps reproducing the shipped model's data.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ...constants import BONAFIDE_NAME
from ..splits import hash_split
from . import Item, PlanContext, register
from .bonafide import _FileSource, prompt_chains

__all__ = ["KLETTRES_ROOT", "KTUBERLING_ROOT", "KdeEduGenerator"]

logger = logging.getLogger(__name__)

KTUBERLING_ROOT = Path("/usr/share/ktuberling/sounds")
KLETTRES_ROOT = Path("/usr/share/klettres")
_SUFFIXES = (".ogg", ".wav", ".flac")
_MIN_SECONDS = 0.25


def _base_language(folder: str) -> str:
    """``pt_BR`` -> ``pt``, ``sr@latin`` -> ``sr``: the key a language's split hangs on."""
    return folder.split("@")[0].split("_")[0].lower()


@register
class KdeEduGenerator(_FileSource):
    """Bona fide chains of KTuberling and KLettres recordings, one voice per language."""

    name = "kde_edu"
    family = "bonafide"
    default_hours = 1.0
    opt_in = True

    def __init__(
        self,
        ktuberling_root: Path = KTUBERLING_ROOT,
        klettres_root: Path = KLETTRES_ROOT,
    ) -> None:
        self.roots = {"ktuberling": Path(ktuberling_root), "klettres": Path(klettres_root)}

    def available(self) -> bool:
        return any(root.is_dir() for root in self.roots.values())

    def unavailable_reason(self) -> str:
        return "no KDE-Edu recordings (apt-get install ktuberling-data klettres-data)"

    def _voices(self) -> list[tuple[str, str, list[Path]]]:
        """(app, language folder, recordings), each recording listed once over all voices.

        Debian ships some voices twice (the four Serbian scripts share one recording);
        a voice whose every file was already seen is dropped, so one speaker cannot
        appear under two names.
        """
        seen: set[str] = set()
        voices: list[tuple[str, str, list[Path]]] = []
        for app, root in self.roots.items():
            if not root.is_dir():
                continue
            for folder in sorted(p for p in root.iterdir() if p.is_dir()):
                files = sorted(
                    p
                    for p in folder.rglob("*")
                    if p.suffix.lower() in _SUFFIXES and p.is_file() and not p.is_symlink()
                )
                fresh: list[Path] = []
                for p in files:
                    digest = hashlib.sha1(p.read_bytes()).hexdigest()
                    if digest not in seen:
                        seen.add(digest)
                        fresh.append(p)
                if fresh:
                    voices.append((app, folder.name, fresh))
        return voices

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        import soundfile as sf

        items: list[Item] = []
        for app, folder, paths in self._voices():
            files: list[tuple[str, float, str]] = []
            rates: dict[str, int] = {}
            for p in paths:
                try:
                    info = sf.info(str(p))
                except RuntimeError:
                    logger.warning("kde_edu: cannot read %s; skipped", p)
                    continue
                if info.duration < _MIN_SECONDS:
                    continue
                rates[str(p)] = int(info.samplerate)
                # KLettres names a file by what it says; KTuberling by the English object.
                text = p.stem if app == "klettres" else ""
                files.append((str(p), float(info.duration), text))
            if not files:
                continue
            lang = _base_language(folder)
            # Every voice of a language goes to one split: the same volunteer may have
            # recorded both games (and a language's variants).
            split = hash_split("kde_edu:" + lang, seed=ctx.seed)
            chains = prompt_chains(files, ctx, key=f"kde_edu:{app}:{folder}")
            for k, chain in enumerate(chains):
                items.append(
                    Item(
                        item_id=f"kde_edu_{app}_{folder}_{k:04d}".replace("@", "-"),
                        generator=self.name,
                        label=BONAFIDE_NAME,
                        system=BONAFIDE_NAME,
                        family=BONAFIDE_NAME,
                        source=f"kde_edu:{app}:{folder}",
                        speaker=f"kde_edu:{app}:{folder}",
                        language=lang,
                        text=" ".join(f[2] for f in chain if f[2]),
                        split=split,
                        params={"paths": [f[0] for f in chain]},
                        # Some volunteers mixed rates (a few files at 8 kHz); a chain is
                        # rendered at, and banded by, its lowest rate.
                        native_sr=min(rates[f[0]] for f in chain),
                        est_seconds=sum(f[1] + 0.35 for f in chain),
                    )
                )
        return items
