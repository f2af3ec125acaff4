"""The KDE-Edu bona fide source: voices, duplicates, splits and rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_detect.corpus.generators import PlanContext, load_builtin_generators
from audio_detect.corpus.generators.kde_edu import (
    KLETTRES_ROOT,
    KTUBERLING_ROOT,
    KdeEduGenerator,
)
from audio_detect.corpus.texts import TextBank

SR = 44100


def _word(path: Path, seconds: float, freq: float, *, sr: int = SR) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)


@pytest.fixture()
def roots(tmp_path):
    tub, let = tmp_path / "ktuberling", tmp_path / "klettres"
    for n, lang in enumerate(("en", "fr", "ru", "de")):
        for k in range(12):
            _word(tub / lang / f"w{k}.wav", 0.5 + 0.05 * k, 200 + 10 * k + n)
    # Debian ships the Serbian scripts as copies of one recording
    for variant in ("sr", "sr@latin"):
        for k in range(6):
            _word(tub / variant / f"w{k}.wav", 0.6, 300 + k)
    for k in range(8):
        _word(let / "fr" / "alpha" / f"{chr(65 + k)}.wav", 0.4, 500 + k, sr=22050)
        _word(let / "pt_BR" / "syllab" / f"b{k}.wav", 0.4, 600 + k, sr=22050)
    _word(let / "fr" / "alpha" / "click.wav", 0.1, 900, sr=22050)  # too short to keep
    (let / "icons").mkdir()
    (tub / "en.soundtheme").write_text("<language code='en'/>")
    return tub, let


def _plan(tub, let, seed=0):
    ctx = PlanContext(seed=seed, smoke=False, texts=TextBank.default())
    return KdeEduGenerator(tub, let).plan(ctx, hours=1.0)


def test_plans_one_source_per_voice_and_drops_duplicated_voices(roots):
    items = _plan(*roots)
    sources = {it.source for it in items}
    assert "kde_edu:ktuberling:sr" in sources
    assert "kde_edu:ktuberling:sr@latin" not in sources  # same files as sr
    assert {"kde_edu:klettres:fr", "kde_edu:klettres:pt_BR"} <= sources
    paths = [p for it in items for p in it.params["paths"]]
    assert len(paths) == len(set(paths))
    assert not any(p.endswith("click.wav") for p in paths)
    assert all(it.label == "bonafide" and it.speaker == it.source for it in items)
    assert len({it.item_id for it in items}) == len(items)
    assert all("@" not in it.item_id for it in items)


def test_a_language_keeps_one_split_across_games_and_variants(roots):
    for seed in range(6):
        items = _plan(*roots, seed=seed)
        by_lang: dict[str, set[str]] = {}
        for it in items:
            by_lang.setdefault(it.language, set()).add(it.split)
        assert all(len(s) == 1 for s in by_lang.values()), by_lang
        assert {it.language for it in items} == {"en", "fr", "ru", "de", "sr", "pt"}


def test_chains_last_seconds_and_render_at_their_native_rate(roots):
    items = _plan(*roots)
    assert max(it.est_seconds for it in items) > 2.0
    gen = KdeEduGenerator(*roots)
    it = next(i for i in items if len(i.params["paths"]) > 2)
    y, sr = gen.generate(it, seed=0)
    assert sr == it.native_sr
    words = sum(sf.info(p).duration for p in it.params["paths"])
    assert words < len(y) / sr < words + 0.6 * len(it.params["paths"])


def test_a_voice_that_mixes_rates_renders_and_bands_each_chain_at_its_lowest(tmp_path):
    tub, let = tmp_path / "ktuberling", tmp_path / "klettres"
    for k in range(16):  # a volunteer who recorded every fourth word on a phone-rate device
        _word(tub / "ca" / f"w{k}.wav", 0.6, 200 + 10 * k, sr=8000 if k % 4 == 0 else SR)
    items = _plan(tub, let)
    gen = KdeEduGenerator(tub, let)
    rates = {it.item_id: {sf.info(p).samplerate for p in it.params["paths"]} for it in items}
    assert any(len(r) == 2 for r in rates.values())  # some chains mix the two rates
    for it in items:
        assert it.native_sr == min(rates[it.item_id])
        y, sr = gen.generate(it, seed=0)
        assert sr == it.native_sr
        if sr == 8000:  # nothing was upsampled into an empty upper band
            assert len(y) / sr > sum(sf.info(p).duration for p in it.params["paths"])


def test_is_registered_opt_in_and_reports_a_missing_package(tmp_path):
    gens = load_builtin_generators()
    assert gens["kde_edu"].opt_in
    gen = KdeEduGenerator(tmp_path / "none", tmp_path / "none2")
    assert not gen.available()
    assert "ktuberling-data" in gen.unavailable_reason()


@pytest.mark.skipif(
    not (KTUBERLING_ROOT.is_dir() or KLETTRES_ROOT.is_dir()),
    reason="Debian's ktuberling-data / klettres-data are not installed",
)
def test_plans_the_installed_recordings():
    items = KdeEduGenerator().plan(
        PlanContext(seed=0, smoke=False, texts=TextBank.default()), hours=1.0
    )
    assert len({it.source for it in items}) >= 10
    assert {it.split for it in items} == {"train", "dev", "eval"}


def test_plus_name_adds_an_opt_in_source_to_the_default_list(tmp_path):
    from audio_detect.corpus.builder import BuildOptions, plan_corpus

    smoke = BuildOptions(out_dir=tmp_path, smoke=True, max_hours=None)
    base, base_skipped = plan_corpus(smoke)
    opts = BuildOptions(out_dir=tmp_path, smoke=True, sources=["+kde_edu"], max_hours=None)
    items, skipped = plan_corpus(opts)
    gens = {it.generator for it in items}
    assert {it.generator for it in base} <= gens  # the defaults are still there
    if KdeEduGenerator().available():
        assert "kde_edu" in gens
    else:
        assert "kde_edu" in skipped and "kde_edu" not in base_skipped
