"""The installed environment: the torch pair loads, and the lock matches pyproject.toml.

torch and torchaudio are pinned to one release pair in pyproject.toml's ``train`` extra
(the one place to change them); ``requirements/lock.txt`` (``make lock``) pins every
package ``make`` installs. A mismatched pair (torch 2.11.0 with torchaudio 2.11.1) fails
here, in one test, and the torch tests skip instead of erroring one by one.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
from system_deps import torch_pair_error

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "lock.txt"
PAIR = ("torch", "torchaudio")


def _pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    pins = {}
    for req in data["project"]["optional-dependencies"]["train"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==\s*([^;,\s]+)", req.strip())
        if m and m.group(1).lower() in PAIR:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        m = re.match(r"([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_torch_pair_is_pinned_exactly_and_locked():
    pins = _pyproject_pins()
    assert set(pins) == set(PAIR), (
        f"pyproject.toml's train extra must pin torch and torchaudio exactly (==), got {pins}"
    )
    lock = _lock_pins()
    assert {k: lock.get(k) for k in PAIR} == pins, (
        f"requirements/lock.txt pins {[f'{k}=={lock.get(k)}' for k in PAIR]} but "
        f"pyproject.toml pins {pins}: run `make lock`"
    )


def test_torch_and_torchaudio_load_together():
    # (find_spec second: with a broken pair, conftest makes importing torch raise)
    if torch_pair_error() is None and importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed (the train extra; `make test` installs it)")
    error = torch_pair_error()
    installed = {}
    for name in PAIR:
        try:
            installed[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed[name] = "not installed"
    assert error is None, (
        f"torch {installed['torch']} and torchaudio {installed['torchaudio']} do not load "
        f"together: {error}. Install the pinned pair (pyproject.toml's train extra, "
        "requirements/lock.txt): `make install-test`"
    )
    lock = _lock_pins()
    for name in PAIR:
        assert installed[name].split("+")[0] == lock[name], (
            f"{name} {installed[name]} is installed, requirements/lock.txt pins {lock[name]}: "
            "`make install-test` reinstalls from the lock"
        )
