"""Readers for the ASVspoof protocols: 2019 LA, 2021 LA/DF keys and ASVspoof 5.

Each ``read_*`` function parses one protocol file and validates every line (errors name
``file:line``). Each ``load_*`` function takes either that file or the folder a download
unpacks to, finds the protocol for a partition and, when the audio folder sits next to
it, sets the audio paths:

``load_asvspoof2019``
    Protocol ``ASVspoof2019.LA.cm.<p>.trl.txt`` (``.trn.txt`` for train) in ``root``,
    ``root/ASVspoof2019_LA_cm_protocols/``, ``root/LA/ASVspoof2019_LA_cm_protocols/`` or
    any direct sub-folder; audio ``ASVspoof2019_LA_<p>/flac/`` beside the protocol folder
    or in ``root``.
``load_asvspoof2021``
    Keys ``trial_metadata.txt`` in ``root``, ``CM/``, ``<TRACK>/CM/``, ``keys/<TRACK>/CM/``
    or ``*/keys/<TRACK>/CM/``; audio ``ASVspoof2021_<TRACK>_eval/flac/`` or the
    ``ASVspoof2021_<TRACK>_eval_part0*/ASVspoof2021_<TRACK>_eval/flac/`` parts.
``load_asvspoof5``
    Protocol ``ASVspoof5.<p>.tsv`` or ``ASVspoof5.<p>.track_1.tsv`` in ``root`` or
    ``root/ASVspoof5_protocols/``; audio ``flac_T/``, ``flac_D/``, ``flac_E_eval/`` in
    ``root``.

Bona fide trials get ``system = "bonafide"``. Spoof trials whose system column is ``-``
get ``"unknown"``; a bona fide trial naming an attack system is an error.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..constants import BONAFIDE, BONAFIDE_NAME, SPOOF
from ..exceptions import DatasetFormatError, ParameterError
from .manifest import (
    UNKNOWN_SYSTEM,
    Manifest,
    ManifestBuilder,
    Utterance,
    dataset_error,
    iter_protocol_fields,
)

__all__ = [
    "load_asvspoof5",
    "load_asvspoof2019",
    "load_asvspoof2021",
    "read_asvspoof5",
    "read_asvspoof2019_la",
    "read_asvspoof2021",
]

logger = logging.getLogger(__name__)

AudioRoot = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None

_KEYS = {"bonafide": BONAFIDE, "spoof": SPOOF}
_PARTITIONS_2019 = ("train", "dev", "eval")
_PARTITIONS_5 = ("train", "dev", "eval")
_TRACKS_2021 = ("LA", "DF")
_DF_TRAILING = ("field10", "field11", "field12", "field13")


# -- shared line helpers ----------------------------------------------------------------
def _key(token: str, path: Path, line: int) -> int:
    label = _KEYS.get(token.lower())
    if label is None:
        raise dataset_error(path, line, f"key {token!r} is not 'bonafide' or 'spoof'")
    return label


def _system(token: str, label: int, path: Path, line: int) -> str:
    if token in ("-", BONAFIDE_NAME):
        return BONAFIDE_NAME if label == BONAFIDE else UNKNOWN_SYSTEM
    if label == BONAFIDE:
        raise dataset_error(path, line, f"bona fide trial names attack system {token!r}")
    return token


def _columns_error(path: Path, line: int, expected: str, fields: list[str]) -> DatasetFormatError:
    shown = " ".join(fields)
    return dataset_error(path, line, f"expected {expected}, got {len(fields)}: {shown!r}")


class _AudioLocator:
    """Map an utterance id to ``<root>[/flac]/<utt_id>.flac``.

    With one root, paths are built without touching the disk (the ``flac/`` sub-folder is
    used when it exists). With several roots (ASVspoof 2021 DF ships four parts), the
    roots are listed once and ids found in none of them get ``None``. ``prefix_dirs``
    maps an id prefix (``T`` of ``T_0000000000``) to candidate sub-folders (ASVspoof 5).
    """

    def __init__(
        self, audio_root: AudioRoot, *, prefix_dirs: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        if audio_root is None:
            self._roots: list[Path] = []
        elif isinstance(audio_root, str | os.PathLike):
            self._roots = [Path(os.path.abspath(audio_root))]
        else:
            self._roots = [Path(os.path.abspath(r)) for r in audio_root]
        self._prefix_dirs = prefix_dirs or {}
        self._dir_cache: dict[str, Path] = {}
        self._index: dict[str, Path] | None = None
        self.n_missing = 0

    @staticmethod
    def _flac_dir(root: Path) -> Path:
        return root / "flac" if (root / "flac").is_dir() else root

    def _single_dir(self, utt_id: str) -> Path:
        prefix = utt_id.split("_", 1)[0]
        cached = self._dir_cache.get(prefix)
        if cached is None:
            root = self._roots[0]
            found = [root / d for d in self._prefix_dirs.get(prefix, ()) if (root / d).is_dir()]
            cached = self._flac_dir(found[0] if found else root)
            self._dir_cache[prefix] = cached
        return cached

    def __call__(self, utt_id: str) -> Path | None:
        if not self._roots:
            return None
        if len(self._roots) == 1:
            return self._single_dir(utt_id) / f"{utt_id}.flac"
        if self._index is None:
            self._index = {}
            for root in self._roots:
                with os.scandir(self._flac_dir(root)) as entries:
                    for e in entries:
                        if e.name.endswith(".flac"):
                            self._index.setdefault(e.name[: -len(".flac")], Path(e.path))
        found = self._index.get(utt_id)
        self.n_missing += found is None
        return found


def _check_track(track: str) -> str:
    """``track`` upper-cased; raise :class:`ParameterError` unless it is LA or DF (2021)."""
    track_up = str(track).upper()
    if track_up not in _TRACKS_2021:
        raise ParameterError.invalid("track", "'LA' or 'DF'", track)
    return track_up


def _split_from_name(path: Path, pattern: str) -> dict[str, str]:
    m = re.search(pattern, path.name)
    return {"split": m.group(1)} if m else {}


# -- ASVspoof 2019 LA -------------------------------------------------------------------
def read_asvspoof2019_la(
    protocol_path: str | os.PathLike[str],
    *,
    audio_root: AudioRoot = None,
    name: str | None = None,
) -> Manifest:
    """Read an ASVspoof 2019 LA CM protocol (``ASVspoof2019.LA.cm.<p>.trl.txt``).

    Lines are ``SPEAKER UTT_ID - SYSTEM KEY`` (5 columns, ``SYSTEM`` is ``-`` for bona
    fide), or the redistributed 4-column variant ``SPEAKER UTT_ID SYSTEM KEY`` (whose first
    column is sometimes the word ``flac``; the speaker is then left empty).

    Parameters
    ----------
    protocol_path : path-like
        The protocol file. ``train``/``dev``/``eval`` in its name goes to ``extra["split"]``.
    audio_root : path-like or sequence of them, optional
        Folder of the partition's audio: ``audio_root/flac/UTT_ID.flac`` when a ``flac/``
        sub-folder exists, else ``audio_root/UTT_ID.flac``. None leaves ``path=None``.
    name : str, optional
        Manifest name; defaults to ``asvspoof2019-la[-<split>]``.

    Raises
    ------
    DatasetFormatError
        On a wrong column count, an unknown key, a bona fide trial with an attack system
        or a duplicate utterance id (message names file and line).
    """
    path = Path(protocol_path)
    split = _split_from_name(path, r"\.(train|dev|eval)\.")
    locate = _AudioLocator(audio_root)
    default_name = "asvspoof2019-la" + (f"-{split['split']}" if split else "")
    builder = ManifestBuilder(path, name=name or default_name)
    for line, fields in iter_protocol_fields(path):
        if len(fields) == 5:
            speaker, utt_id, env, system_tok, key_tok = fields
        elif len(fields) == 4:
            (speaker, utt_id, system_tok, key_tok), env = fields, "-"
            speaker = "" if speaker in ("flac", "-") else speaker
        else:
            raise _columns_error(path, line, "5 columns (SPEAKER UTT_ID - SYSTEM KEY) or 4", fields)
        label = _key(key_tok, path, line)
        extra = dict(split)
        if env != "-":
            extra["environment"] = env
        utt = Utterance(
            utt_id=utt_id,
            path=locate(utt_id),
            label=label,
            system=_system(system_tok, label, path, line),
            speaker=speaker,
            extra=extra,
        )
        builder.add(utt, line)
    return builder.build()


# -- ASVspoof 2021 LA / DF --------------------------------------------------------------
def read_asvspoof2021(
    keys_path: str | os.PathLike[str],
    *,
    track: str = "LA",
    audio_root: AudioRoot = None,
    name: str | None = None,
) -> Manifest:
    """Read ASVspoof 2021 LA or DF keys (``keys/<TRACK>/CM/trial_metadata.txt``).

    LA lines have 8 columns, ``SPEAKER UTT_ID CODEC TRANSMISSION SYSTEM KEY TRIM SUBSET``;
    ``condition`` is ``CODEC/TRANSMISSION`` (``alaw/ita_tx``). DF lines have 13 columns,
    ``SPEAKER UTT_ID CODEC SOURCE SYSTEM KEY TRIM SUBSET VOCODER`` and four more;
    ``condition`` is ``CODEC`` (``nocodec``, ``low_mp3``...), and ``SOURCE`` (``asvspoof``,
    ``vcc2018``, ``vcc2020``) and ``VOCODER`` go to ``extra`` (as ``source``, ``vocoder``).
    Both keep ``codec``, ``trim`` and ``subset`` (progress / eval / hidden) in ``extra``,
    plus ``split = "eval"``.

    Parameters
    ----------
    keys_path : path-like
        The ``trial_metadata.txt`` file.
    track : {"LA", "DF"}
        Which key format to expect.
    audio_root : path-like or sequence of them, optional
        ``ASVspoof2021_<TRACK>_eval`` folder(s); with several (the DF parts), each id is
        looked up in all of them.
    name : str, optional
        Manifest name; defaults to ``asvspoof2021-<track>``.
    """
    track_up = _check_track(track)
    path = Path(keys_path)
    locate = _AudioLocator(audio_root)
    builder = ManifestBuilder(path, name=name or f"asvspoof2021-{track_up.lower()}")
    n_cols = 8 if track_up == "LA" else 13
    for line, fields in iter_protocol_fields(path):
        if len(fields) != n_cols:
            raise _columns_error(path, line, f"{n_cols} columns for the {track_up} keys", fields)
        speaker, utt_id, codec, fourth, system_tok, key_tok, trim, subset = fields[:8]
        label = _key(key_tok, path, line)
        extra = {"codec": codec, "trim": trim, "subset": subset, "split": "eval"}
        if track_up == "LA":
            extra["transmission"] = fourth
            condition = f"{codec}/{fourth}"
        else:
            extra.update(source=fourth, vocoder=fields[8])
            extra.update({k: v for k, v in zip(_DF_TRAILING, fields[9:], strict=True) if v != "-"})
            condition = codec
        utt = Utterance(
            utt_id=utt_id,
            path=locate(utt_id),
            label=label,
            system=_system(system_tok, label, path, line),
            speaker=speaker,
            condition=condition,
            extra=extra,
        )
        builder.add(utt, line)
    if locate.n_missing:
        logger.warning("%s: %d utterances not found in the audio folders", path, locate.n_missing)
    return builder.build()


# -- ASVspoof 5 -------------------------------------------------------------------------
def read_asvspoof5(
    protocol_path: str | os.PathLike[str],
    *,
    audio_root: AudioRoot = None,
    name: str | None = None,
) -> Manifest:
    """Read an ASVspoof 5 CM protocol (``ASVspoof5.train.tsv``, ``ASVspoof5.dev.track_1.tsv``).

    Despite the ``.tsv`` suffix the lines are space-separated with no header, 10 columns:
    ``SPEAKER_ID FLAC_FILE_NAME SPEAKER_GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG
    ATTACK_LABEL KEY TMP``. ``system`` is ``ATTACK_LABEL`` (``A01``...; ``bonafide`` for
    bona fide), ``condition`` is ``CODEC`` (``-`` becomes ``nocodec``). Gender, codec
    quality and seed, and the attack tag go to ``extra``; ``train``/``dev``/``eval`` in the
    file name goes to ``extra["split"]``.

    Parameters
    ----------
    protocol_path : path-like
        The protocol file.
    audio_root : path-like, optional
        Folder holding ``flac_T/``, ``flac_D/``, ``flac_E_eval/`` (chosen by the id's
        prefix), or a single folder of ``.flac`` files.
    name : str, optional
        Manifest name; defaults to ``asvspoof5[-<split>]``.
    """
    path = Path(protocol_path)
    split = _split_from_name(path, r"ASVspoof5\.(train|dev|eval)")
    locate = _AudioLocator(
        audio_root,
        prefix_dirs={"T": ("flac_T",), "D": ("flac_D",), "E": ("flac_E_eval", "flac_E")},
    )
    default_name = "asvspoof5" + (f"-{split['split']}" if split else "")
    builder = ManifestBuilder(path, name=name or default_name)
    for line, fields in iter_protocol_fields(path):
        if len(fields) != 10:
            raise _columns_error(
                path,
                line,
                "10 columns (SPEAKER_ID FLAC_FILE_NAME ... ATTACK_LABEL KEY TMP)",
                fields,
            )
        speaker, utt_id, gender, codec, codec_q, codec_seed, tag, attack, key_tok, _ = fields
        label = _key(key_tok, path, line)
        if (label == BONAFIDE) != (attack.lower() == BONAFIDE_NAME):
            raise dataset_error(path, line, f"attack label {attack!r} contradicts key {key_tok!r}")
        extra = {"gender": gender, "codec_q": codec_q, "codec_seed": codec_seed, **split}
        if tag != "-":
            extra["attack_tag"] = tag
        utt = Utterance(
            utt_id=utt_id,
            path=locate(utt_id),
            label=label,
            system=BONAFIDE_NAME if label == BONAFIDE else _system(attack, label, path, line),
            speaker=speaker,
            condition="nocodec" if codec == "-" else codec,
            extra=extra,
        )
        builder.add(utt, line)
    return builder.build()


# -- folder-level loaders ---------------------------------------------------------------
def _first_match(root: Path, patterns: Sequence[str]) -> Path | None:
    for pattern in patterns:
        hits = sorted(p for p in root.glob(pattern) if p.is_file())
        if hits:
            return hits[0]
    return None


def _check_root(root: str | os.PathLike[str]) -> Path:
    root = Path(root)
    if not root.exists():
        raise ParameterError.invalid("root", "an existing file or folder", str(root))
    return root


def load_asvspoof2019(
    root: str | os.PathLike[str], *, partition: str = "eval", audio_root: AudioRoot = None
) -> Manifest:
    """Load ASVspoof 2019 LA from a protocol file or the ``LA/`` download folder.

    Parameters
    ----------
    root : path-like
        A protocol file, or a folder searched as described in the module docstring.
    partition : {"train", "dev", "eval", "all"}
        Which protocol to read when ``root`` is a folder; ``"all"`` joins the three.
    audio_root : path-like, optional
        Audio folder; found automatically (``ASVspoof2019_LA_<partition>``) when omitted.
    """
    root = _check_root(root)
    if root.is_file():
        return read_asvspoof2019_la(root, audio_root=audio_root)
    if partition == "all":
        if audio_root is not None:
            raise ParameterError.invalid("audio_root", "None with partition='all'", audio_root)
        parts = [load_asvspoof2019(root, partition=p) for p in _PARTITIONS_2019]
        return Manifest.concat(parts, name="asvspoof2019-la")
    if partition not in _PARTITIONS_2019:
        raise ParameterError.invalid("partition", "'train', 'dev', 'eval' or 'all'", partition)
    names = [f"ASVspoof2019.LA.cm.{partition}.{kind}.txt" for kind in ("trl", "trn")]
    folders = ("", "ASVspoof2019_LA_cm_protocols/", "LA/ASVspoof2019_LA_cm_protocols/", "*/")
    protocol = _first_match(root, [f"{d}{n}" for d in folders for n in names])
    if protocol is None:
        raise DatasetFormatError(f"{root}: no ASVspoof 2019 LA protocol {names[0]} (or .trn)")
    if audio_root is None:
        bases = (protocol.parent.parent, protocol.parent, root, root / "LA")
        found = [b / f"ASVspoof2019_LA_{partition}" for b in bases]
        audio_root = next((d for d in found if d.is_dir()), None)
    return read_asvspoof2019_la(protocol, audio_root=audio_root)


def load_asvspoof2021(
    root: str | os.PathLike[str], *, track: str = "LA", audio_root: AudioRoot = None
) -> Manifest:
    """Load ASVspoof 2021 LA or DF from ``trial_metadata.txt`` or a folder holding it."""
    root = _check_root(root)
    track_up = _check_track(track)
    if root.is_file():
        return read_asvspoof2021(root, track=track_up, audio_root=audio_root)
    name = "trial_metadata.txt"
    patterns = (
        name,
        f"CM/{name}",
        f"{track_up}/CM/{name}",
        f"keys/{track_up}/CM/{name}",
        f"*/keys/{track_up}/CM/{name}",
    )
    keys = _first_match(root, patterns)
    if keys is None:
        raise DatasetFormatError(f"{root}: no ASVspoof 2021 {track_up} keys ({patterns[-1]})")
    if audio_root is None:
        eval_dir = f"ASVspoof2021_{track_up}_eval"
        if (root / eval_dir).is_dir():
            audio_root = root / eval_dir
        else:
            parts = sorted(d for d in root.glob(f"{eval_dir}_part*/{eval_dir}") if d.is_dir())
            audio_root = parts or None
    return read_asvspoof2021(keys, track=track_up, audio_root=audio_root)


def load_asvspoof5(
    root: str | os.PathLike[str], *, partition: str = "eval", audio_root: AudioRoot = None
) -> Manifest:
    """Load ASVspoof 5 from a protocol file or the download folder (see module docstring)."""
    root = _check_root(root)
    if root.is_file():
        return read_asvspoof5(root, audio_root=audio_root)
    if partition not in _PARTITIONS_5:
        raise ParameterError.invalid("partition", "'train', 'dev' or 'eval'", partition)
    names = (f"ASVspoof5.{partition}.tsv", f"ASVspoof5.{partition}.track_1.tsv")
    protocol = _first_match(root, [f"{d}{n}" for d in ("", "ASVspoof5_protocols/") for n in names])
    if protocol is None:
        raise DatasetFormatError(f"{root}: no ASVspoof 5 protocol {' or '.join(names)}")
    if audio_root is None and any(root.glob("flac_*")):
        audio_root = root
    return read_asvspoof5(protocol, audio_root=audio_root)
