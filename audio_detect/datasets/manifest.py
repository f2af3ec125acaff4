"""The one manifest type of audio-detect, and the generic CSV manifest format.

Every dataset reader returns a :class:`Manifest`: an immutable, ordered sequence of
:class:`Utterance` records whose ``label`` follows :mod:`audio_detect.constants`
(1 = spoof, 0 = bona fide).

Generic CSV format
------------------
A header line is required. ``path`` and ``label`` are required columns; ``utt_id``,
``system``, ``speaker`` and ``condition`` are optional; any other column (``family``,
``source``, ``language``, ``text``, ``channel``, ``split``, ``duration_s``...) is kept in
:attr:`Utterance.extra`. Paths are relative to the CSV's folder (absolute paths are
allowed). Labels accept every spelling of :data:`audio_detect.constants.LABEL_ALIASES`
(``bonafide``/``spoof``, ``real``/``fake``, ``bona-fide``..., case-insensitive). ``utt_id``
defaults to the path as written, without its suffix. Blank lines are skipped and a UTF-8
byte-order mark is ignored. Every error names the file and the line.

The line-level helpers shared by all readers (:func:`iter_csv_rows`,
:func:`iter_protocol_fields`, :func:`dataset_error`...) live in
:mod:`audio_detect.datasets._parsing` and are re-exported here.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from ..constants import BONAFIDE, BONAFIDE_NAME, LABEL_NAMES, SPOOF, parse_label
from ..exceptions import DatasetFormatError, ParameterError
from ._parsing import (
    dataset_error,
    default_utt_id,
    iter_csv_rows,
    iter_protocol_fields,
    label_or_error,
    resolve_path,
)

__all__ = [
    "CORE_COLUMNS",
    "UNKNOWN_SYSTEM",
    "Manifest",
    "ManifestBuilder",
    "Utterance",
    "dataset_error",
    "default_utt_id",
    "iter_csv_rows",
    "iter_protocol_fields",
    "label_or_error",
    "read_manifest_csv",
    "resolve_path",
]

logger = logging.getLogger(__name__)

#: Columns stored as :class:`Utterance` attributes; every other column goes to ``extra``.
CORE_COLUMNS: tuple[str, ...] = ("utt_id", "path", "label", "system", "speaker", "condition")
_CORE_SET = frozenset(CORE_COLUMNS)
_REQUIRED_CSV_COLUMNS = ("path", "label")
_DURATION_COLUMNS = ("duration_s", "duration")
#: System name given to spoofs whose generator the dataset does not state.
UNKNOWN_SYSTEM = "unknown"


@dataclass(frozen=True)
class Utterance:
    """One trial of a dataset.

    Parameters
    ----------
    utt_id : str
        Identifier, unique within its manifest.
    path : Path or None
        Absolute path to the audio, or None when the protocol has no audio at hand.
    label : int
        :data:`~audio_detect.constants.BONAFIDE` (0) or :data:`~audio_detect.constants.SPOOF` (1).
    system : str
        Attack / generator system; ``"bonafide"`` for real speech.
    speaker : str
        Speaker id (for spoofs, the imitated voice); empty if unknown.
    condition : str
        Channel or codec condition (``"clean"``, ``"alaw/ita_tx"``, ``"mp3m4a"``...).
    extra : Mapping[str, str]
        Any other column (``family``, ``source``, ``language``, ``text``, ``split``...).
    """

    utt_id: str
    path: Path | None
    label: int
    system: str = BONAFIDE_NAME
    speaker: str = ""
    condition: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.utt_id, str) or not self.utt_id:
            raise ParameterError.invalid("utt_id", "a non-empty string", self.utt_id)
        if isinstance(self.label, bool) or self.label not in (BONAFIDE, SPOOF):
            raise ParameterError.invalid("label", "0 (bona fide) or 1 (spoof)", self.label)
        object.__setattr__(self, "label", int(self.label))
        if self.path is not None and not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))
        if not _CORE_SET.isdisjoint(self.extra):
            clash = sorted(_CORE_SET.intersection(self.extra))
            raise ParameterError.invalid("extra", f"keys other than {CORE_COLUMNS}", clash)
        # A private copy (a plain dict stays picklable for worker processes).
        object.__setattr__(self, "extra", {str(k): str(v) for k, v in self.extra.items()})

    def __hash__(self) -> int:
        return hash((self.utt_id, self.path, self.label, self.system))

    @property
    def label_name(self) -> str:
        """``"bonafide"`` or ``"spoof"``."""
        return LABEL_NAMES[self.label]

    def get(self, name: str, default: str = "") -> str:
        """Return a core field (as text) or an ``extra`` column, else ``default``."""
        if name == "label":
            return self.label_name
        if name == "path":
            return "" if self.path is None else str(self.path)
        if name in CORE_COLUMNS:
            return str(getattr(self, name))
        return self.extra.get(name, default)

    def replace(self, **changes: Any) -> Utterance:
        """Return a copy with some fields changed (``extra`` is replaced, not merged)."""
        return dataclasses.replace(self, **changes)

    def with_extra(self, **columns: str) -> Utterance:
        """Return a copy whose ``extra`` also holds ``columns``."""
        return dataclasses.replace(self, extra={**self.extra, **columns})


class Manifest(Sequence[Utterance]):
    """An ordered, immutable collection of :class:`Utterance` with unique ``utt_id``.

    Parameters
    ----------
    utterances : iterable of Utterance
        The trials, in order.
    name : str
        Human-readable dataset name (used in logs and summaries).
    source : Path or None
        File or folder the manifest was read from.

    Raises
    ------
    DatasetFormatError
        If two utterances share an ``utt_id``.
    """

    def __init__(
        self, utterances: Iterable[Utterance], *, name: str = "", source: Path | None = None
    ) -> None:
        self._items: tuple[Utterance, ...] = tuple(utterances)
        self.name = name
        self.source = None if source is None else Path(source)
        self._index: dict[str, int] = {}
        for i, utt in enumerate(self._items):
            if not isinstance(utt, Utterance):
                raise ParameterError.invalid("utterances", "Utterance instances", type(utt))
            if utt.utt_id in self._index:
                where = f" in {self.source}" if self.source else ""
                raise DatasetFormatError(f"duplicate utt_id {utt.utt_id!r}{where}")
            self._index[utt.utt_id] = i

    @overload
    def __getitem__(self, index: int) -> Utterance: ...

    @overload
    def __getitem__(self, index: slice) -> Manifest: ...

    def __getitem__(self, index: int | slice) -> Utterance | Manifest:
        if isinstance(index, slice):
            return self._derive(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self._items)

    def __repr__(self) -> str:
        counts = Counter(u.label for u in self._items)
        return (
            f"Manifest(name={self.name!r}, n={len(self)}, "
            f"bonafide={counts[BONAFIDE]}, spoof={counts[SPOOF]})"
        )

    def _derive(self, utterances: Iterable[Utterance]) -> Manifest:
        return Manifest(utterances, name=self.name, source=self.source)

    @classmethod
    def concat(cls, manifests: Iterable[Manifest], *, name: str = "") -> Manifest:
        """Join several manifests (``utt_id`` must stay unique across them)."""
        manifests = list(manifests)
        name = name or "+".join(m.name for m in manifests if m.name)
        return cls((u for m in manifests for u in m), name=name)

    # -- columns -----------------------------------------------------------------------
    @property
    def utt_ids(self) -> list[str]:
        """Utterance ids, in order."""
        return [u.utt_id for u in self._items]

    @property
    def labels(self) -> np.ndarray:
        """Labels as an int64 array (1 = spoof, 0 = bona fide)."""
        return np.fromiter((u.label for u in self._items), dtype=np.int64, count=len(self))

    @property
    def systems(self) -> list[str]:
        """Attack / generator system of each utterance."""
        return [u.system for u in self._items]

    @property
    def speakers(self) -> list[str]:
        """Speaker of each utterance (empty when unknown)."""
        return [u.speaker for u in self._items]

    @property
    def paths(self) -> list[Path | None]:
        """Audio path of each utterance (None when the protocol has no audio)."""
        return [u.path for u in self._items]

    def column(self, name: str) -> list[str]:
        """Return one column as text: a core field or an ``extra`` column.

        Utterances lacking an ``extra`` column give ``""``. Raises ``ParameterError`` if
        no utterance has that column.
        """
        if (
            name not in CORE_COLUMNS
            and self._items
            and not any(name in u.extra for u in self._items)
        ):
            raise ParameterError.invalid("name", f"one of {self.columns}", name)
        return [u.get(name) for u in self._items]

    @property
    def columns(self) -> list[str]:
        """Core columns followed by every ``extra`` column, in first-seen order."""
        extra: dict[str, None] = {}
        for u in self._items:
            extra.update(dict.fromkeys(u.extra))
        return [*CORE_COLUMNS, *extra]

    def get(self, utt_id: str, default: Utterance | None = None) -> Utterance | None:
        """Return the utterance with this id, or ``default``."""
        i = self._index.get(utt_id)
        return default if i is None else self._items[i]

    def index_of(self, utt_id: str) -> int:
        """Position of ``utt_id``; raises ``KeyError`` if absent."""
        return self._index[utt_id]

    # -- selection ---------------------------------------------------------------------
    def filter(self, predicate: Callable[[Utterance], bool]) -> Manifest:
        """Return the utterances for which ``predicate`` is true, in order."""
        return self._derive(u for u in self._items if predicate(u))

    def subset(
        self,
        *,
        split: str | None = None,
        label: int | str | None = None,
        systems: Iterable[str] | None = None,
    ) -> Manifest:
        """Select by ``extra["split"]``, by label (int or any label spelling) and/or by system."""
        want_label: int | None = None
        if label is not None:
            try:
                want_label = label if isinstance(label, int) else parse_label(label)
            except KeyError:
                want_label = None
            if want_label not in (BONAFIDE, SPOOF):
                raise ParameterError.invalid("label", "0, 1 or a label name", label)
        want_systems: frozenset[str] | None = None
        if systems is not None:
            want_systems = frozenset([systems] if isinstance(systems, str) else systems)

        def keep(u: Utterance) -> bool:
            return (
                (split is None or u.extra.get("split") == split)
                and (want_label is None or u.label == want_label)
                and (want_systems is None or u.system in want_systems)
            )

        return self.filter(keep)

    def missing_audio(self) -> list[Utterance]:
        """Utterances whose ``path`` is None or does not exist on disk."""
        return [u for u in self._items if u.path is None or not u.path.is_file()]

    # -- reporting ---------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts per label and system, speaker count, languages and durations when known."""
        labels = Counter(u.label for u in self._items)
        out: dict[str, Any] = {
            "name": self.name,
            "n_utterances": len(self),
            "labels": {LABEL_NAMES[k]: labels[k] for k in (BONAFIDE, SPOOF)},
            "systems": dict(sorted(Counter(u.system for u in self._items).items())),
            "n_speakers": len({u.speaker for u in self._items if u.speaker}),
        }
        conditions = Counter(u.condition for u in self._items if u.condition)
        if conditions:
            out["conditions"] = dict(sorted(conditions.items()))
        if any("language" in u.extra for u in self._items):
            langs = Counter(u.extra.get("language") or "unknown" for u in self._items)
            out["languages"] = dict(sorted(langs.items()))
        duration_col = next(
            (c for c in _DURATION_COLUMNS if any(c in u.extra for u in self._items)), None
        )
        if duration_col is not None:
            per_label = dict.fromkeys(LABEL_NAMES.values(), 0.0)
            unknown = 0
            for u in self._items:
                try:
                    per_label[u.label_name] += float(u.extra[duration_col])
                except (KeyError, ValueError):
                    unknown += 1
            out["duration_s"] = round(sum(per_label.values()), 4)
            out["duration_s_by_label"] = {k: round(v, 4) for k, v in per_label.items()}
            out["duration_unknown"] = unknown
        return out

    def to_csv(self, path: str | os.PathLike[str], *, relative: bool = False) -> Path:
        """Write the generic CSV format; paths under the CSV's folder are written relative.

        With ``relative=True`` every path is written relative to the CSV's folder (with
        ``..`` where needed), so a protocol stays valid when the repository and the data
        beside it move together.

        Returns the path written. Utterances without audio get an empty ``path`` cell
        (read them back with ``read_manifest_csv(..., allow_empty_path=True)``).
        """
        path = Path(path)
        base = Path(os.path.abspath(path)).parent
        columns = self.columns
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for u in self._items:
                row = [u.get(c) for c in columns]
                if u.path is not None:
                    row[1] = (
                        Path(os.path.relpath(os.path.abspath(u.path), base)).as_posix()
                        if relative
                        else _relative_if_under(u.path, base)
                    )
                writer.writerow(row)
        logger.info("wrote %d utterances to %s", len(self), path)
        return path


def _relative_if_under(path: Path, base: Path) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return str(absolute)


# -- building manifests ----------------------------------------------------------------
class ManifestBuilder:
    """Collect utterances read from ``source``; duplicate ids fail naming both places.

    Parameters
    ----------
    source : path-like
        File or folder being read (used in messages and as :attr:`Manifest.source`).
    name : str
        Dataset name given to the manifest.
    """

    def __init__(self, source: str | os.PathLike[str], *, name: str = "") -> None:
        self.source = Path(source)
        self.name = name
        self._items: list[Utterance] = []
        self._where: dict[str, int | str] = {}

    def __len__(self) -> int:
        return len(self._items)

    def _location(self, where: int | str) -> str:
        return f"{self.source}:{where}" if isinstance(where, int) else where

    def add(self, utt: Utterance, where: int | str) -> None:
        """Add ``utt``, read at ``where``: a line number of :attr:`source`, or a location."""
        first = self._where.get(utt.utt_id)
        if first is not None:
            raise DatasetFormatError(
                f"{self._location(where)}: duplicate utt_id {utt.utt_id!r} "
                f"(first seen at {self._location(first)})"
            )
        self._where[utt.utt_id] = where
        self._items.append(utt)

    def build(self) -> Manifest:
        """Return the :class:`Manifest` and log its size."""
        manifest = Manifest(self._items, name=self.name, source=self.source)
        labels = Counter(u.label for u in self._items)
        logger.info(
            "read %s from %s: %d utterances (%d bona fide, %d spoof)",
            self.name or "manifest",
            self.source,
            len(manifest),
            labels[BONAFIDE],
            labels[SPOOF],
        )
        return manifest


def read_manifest_csv(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    delimiter: str = ",",
    allow_empty_path: bool = False,
) -> Manifest:
    """Read the generic CSV manifest format described in this module.

    Parameters
    ----------
    path : path-like
        The CSV file.
    name : str, optional
        Manifest name; defaults to the file's stem.
    delimiter : str
        Cell delimiter.
    allow_empty_path : bool
        Accept an empty ``path`` cell (the utterance gets ``path=None``); requires an
        ``utt_id`` then.

    Raises
    ------
    DatasetFormatError
        On a missing required column (names file and header line), a bad label, an
        empty path or a duplicate ``utt_id`` (names file and line).
    """
    path = Path(path)
    base = Path(os.path.abspath(path)).parent
    builder = ManifestBuilder(path, name=path.stem if name is None else name)
    for line, row in iter_csv_rows(path, required=_REQUIRED_CSV_COLUMNS, delimiter=delimiter):
        label = label_or_error(row["label"], path, line)
        path_text = row["path"]
        utt_id = row.get("utt_id", "")
        if not path_text and not (allow_empty_path and utt_id):
            raise dataset_error(path, line, "empty path")
        system = row.get("system", "") or (BONAFIDE_NAME if label == BONAFIDE else UNKNOWN_SYSTEM)
        utt = Utterance(
            utt_id=utt_id or default_utt_id(path_text),
            path=resolve_path(path_text, base) if path_text else None,
            label=label,
            system=system,
            speaker=row.get("speaker", ""),
            condition=row.get("condition", ""),
            extra={k: v for k, v in row.items() if k not in CORE_COLUMNS},
        )
        builder.add(utt, line)
    return builder.build()
