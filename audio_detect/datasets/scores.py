"""Reading and writing countermeasure score files; the edge where score direction flips.

ASVspoof score files are "higher = bona fide". The library direction is the opposite
(higher = spoof, see :mod:`audio_detect.constants`), so :func:`read_score_file` negates
them (``higher_is_bonafide=True``, the default) and :func:`write_score_file` negates
back. Negation is exact for LLRs: ``llr_spoof = -llr_bonafide``.

Accepted score files
--------------------
* ASVspoof 2019 CM: ``UTT_ID SYSTEM KEY SCORE`` (KEY is ``bonafide``/``spoof``);
* two columns ``UTT_ID SCORE`` (ASVspoof 2021 and 5), with or without a header line
  such as ``filename cm-score``;
* the audio-detect format: a header line naming ``utt_id`` and a score column, plus
  optional ``system`` and ``key`` columns, separated by tabs, commas or spaces. A score
  column named ``score_spoof`` or ``llr_spoof`` is in the library direction and is never
  negated; one named ``score``, ``cm-score`` or ``llr`` follows ``higher_is_bonafide``;
* MATLAB ``.mat`` files holding one score vector in protocol line order (the utterance
  ids must be given).

Blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import LABEL_NAMES, parse_label
from ..exceptions import DatasetFormatError, ParameterError

__all__ = [
    "AsvScoreTable",
    "ScoreTable",
    "align_scores",
    "read_asv_score_file",
    "read_score_file",
    "write_score_file",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

_KEY_WORDS = {"bonafide": 0, "spoof": 1}
_ID_COLUMNS = ("utt_id", "filename", "utt", "trial")
_SPOOF_COLUMNS = ("score_spoof", "llr_spoof")
_BONAFIDE_COLUMNS = ("score", "cm-score", "cm_score", "llr")
_ASV_KEYS = ("target", "nontarget", "spoof")
_SEPARATOR = re.compile(r"[\s,]")


@dataclass(frozen=True, eq=False)
class ScoreTable:
    """Scores of a set of trials, in the library direction (higher = spoof).

    Attributes
    ----------
    utt_ids : ndarray of str, shape (n,)
    scores : ndarray of float64, shape (n,)
        Higher = more spoof (negated on reading when the file was bona-fide-high).
    systems : ndarray of str or None
        Attack system per trial (``"-"`` for bona fide in ASVspoof files), when the file has it.
    keys : ndarray of int or None
        Label per trial from the file's KEY column (1 = spoof, 0 = bona fide), when present.
    source : str or None
        File the table was read from, used in error messages.
    """

    utt_ids: NDArray[np.str_]
    scores: NDArray[np.float64]
    systems: NDArray[np.str_] | None = None
    keys: NDArray[np.int64] | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        n = len(self.utt_ids)
        for name in ("scores", "systems", "keys"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ParameterError.invalid(name, f"of length {n} (as utt_ids)", len(value))

    def __len__(self) -> int:
        return len(self.utt_ids)


@dataclass(frozen=True, eq=False)
class AsvScoreTable:
    """An ASV score file: ``sources`` (``bonafide`` or attack id), ``asv_keys``, ``scores``.

    ``asv_keys`` are ``target``, ``nontarget`` or ``spoof``; ``scores`` keep the ASV
    direction (higher = target speaker).
    """

    sources: NDArray[np.str_]
    asv_keys: NDArray[np.str_]
    scores: NDArray[np.float64]


def _error(path: PathLike, lineno: int, message: str) -> DatasetFormatError:
    return DatasetFormatError(f"{path}:{lineno}: {message}")


def _parse_score(path: PathLike, lineno: int, token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise _error(path, lineno, f"score {token!r} is not a number") from None
    if not math.isfinite(value):
        raise _error(path, lineno, f"score {token!r} is not a finite number")
    return value


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _data_lines(path: PathLike) -> list[tuple[int, list[str]]]:
    """Non-blank, non-comment lines of a text file, split on tabs, commas or spaces."""
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            text = line.strip()
            if text and not text.startswith("#"):
                out.append((lineno, text.replace(",", " ").split()))
    if not out:
        raise DatasetFormatError(f"{path}: no scores found")
    return out


def _check_unique(path: PathLike, utt_ids: Sequence[str], linenos: Sequence[int]) -> None:
    first: dict[str, int] = {}
    for uid, lineno in zip(utt_ids, linenos, strict=True):
        if uid in first:
            raise _error(
                path, lineno, f"duplicate utterance id {uid!r} (first on line {first[uid]})"
            )
        first[uid] = lineno


def _header_columns(path: PathLike, lineno: int, header: list[str]) -> tuple[int, int, bool]:
    """Return (id column, score column, score is spoof-high) of a header line."""
    names = [h.lower() for h in header]
    id_col = next((names.index(c) for c in _ID_COLUMNS if c in names), None)
    if id_col is None:
        raise _error(path, lineno, f"header {header} names no utterance id column {_ID_COLUMNS}")
    for columns, spoof_high in ((_SPOOF_COLUMNS, True), (_BONAFIDE_COLUMNS, False)):
        for c in columns:
            if c in names:
                return id_col, names.index(c), spoof_high
    raise _error(path, lineno, f"header {header} names no score column")


def _read_text(path: PathLike, higher_is_bonafide: bool) -> ScoreTable:
    lines = _data_lines(path)
    first_no, first = lines[0]
    if not any(_is_number(t) for t in first[1:]):
        id_col, score_col, spoof_high = _header_columns(path, first_no, first)
        names = [h.lower() for h in first]
        sys_col = names.index("system") if "system" in names else None
        key_col = next((names.index(c) for c in ("key", "label") if c in names), None)
        lines, width, negate = lines[1:], len(first), not spoof_high and higher_is_bonafide
    elif len(first) == 4:
        id_col, sys_col, key_col, score_col, width, negate = 0, 1, 2, 3, 4, higher_is_bonafide
    elif len(first) == 2:
        id_col, sys_col, key_col, score_col, width, negate = 0, None, None, 1, 2, higher_is_bonafide
    else:
        raise _error(
            path,
            first_no,
            f"{len(first)} columns; expected 'UTT_ID SYSTEM KEY SCORE', 'UTT_ID SCORE' "
            "or a header line naming utt_id and score",
        )
    if not lines:
        raise DatasetFormatError(f"{path}: header only, no scores")
    utt_ids, scores, systems, keys, linenos = [], [], [], [], []
    for lineno, tokens in lines:
        if len(tokens) != width:
            raise _error(path, lineno, f"expected {width} columns, got {len(tokens)}: {tokens}")
        utt_ids.append(tokens[id_col])
        scores.append(_parse_score(path, lineno, tokens[score_col]))
        linenos.append(lineno)
        if sys_col is not None:
            systems.append(tokens[sys_col])
        if key_col is not None:
            try:
                keys.append(parse_label(tokens[key_col]))
            except KeyError:
                raise _error(path, lineno, f"key {tokens[key_col]!r} is not a label") from None
    _check_unique(path, utt_ids, linenos)
    values = np.asarray(scores, dtype=np.float64)
    return ScoreTable(
        utt_ids=np.asarray(utt_ids, dtype=str),
        scores=-values if negate else values,
        systems=np.asarray(systems, dtype=str) if sys_col is not None else None,
        keys=np.asarray(keys, dtype=np.int64) if key_col is not None else None,
        source=str(path),
    )


def _read_mat(
    path: PathLike, utt_ids: Sequence[str] | None, variable: str | None, higher_is_bonafide: bool
) -> ScoreTable:
    from scipy.io import loadmat

    if utt_ids is None:
        raise ParameterError.invalid(
            "utt_ids", "the protocol's utterance ids (in line order) for a .mat file", None
        )
    try:
        data = loadmat(path)
    except (ValueError, NotImplementedError, OSError) as exc:
        raise DatasetFormatError(f"{path}: not a readable MATLAB file ({exc})") from exc
    names = [k for k in data if not k.startswith("__")]
    if variable is None:
        if len(names) != 1:
            raise DatasetFormatError(f"{path}: holds variables {names}; name one with variable=")
        variable = names[0]
    if variable not in data:
        raise DatasetFormatError(f"{path}: no variable {variable!r}; it holds {names}")
    array = np.asarray(data[variable])
    if (
        array.ndim > 2
        or min(array.shape, default=0) > 1
        or not np.issubdtype(array.dtype, np.number)
    ):
        raise DatasetFormatError(
            f"{path}: variable {variable!r} is not a numeric vector ({array.dtype}, {array.shape})"
        )
    values = array.astype(np.float64).ravel()
    ids = np.asarray(list(utt_ids), dtype=str)
    if values.size != ids.size:
        raise DatasetFormatError(
            f"{path}: variable {variable!r} holds {values.size} scores for {ids.size} utterance ids"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DatasetFormatError(f"{path}: score {bad[0] + 1} ({ids[bad[0]]}) is not finite")
    _check_unique(path, ids.tolist(), range(1, ids.size + 1))
    return ScoreTable(
        utt_ids=ids, scores=-values if higher_is_bonafide else values, source=str(path)
    )


def read_score_file(
    path: PathLike,
    *,
    higher_is_bonafide: bool = True,
    utt_ids: Sequence[str] | None = None,
    variable: str | None = None,
) -> ScoreTable:
    """Read a CM score file into library-direction scores.

    Parameters
    ----------
    path : str or PathLike
        Text score file (formats in the module docstring) or ``.mat`` file.
    higher_is_bonafide : bool, default True
        The file's scores are bona-fide-high (ASVspoof convention) and are negated.
        Ignored for ``score_spoof``/``llr_spoof`` columns, which are spoof-high by name.
    utt_ids : sequence of str, optional
        Utterance ids in the order of the ``.mat`` vector (protocol line order);
        required for ``.mat`` files, unused otherwise.
    variable : str, optional
        Variable of the ``.mat`` file; default is its only variable.

    Returns
    -------
    ScoreTable

    Raises
    ------
    DatasetFormatError
        Malformed line, non-numeric score, duplicate utterance id (``path:line: ...``).
    """
    if Path(path).suffix.lower() == ".mat":
        return _read_mat(path, utt_ids, variable, higher_is_bonafide)
    table = _read_text(path, higher_is_bonafide)
    logger.debug("read %d scores from %s", len(table), path)
    return table


def read_asv_score_file(path: PathLike) -> AsvScoreTable:
    """Read an ASVspoof ASV score file, ``SOURCE ASV_KEY SCORE`` per line.

    ``SOURCE`` is ``bonafide`` or the attack id, ``ASV_KEY`` is ``target``,
    ``nontarget`` or ``spoof``. Scores are returned as they are (higher = target).
    """
    sources, asv_keys, scores = [], [], []
    for lineno, tokens in _data_lines(path):
        if len(tokens) != 3:
            raise _error(path, lineno, f"expected 'SOURCE ASV_KEY SCORE', got {tokens}")
        if tokens[1] not in _ASV_KEYS:
            raise _error(path, lineno, f"ASV key {tokens[1]!r} is not one of {_ASV_KEYS}")
        sources.append(tokens[0])
        asv_keys.append(tokens[1])
        scores.append(_parse_score(path, lineno, tokens[2]))
    return AsvScoreTable(
        sources=np.asarray(sources, dtype=str),
        asv_keys=np.asarray(asv_keys, dtype=str),
        scores=np.asarray(scores, dtype=np.float64),
    )


def _key_names(keys: ArrayLike) -> list[str]:
    names = []
    for k in np.asarray(keys).tolist():
        try:
            names.append(LABEL_NAMES[k if isinstance(k, int) else parse_label(str(k))])
        except KeyError:
            raise ParameterError.invalid("keys", "labels 0/1 or 'bonafide'/'spoof'", k) from None
    return names


def write_score_file(
    path: PathLike,
    utt_ids: Sequence[str],
    scores: ArrayLike,
    *,
    systems: Sequence[str] | None = None,
    keys: ArrayLike | None = None,
    fmt: str = "asvspoof2019",
) -> None:
    """Write library-direction scores to a score file.

    Parameters
    ----------
    path : str or PathLike
    utt_ids : sequence of str
    scores : array-like of float
        Higher = spoof (library direction).
    systems, keys : optional
        Attack system and label (0/1 or ``bonafide``/``spoof``) per trial.
    fmt : {"asvspoof2019", "audio-detect"}
        ``asvspoof2019`` writes ``UTT_ID SYSTEM KEY SCORE`` (or ``UTT_ID SCORE`` without
        systems and keys) with **negated** scores (higher = bona fide).
        ``audio-detect`` writes a tab-separated file with header
        ``utt_id score_spoof [system key]``, scores as given. Both round-trip exactly
        through :func:`read_score_file`.
    """
    if fmt not in ("asvspoof2019", "audio-detect"):
        raise ParameterError.invalid("fmt", "'asvspoof2019' or 'audio-detect'", fmt)
    values = np.asarray(scores, dtype=np.float64)
    ids = [str(u) for u in utt_ids]
    if values.shape != (len(ids),):
        raise ParameterError.invalid("scores", f"a 1-D array of length {len(ids)}", values.shape)
    if (systems is None) != (keys is None):
        raise ParameterError.invalid("systems and keys", "both given or both None", "only one")
    extra: list[list[str]] = []
    if systems is not None and keys is not None:
        extra = [[str(s) if s not in (None, "") else "-" for s in systems], _key_names(keys)]
        if any(len(col) != len(ids) for col in extra):
            raise ParameterError.invalid("systems and keys", f"of length {len(ids)}", "mismatch")
    for token in ids + [t for col in extra for t in col]:
        if not token or _SEPARATOR.search(token):
            raise ParameterError.invalid("utt_ids/systems", "non-empty, without separators", token)
    columns = list(zip(*extra, strict=True)) if extra else [() for _ in ids]
    if fmt == "audio-detect":
        header = ["utt_id", "score_spoof"] + (["system", "key"] if extra else [])
        rows = [[u, repr(float(v)), *c] for u, v, c in zip(ids, values, columns, strict=True)]
        text = "\n".join("\t".join(r) for r in [header, *rows])
    else:
        rows = [[u, *c, repr(float(-v))] for u, v, c in zip(ids, values, columns, strict=True)]
        text = "\n".join(" ".join(r) for r in rows)
    Path(path).write_text(text + "\n", encoding="utf-8")
    logger.debug("wrote %d scores to %s (%s)", len(ids), path, fmt)


def align_scores(table: ScoreTable, protocol_utt_ids: Iterable[str]) -> ScoreTable:
    """Reorder ``table`` to the protocol's utterance order.

    Scores of utterances absent from the protocol are dropped (with a warning).

    Raises
    ------
    DatasetFormatError
        Some protocol utterances have no score; the message names the score file and
        the first missing ids.
    """
    index = {u: i for i, u in enumerate(table.utt_ids.tolist())}
    wanted = [str(u) for u in protocol_utt_ids]
    rows = [index.get(u, -1) for u in wanted]
    missing = [u for u, r in zip(wanted, rows, strict=True) if r < 0]
    if missing:
        raise DatasetFormatError(
            f"{table.source or 'score table'}: no score for {len(missing)} of {len(wanted)} "
            f"protocol utterances, e.g. {missing[:5]}"
        )
    extra = len(index) - len(set(wanted))
    if extra > 0:
        logger.warning("%s: %d scored utterances are not in the protocol", table.source, extra)
    take = np.asarray(rows, dtype=np.intp)
    return ScoreTable(
        utt_ids=table.utt_ids[take],
        scores=table.scores[take],
        systems=None if table.systems is None else table.systems[take],
        keys=None if table.keys is None else table.keys[take],
        source=table.source,
    )


def _read_cm_protocol_keys(
    path: PathLike,
) -> tuple[NDArray[np.str_], NDArray[np.str_], NDArray[np.int64]]:
    """Minimal ASVspoof CM protocol reader: ``(utt_ids, systems, labels)`` in line order.

    The key is found by value (the last ``bonafide``/``spoof`` token, at column 3 or
    later), the system is the column before it and the utterance id is column 2, which
    covers ``SPEAKER UTT_ID - SYSTEM KEY``, ``flac UTT_ID SYSTEM KEY`` and the longer
    ASVspoof 2021/5 key files. Full readers live in :mod:`audio_detect.datasets.asvspoof`.
    """
    utt_ids, systems, labels, linenos = [], [], [], []
    for lineno, tokens in _data_lines(path):
        where = [i for i, t in enumerate(tokens) if t.lower() in _KEY_WORDS]
        if len(tokens) < 4 or not where or where[-1] < 3:
            raise _error(path, lineno, f"expected 'SPEAKER UTT_ID - SYSTEM KEY', got {tokens}")
        k = where[-1]
        utt_ids.append(tokens[1])
        systems.append(tokens[k - 1])
        labels.append(_KEY_WORDS[tokens[k].lower()])
        linenos.append(lineno)
    _check_unique(path, utt_ids, linenos)
    return (
        np.asarray(utt_ids, dtype=str),
        np.asarray(systems, dtype=str),
        np.asarray(labels, dtype=np.int64),
    )
