"""Backend checks that depend on the CPU the model runs on."""

from __future__ import annotations

import copy
import logging

import pytest

from audio_detect.backends import cpu_flags, warn_signed_int8
from audio_detect.registry import ModelDir, load_model_dir

AVX2 = frozenset({"sse4_2", "avx2", "fma"})
VNNI = AVX2 | {"avx512f", "avx512_vnni"}


def _with_storage(md: ModelDir, storage: str | None) -> ModelDir:
    manifest = copy.deepcopy(md.manifest)
    q = manifest["training"]["quantization"]
    q.pop("weight_storage", None)
    q.pop("weight_bits", None)
    if storage:
        q["weight_storage"] = storage
    return ModelDir(path=md.path, manifest=manifest, sha256=md.sha256)


@pytest.fixture(scope="module")
def shipped() -> ModelDir:
    md = load_model_dir("whisper-cm-8k")
    assert md.manifest["training"]["quantization"]["kind"] == "dynamic_int8"
    return md


def test_signed_int8_model_warns_only_on_a_cpu_without_vnni(
    shipped: ModelDir, caplog: pytest.LogCaptureFixture
) -> None:
    signed = _with_storage(shipped, None)  # as 2.1.0 was written
    with caplog.at_level(logging.WARNING, logger="audio_detect.backends"):
        assert warn_signed_int8(signed, AVX2)
    assert "no VNNI" in caplog.text and "unsign_int8_model.py" in caplog.text
    assert not warn_signed_int8(signed, VNNI)  # the VNNI kernel is exact
    assert not warn_signed_int8(signed, frozenset({"neon", "asimd"}))  # not x86


def test_exact_int8_models_never_warn(shipped: ModelDir) -> None:
    """The shipped graph (uint8 storage or the 7-bit grid) and either kind by itself."""
    assert not warn_signed_int8(shipped, AVX2)
    assert not warn_signed_int8(_with_storage(shipped, "uint8"), AVX2)
    seven = _with_storage(shipped, "int8")
    seven.manifest["training"]["quantization"]["weight_bits"] = 7
    assert not warn_signed_int8(seven, AVX2)


def test_cpu_flags_reads_this_machine() -> None:
    flags = cpu_flags()
    assert isinstance(flags, frozenset)
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
        text = fh.read()
    if "flags" in text:
        assert flags and all(f in text for f in list(flags)[:5])
