"""Line-level parsing helpers shared by the dataset and score readers.

Every error they raise is a :class:`~audio_detect.exceptions.DatasetFormatError` whose
message starts with ``file:line:``. :mod:`audio_detect.datasets.manifest` re-exports
them all, so ``from audio_detect.datasets.manifest import iter_csv_rows`` keeps working.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from ..constants import LABEL_ALIASES, parse_label
from ..exceptions import DatasetFormatError

__all__ = [
    "dataset_error",
    "default_utt_id",
    "iter_csv_rows",
    "iter_protocol_fields",
    "label_or_error",
    "resolve_path",
]


def dataset_error(
    source: str | os.PathLike[str], line: int | None, message: str
) -> DatasetFormatError:
    """Build a :class:`DatasetFormatError` whose message starts with ``file:line:``."""
    where = f"{source}:{line}" if line is not None else str(source)
    return DatasetFormatError(f"{where}: {message}")


def label_or_error(value: str, source: str | os.PathLike[str], line: int | None) -> int:
    """Parse a label spelling, or raise a :class:`DatasetFormatError` naming file and line."""
    try:
        return parse_label(value)
    except KeyError:
        allowed = ", ".join(sorted(LABEL_ALIASES))
        raise dataset_error(source, line, f"label {value!r} is not one of {allowed}") from None


def iter_protocol_fields(
    path: str | os.PathLike[str], *, comment: str = "#"
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` of a whitespace-separated protocol file.

    Blank lines and lines starting with ``comment`` are skipped; a BOM is ignored.
    """
    with Path(path).open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or fields[0].startswith(comment):
                continue
            yield lineno, fields


def iter_csv_rows(
    path: str | os.PathLike[str],
    *,
    required: Sequence[str],
    delimiter: str = ",",
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` of a delimited file with a header line.

    Header names are stripped and lower-cased; cells are stripped. Blank lines are
    skipped and a BOM is ignored.

    Raises
    ------
    DatasetFormatError
        If the file is empty, a required column is missing, a header name repeats, or
        a row has a different number of cells than the header.
    """
    path = Path(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header: list[str] | None = None
        header_line = 0
        previous_end = 0
        for cells in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if header is None:
                header, header_line = [c.strip().lower() for c in cells], start
                _check_header(path, header_line, header, required, delimiter)
                continue
            if len(cells) != len(header):
                raise dataset_error(
                    path, start, f"expected {len(header)} cells as in the header, got {len(cells)}"
                )
            yield start, {k: v.strip() for k, v in zip(header, cells, strict=True)}
        if header is None:
            raise dataset_error(path, None, "empty file; a header line is required")


def _check_header(
    path: Path, line: int, header: list[str], required: Sequence[str], delimiter: str
) -> None:
    shown = delimiter.join(header)
    dupes = sorted(k for k, n in Counter(header).items() if n > 1)
    if dupes:
        raise dataset_error(path, line, f"repeated column(s) {dupes} in header {shown!r}")
    missing = [c for c in required if c not in header]
    if missing:
        raise dataset_error(
            path,
            line,
            f"missing required column(s) {', '.join(missing)} in header {shown!r} "
            f"(required: {', '.join(required)})",
        )


def default_utt_id(path_text: str) -> str:
    """The path as written, with forward slashes and without its suffix."""
    return str(PurePosixPath(path_text.replace("\\", "/")).with_suffix(""))


def resolve_path(path_text: str, base: Path) -> Path:
    """Absolute, normalised ``path_text`` (relative paths are taken from ``base``)."""
    return Path(os.path.normpath(base / Path(path_text)))
