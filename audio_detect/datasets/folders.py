"""A dataset laid out as a ``real/`` + ``fake/`` folder tree.

::

    root/
      real/ (or bonafide/)   **/*.wav|flac|mp3|...     -> bona fide
      fake/ (or spoof/)      <system>/**/*.wav|...     -> spoof, system = first sub-folder
                             *.wav                     -> spoof, system "unknown"

Folder names are matched case-insensitively. Hidden files and folders (``.name``,
including macOS ``._name`` resource forks) are ignored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from ..constants import BONAFIDE, BONAFIDE_NAME, SPOOF
from ..exceptions import DatasetFormatError
from .manifest import UNKNOWN_SYSTEM, Manifest, ManifestBuilder, Utterance

__all__ = ["AUDIO_EXTENSIONS", "CLASS_FOLDERS", "iter_audio_files", "read_folder_tree"]

logger = logging.getLogger(__name__)

#: File suffixes treated as audio (lower case).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".webm", ".amr"}
)

#: Class folder name (lower case) -> label.
CLASS_FOLDERS: dict[str, int] = {
    "real": BONAFIDE,
    "bonafide": BONAFIDE,
    "fake": SPOOF,
    "spoof": SPOOF,
}


def iter_audio_files(folder: Path) -> Iterator[Path]:
    """Yield audio files under ``folder`` recursively, sorted, skipping hidden entries."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                yield Path(dirpath) / name


def read_folder_tree(root: str | os.PathLike[str], *, name: str | None = None) -> Manifest:
    """Read a ``real/`` + ``fake/`` folder tree (``bonafide/`` and ``spoof/`` also accepted).

    Parameters
    ----------
    root : path-like
        Folder holding the class folders.
    name : str, optional
        Manifest name; defaults to the folder's name.

    Returns
    -------
    Manifest
        ``utt_id`` is the path relative to ``root`` without suffix (``fake/xtts/a01``);
        ``system`` is the first sub-folder under the spoof folder, ``"unknown"`` for files
        directly in it, ``"bonafide"`` for real speech. For bona fide files in a
        sub-folder, that sub-folder is kept as ``extra["source"]``.

    Raises
    ------
    DatasetFormatError
        If ``root`` holds no class folder, no audio, or two files map to one ``utt_id``
        (same name, different extension).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"{root}: not a folder")
    class_dirs = sorted(
        (d for d in root.iterdir() if d.is_dir() and d.name.lower() in CLASS_FOLDERS),
        key=lambda d: d.name,
    )
    if not class_dirs:
        raise DatasetFormatError(
            f"{root}: no class folder; expected some of {sorted(CLASS_FOLDERS)}"
        )
    builder = ManifestBuilder(root, name=root.name if name is None else name)
    absolute_root = Path(os.path.abspath(root))
    for class_dir in class_dirs:
        label = CLASS_FOLDERS[class_dir.name.lower()]
        n_before = len(builder)
        for audio in iter_audio_files(class_dir):
            inner = audio.relative_to(class_dir).parts
            group = inner[0] if len(inner) > 1 else ""
            if label == SPOOF:
                system, extra = group or UNKNOWN_SYSTEM, {}
            else:
                system, extra = BONAFIDE_NAME, ({"source": group} if group else {})
            relative = audio.relative_to(root)
            utt = Utterance(
                utt_id=relative.with_suffix("").as_posix(),
                path=absolute_root / relative,
                label=label,
                system=system,
                extra=extra,
            )
            builder.add(utt, str(audio))
        if len(builder) == n_before:
            logger.warning("%s: no audio (extensions %s)", class_dir, sorted(AUDIO_EXTENSIONS))
    if not len(builder):
        raise DatasetFormatError(f"{root}: no audio files under {[d.name for d in class_dirs]}")
    return builder.build()
