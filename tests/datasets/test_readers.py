"""Tests for the dataset readers and the ``load_dataset`` registry."""

from __future__ import annotations

import shutil
import wave
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from audio_detect.constants import BONAFIDE, SPOOF
from audio_detect.datasets import (
    DATASET_READERS,
    load_dataset,
    read_asvspoof5,
    read_asvspoof2019_la,
    read_asvspoof2021,
    read_fake_or_real,
    read_folder_tree,
    read_in_the_wild,
    read_mlaad,
    read_wavefake,
)
from audio_detect.datasets.public import wavefake_folder_info
from audio_detect.exceptions import DatasetFormatError, ParameterError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"


def _wav(path: Path, n: int = 160) -> Path:
    """Write a tiny 16 kHz mono PCM WAV of silence."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * n)
    return path


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


# -- ASVspoof 2019 LA --------------------------------------------------------------------
def test_asvspoof2019_five_columns() -> None:
    m = read_asvspoof2019_la(FIXTURES / "ASVspoof2019.LA.cm.dev.trl.txt")
    assert m.name == "asvspoof2019-la-dev"
    assert m.utt_ids[0] == "LA_D_1047731" and m.utt_ids[-1] == "LA_D_5555555"
    np.testing.assert_array_equal(m.labels, [0, 0, 1, 1, 1, 1])
    assert m.systems == ["bonafide", "bonafide", "A01", "A02", "A04", "A06"]
    assert m.speakers[:3] == ["LA_0069", "LA_0069", "LA_0070"]
    assert m.paths == [None] * 6
    assert set(m.column("split")) == {"dev"}


def test_asvspoof2019_audio_root_layouts(tmp_path: Path) -> None:
    proto = FIXTURES / "ASVspoof2019.LA.cm.dev.trl.txt"
    (tmp_path / "with" / "flac").mkdir(parents=True)
    m = read_asvspoof2019_la(proto, audio_root=tmp_path / "with")
    assert m[2].path == tmp_path / "with" / "flac" / "LA_D_3001210.flac"
    (tmp_path / "flat").mkdir()
    m = read_asvspoof2019_la(proto, audio_root=tmp_path / "flat")
    assert m[2].path == tmp_path / "flat" / "LA_D_3001210.flac"


def test_asvspoof2019_four_column_variant() -> None:
    m = read_asvspoof2019_la(FIXTURES / "asvspoof2019_4col.txt")
    assert m.utt_ids == ["LA_T_1138215", "LA_T_1235126", "LA_T_9999999"]
    np.testing.assert_array_equal(m.labels, [BONAFIDE, SPOOF, SPOOF])
    assert m.systems == ["bonafide", "A06", "A03"]
    assert m.speakers == ["LA_0079", "LA_0079", ""]  # "flac" is not a speaker
    assert "split" not in m[0].extra


def test_asvspoof2019_bad_key_names_file_and_line() -> None:
    with pytest.raises(DatasetFormatError, match=r"asvspoof2019_bad\.txt:3: key 'spooof'"):
        read_asvspoof2019_la(FIXTURES / "asvspoof2019_bad.txt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LA_1 LA_T_1 - - bonafide\nLA_1 LA_T_2 - A01 spoof extra\n", r"p\.txt:2: expected 5"),
        ("LA_1 LA_T_1 - A01 bonafide\n", r"p\.txt:1: bona fide trial names attack system 'A01'"),
        ("LA_1 LA_T_1 - A01 spoof\n\nLA_1 LA_T_1 - A02 spoof\n", r"p\.txt:3: duplicate .*p\.txt:1"),
    ],
)
def test_asvspoof2019_line_errors(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "p.txt").write_text(text)
    with pytest.raises(DatasetFormatError, match=expected):
        read_asvspoof2019_la(tmp_path / "p.txt")


OFFICIAL_2019 = {
    "train": ("ASVspoof2019.LA.cm.train.trn.txt", 25380, 2580, 22800, 20, 1, 6),
    "dev": ("ASVspoof2019.LA.cm.dev.trl.txt", 24844, 2548, 22296, 20, 1, 6),
    "eval": ("ASVspoof2019.LA.cm.eval.trl.txt", 71237, 7355, 63882, 67, 7, 19),
}


@pytest.mark.shared
@pytest.mark.parametrize("partition", ["train", "dev", "eval"])
def test_asvspoof2019_official_protocols(partition: str, asvspoof2019_protocols: Path) -> None:
    folder = asvspoof2019_protocols
    fname, total, n_bona, n_spoof, n_spk, first, last = OFFICIAL_2019[partition]
    if not (folder / fname).is_file():
        pytest.skip(f"ASVspoof 2019 protocols not found in {folder}")
    m = read_asvspoof2019_la(folder / fname)
    assert len(m) == total
    assert int((m.labels == BONAFIDE).sum()) == n_bona
    assert int((m.labels == SPOOF).sum()) == n_spoof
    assert len(set(m.speakers)) == n_spk
    attacks = {s for s in m.systems if s != "bonafide"}
    assert attacks == {f"A{i:02d}" for i in range(first, last + 1)}
    assert all(m[i].system == "bonafide" for i in np.flatnonzero(m.labels == BONAFIDE))
    assert set(m.column("split")) == {partition}
    # via the registry and the folder; without a partition the eval protocol is read
    kwargs = {} if partition == "eval" else {"partition": partition}
    again = load_dataset("asvspoof2019", folder, **kwargs)
    assert again.utt_ids == m.utt_ids


@pytest.mark.shared
def test_asvspoof2019_all_partitions(asvspoof2019_protocols: Path) -> None:
    both = load_dataset("asvspoof2019", asvspoof2019_protocols, partition="all")
    assert len(both) == 25380 + 24844 + 71237
    assert Counter(both.column("split")) == {"train": 25380, "dev": 24844, "eval": 71237}


def test_load_asvspoof2019_download_layout(tmp_path: Path) -> None:
    la = tmp_path / "LA"
    proto_dir = la / "ASVspoof2019_LA_cm_protocols"
    proto_dir.mkdir(parents=True)
    shutil.copy(FIXTURES / "ASVspoof2019.LA.cm.dev.trl.txt", proto_dir)
    flac = _touch(la / "ASVspoof2019_LA_dev" / "flac" / "LA_D_1047731.flac")
    for root in (la, tmp_path):
        m = load_dataset("asvspoof2019", root, partition="dev")
        assert len(m) == 6
        assert m[0].path == flac
        assert m.missing_audio() == list(m[1:])
    with pytest.raises(DatasetFormatError, match=r"ASVspoof2019\.LA\.cm\.eval"):
        load_dataset("asvspoof2019", la)
    with pytest.raises(ParameterError, match="'partition' parameter"):
        load_dataset("asvspoof2019", la, partition="test")


# -- ASVspoof 2021 -----------------------------------------------------------------------
def test_asvspoof2021_la() -> None:
    m = read_asvspoof2021(FIXTURES / "asvspoof2021_la_trial_metadata.txt", track="LA")
    assert len(m) == 5 and m.name == "asvspoof2021-la"
    np.testing.assert_array_equal(m.labels, [1, 1, 0, 0, 1])
    assert m.systems == ["A07", "A17", "bonafide", "bonafide", "A19"]
    assert m[0].condition == "alaw/ita_tx"
    assert m[2].condition == "none/-"
    assert m.column("subset") == ["eval", "eval", "progress", "hidden", "eval"]
    assert m[4].extra["codec"] == "g722" and m[4].extra["transmission"] == "mad_tx"
    assert m[3].speaker == "LA_0012"


def test_asvspoof2021_df() -> None:
    m = read_asvspoof2021(FIXTURES / "asvspoof2021_df_trial_metadata.txt", track="df")
    assert m.utt_ids == ["DF_E_2000011", "DF_E_2000012", "DF_E_2000013", "DF_E_2000014"]
    np.testing.assert_array_equal(m.labels, [1, 0, 1, 0])
    assert m.systems == ["A14", "bonafide", "Task1-team20", "bonafide"]
    assert [u.condition for u in m] == ["nocodec", "low_mp3", "mp3m4a", "oggm4a"]
    assert m.column("source") == ["asvspoof", "asvspoof", "vcc2018", "vcc2020"]
    assert m[2].extra["vocoder"] == "neural_vocoder_autoregressive"
    assert m.column("subset") == ["progress", "progress", "eval", "hidden"]
    assert "field10" not in m[0].extra  # "-" placeholders are dropped


def test_asvspoof2021_errors() -> None:
    with pytest.raises(DatasetFormatError, match=r"df_bad\.txt:2: expected 13 columns"):
        read_asvspoof2021(FIXTURES / "asvspoof2021_df_bad.txt", track="DF")
    # LA keys read as DF (and vice versa) fail on the first line
    with pytest.raises(DatasetFormatError, match=r"trial_metadata\.txt:1: expected 13"):
        read_asvspoof2021(FIXTURES / "asvspoof2021_la_trial_metadata.txt", track="DF")
    with pytest.raises(ParameterError, match="'track' parameter"):
        read_asvspoof2021(FIXTURES / "asvspoof2021_la_trial_metadata.txt", track="PA")


def test_asvspoof2021_df_audio_in_several_parts(tmp_path: Path) -> None:
    keys = tmp_path / "keys" / "DF" / "CM" / "trial_metadata.txt"
    keys.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "asvspoof2021_df_trial_metadata.txt", keys)
    part = "ASVspoof2021_DF_eval"
    a = _touch(tmp_path / f"{part}_part00" / part / "flac" / "DF_E_2000011.flac")
    b = _touch(tmp_path / f"{part}_part01" / part / "flac" / "DF_E_2000014.flac")
    m = load_dataset("asvspoof2021-df", tmp_path)
    assert m.paths == [a, None, None, b]
    # single eval folder: paths are built without listing it
    (tmp_path / "la" / "ASVspoof2021_LA_eval" / "flac").mkdir(parents=True)
    shutil.copy(
        FIXTURES / "asvspoof2021_la_trial_metadata.txt", tmp_path / "la" / "trial_metadata.txt"
    )
    la = load_dataset("asvspoof2021_la", tmp_path / "la")
    assert la[0].path == tmp_path / "la" / "ASVspoof2021_LA_eval" / "flac" / "LA_E_9332881.flac"


# -- ASVspoof 5 --------------------------------------------------------------------------
def test_asvspoof5() -> None:
    m = read_asvspoof5(FIXTURES / "ASVspoof5.dev.track_1.tsv")
    assert m.name == "asvspoof5-dev"
    np.testing.assert_array_equal(m.labels, [1, 0, 1, 0])
    assert m.systems == ["A11", "bonafide", "A12", "bonafide"]
    assert [u.condition for u in m] == ["nocodec", "nocodec", "C05", "C08"]
    assert m[0].extra["attack_tag"] == "AC1" and "attack_tag" not in m[1].extra
    assert m[2].extra["codec_q"] == "2" and m[2].extra["gender"] == "M"
    assert set(m.column("split")) == {"dev"}
    assert m.speakers == ["D_0062", "D_0461", "D_0461", "D_0755"]


def test_asvspoof5_errors_and_audio(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"asvspoof5_bad\.tsv:2: .*contradicts"):
        read_asvspoof5(FIXTURES / "asvspoof5_bad.tsv")
    (tmp_path / "p.tsv").write_text("T_1 T_0000000000 F - - - AC3 A05 spoof\n")
    with pytest.raises(DatasetFormatError, match=r"p\.tsv:1: expected 10 columns"):
        read_asvspoof5(tmp_path / "p.tsv")
    (tmp_path / "flac_D").mkdir()
    shutil.copy(FIXTURES / "ASVspoof5.dev.track_1.tsv", tmp_path)
    m = load_dataset("asvspoof5", tmp_path, partition="dev")
    assert m[1].path == tmp_path / "flac_D" / "D_0000000190.flac"


# -- In-the-Wild -------------------------------------------------------------------------
def test_in_the_wild() -> None:
    m = read_in_the_wild(FIXTURES / "in_the_wild")
    assert m.utt_ids == ["0", "1", "2", "3", "4"]
    np.testing.assert_array_equal(m.labels, [1, 1, 0, 0, 1])
    assert m.systems == ["unknown", "unknown", "bonafide", "bonafide", "unknown"]
    assert m.speakers[2] == "Barack Obama"
    assert m[4].path == FIXTURES / "in_the_wild" / "4.wav"
    assert m.summary()["n_speakers"] == 3
    with pytest.raises(DatasetFormatError, match=r"in_the_wild_bad/meta\.csv:3: empty file"):
        read_in_the_wild(FIXTURES / "in_the_wild_bad")


# -- WaveFake ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("folder", "dataset", "system"),
    [
        ("ljspeech_melgan", "ljspeech", "melgan"),
        ("ljspeech_melgan_large", "ljspeech", "melgan_large"),
        ("ljspeech_full_band_melgan", "ljspeech", "full_band_melgan"),
        ("ljspeech_multi_band_melgan", "ljspeech", "multi_band_melgan"),
        ("ljspeech_parallel_wavegan", "ljspeech", "parallel_wavegan"),
        ("ljspeech_waveglow", "ljspeech", "waveglow"),
        ("ljspeech_hifiGAN", "ljspeech", "hifiGAN"),
        ("jsut_multi_band_melgan", "jsut", "multi_band_melgan"),
        ("jsut_parallel_wavegan", "jsut", "parallel_wavegan"),
        (
            "common_voices_prompts_from_conformer_fastspeech2_pwg_ljspeech",
            "common_voices_prompts",
            "conformer_fastspeech2_pwg",
        ),
        ("my_new_vocoder", "", "my_new_vocoder"),
    ],
)
def test_wavefake_folder_names(folder: str, dataset: str, system: str) -> None:
    assert wavefake_folder_info(folder)[:2] == (dataset, system)


def test_wavefake_with_real_root(tmp_path: Path) -> None:
    gen = tmp_path / "wavefake" / "generated_audio"
    _wav(gen / "ljspeech_melgan" / "LJ001-0001_gen.wav")
    _wav(gen / "ljspeech_melgan" / "LJ001-0002_gen.wav")
    _wav(gen / "ljspeech_hifiGAN" / "LJ001-0001_gen.wav")
    _wav(gen / "jsut_parallel_wavegan" / "BASIC5000_0001_gen.wav")
    _touch(gen / "ljspeech_hifiGAN" / "README.txt")
    real = tmp_path / "LJSpeech-1.1"
    _wav(real / "wavs" / "LJ001-0001.wav")
    _touch(real / "metadata.csv")
    m = read_wavefake(tmp_path / "wavefake", real_root=real)
    assert len(m) == 5
    np.testing.assert_array_equal(m.labels, [1, 1, 1, 1, 0])
    assert m.utt_ids[1] == "ljspeech_hifiGAN/LJ001-0001_gen"  # same name, other vocoder
    assert m.systems == ["parallel_wavegan", "hifiGAN", "melgan", "melgan", "bonafide"]
    assert m.speakers == ["jsut:jsut"] + ["ljspeech:LJ"] * 4
    assert m[-1].utt_id == "bonafide/LJSpeech-1.1/wavs/LJ001-0001"
    assert m[-1].path == real / "wavs" / "LJ001-0001.wav"
    assert m.column("dataset") == ["jsut", "ljspeech", "ljspeech", "ljspeech", "ljspeech"]
    # generated_audio itself as root, no real speech
    assert len(read_wavefake(gen)) == 4
    empty = tmp_path / "empty"
    (empty / "generated_audio" / "ljspeech_melgan").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="no WaveFake audio"):
        read_wavefake(empty)


# -- Fake-or-Real ------------------------------------------------------------------------
def _for_tree(root: Path) -> Path:
    version = root / "for-2sec" / "for-2seconds"  # the Kaggle copy nests the long name
    for split in ("training", "validation", "testing"):
        _wav(version / split / "real" / f"file1.wav_16k.wav_norm.wav_mono.wav_{split}.wav")
        _wav(version / split / "fake" / f"file2.mp3.wav_16k.wav_{split}.wav")
        if split == "training":
            _wav(version / split / "fake" / "file3.wav")
    return version


def test_fake_or_real(tmp_path: Path) -> None:
    version = _for_tree(tmp_path)
    m = read_fake_or_real(tmp_path, version="for-2sec")
    assert m.name == "for-2sec" and len(m) == 3
    np.testing.assert_array_equal(m.labels, [0, 1, 1])
    assert m.systems == ["bonafide", "unknown", "unknown"]
    assert m.utt_ids[0] == "training/real/file1.wav_16k.wav_norm.wav_mono.wav_training"
    assert m.utt_ids[2] == "training/fake/file3"
    assert m[2].path == version / "training" / "fake" / "file3.wav"
    assert set(m.column("split")) == {"train"}
    test = read_fake_or_real(version, version="for-2sec", split="test")
    assert test.utt_ids == [
        "testing/real/file1.wav_16k.wav_norm.wav_mono.wav_testing",
        "testing/fake/file2.mp3.wav_16k.wav_testing",
    ]
    every = load_dataset("for", tmp_path, version="for-2sec", split="all")
    assert Counter(every.column("split")) == {"train": 3, "dev": 2, "test": 2}


def test_fake_or_real_errors(tmp_path: Path) -> None:
    _for_tree(tmp_path)
    with pytest.raises(ParameterError, match="'version' parameter"):
        read_fake_or_real(tmp_path, version="for-huge")
    with pytest.raises(ParameterError, match="'split' parameter"):
        read_fake_or_real(tmp_path, version="for-2sec", split="holdout")
    with pytest.raises(DatasetFormatError, match="no Fake-or-Real 'for-norm' folder"):
        read_fake_or_real(tmp_path, version="for-norm")
    shutil.rmtree(tmp_path / "for-2sec" / "for-2seconds" / "validation" / "fake")
    with pytest.raises(DatasetFormatError, match="no fake/ folder"):
        read_fake_or_real(tmp_path, version="for-2sec", split="validation")


# -- MLAAD -------------------------------------------------------------------------------
def test_mlaad() -> None:
    root = FIXTURES / "mlaad"
    m = read_mlaad(root)
    assert len(m) == 3
    assert (m.labels == SPOOF).all()
    assert m.systems == ["tts_models/de/thorsten/vits"] * 2 + [
        "tts_models/en/ljspeech/tacotron2-DDC"
    ]
    assert m.column("language") == ["de", "de", "en"]
    assert m[0].utt_id == "fake/de/tts_models_de_thorsten_vits/vits_0"
    assert m[0].path == root / "fake" / "de" / "tts_models_de_thorsten_vits" / "vits_0.wav"
    assert m[1].extra["text"] == "Ja, sagte sie | leise."
    assert m[1].extra["architecture"] == "vits"
    assert m.summary()["duration_s"] == pytest.approx(4.12 + 2.50 + 3.31)
    assert m.summary()["languages"] == {"de": 2, "en": 1}


def test_mlaad_bare_file_names_and_errors(tmp_path: Path) -> None:
    model = tmp_path / "MLAAD" / "fake" / "fr" / "griffin_lim"
    model.mkdir(parents=True)
    audio = _wav(model / "gl_0.wav")
    (model / "meta.csv").write_text(
        "path|language|model_name|reference_speaker\ngl_0.wav|fr|griffin_lim|bernard\n"
    )
    m = read_mlaad(tmp_path / "MLAAD")
    assert m[0].path == audio and m[0].speaker == "bernard"
    assert m[0].utt_id == "fake/fr/griffin_lim/gl_0"
    (model / "meta.csv").write_text("path|language|model_name\ngl_0.wav|fr|\n")
    with pytest.raises(DatasetFormatError, match=r"meta\.csv:2: empty model_name"):
        read_mlaad(tmp_path / "MLAAD")
    (model / "meta.csv").write_text("file|language\ngl_0.wav|fr\n")
    with pytest.raises(DatasetFormatError, match=r"meta\.csv:1: missing required .*path"):
        read_mlaad(tmp_path / "MLAAD")


# -- real/ + fake/ folders ---------------------------------------------------------------
def test_folder_tree(tmp_path: Path) -> None:
    _wav(tmp_path / "real" / "a.wav")
    _touch(tmp_path / "real" / "callcenter" / "b.FLAC")
    _touch(tmp_path / "bonafide" / "c.amr")
    _touch(tmp_path / "fake" / "xtts" / "c.wav")
    _touch(tmp_path / "fake" / "xtts" / "deep" / "d.mp3")
    _touch(tmp_path / "fake" / "e.ogg")
    _touch(tmp_path / "fake" / "notes.txt")
    _touch(tmp_path / "fake" / "._e.ogg")
    _touch(tmp_path / "other" / "f.wav")
    m = read_folder_tree(tmp_path)
    by_id = {u.utt_id: u for u in m}
    assert set(by_id) == {
        "bonafide/c",
        "fake/e",
        "fake/xtts/c",
        "fake/xtts/deep/d",
        "real/a",
        "real/callcenter/b",
    }
    assert by_id["fake/xtts/deep/d"].system == "xtts"
    assert by_id["fake/e"].system == "unknown"
    assert by_id["real/callcenter/b"].system == "bonafide"
    assert by_id["real/callcenter/b"].extra == {"source": "callcenter"}
    assert by_id["real/a"].path == tmp_path / "real" / "a.wav"
    assert m.summary()["labels"] == {"bonafide": 3, "spoof": 3}


def test_folder_tree_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match="no class folder"):
        read_folder_tree(tmp_path)
    _touch(tmp_path / "Fake" / "x" / "a.wav")
    _touch(tmp_path / "Fake" / "x" / "a.flac")
    with pytest.raises(DatasetFormatError, match=r"duplicate utt_id 'Fake/x/a'"):
        read_folder_tree(tmp_path)


# -- registry ----------------------------------------------------------------------------
def test_registry_names() -> None:
    assert set(DATASET_READERS) == {
        "csv",
        "folders",
        "asvspoof2019",
        "asvspoof2021-la",
        "asvspoof2021-df",
        "asvspoof5",
        "in-the-wild",
        "wavefake",
        "for",
        "mlaad",
    }


@pytest.mark.parametrize(
    ("name", "root", "n"),
    [
        ("csv", "manifest.csv", 5),
        ("asvspoof2019", "ASVspoof2019.LA.cm.dev.trl.txt", 6),
        ("asvspoof2021-la", "asvspoof2021_la_trial_metadata.txt", 5),
        ("ASVspoof2021_DF", "asvspoof2021_df_trial_metadata.txt", 4),
        ("asvspoof5", "ASVspoof5.dev.track_1.tsv", 4),
        ("in-the-wild", "in_the_wild", 5),
        ("mlaad", "mlaad", 3),
    ],
)
def test_load_dataset_on_fixtures(name: str, root: str, n: int) -> None:
    assert len(load_dataset(name, FIXTURES / root)) == n


def test_load_dataset_csv_folder_and_errors(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "manifest.csv", tmp_path / "manifest.csv")
    assert len(load_dataset("manifest", tmp_path)) == 5
    with pytest.raises(ParameterError, match="'name' parameter"):
        load_dataset("timit", tmp_path)
    with pytest.raises(ParameterError, match="'root' parameter"):
        load_dataset("csv", tmp_path / "missing")
    with pytest.raises(ParameterError, match=r"keyword\(s\) \['partition', 'audio_root'\]"):
        load_dataset("asvspoof2019", tmp_path, split="eval")
