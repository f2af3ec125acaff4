"""Input readers of batch jobs: folder, glob, CSV/TSV and Parquet manifests, one file."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audio_detect.batch.inputs import resolve_inputs
from audio_detect.exceptions import DatasetFormatError, ParameterError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """calls/{a.wav, b.FLAC, notes.txt, .hidden.wav, sub/c.mp3, .cache/d.wav}."""
    root = tmp_path / "calls"
    (root / "sub").mkdir(parents=True)
    (root / ".cache").mkdir()
    for rel in ("a.wav", "b.FLAC", "notes.txt", ".hidden.wav", "sub/c.mp3", ".cache/d.wav"):
        (root / rel).write_bytes(b"x")
    return root


def test_folder_lists_audio_recursively_sorted(tree: Path) -> None:
    got = resolve_inputs(tree)
    assert got == [str(tree / "a.wav"), str(tree / "b.FLAC"), str(tree / "sub" / "c.mp3")]
    everything = resolve_inputs(tree, extensions=None)
    assert str(tree / "notes.txt") in everything
    assert not any("/." in p for p in everything)  # hidden files and folders skipped
    assert resolve_inputs(tree, extensions=["txt"]) == [str(tree / "notes.txt")]


def test_glob_takes_every_match(tree: Path) -> None:
    assert resolve_inputs(str(tree / "*.wav")) == [str(tree / "a.wav")]
    deep = resolve_inputs(str(tree / "**" / "*.mp3"))
    assert deep == [str(tree / "sub" / "c.mp3")]
    assert resolve_inputs(str(tree / "*.nothing")) == []


def test_csv_manifest_relative_to_its_folder(tree: Path, tmp_path: Path) -> None:
    manifest = tree / "list.csv"
    manifest.write_text(
        f"call_id,path\nx1,a.wav\nx2,sub/c.mp3\nx3,{tree / 'b.FLAC'}\nx4,a.wav\n", encoding="utf-8"
    )
    assert resolve_inputs(manifest) == [  # manifest order, duplicates dropped
        str(tree / "a.wav"),
        str(tree / "sub" / "c.mp3"),
        str(tree / "b.FLAC"),
    ]
    tsv = tmp_path / "list.tsv"
    tsv.write_text("path\tlabel\ncalls/a.wav\tspoof\n", encoding="utf-8")
    assert resolve_inputs(tsv) == [str(tree / "a.wav")]


def test_csv_manifest_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("file\nx.wav\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"bad\.csv"):
        resolve_inputs(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("path,id\n,1\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"empty.csv:2"):
        resolve_inputs(empty)


def test_parquet_manifest(tree: Path) -> None:
    manifest = tree / "list.parquet"
    table = pa.table({"path": ["a.wav", str(tree / "sub" / "c.mp3")], "n": [1, 2]})
    pq.write_table(table, manifest)
    assert resolve_inputs(manifest) == [str(tree / "a.wav"), str(tree / "sub" / "c.mp3")]
    no_col = tree / "nocol.pq"
    pq.write_table(pa.table({"file": ["a.wav"]}), no_col)
    with pytest.raises(DatasetFormatError, match="no 'path' column"):
        resolve_inputs(no_col)
    nulls = tree / "nulls.parquet"
    pq.write_table(pa.table({"path": ["a.wav", None]}), nulls)
    with pytest.raises(DatasetFormatError, match="row 1"):
        resolve_inputs(nulls)
    garbage = tree / "garbage.parquet"
    garbage.write_bytes(b"not parquet")
    with pytest.raises(DatasetFormatError, match="not a readable Parquet"):
        resolve_inputs(garbage)


def test_single_file_and_missing_input(tree: Path) -> None:
    assert resolve_inputs(tree / "a.wav") == [str(tree / "a.wav")]
    with pytest.raises(ParameterError, match="'input' parameter"):
        resolve_inputs(tree / "nope")


def test_paths_are_absolute(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree.parent)
    got = resolve_inputs("calls")
    assert all(os.path.isabs(p) for p in got) and len(got) == 3
    assert resolve_inputs("calls/*.wav") == [str(tree / "a.wav")]
