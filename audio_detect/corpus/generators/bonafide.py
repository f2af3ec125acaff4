"""Real-speech (and already-made spoof) sources: the developers' corpus, Asterisk, fixtures."""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

import numpy as np

from ...constants import BONAFIDE_NAME, SPOOF_NAME
from .._io import read_audio
from ..splits import hash_split
from ..texts import read_asterisk_transcripts
from . import Generator, Item, PlanContext, register

__all__ = [
    "ASTERISK_VOICES",
    "AsteriskGenerator",
    "FixturesGenerator",
    "SharedCorpusGenerator",
    "shared_family",
]

logger = logging.getLogger(__name__)

ENV_SHARED = "AUDIO_DETECT_SHARED_CORPUS"
ASTERISK_ROOT = Path("/usr/share/asterisk/sounds")
#: Asterisk voice folder -> (speaker id, language, transcript language, split).
ASTERISK_VOICES: dict[str, tuple[str, str, str, str]] = {
    "en_US_f_Allison": ("asterisk:allison", "en", "en", "train"),
    "es_MX_f_Allison": ("asterisk:allison", "es", "", "train"),
    "it_IT_m_Carlo": ("asterisk:carlo", "it", "it", "train"),
    "ru_RU_f_IvrvoiceRU": ("asterisk:ivrvoice_ru", "ru", "ru", "train"),
    "fr_CA_f_June": ("asterisk:june", "fr", "", "dev"),
    "es": ("asterisk:es_co", "es", "", "dev"),
    "it_IT_f_Menardi": ("asterisk:menardi", "it", "", "eval"),
    "fr": ("asterisk:fr_armelle", "fr", "", "eval"),
}
#: Shared-corpus demo pages that move as one unit, and their split.
SHARED_PAGE_SPLITS: dict[str, str] = {
    "paired_universal_melgan_vocoders": "train",
    "paired_msr_speechresearch/fastspeech2": "train",
    "paired_msr_speechresearch/priorgrad": "train",
    "paired_wavefake_ljspeech_samples": "train",
    "real_ljspeech_subset": "train",
    "asvspoof2019_la_samples": "dev",
    "paired_msr_speechresearch/adaspeech4": "eval",
    "paired_nii_nsf_vocoder_arctic": "eval",
    "paired_lvc_vc_voice_conversion": "eval",
    # Whole recording sources held out, so the `modern` protocol has bona fide speech
    # from sources that training never saw (not only unseen speakers).
    "real_misc": "eval",
    "real_pocketsphinx_testdata": "eval",
}
_VC = {
    "adain_vc",
    "again_vc",
    "autovc",
    "autovc_f0",
    "blow",
    "lvc_vc",
    "lvc_vc_xl",
    "nvc_net",
    "lvc_vc_anonymization",
}
_VOCODER = re.compile(
    r"melgan$|^waveglow|^wavenet|^wavernn|parallel_wavegan|nsf|unknown_vocoder|/vocoder|vocoder_dw"
    r"|gt_pwg|gt_hfg"
)
_GAP = (0.15, 0.6)


def shared_family(system: str) -> str:
    """Family of a developers'-corpus system name (original names are kept as systems)."""
    if system in _VC:
        return "voice-conversion"
    if system == "A04":
        return "unit-selection"
    if system != "tts_universal_melgan" and _VOCODER.search(system):
        return "neural-vocoder"
    return "neural-tts"


def _page(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "paired_msr_speechresearch" else parts[0]


def _concat(paths: list[str], rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Read and join recordings with short random pauses, at the lowest of their rates.

    Joining at the lowest rate keeps a chain honest about its band: a narrowband file
    upsampled into a wideband chain would leave an empty upper band mid-recording.
    """
    from .._io import resample

    read = [read_audio(p) for p in paths]
    sr0 = min(sr for _, sr in read)
    pieces: list[np.ndarray] = []
    for y, sr in read:
        if pieces:
            pieces.append(np.zeros(int(rng.uniform(*_GAP) * sr0), np.float32))
        pieces.append(resample(y, sr, sr0))
    return np.concatenate(pieces).astype(np.float32), sr0


def _bundle(
    files: list[tuple[str, float, str]],
    rng: np.random.Generator,
    *,
    target: float,
) -> list[list[tuple[str, float, str]]]:
    """Group short recordings (path, seconds, text) into chains of about ``target`` seconds."""
    out: list[list[tuple[str, float, str]]] = []
    cur: list[tuple[str, float, str]] = []
    goal = float(rng.uniform(target * 0.4, target * 1.6))
    acc = 0.0
    for f in files:
        cur.append(f)
        acc += f[1] + 0.35
        if acc >= goal:
            out.append(cur)
            cur, acc = [], 0.0
            goal = float(rng.uniform(target * 0.4, target * 1.6))
    if cur:
        out.append(cur)
    return out


def prompt_chains(
    files: list[tuple[str, float, str]], ctx: PlanContext, *, key: str
) -> list[list[tuple[str, float, str]]]:
    """One voice's short recordings shuffled (seeded by ``key``) into ~5 s chains."""
    rng = ctx.rng(key)
    order = rng.permutation(len(files))
    chains = _bundle([files[i] for i in order], rng, target=5.0)
    return chains[:2] if ctx.smoke else chains


class _FileSource(Generator):
    produces_bonafide = True

    def systems(self) -> dict[str, str]:
        return {}

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        paths = item.params["paths"]
        if len(paths) == 1:
            return read_audio(paths[0])
        return _concat(paths, np.random.default_rng(seed))


@register
class SharedCorpusGenerator(_FileSource):
    """The developers' corpus (real speech and demo-page spoofs), with its systems."""

    name = "shared"
    family = "neural-vocoder"
    default_hours = 3.1
    smoke = False

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        root = root or os.environ.get(ENV_SHARED) or Path(__file__).parents[4] / "shared/corpus"
        self.root = Path(root)

    def available(self) -> bool:
        return (self.root / "manifest.csv").is_file()

    def unavailable_reason(self) -> str:
        return f"no manifest.csv under {self.root} (set --shared-corpus or ${ENV_SHARED})"

    def _rows(self) -> list[dict[str, str]]:
        with (self.root / "manifest.csv").open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def systems(self) -> dict[str, str]:
        if not self.available():
            return {}
        return {
            r["system"]: shared_family(r["system"])
            for r in self._rows()
            if r["label"] == SPOOF_NAME
        }

    def pinned_splits(self) -> dict[str, str]:
        """Split of every shared system (the split of its demo page)."""
        if not self.available():
            return {}
        return {
            r["system"]: SHARED_PAGE_SPLITS.get(_page(r["path"]), "train")
            for r in self._rows()
            if r["label"] == SPOOF_NAME
        }

    def speaker_pins(self) -> dict[str, str]:
        """Speakers of paired pages (real and imitated) fixed to the page's split."""
        pins: dict[str, str] = {}
        for r in self._rows():
            page = _page(r["path"])
            if page in SHARED_PAGE_SPLITS and r["speaker"]:
                pins.setdefault(r["speaker"], SHARED_PAGE_SPLITS[page])
        return pins

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        rows = self._rows()
        pins = self.speaker_pins()
        rng = ctx.rng("shared")
        items: list[Item] = []
        fsdd: dict[str, list[tuple[str, float, str]]] = {}
        for r in rows:
            path = str(self.root / r["path"])
            stem = Path(r["path"]).stem
            page = _page(r["path"])
            speaker = r["speaker"] or self._speaker_of(r["path"], page, stem)
            if r["source"] == "real_fsdd_digits_8k":
                fsdd.setdefault(speaker, []).append((path, float(r["duration_s"]), stem[0]))
                continue
            if r["label"] == SPOOF_NAME:
                split = SHARED_PAGE_SPLITS.get(page, "train")
            else:
                split = pins.get(speaker) or hash_split(speaker, seed=ctx.seed)
                if page in SHARED_PAGE_SPLITS and split != SHARED_PAGE_SPLITS[page]:
                    logger.debug("dropping %s: speaker split conflicts with its page", r["path"])
                    continue
            label = r["label"]
            items.append(
                Item(
                    item_id="shared_" + re.sub(r"[^A-Za-z0-9_-]", "_", r["path"].rsplit(".", 1)[0]),
                    generator=self.name,
                    label=label,
                    system=r["system"] if label == SPOOF_NAME else BONAFIDE_NAME,
                    family=shared_family(r["system"]) if label == SPOOF_NAME else BONAFIDE_NAME,
                    source=f"shared:{r['source']}",
                    speaker=speaker,
                    language=r["language"] or "en",
                    text="",
                    split=split,
                    params={"paths": [path]},
                    native_sr=int(r["sample_rate"]),
                    est_seconds=float(r["duration_s"]),
                )
            )
        for speaker, files in sorted(fsdd.items()):
            files.sort()
            order = rng.permutation(len(files))
            chains = _bundle([files[i] for i in order], rng, target=5.0)
            split = pins.get(speaker) or hash_split(speaker, seed=ctx.seed)
            for k, chain in enumerate(chains):
                items.append(
                    Item(
                        item_id=f"shared_fsdd_{speaker.split(':')[-1]}_{k:03d}",
                        generator=self.name,
                        label=BONAFIDE_NAME,
                        system=BONAFIDE_NAME,
                        family=BONAFIDE_NAME,
                        source="shared:real_fsdd_digits_8k",
                        speaker=speaker,
                        language="en",
                        text=" ".join(f[2] for f in chain),
                        split=split,
                        params={"paths": [f[0] for f in chain]},
                        native_sr=8000,
                        est_seconds=sum(f[1] + 0.35 for f in chain),
                    )
                )
        if ctx.smoke:
            items = items[:: max(1, len(items) // 12)]
        return items

    @staticmethod
    def _speaker_of(path: str, page: str, stem: str) -> str:
        if page == "real_codec2_examples_8k":
            return "codec2:examples"
        if page.startswith("real_misc/") or page == "real_misc":
            sub = path.split("/")[1]
            if sub in ("alsa_utils_channel_prompts", "pyannote_test_data"):
                return f"misc:{sub}"
        if page == "real_pocketsphinx_testdata":
            return "pocketsphinx:" + path.split("/")[1]
        return f"{page}:{stem}"


@register
class AsteriskGenerator(_FileSource):
    """Debian's Asterisk prompts (8 kHz studio IVR speech), chained into prompt sequences."""

    name = "asterisk"
    family = "bonafide"
    default_hours = 3.0

    def __init__(self, root: Path = ASTERISK_ROOT) -> None:
        self.root = root

    def available(self) -> bool:
        return any((self.root / v).is_dir() for v in ASTERISK_VOICES)

    def unavailable_reason(self) -> str:
        return "no Asterisk prompts (apt-get install asterisk-core-sounds-en-wav ...)"

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        import soundfile as sf

        texts: dict[str, str] = {}
        for lang in ("en", "it", "ru"):
            texts.update({f"{lang}:{k}": v for k, v in read_asterisk_transcripts(lang).items()})
        speech_names = {k.split(":", 1)[1] for k in texts}
        items: list[Item] = []
        # `es` and `fr` are Debian alternatives: without the es-co / fr-armelle prompts they
        # point at another voice (fr -> June), which would put one speaker in two splits.
        real_dirs = {
            (self.root / f).resolve(): f
            for f in ASTERISK_VOICES
            if not (self.root / f).is_symlink()
        }
        for folder, (speaker, lang, tlang, split) in ASTERISK_VOICES.items():
            base = self.root / folder
            if not base.is_dir():
                continue
            if base.is_symlink() and base.resolve() in real_dirs:
                logger.warning(
                    "asterisk: %s is a link to %s, not its own voice; skipped",
                    base,
                    real_dirs[base.resolve()],
                )
                continue
            files: list[tuple[str, float, str]] = []
            for p in sorted(base.rglob("*")):
                if p.suffix not in (".wav", ".gsm") or not p.is_file():
                    continue
                name = p.relative_to(base).with_suffix("").as_posix()
                if name not in speech_names or name.startswith(("silence/", "dictate/")):
                    continue
                try:
                    # GSM 06.10 is 1,650 bytes per second.
                    is_wav = p.suffix == ".wav"
                    sec = sf.info(str(p)).duration if is_wav else p.stat().st_size / 1650
                except RuntimeError:
                    continue
                if sec < 0.3:
                    continue
                files.append((str(p), float(sec), texts.get(f"{tlang}:{name}", "")))
            chains = prompt_chains(files, ctx, key="asterisk:" + folder)
            for k, chain in enumerate(chains):
                items.append(
                    Item(
                        item_id=f"asterisk_{folder}_{k:04d}",
                        generator=self.name,
                        label=BONAFIDE_NAME,
                        system=BONAFIDE_NAME,
                        family=BONAFIDE_NAME,
                        source=f"asterisk:{folder}",
                        speaker=speaker,
                        language=lang,
                        text=" ".join(f[2] for f in chain if f[2]),
                        split=split,
                        params={"paths": [f[0] for f in chain]},
                        native_sr=8000,
                        est_seconds=sum(f[1] + 0.35 for f in chain),
                    )
                )
        return items


@register
class FixturesGenerator(_FileSource):
    """``bonafide_*.flac`` / ``spoof_*.flac`` files of a folder (the test fixtures)."""

    name = "fixtures"
    family = "bonafide"
    default_hours = 0.0
    smoke = True

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root else Path(__file__).parents[3] / "tests/fixtures/audio"

    def available(self) -> bool:
        return self.root.is_dir() and any(self.root.glob("bonafide_*.flac"))

    def unavailable_reason(self) -> str:
        return f"no bonafide_*.flac in {self.root}"

    def systems(self) -> dict[str, str]:
        return {
            f"fixture:{p.stem.split('_')[1]}": "neural-vocoder"
            for p in self.root.glob("spoof_*.flac")
        }

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        import soundfile as sf

        items: list[Item] = []
        for p in sorted(self.root.glob("*.flac")):
            label = BONAFIDE_NAME if p.name.startswith("bonafide_") else SPOOF_NAME
            info = sf.info(str(p))
            system = BONAFIDE_NAME if label == BONAFIDE_NAME else f"fixture:{p.stem.split('_')[1]}"
            split = (
                hash_split(p.stem, seed=ctx.seed)
                if label == BONAFIDE_NAME
                else ctx.system_split(system, "neural-vocoder")
            )
            # Every fixture is its own speaker; the bona fide ones feed copy-synthesis of all
            # splits in a smoke build, so put them in train where the local systems mostly are.
            items.append(
                Item(
                    item_id=f"fixture_{p.stem}",
                    generator=self.name,
                    label=label,
                    system=system,
                    family=BONAFIDE_NAME if label == BONAFIDE_NAME else "neural-vocoder",
                    source="fixtures",
                    speaker=f"fixture:{p.stem}",
                    language="en",
                    text="",
                    split="train" if label == BONAFIDE_NAME and ctx.smoke else split,
                    params={"paths": [str(p)]},
                    native_sr=int(info.samplerate),
                    est_seconds=float(info.duration),
                )
            )
        return items
