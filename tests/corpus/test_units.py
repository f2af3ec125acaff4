"""Unit tests of the corpus pieces: seeds, registry, texts, splits, processing, audit."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import soundfile as sf

from audio_detect.corpus.audit import FEATURE_NAMES, eer, nuisance_features
from audio_detect.corpus.generators import (
    GENERATORS,
    Generator,
    derive_seed,
    get_generator,
    load_builtin_generators,
    register,
)
from audio_detect.corpus.generators.bonafide import shared_family
from audio_detect.corpus.postprocess import OUT_SR, ProcessSpec, process, trim_silence
from audio_detect.corpus.splits import assign_system_splits, hash_split, split_summary
from audio_detect.corpus.texts import TextBank
from audio_detect.exceptions import ParameterError


def test_derive_seed_is_stable_and_key_dependent():
    assert derive_seed(0, "a") == derive_seed(0, "a")
    assert derive_seed(0, "a") != derive_seed(0, "b")
    assert derive_seed(0, "a") != derive_seed(1, "a")
    assert 0 <= derive_seed(5, "x") < 2**63


def test_builtin_generators_register_with_families():
    gens = load_builtin_generators()
    for name in (
        "shared",
        "asterisk",
        "espeak",
        "flite",
        "festival",
        "piper",
        "kokoro",
        "copysynth",
        "world_vc",
        "fixtures",
    ):
        assert name in gens
    assert get_generator("copysynth").needs_source_audio
    assert set(get_generator("copysynth").systems().values()) == {"vocoder-copy-synthesis"}
    with pytest.raises(ParameterError, match="sources"):
        get_generator("no-such-engine")


def test_register_rejects_nameless_and_duplicate():
    class Nameless(Generator):  # pragma: no cover - never instantiated
        def systems(self):
            return {}

        def plan(self, ctx, *, hours):
            return []

        def generate(self, item, *, seed):
            return np.zeros(1), 16000

    with pytest.raises(ParameterError):
        register(Nameless)
    dup = type("Dup", (Nameless,), {"name": "espeak"})
    with pytest.raises(ParameterError, match="twice"):
        register(dup)
    assert GENERATORS["espeak"] is not dup


@pytest.mark.parametrize(
    ("system", "family"),
    [
        ("melgan", "neural-vocoder"),
        ("hn-sinc-nsf-9", "neural-vocoder"),
        ("priorgrad_demo:appendix/vocoder/hifigan", "neural-vocoder"),
        ("tacotron2", "neural-tts"),
        ("fastspeech2s_pitch", "neural-tts"),
        ("autovc", "voice-conversion"),
        ("lvc_vc_anonymization", "voice-conversion"),
        ("tts_universal_melgan", "neural-tts"),
        ("A04", "unit-selection"),
    ],
)
def test_shared_family_mapping(system, family):
    assert shared_family(system) == family


#: A few lines in the format of Debian's Asterisk prompt transcripts
#: (``/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz``): mostly short prompts.
ASTERISK_EN = """; Core Asterisk Sounds in English

activated: Activated.
added: Added.
agent-loggedoff: Agent Logged off.
agent-pass: Please enter your password followed by the pound key.
all-circuits-busy-now: All circuits are busy now.
beep: [this is a simple beep tone]
auth-thankyou: Thank you.
vm-goodbye: Goodbye.
vm-password: Password.
digits-1: One.
conf-enteringno: You are entering conference number.
pbx-invalid: I'm sorry, that's not a valid extension. Please try again.
"""


def test_text_bank_lengths_follow_target(tmp_path):
    # The installed transcripts' short prompts are what short targets are made of (the
    # built-in sentences are all 60-75 characters); a copy keeps the test independent of
    # the asterisk-core-sounds-en package.
    folder = tmp_path / "asterisk-core-sounds-en"
    folder.mkdir()
    with gzip.open(folder / "core-sounds-en.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write(ASTERISK_EN)
    bank = TextBank.default(doc_dir=tmp_path)
    assert "Goodbye." in bank.sentences["en"]
    assert not any("beep" in t for t in bank.sentences["en"])  # tone descriptions left out
    rng = np.random.default_rng(0)
    short = [len(bank.sample(rng, "en", target_seconds=2)) for _ in range(30)]
    long = [len(bank.sample(rng, "en", target_seconds=9)) for _ in range(30)]
    assert np.median(long) > 2.5 * np.median(short)
    assert {"en", "es", "fr", "it", "ru", "de", "ja"} <= set(bank.languages())


def test_hash_split_weights():
    splits = [hash_split(f"spk{i}", seed=0) for i in range(3000)]
    share = {s: splits.count(s) / len(splits) for s in ("train", "dev", "eval")}
    assert 0.65 < share["train"] < 0.75
    assert 0.07 < share["dev"] < 0.13
    assert 0.16 < share["eval"] < 0.24


def test_system_splits_hold_out_family_and_cover_eval():
    systems = {f"tts{i}": "neural-tts" for i in range(6)}
    systems |= {"vc1": "voice-conversion", "vc2": "voice-conversion", "lonely": "formant-tts"}
    systems |= {"pinned": "neural-tts"}
    out = assign_system_splits(systems, pinned={"pinned": "train"}, seed=3)
    assert out["vc1"] == out["vc2"] == "eval"
    assert out["pinned"] == "train"
    assert out["lonely"] == "train"
    tts = [out[s] for s in systems if systems[s] == "neural-tts"]
    assert {"train", "dev", "eval"} <= set(tts)
    with pytest.raises(ParameterError):
        assign_system_splits(systems, pinned={"pinned": "test"})


def test_split_summary_checks_detect_overlap():
    base = {"family": "f", "language": "en", "channel": "clean", "duration_s": "3600"}
    rows = [
        {**base, "label": "spoof", "system": "a", "speaker": "s1", "split": "train"},
        {**base, "label": "spoof", "system": "a", "speaker": "s1", "split": "eval"},
        {**base, "label": "bonafide", "system": "bonafide", "speaker": "x", "split": "train"},
        {**base, "label": "bonafide", "system": "bonafide", "speaker": "y", "split": "eval"},
    ]
    s = split_summary(rows)
    assert s["all"]["hours"] == 4.0
    assert s["checks"]["eval_systems_unseen_in_train"] is False
    assert s["checks"]["bonafide_speakers_disjoint_train_eval"] is True


def _tone(sr: int, seconds: float, lead: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.5 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
    return np.concatenate([np.zeros(int(lead * sr)), y, np.zeros(int(lead * sr))]).astype(
        np.float32
    )


def test_trim_silence_removes_long_pads():
    y = _tone(16000, 2.0, 1.5)
    assert abs(len(trim_silence(y, 16000)) / 16000 - 2.0) < 0.05


@pytest.mark.requires("sox")  # the telephone channels drawn include GSM 06.10 (sox)
@pytest.mark.parametrize(("sr", "band"), [(8000, "wb"), (22050, "nb"), (44100, "wb")])
def test_process_normalises_rate_level_and_band(sr, band):
    segs = process(_tone(sr, 30.0, 2.0), sr, ProcessSpec(band=band, seed=1))
    assert len(segs) >= 3  # 30 s is cut into pieces of at most 10 s
    for seg, channel in segs:
        assert 1.2 <= len(seg) / OUT_SR <= 11.3
        assert np.max(np.abs(seg)) < 0.98
        # A noise floor under everything: no exact digital silence in the pads.
        assert np.count_nonzero(seg == 0) == 0
        spec = np.abs(np.fft.rfft(seg)) ** 2
        f = np.fft.rfftfreq(len(seg), 1 / OUT_SR)
        high = spec[f > 7600].sum() / spec.sum()
        assert high < 1e-3
        if sr == 8000 or band == "nb":
            assert channel.startswith("tel_")
            assert spec[f > 4000].sum() / spec.sum() < 1e-2
    again = process(_tone(sr, 30.0, 2.0), sr, ProcessSpec(band=band, seed=1))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(segs, again, strict=True))


def test_process_drops_silence():
    assert process(np.zeros(16000 * 3, np.float32), 16000, ProcessSpec("wb", 0)) == []


def test_eer_and_features(tmp_path):
    y = np.array([0, 0, 0, 1, 1, 1])
    assert eer(y, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])) == 0.0
    assert eer(y, -np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])) == 1.0
    path = tmp_path / "a.flac"
    sf.write(path, _tone(16000, 1.0, 0.5), 16000, subtype="PCM_16")
    feats = dict(zip(FEATURE_NAMES, nuisance_features(path), strict=True))
    assert feats["sample_rate"] == 16000
    assert feats["bit_depth"] == 16
    assert abs(feats["lead_silence_s"] - 0.5) < 0.03
    assert abs(np.exp(feats["log_duration"]) - 2.0) < 0.01
    assert 150 < feats["rolloff85_hz"] < 400
