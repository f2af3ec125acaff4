"""Readers for public deepfake-speech datasets: In-the-Wild, WaveFake, Fake-or-Real, MLAAD.

None of these ships a system-per-file protocol like ASVspoof, so each reader maps the
dataset's own layout onto :class:`~audio_detect.datasets.manifest.Utterance` fields:

=============  ===========================================================================
dataset        layout read
=============  ===========================================================================
In-the-Wild    ``meta.csv`` (``file,speaker,label``; ``spoof`` / ``bona-fide``) + audio in root
WaveFake       ``[generated_audio/]<dataset>_<vocoder>/*.wav``; bona fide from ``real_root``
Fake-or-Real   ``<version>/<split>/{real,fake}/*`` (Kaggle copies nest ``<version>/<version>``)
MLAAD          ``[fake/]<language>/<model>/meta.csv``, pipe-delimited, all spoof
=============  ===========================================================================
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..constants import BONAFIDE, BONAFIDE_NAME, SPOOF
from ..exceptions import DatasetFormatError, ParameterError
from .folders import iter_audio_files
from .manifest import (
    CORE_COLUMNS,
    UNKNOWN_SYSTEM,
    Manifest,
    ManifestBuilder,
    Utterance,
    dataset_error,
    default_utt_id,
    iter_csv_rows,
    label_or_error,
    resolve_path,
)

__all__ = [
    "FOR_SPLITS",
    "FOR_VERSIONS",
    "WAVEFAKE_DATASETS",
    "read_fake_or_real",
    "read_in_the_wild",
    "read_mlaad",
    "read_wavefake",
    "wavefake_folder_info",
]

logger = logging.getLogger(__name__)


def _existing_dir(root: str | os.PathLike[str]) -> Path:
    path = Path(os.path.abspath(root))
    if not path.is_dir():
        raise ParameterError.invalid("root", "an existing folder", str(root))
    return path


# -- In-the-Wild ------------------------------------------------------------------------
def read_in_the_wild(root: str | os.PathLike[str], *, name: str = "in-the-wild") -> Manifest:
    """Read In-the-Wild (``release_in_the_wild/``): ``meta.csv`` plus the audio beside it.

    ``meta.csv`` has the header ``file,speaker,label`` with labels ``spoof`` and
    ``bona-fide``. ``root`` may be the folder or the ``meta.csv`` file itself. The dataset
    does not name generators, so spoofs get ``system = "unknown"``.
    """
    root_path = Path(root)
    meta = root_path if root_path.is_file() else _existing_dir(root) / "meta.csv"
    if not meta.is_file():
        raise DatasetFormatError(f"{root}: no meta.csv (header file,speaker,label)")
    base = Path(os.path.abspath(meta)).parent
    builder = ManifestBuilder(meta, name=name)
    for line, row in iter_csv_rows(meta, required=("file", "speaker", "label")):
        if not row["file"]:
            raise dataset_error(meta, line, "empty file name")
        label = label_or_error(row["label"], meta, line)
        utt = Utterance(
            utt_id=default_utt_id(row["file"]),
            path=resolve_path(row["file"], base),
            label=label,
            system=BONAFIDE_NAME if label == BONAFIDE else UNKNOWN_SYSTEM,
            speaker=row["speaker"],
            extra={"source": "in-the-wild"},
        )
        builder.add(utt, line)
    return builder.build()


# -- WaveFake ---------------------------------------------------------------------------
#: Folder prefix -> (dataset, imitated speaker). Longest prefix wins.
WAVEFAKE_DATASETS: dict[str, tuple[str, str]] = {
    "ljspeech_": ("ljspeech", "ljspeech:LJ"),
    "jsut_": ("jsut", "jsut:jsut"),
    "common_voices_prompts_from_": ("common_voices_prompts", "ljspeech:LJ"),
}


def wavefake_folder_info(folder_name: str) -> tuple[str, str, str]:
    """Return ``(dataset, system, speaker)`` for a WaveFake folder name.

    ``ljspeech_full_band_melgan`` gives ``("ljspeech", "full_band_melgan", "ljspeech:LJ")``;
    ``common_voices_prompts_from_conformer_fastspeech2_pwg_ljspeech`` (a TTS trained on
    LJSpeech reading Common Voice prompts) gives system ``conformer_fastspeech2_pwg``.
    Unknown names give ``("", folder_name, "")``.
    """
    for prefix in sorted(WAVEFAKE_DATASETS, key=len, reverse=True):
        if folder_name.startswith(prefix) and len(folder_name) > len(prefix):
            dataset, speaker = WAVEFAKE_DATASETS[prefix]
            system = folder_name[len(prefix) :]
            if dataset == "common_voices_prompts":
                system = system.removesuffix("_ljspeech")
            return dataset, system, speaker
    return "", folder_name, ""


def _real_dataset(root: Path, audio: Path) -> tuple[str, str]:
    text = str(root).lower()
    if "jsut" in text or audio.stem.upper().startswith(("BASIC5000", "JSUT")):
        return "jsut", "jsut:jsut"
    if "ljspeech" in text or re.fullmatch(r"LJ\d{3}-\d{4}", audio.stem):
        return "ljspeech", "ljspeech:LJ"
    return "", ""


def read_wavefake(
    root: str | os.PathLike[str],
    *,
    real_root: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    name: str = "wavefake",
) -> Manifest:
    """Read WaveFake: ``generated_audio/<dataset>_<vocoder>/*.wav`` are spoofs.

    Parameters
    ----------
    root : path-like
        The folder holding ``generated_audio/``, or ``generated_audio/`` itself.
    real_root : path-like or sequence of them, optional
        Bona fide audio (LJSpeech ``wavs/``, JSUT), read recursively. Without it the
        manifest holds spoofs only.
    name : str
        Manifest name.

    Returns
    -------
    Manifest
        Spoofs: ``utt_id = "<folder>/<stem>"``, ``system`` the vocoder part of the folder
        (:func:`wavefake_folder_info`), ``extra["dataset"]``. Bona fide:
        ``utt_id = "bonafide/<real folder name>/<relative path>"``.
    """
    top = _existing_dir(root)
    gen_dir = top / "generated_audio" if (top / "generated_audio").is_dir() else top
    builder = ManifestBuilder(top, name=name)
    for folder in sorted(d for d in gen_dir.iterdir() if d.is_dir() and d.name[0] != "."):
        dataset, system, speaker = wavefake_folder_info(folder.name)
        if not dataset:
            logger.warning("%s: not a known WaveFake folder; system %r", folder, system)
        n_before = len(builder)
        for audio in iter_audio_files(folder):
            rel = audio.relative_to(folder).with_suffix("").as_posix()
            utt = Utterance(
                utt_id=f"{folder.name}/{rel}",
                path=audio,
                label=SPOOF,
                system=system,
                speaker=speaker,
                extra={"dataset": dataset, "source": "wavefake"},
            )
            builder.add(utt, str(audio))
        if len(builder) == n_before:
            logger.warning("%s: no audio files", folder)
    if not len(builder):
        raise DatasetFormatError(f"{gen_dir}: no WaveFake audio in <dataset>_<vocoder>/ folders")
    if real_root is not None:
        roots = [real_root] if isinstance(real_root, str | os.PathLike) else list(real_root)
        for real in map(_existing_dir, roots):
            for audio in iter_audio_files(real):
                dataset, speaker = _real_dataset(real, audio)
                rel = audio.relative_to(real).with_suffix("").as_posix()
                utt = Utterance(
                    utt_id=f"bonafide/{real.name}/{rel}",
                    path=audio,
                    label=BONAFIDE,
                    speaker=speaker,
                    extra={"dataset": dataset, "source": real.name},
                )
                builder.add(utt, str(audio))
    return builder.build()


# -- Fake-or-Real -----------------------------------------------------------------------
#: Version name -> folder names it appears under.
FOR_VERSIONS: dict[str, tuple[str, ...]] = {
    "for-original": ("for-original",),
    "for-norm": ("for-norm",),
    "for-2sec": ("for-2sec", "for-2seconds"),
    "for-rerec": ("for-rerec", "for-rerecorded"),
}
#: FoR split folder -> value of ``extra["split"]``.
FOR_SPLITS: dict[str, str] = {"training": "train", "validation": "dev", "testing": "test"}
_FOR_SPLIT_ALIASES = {
    "train": "training",
    "val": "validation",
    "dev": "validation",
    "test": "testing",
}


def _for_version_dir(root: Path, version: str) -> Path:
    if any((root / s).is_dir() for s in FOR_SPLITS):
        return root
    for outer in FOR_VERSIONS[version]:
        for candidate in (root / outer, *(root / outer / inner for inner in FOR_VERSIONS[version])):
            if any((candidate / s).is_dir() for s in FOR_SPLITS):
                return candidate
    raise DatasetFormatError(
        f"{root}: no Fake-or-Real {version!r} folder with {'/'.join(FOR_SPLITS)} sub-folders"
    )


def read_fake_or_real(
    root: str | os.PathLike[str],
    *,
    version: str = "for-norm",
    split: str = "training",
    name: str | None = None,
) -> Manifest:
    """Read Fake-or-Real (FoR): ``<version>/<split>/{real,fake}/*``.

    Parameters
    ----------
    root : path-like
        Folder holding the version folders, or a version folder itself.
    version : {"for-original", "for-norm", "for-2sec", "for-rerec"}
        Dataset version (``for-2seconds`` / ``for-rerecorded`` folder names are found too).
    split : {"training", "validation", "testing", "all"}
        Split to read (``train``, ``val``/``dev``, ``test`` are accepted); ``extra["split"]``
        becomes ``train`` / ``dev`` / ``test``.
    name : str, optional
        Manifest name; defaults to ``<version>``.

    Returns
    -------
    Manifest
        ``utt_id = "<split>/<real|fake>/<file without suffix>"``; spoofs get system
        ``"unknown"`` (FoR does not label generators per file).
    """
    if version not in FOR_VERSIONS:
        raise ParameterError.invalid("version", f"one of {list(FOR_VERSIONS)}", version)
    split_name = _FOR_SPLIT_ALIASES.get(split, split)
    if split_name != "all" and split_name not in FOR_SPLITS:
        raise ParameterError.invalid("split", f"one of {[*FOR_SPLITS, 'all']}", split)
    version_dir = _for_version_dir(_existing_dir(root), version)
    splits = list(FOR_SPLITS) if split_name == "all" else [split_name]
    builder = ManifestBuilder(version_dir, name=name or version)
    for s in splits:
        if not (version_dir / s).is_dir():
            raise DatasetFormatError(f"{version_dir}: no {s}/ folder")
        for cls, label in (("real", BONAFIDE), ("fake", SPOOF)):
            cls_dir = version_dir / s / cls
            if not cls_dir.is_dir():
                raise DatasetFormatError(f"{version_dir / s}: no {cls}/ folder")
            for audio in iter_audio_files(cls_dir):
                rel = audio.relative_to(version_dir).with_suffix("").as_posix()
                utt = Utterance(
                    utt_id=rel,
                    path=audio,
                    label=label,
                    system=BONAFIDE_NAME if label == BONAFIDE else UNKNOWN_SYSTEM,
                    extra={"split": FOR_SPLITS[s], "version": version},
                )
                builder.add(utt, str(audio))
    return builder.build()


# -- MLAAD ------------------------------------------------------------------------------
_MLAAD_RENAME = {"transcript": "text", "duration": "duration_s"}
_MLAAD_SKIP = frozenset({*CORE_COLUMNS, "model_name", "reference_speaker"})


def _mlaad_audio(path_text: str, root: Path, meta_dir: Path) -> Path:
    """``path`` is relative to the MLAAD root (``./fake/en/<model>/x.wav``), else the meta."""
    candidates = (
        resolve_path(path_text, root),
        resolve_path(path_text, root.parent),
        meta_dir / Path(path_text).name,
    )
    return next((c for c in candidates if c.exists()), candidates[0])


def read_mlaad(root: str | os.PathLike[str], *, name: str = "mlaad") -> Manifest:
    """Read MLAAD: every ``meta.csv`` under ``root`` (pipe-delimited), all spoof.

    The header is ``path|original_file|language|is_original_language|duration|
    training_data|model_name|architecture|transcript`` (later versions add
    ``reference_speaker``, used as the speaker). ``system`` is ``model_name``; every other
    column goes to ``extra`` (``transcript`` as ``text``, ``duration`` as ``duration_s``).
    ``path`` is taken relative to ``root`` (falling back to ``root``'s parent, then to the
    meta file's folder, whichever exists). ``utt_id`` is the audio path relative to
    ``root`` without suffix.
    """
    top = _existing_dir(root)
    metas = sorted(top.rglob("meta.csv"))
    if not metas:
        raise DatasetFormatError(f"{root}: no MLAAD meta.csv under <language>/<model>/")
    builder = ManifestBuilder(top, name=name)
    for meta in metas:
        for line, row in iter_csv_rows(meta, required=("path", "model_name"), delimiter="|"):
            if not row["path"]:
                raise dataset_error(meta, line, "empty path")
            if not row["model_name"]:
                raise dataset_error(meta, line, "empty model_name")
            audio = _mlaad_audio(row["path"], top, meta.parent)
            try:
                utt_id = audio.relative_to(top).with_suffix("").as_posix()
            except ValueError:
                utt_id = default_utt_id(row["path"].removeprefix("./"))
            extra = {_MLAAD_RENAME.get(k, k): v for k, v in row.items() if k not in _MLAAD_SKIP}
            utt = Utterance(
                utt_id=utt_id,
                path=audio,
                label=SPOOF,
                system=row["model_name"],
                speaker=row.get("reference_speaker", ""),
                extra={**extra, "source": "mlaad"},
            )
            builder.add(utt, f"{meta}:{line}")
    return builder.build()
