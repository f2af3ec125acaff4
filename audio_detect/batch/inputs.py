"""What a batch job scores: a folder, a glob pattern or a manifest of paths.

:func:`resolve_inputs` turns the ``INPUT`` argument of ``audio-detect batch`` into a
list of absolute paths (the identity a rerun uses to find already scored files):

* a **folder**: every file below it (recursively, hidden files and folders skipped)
  whose extension is a known audio extension (:data:`AUDIO_EXTENSIONS`; pass
  ``extensions=None`` to take every file); sorted.
* a **glob** (``/archive/2024-05-*/**/*.wav``, ``**`` recurses): every matching file,
  whatever its extension; sorted.
* a **CSV/TSV manifest** (``.csv``, ``.tsv``) with a header and a ``path`` column, or a
  **Parquet manifest** (``.parquet``, ``.pq``) with a ``path`` string column; other
  columns are ignored, so a dataset manifest (``read_manifest_csv`` format) works as is.
  Relative paths are taken from the manifest's folder. Manifest order is kept.
* any other existing **file**: that one recording.

Duplicates are dropped (first occurrence kept). Decoding detects formats by content,
so the extension filter of folders only decides which files are listed.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from ..datasets.manifest import dataset_error, iter_csv_rows, resolve_path
from ..exceptions import DatasetFormatError, ParameterError

__all__ = [
    "AUDIO_EXTENSIONS",
    "list_folder",
    "list_glob",
    "read_csv_paths",
    "read_parquet_paths",
    "resolve_inputs",
]

logger = logging.getLogger(__name__)

#: Extensions listed when the input is a folder (lower case, with the dot).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac",
        ".amr", ".awb", ".3gp", ".au", ".snd", ".aif", ".aiff", ".aifc", ".caf", ".w64",
        ".rf64", ".webm", ".mka", ".mkv", ".wma", ".gsm", ".sph", ".nist", ".vox",
    }
)  # fmt: skip
_CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_PATH_COLUMN = "path"


def _unique(paths: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(paths))


def _normalise_extensions(extensions: Iterable[str] | None) -> frozenset[str] | None:
    if extensions is None:
        return None
    out = frozenset(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    if not out:
        raise ParameterError.invalid("extensions", "a non-empty set of extensions or None", [])
    return out


def list_folder(
    folder: str | os.PathLike[str], *, extensions: Iterable[str] | None = AUDIO_EXTENSIONS
) -> list[str]:
    """Audio files below ``folder`` (recursive, hidden entries skipped), sorted."""
    exts = _normalise_extensions(extensions)
    root = os.path.abspath(folder)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            if exts is None or os.path.splitext(name)[1].lower() in exts:
                found.append(os.path.join(dirpath, name))
    return sorted(found)


def list_glob(pattern: str) -> list[str]:
    """Files matching a glob pattern (``**`` recurses), sorted."""
    matches = glob.glob(os.path.expanduser(pattern), recursive=True)
    return sorted({os.path.abspath(m) for m in matches if os.path.isfile(m)})


def read_csv_paths(manifest: str | os.PathLike[str], *, column: str = _PATH_COLUMN) -> list[str]:
    """The ``path`` column of a CSV (``.tsv``: tab-separated) manifest, in order.

    Raises
    ------
    DatasetFormatError
        No such column or an empty cell (the message names file and line).
    """
    manifest = Path(manifest)
    delimiter = _CSV_SUFFIXES.get(manifest.suffix.lower(), ",")
    base = Path(os.path.abspath(manifest)).parent
    paths = []
    for line, row in iter_csv_rows(manifest, required=(column,), delimiter=delimiter):
        text = row[column]
        if not text:
            raise dataset_error(manifest, line, f"empty {column!r} cell")
        paths.append(str(resolve_path(text, base)))
    return _unique(paths)


def read_parquet_paths(
    manifest: str | os.PathLike[str], *, column: str = _PATH_COLUMN
) -> list[str]:
    """The ``path`` column of a Parquet manifest, in order.

    Raises
    ------
    DatasetFormatError
        Unreadable file, no such string column, or a null/empty path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = Path(manifest)
    try:
        schema = pq.read_schema(manifest)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetFormatError(f"{manifest}: not a readable Parquet file: {exc}") from exc
    if column not in schema.names:
        raise DatasetFormatError(
            f"{manifest}: no {column!r} column (columns: {', '.join(schema.names)})"
        )
    field_type = schema.field(column).type
    if not (pa.types.is_string(field_type) or pa.types.is_large_string(field_type)):
        raise DatasetFormatError(f"{manifest}: column {column!r} is {field_type}, not a string")
    values = pq.read_table(manifest, columns=[column]).column(column).to_pylist()
    base = Path(os.path.abspath(manifest)).parent
    paths = []
    for i, text in enumerate(values):
        if not text:
            raise DatasetFormatError(f"{manifest}: row {i}: empty or null {column!r}")
        paths.append(str(resolve_path(text, base)))
    return _unique(paths)


def resolve_inputs(
    source: str | os.PathLike[str],
    *,
    extensions: Iterable[str] | None = AUDIO_EXTENSIONS,
    column: str = _PATH_COLUMN,
) -> list[str]:
    """Absolute paths of the recordings named by ``source`` (see the module docstring).

    Parameters
    ----------
    source : str or path-like
        A folder, a glob pattern, a ``.csv``/``.tsv``/``.parquet`` manifest or one file.
    extensions : iterable of str, optional
        Extensions listed from a folder; None lists every file.
    column : str
        Manifest column that holds the paths.

    Raises
    ------
    ParameterError
        ``source`` is neither an existing folder or file nor a glob pattern.
    DatasetFormatError
        A malformed manifest.
    """
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_dir():
        paths = list_folder(path, extensions=extensions)
    elif path.is_file():
        suffix = path.suffix.lower()
        if suffix in _CSV_SUFFIXES:
            paths = read_csv_paths(path, column=column)
        elif suffix in _PARQUET_SUFFIXES:
            paths = read_parquet_paths(path, column=column)
        else:
            paths = [os.path.abspath(path)]
    elif glob.has_magic(text):
        paths = list_glob(text)
    else:
        raise ParameterError.invalid(
            "input", "an existing folder or file, a glob pattern, or a .csv/.parquet manifest", text
        )
    logger.info("%s: %d input file(s)", text, len(paths))
    return paths
