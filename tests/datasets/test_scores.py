"""Tests of audio_detect.datasets.scores: formats, direction, errors, alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from audio_detect.datasets.scores import (
    ScoreTable,
    _read_cm_protocol_keys,
    align_scores,
    read_asv_score_file,
    read_score_file,
    write_score_file,
)
from audio_detect.exceptions import DatasetFormatError, ParameterError


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- formats


def test_asvspoof2019_four_columns_are_negated(tmp_path):
    path = _write(
        tmp_path,
        "cm.txt",
        "LA_E_1 A11 spoof -8.75\nLA_E_2 - bonafide 3.5\n\nLA_E_3 A07 spoof 0.25\n",
    )
    table = read_score_file(path)
    assert table.utt_ids.tolist() == ["LA_E_1", "LA_E_2", "LA_E_3"]
    assert table.scores.tolist() == [8.75, -3.5, -0.25]
    assert table.systems.tolist() == ["A11", "-", "A07"]
    assert table.keys.tolist() == [1, 0, 1]
    assert table.source == str(path)
    kept = read_score_file(path, higher_is_bonafide=False)
    assert kept.scores.tolist() == [-8.75, 3.5, 0.25]


@pytest.mark.parametrize("header", ["", "filename cm-score\n", "filename\tcm-score\n"])
def test_two_columns_with_or_without_header(tmp_path, header):
    path = _write(tmp_path, "s.txt", header + "E_0001\t1.5\nE_0002\t-2e-3\n")
    table = read_score_file(path)
    assert table.utt_ids.tolist() == ["E_0001", "E_0002"]
    assert table.scores.tolist() == [-1.5, 0.002]
    assert table.systems is None and table.keys is None


def test_audio_detect_format_keeps_spoof_direction(tmp_path):
    path = _write(
        tmp_path, "ours.csv", "utt_id,llr_spoof,system,key\nu1,2.5,A01,spoof\nu2,-1.0,-,bonafide\n"
    )
    table = read_score_file(path)  # higher_is_bonafide is irrelevant for llr_spoof columns
    assert table.scores.tolist() == [2.5, -1.0]
    assert table.keys.tolist() == [1, 0]
    assert table.systems.tolist() == ["A01", "-"]


@pytest.mark.parametrize("fmt", ["asvspoof2019", "audio-detect"])
def test_write_read_round_trip_is_exact(tmp_path, fmt):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=50) * 10 ** rng.uniform(-8, 3, size=50)
    ids = [f"utt{i}" for i in range(50)]
    systems = ["-" if i % 3 else f"A{i % 7:02d}" for i in range(50)]
    keys = [0 if i % 3 else 1 for i in range(50)]
    path = tmp_path / "out.txt"
    write_score_file(path, ids, scores, systems=systems, keys=keys, fmt=fmt)
    table = read_score_file(path)
    assert table.utt_ids.tolist() == ids
    assert np.array_equal(table.scores, scores)  # exact: repr() and negation round-trip
    assert table.keys.tolist() == keys
    assert table.systems.tolist() == systems


def test_write_asvspoof2019_is_bonafide_high(tmp_path):
    path = tmp_path / "out.txt"
    write_score_file(path, ["a", "b"], [2.0, -1.0], systems=["A01", None], keys=["spoof", 0])
    assert path.read_text().splitlines() == ["a A01 spoof -2.0", "b - bonafide 1.0"]
    write_score_file(path, ["a"], [0.5])
    assert path.read_text() == "a -0.5\n"


def test_write_rejects_bad_arguments(tmp_path):
    path = tmp_path / "out.txt"
    with pytest.raises(ParameterError, match="systems and keys"):
        write_score_file(path, ["a"], [1.0], systems=["A01"])
    with pytest.raises(ParameterError, match="keys"):
        write_score_file(path, ["a"], [1.0], systems=["A01"], keys=[2])
    with pytest.raises(ParameterError, match="utt_ids"):
        write_score_file(path, ["a b"], [1.0])
    with pytest.raises(ParameterError, match="fmt"):
        write_score_file(path, ["a"], [1.0], fmt="csv")


def test_mat_file_needs_utt_ids(tmp_path):
    path = tmp_path / "s.mat"
    savemat(path, {"scores_eval": np.array([[1.0], [-2.0], [0.5]])})
    table = read_score_file(path, utt_ids=["a", "b", "c"])
    assert table.utt_ids.tolist() == ["a", "b", "c"]
    assert table.scores.tolist() == [-1.0, 2.0, -0.5]
    with pytest.raises(ParameterError, match="utt_ids"):
        read_score_file(path)
    with pytest.raises(DatasetFormatError, match=r"s\.mat.*3 scores for 2"):
        read_score_file(path, utt_ids=["a", "b"])
    savemat(path, {"x": np.zeros(2), "y": np.ones(2)})
    with pytest.raises(DatasetFormatError, match="variable"):
        read_score_file(path, utt_ids=["a", "b"])
    assert read_score_file(path, utt_ids=["a", "b"], variable="y").scores.tolist() == [-1.0, -1.0]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("u1 A01 spoof 1.0\nu2 A01 spoof\n", 2, "expected 4 columns"),
        ("u1 1.0\nu2 abc\n", 2, "not a number"),
        ("u1 1.0\n# note\nu2 nan\n", 3, "not a finite number"),
        ("u1 A01 spoof 1.0\nu2 A01 maybe 2.0\n", 2, "not a label"),
        ("u1 1.0\nu2 2.0\nu1 3.0\n", 3, "duplicate utterance id 'u1' \\(first on line 1\\)"),
        ("u1 a b c d 1.0\n", 1, "6 columns"),
        ("id value\nu1 1.0\n", 1, "no utterance id column"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, match):
    path = _write(tmp_path, "bad.txt", text)
    with pytest.raises(DatasetFormatError, match=match) as info:
        read_score_file(path)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_empty_file(tmp_path):
    with pytest.raises(DatasetFormatError, match="no scores"):
        read_score_file(_write(tmp_path, "e.txt", "\n# only a comment\n"))
    with pytest.raises(DatasetFormatError, match="header only"):
        read_score_file(_write(tmp_path, "h.txt", "filename cm-score\n"))


# ----------------------------------------------------------------------------- alignment, protocol


def test_align_scores_reorders_and_names_missing_ids(tmp_path, caplog):
    table = ScoreTable(
        utt_ids=np.array(["a", "b", "c", "z"]),
        scores=np.array([1.0, 2.0, 3.0, 9.0]),
        keys=np.array([1, 0, 1, 0]),
        source="scores.txt",
    )
    aligned = align_scores(table, ["c", "a", "b"])
    assert aligned.utt_ids.tolist() == ["c", "a", "b"]
    assert aligned.scores.tolist() == [3.0, 1.0, 2.0]
    assert aligned.keys.tolist() == [1, 1, 0]
    assert "1 scored utterances are not in the protocol" in caplog.text
    with pytest.raises(DatasetFormatError, match=r"scores\.txt: no score for 2 of 3.*'x', 'y'"):
        align_scores(table, ["a", "x", "y"])


def test_score_table_checks_lengths():
    with pytest.raises(ParameterError, match="scores"):
        ScoreTable(utt_ids=np.array(["a", "b"]), scores=np.array([1.0]))


def test_cm_protocol_four_and_five_columns(tmp_path):
    path = _write(
        tmp_path,
        "protocol.txt",
        "LA_0039 LA_E_1 - A11 spoof\nLA_0039 LA_E_2 - - bonafide\nflac LA_E_3 A07 spoof\n"
        "LA_0009 LA_E_4 alaw ita_tx A07 spoof notrim eval\n",
    )
    utt_ids, systems, labels = _read_cm_protocol_keys(path)
    assert utt_ids.tolist() == ["LA_E_1", "LA_E_2", "LA_E_3", "LA_E_4"]
    assert systems.tolist() == ["A11", "-", "A07", "A07"]
    assert labels.tolist() == [1, 0, 1, 1]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("LA_0039 LA_E_1 - A11 spoof\nLA_0039 LA_E_2 - A11 maybe\n", "expected 'SPEAKER"),
        ("LA_0039 LA_E_1 spoof\n", "expected 'SPEAKER"),
        ("S LA_E_1 - A11 spoof\nS LA_E_1 - - bonafide\n", "duplicate utterance id"),
    ],
)
def test_cm_protocol_errors(tmp_path, text, match):
    path = _write(tmp_path, "protocol.txt", text)
    with pytest.raises(DatasetFormatError, match=match) as info:
        _read_cm_protocol_keys(path)
    assert str(info.value).startswith(f"{path}:")


def test_asv_score_file(tmp_path):
    path = _write(
        tmp_path, "asv.txt", "bonafide target 7.9\nbonafide nontarget -3\nA07 spoof 1.25\n"
    )
    table = read_asv_score_file(path)
    assert table.sources.tolist() == ["bonafide", "bonafide", "A07"]
    assert table.asv_keys.tolist() == ["target", "nontarget", "spoof"]
    assert table.scores.tolist() == [7.9, -3.0, 1.25]  # ASV direction, not negated
    bad = _write(tmp_path, "bad.txt", "bonafide target 1.0\nbonafide impostor 2.0\n")
    with pytest.raises(DatasetFormatError, match=r"bad\.txt:2: ASV key 'impostor'"):
        read_asv_score_file(bad)


# ----------------------------------------------------------------------------- shared files


@pytest.mark.shared
def test_reference_files_read_and_align(reference_scores):
    raw_path, mat_path = reference_scores["rawgat"], reference_scores["lfcc_gmm"]
    utt_ids, systems, labels = _read_cm_protocol_keys(reference_scores["protocol"])
    assert utt_ids.size == 71237 and int((labels == 0).sum()) == 7355
    assert sorted(set(systems[labels == 1].tolist())) == [f"A{i:02d}" for i in range(7, 20)]
    raw = read_score_file(raw_path)
    assert (raw.utt_ids[0], raw.scores[0]) == ("LA_E_2834763", 8.750496864318848)
    aligned = align_scores(raw, utt_ids)
    assert np.array_equal(aligned.keys, labels)
    assert np.array_equal(aligned.systems, systems)
    mat = read_score_file(mat_path, utt_ids=utt_ids.tolist())
    assert len(mat) == 71237 and mat.scores[0] == pytest.approx(2.99566152)
    asv = read_asv_score_file(reference_scores["asv"])
    assert len(asv.scores) == 102579
    assert int((asv.asv_keys == "target").sum()) == 5370
