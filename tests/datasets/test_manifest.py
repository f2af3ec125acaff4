"""Tests for the manifest type and the generic CSV manifest format."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
import pytest

from audio_detect.constants import BONAFIDE, SPOOF
from audio_detect.datasets import Manifest, Utterance, read_manifest_csv
from audio_detect.exceptions import DatasetFormatError, ParameterError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def _utt(utt_id: str, label: int = SPOOF, system: str = "A01", **kw: object) -> Utterance:
    return Utterance(utt_id=utt_id, path=None, label=label, system=system, **kw)  # type: ignore[arg-type]


# -- Utterance ---------------------------------------------------------------------------
def test_utterance_validates_label_and_id() -> None:
    with pytest.raises(ParameterError, match="'label' parameter"):
        Utterance(utt_id="a", path=None, label=2)
    with pytest.raises(ParameterError, match="'label' parameter"):
        Utterance(utt_id="a", path=None, label=True)
    with pytest.raises(ParameterError, match="'utt_id' parameter"):
        Utterance(utt_id="", path=None, label=0)


def test_utterance_rejects_extra_shadowing_core_fields() -> None:
    with pytest.raises(ParameterError, match="extra"):
        Utterance(utt_id="a", path=None, label=0, extra={"system": "A01"})


def test_utterance_coerces_path_copies_extra_and_pickles() -> None:
    extra = {"language": "en"}
    u = Utterance(utt_id="a", path="x/y.wav", label=np.int64(1), extra=extra)  # type: ignore[arg-type]
    extra["language"] = "de"
    assert u.path == Path("x/y.wav")
    assert u.label == 1 and type(u.label) is int
    assert u.extra == {"language": "en"}
    assert u.label_name == "spoof"
    assert u.get("language") == "en" and u.get("label") == "spoof" and u.get("nope") == ""
    assert pickle.loads(pickle.dumps(u)) == u
    assert hash(u) == hash(Utterance(utt_id="a", path="x/y.wav", label=1, extra={"z": "1"}))
    assert u.with_extra(split="train").extra == {"language": "en", "split": "train"}


# -- Manifest ----------------------------------------------------------------------------
@pytest.fixture()
def small() -> Manifest:
    return Manifest(
        [
            _utt("b1", BONAFIDE, "bonafide", speaker="s1", extra={"split": "train"}),
            _utt("s1", SPOOF, "A01", speaker="s1", extra={"split": "train", "language": "en"}),
            _utt("s2", SPOOF, "A02", speaker="s2", extra={"split": "dev", "language": "de"}),
            _utt(
                "b2", BONAFIDE, "bonafide", speaker="s3", condition="mulaw", extra={"split": "dev"}
            ),
        ],
        name="small",
    )


def test_manifest_sequence_protocol(small: Manifest) -> None:
    assert len(small) == 4
    assert small[1].utt_id == "s1"
    assert small[-1].utt_id == "b2"
    part = small[1:3]
    assert isinstance(part, Manifest) and part.utt_ids == ["s1", "s2"] and part.name == "small"
    assert small.get("s2") is small[2]
    assert small.get("nope") is None
    assert small.index_of("b2") == 3
    assert "bonafide=2" in repr(small)


def test_manifest_columns(small: Manifest) -> None:
    np.testing.assert_array_equal(small.labels, [0, 1, 1, 0])
    assert small.labels.dtype == np.int64
    assert small.systems == ["bonafide", "A01", "A02", "bonafide"]
    assert small.speakers == ["s1", "s1", "s2", "s3"]
    assert small.paths == [None] * 4
    assert small.column("language") == ["", "en", "de", ""]
    assert small.column("label") == ["bonafide", "spoof", "spoof", "bonafide"]
    assert small.columns == [
        "utt_id",
        "path",
        "label",
        "system",
        "speaker",
        "condition",
        "split",
        "language",
    ]
    assert "split" in small.columns and "family" not in small.columns
    with pytest.raises(ParameterError, match="'name' parameter"):
        small.column("nope")


def test_manifest_rejects_duplicates() -> None:
    with pytest.raises(DatasetFormatError, match="duplicate utt_id 'a'"):
        Manifest([_utt("a"), _utt("a", BONAFIDE, "bonafide")])
    m = Manifest([_utt("a")], name="one")
    with pytest.raises(DatasetFormatError, match="'a'"):
        Manifest.concat([m, m])
    both = Manifest.concat([m, Manifest([_utt("b")], name="two")])
    assert both.utt_ids == ["a", "b"] and both.name == "one+two"


def test_filter_and_subset(small: Manifest) -> None:
    assert small.filter(lambda u: u.speaker == "s1").utt_ids == ["b1", "s1"]
    assert small.subset(split="dev").utt_ids == ["s2", "b2"]
    assert small.subset(label="spoof").utt_ids == ["s1", "s2"]
    assert small.subset(label="Real").utt_ids == ["b1", "b2"]
    assert small.subset(label=BONAFIDE, split="dev").utt_ids == ["b2"]
    assert small.subset(systems=["A02", "bonafide"]).utt_ids == ["b1", "s2", "b2"]
    assert small.subset(systems="A01").utt_ids == ["s1"]
    with pytest.raises(ParameterError, match="'label' parameter"):
        small.subset(label="maybe")
    with pytest.raises(ParameterError, match="'label' parameter"):
        small.subset(label=3)


def test_summary_counts(small: Manifest) -> None:
    s = small.summary()
    assert s["n_utterances"] == 4
    assert s["labels"] == {"bonafide": 2, "spoof": 2}
    assert s["systems"] == {"A01": 1, "A02": 1, "bonafide": 2}
    assert s["n_speakers"] == 3
    assert s["conditions"] == {"mulaw": 1}
    assert s["languages"] == {"de": 1, "en": 1, "unknown": 2}
    assert "duration_s" not in s


# -- generic CSV -------------------------------------------------------------------------
def test_read_fixture_manifest() -> None:
    m = read_manifest_csv(FIXTURES / "manifest.csv")
    assert m.name == "manifest"
    assert len(m) == 5
    np.testing.assert_array_equal(m.labels, [0, 0, 1, 1, 0])
    assert m.utt_ids == [
        "real/ljspeech/LJ001-0001",
        "fsdd_0_george_0",
        "fake/melgan/LJ001-0001_gen",
        "xtts_call_017",
        "abs_clip",
    ]
    # empty system defaults to "bonafide" for real speech
    assert m.systems == ["bonafide", "bonafide", "melgan", "xtts_v2", "bonafide"]
    assert m[0].path == FIXTURES / "real" / "ljspeech" / "LJ001-0001.flac"
    assert m[0].path.is_absolute()
    assert m[4].path == Path("/data/elsewhere/clip.opus")
    assert m[3].condition == "mulaw" and m[3].speaker == "vctk:p225"
    assert m[3].extra["language"] == "de" and m[3].extra["channel"] == "telephone"
    assert set(m[0].extra) == {
        "family",
        "source",
        "language",
        "text",
        "channel",
        "split",
        "duration_s",
    }
    assert m.subset(split="test").utt_ids == ["xtts_call_017", "abs_clip"]
    s = m.summary()
    assert s["duration_s"] == pytest.approx(9.66 + 0.3 + 9.66 + 4.25)
    assert s["duration_s_by_label"]["spoof"] == pytest.approx(13.91)
    assert s["duration_unknown"] == 1
    assert s["languages"] == {"de": 1, "en": 3, "unknown": 1}


def test_bad_label_names_file_and_line() -> None:
    with pytest.raises(DatasetFormatError) as err:
        read_manifest_csv(FIXTURES / "manifest_bad_label.csv")
    msg = str(err.value)
    assert "manifest_bad_label.csv:4: label 'maybe' is not one of" in msg
    assert "bonafide" in msg and "spoof" in msg


def test_missing_column_names_file_header_and_column() -> None:
    with pytest.raises(DatasetFormatError) as err:
        read_manifest_csv(FIXTURES / "manifest_missing_column.csv")
    msg = str(err.value)
    assert "manifest_missing_column.csv:1:" in msg
    assert "missing required column(s) path" in msg
    assert "'file,label,system'" in msg


def test_bom_blank_lines_and_case(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "m.csv",
        "\n Path , LABEL \n\na.wav,BONA-FIDE\n\n\nsub/b.flac,Fake\n",
        encoding="utf-8-sig",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    m = read_manifest_csv(path)
    assert m.utt_ids == ["a", "sub/b"]
    np.testing.assert_array_equal(m.labels, [0, 1])
    assert m.systems == ["bonafide", "unknown"]
    assert m[1].path == tmp_path / "sub" / "b.flac"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("path,label\na.wav,spoof\n\n,spoof\n", "m.csv:4: empty path"),
        ("path,label\na.wav,spoof\nb.wav,spoof,extra\n", "m.csv:3: expected 2 cells"),
        ("path,label\na.wav,spoof\na.flac,bonafide\n", "m.csv:3: duplicate utt_id 'a'"),
        ("path,label,label\na.wav,spoof,spoof\n", "m.csv:1: repeated column"),
        ("\n\n", "empty file"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(DatasetFormatError, match=expected.replace(".", r"\.")):
        read_manifest_csv(_write(tmp_path / "m.csv", body))


def test_duplicate_error_names_first_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "path,label,utt_id\na.wav,spoof,x\n\nb.wav,spoof,x\n")
    with pytest.raises(DatasetFormatError, match=r"m\.csv:4: .*first seen at .*m\.csv:2"):
        read_manifest_csv(path)


def test_allow_empty_path_needs_utt_id(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "utt_id,path,label\nLA_E_1,,spoof\n")
    m = read_manifest_csv(path, allow_empty_path=True)
    assert m[0].path is None and m[0].utt_id == "LA_E_1"
    with pytest.raises(DatasetFormatError, match="empty path"):
        read_manifest_csv(path)


def test_to_csv_round_trip(tmp_path: Path) -> None:
    inside = tmp_path / "out" / "audio" / "a.wav"
    outside = Path("/elsewhere/b.flac")
    m = Manifest(
        [
            Utterance("a", inside, BONAFIDE, speaker="s1", extra={"language": "en"}),
            Utterance(
                "b",
                outside,
                SPOOF,
                system="xtts",
                condition="mulaw",
                extra={"split": "test", "text": 'says "hi", twice'},
            ),
            Utterance("c", None, SPOOF, system="A07"),
        ],
        name="rt",
    )
    out = m.to_csv(tmp_path / "out" / "manifest.csv")
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["path"] == "audio/a.wav"
    assert rows[1]["path"] == str(outside)
    assert rows[1]["label"] == "spoof" and rows[2]["path"] == ""
    back = read_manifest_csv(out, allow_empty_path=True)
    assert back.utt_ids == m.utt_ids
    assert back.paths == [inside, outside, None]
    np.testing.assert_array_equal(back.labels, m.labels)
    assert back.systems == m.systems
    assert back[1].condition == "mulaw"
    assert back[1].extra == {"language": "", "split": "test", "text": 'says "hi", twice'}
    assert back[0].speaker == "s1"


@pytest.mark.shared
def test_shared_corpus_manifest_loads(shared_corpus: Path) -> None:
    m = read_manifest_csv(shared_corpus / "manifest.csv")
    assert len(m) == 3005
    assert int((m.labels == BONAFIDE).sum()) == 2052
    assert int((m.labels == SPOOF).sum()) == 953
    assert all(p is not None and p.is_absolute() for p in m.paths)
    assert m.missing_audio() == []
    assert set(m[0].extra) == {"source", "language", "sample_rate", "duration_s", "license"}
    s = m.summary()
    assert s["labels"] == {"bonafide": 2052, "spoof": 953}
    # README: 98.8 min bona fide, 86.7 min spoof
    assert s["duration_s_by_label"]["bonafide"] / 60 == pytest.approx(98.8, abs=0.1)
    assert s["duration_s_by_label"]["spoof"] / 60 == pytest.approx(86.7, abs=0.1)
    assert s["systems"]["bonafide"] == 2052
    assert s["languages"]["en"] == 2923
