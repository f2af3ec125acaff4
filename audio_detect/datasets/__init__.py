"""Datasets: the one manifest type and a reader per corpus format.

Every reader returns a :class:`Manifest` of :class:`Utterance` (label 1 = spoof,
0 = bona fide). :func:`load_dataset` picks a reader by name from
:data:`DATASET_READERS`; each entry takes ``root`` (a file or a folder) plus keywords:

``csv``
    A manifest CSV, or a folder holding ``manifest.csv``. Keyword ``allow_empty_path``.
``folders``
    A folder with ``real/`` + ``fake/`` (or ``bonafide/`` + ``spoof/``).
``asvspoof2019``
    A CM protocol file, or the ``LA/`` folder (or one above it). Keywords ``partition``
    (``"train"``, ``"dev"``, ``"eval"`` (default) or ``"all"``) and ``audio_root``.
``asvspoof2021-la``, ``asvspoof2021-df``
    ``trial_metadata.txt`` or a folder holding ``keys/<TRACK>/CM/trial_metadata.txt``.
    Keyword ``audio_root``.
``asvspoof5``
    A protocol ``.tsv`` or the download folder. Keywords ``partition`` (default
    ``"eval"``) and ``audio_root``.
``in-the-wild``
    ``release_in_the_wild/`` (holding ``meta.csv``) or the ``meta.csv`` file.
``wavefake``
    The folder holding ``generated_audio/``. Keyword ``real_root`` (LJSpeech, JSUT).
``for``
    The Fake-or-Real folder. Keywords ``version`` (default ``"for-norm"``) and ``split``
    (default ``"training"``).
``mlaad``
    The MLAAD folder (``fake/<language>/<model>/meta.csv``).

For ASVspoof 2019, ``load_dataset("asvspoof2019", root, partition="eval")`` looks for
``ASVspoof2019.LA.cm.eval.trl.txt`` in ``root``, ``root/ASVspoof2019_LA_cm_protocols/``,
``root/LA/ASVspoof2019_LA_cm_protocols/`` and then any direct sub-folder of ``root``; the
audio folder ``ASVspoof2019_LA_eval/`` is picked up when it sits beside the protocol folder
or in ``root``. Without ``partition`` (as the CLI calls it) the eval partition is read;
``partition="all"`` joins train, dev and eval (``extra["split"]`` tells them apart).
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import ParameterError
from .asvspoof import (
    load_asvspoof5,
    load_asvspoof2019,
    load_asvspoof2021,
    read_asvspoof5,
    read_asvspoof2019_la,
    read_asvspoof2021,
)
from .folders import AUDIO_EXTENSIONS, read_folder_tree
from .manifest import Manifest, Utterance, read_manifest_csv
from .public import read_fake_or_real, read_in_the_wild, read_mlaad, read_wavefake

__all__ = [
    "AUDIO_EXTENSIONS",
    "DATASET_READERS",
    "Manifest",
    "Utterance",
    "load_asvspoof5",
    "load_asvspoof2019",
    "load_asvspoof2021",
    "load_dataset",
    "read_asvspoof5",
    "read_asvspoof2019_la",
    "read_asvspoof2021",
    "read_fake_or_real",
    "read_folder_tree",
    "read_in_the_wild",
    "read_manifest_csv",
    "read_mlaad",
    "read_wavefake",
]

logger = logging.getLogger(__name__)


def _load_csv(root: str | os.PathLike[str], *, allow_empty_path: bool = False) -> Manifest:
    """Read a manifest CSV, or ``manifest.csv`` inside a folder."""
    path = Path(root)
    if path.is_dir():
        path = path / "manifest.csv"
    return read_manifest_csv(path, allow_empty_path=allow_empty_path)


def _load_asvspoof2021_la(root: str | os.PathLike[str], *, audio_root: Any = None) -> Manifest:
    """ASVspoof 2021 LA keys (see :func:`load_asvspoof2021`)."""
    return load_asvspoof2021(root, track="LA", audio_root=audio_root)


def _load_asvspoof2021_df(root: str | os.PathLike[str], *, audio_root: Any = None) -> Manifest:
    """ASVspoof 2021 DF keys (see :func:`load_asvspoof2021`)."""
    return load_asvspoof2021(root, track="DF", audio_root=audio_root)


#: Dataset name -> reader taking ``root`` plus keyword arguments.
DATASET_READERS: dict[str, Callable[..., Manifest]] = {
    "csv": _load_csv,
    "folders": read_folder_tree,
    "asvspoof2019": load_asvspoof2019,
    "asvspoof2021-la": _load_asvspoof2021_la,
    "asvspoof2021-df": _load_asvspoof2021_df,
    "asvspoof5": load_asvspoof5,
    "in-the-wild": read_in_the_wild,
    "wavefake": read_wavefake,
    "for": read_fake_or_real,
    "mlaad": read_mlaad,
}

_ALIASES = {
    "manifest": "csv",
    "folder": "folders",
    "asvspoof2019-la": "asvspoof2019",
    "itw": "in-the-wild",
    "fake-or-real": "for",
}


def _canonical_name(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    return _ALIASES.get(key, key)


def load_dataset(name: str, root: str | os.PathLike[str], **kwargs: Any) -> Manifest:
    """Read dataset ``name`` found at ``root`` with the matching reader.

    Parameters
    ----------
    name : str
        A key of :data:`DATASET_READERS` (case-insensitive; ``_`` and ``-`` are the same;
        a few aliases such as ``itw`` and ``fake-or-real`` are accepted).
    root : path-like
        File or folder the reader expects (see the module docstring).
    **kwargs
        Passed to the reader (``partition``, ``audio_root``, ``version``, ``split``...).

    Raises
    ------
    ParameterError
        For an unknown name, a missing ``root`` or a keyword the reader does not take.
    DatasetFormatError
        When the files are malformed (the message names file and line).
    """
    key = _canonical_name(name)
    reader = DATASET_READERS.get(key)
    if reader is None:
        raise ParameterError.invalid("name", f"one of {sorted(DATASET_READERS)}", name)
    if not Path(root).exists():
        raise ParameterError.invalid("root", "an existing file or folder", str(root))
    signature = inspect.signature(reader)
    try:
        signature.bind(root, **kwargs)
    except TypeError:
        accepted = [p for p in list(signature.parameters)[1:]]
        raise ParameterError(
            f"The {key!r} reader takes the keyword(s) {accepted}. Got {sorted(kwargs)} instead."
        ) from None
    manifest = reader(root, **kwargs)
    logger.info("loaded %s from %s: %r", key, root, manifest)
    return manifest
