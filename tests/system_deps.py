"""The Debian packages that unlock tests, and how a test that needs one says so.

A test that needs a system tool is marked ``@pytest.mark.requires("sox")`` (or a
``pytest.param(..., marks=pytest.mark.requires("postgresql"))``). Without the tool it is
skipped, never failed, with a reason that names the Debian package to install
(``tests/conftest.py`` adds the skip at collection). ``make test`` works on a machine
with Python 3.11 and nothing else; ``.ci/run`` installs every package below.

Keep this table in step with the README's "Tests and the Debian packages" section.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SYSTEM_DEPS", "SystemDep", "chromium_path", "missing_reason", "torch_pair_error"]


def _sox_has_gsm() -> bool:
    """Whether the library's own GSM 06.10 channel can run (sox built with GSM)."""
    from audio_detect.audio.channel import CHANNEL_CONDITIONS

    return CHANNEL_CONDITIONS["tel_gsm"].available()


def chromium_path() -> str | None:
    """``$AUDIO_DETECT_CHROMIUM``, else Debian's ``chromium`` on the PATH, else None."""
    candidates = [
        os.environ.get("AUDIO_DETECT_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ]
    for path in candidates:
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return None


def _postgres_url() -> bool:
    return bool(os.environ.get("AUDIO_DETECT_TEST_POSTGRES_URL"))


@dataclass(frozen=True)
class SystemDep:
    """One system dependency of the suite.

    Attributes
    ----------
    packages : str
        The Debian packages that provide it (``apt-get install <packages>``).
    unlocks : str
        What the tests that need it check.
    present : callable
        True when it is usable on this machine.
    hint : str
        Anything beyond installing the packages (a server to start).
    """

    packages: str
    unlocks: str
    present: Callable[[], bool]
    hint: str = ""


SYSTEM_DEPS: dict[str, SystemDep] = {
    "sox": SystemDep(
        "sox",
        "the GSM 06.10 channel (tel_gsm) and corpus post-processing through it",
        _sox_has_gsm,
    ),
    "espeak-ng": SystemDep(
        "espeak-ng",
        "corpus build --smoke and corpus audit",
        lambda: shutil.which("espeak-ng") is not None,
    ),
    "chromium": SystemDep(
        "chromium chromium-driver",
        "the analyst console in a headless browser (tests/e2e)",
        lambda: chromium_path() is not None,
    ),
    "postgresql": SystemDep(
        "postgresql",
        "the audit store and the service on PostgreSQL",
        _postgres_url,
        "then `source scripts/ci_services.sh` starts a server and sets "
        "AUDIO_DETECT_TEST_POSTGRES_URL",
    ),
}


def missing_reason(name: str) -> str | None:
    """None when ``name`` is usable here, else the skip reason naming its Debian package."""
    dep = SYSTEM_DEPS[name]  # KeyError: a typo in a marker fails loudly
    if dep.present():
        return None
    hint = f"; {dep.hint}" if dep.hint else ""
    return f"needs {name} for {dep.unlocks}: apt-get install {dep.packages}{hint}"


# --------------------------------------------------------------------------- torch pair

_TORCH_ENV = "_AUDIO_DETECT_TORCH_PAIR_ERROR"  # set by pytest's first process, read by workers
_TORCH_CHECK = (
    "import torch, torchaudio\n"
    "from torchaudio._extension import _IS_TORCHAUDIO_EXT_AVAILABLE as ok\n"
    "assert ok, 'torchaudio has no compiled extension'\n"
)


def torch_pair_error() -> str | None:
    """Why torch and torchaudio do not load together here, or None (also when no torch).

    Checked once per run in a subprocess (``import torchaudio`` loads its compiled
    extension, ``libtorchaudio``, which fails with an undefined symbol when the two
    wheels are not one release pair); xdist workers read the first process's answer.
    """
    if _TORCH_ENV not in os.environ:
        import importlib.util
        import sys

        error = ""
        if importlib.util.find_spec("torch") is not None:
            try:
                proc = subprocess.run(
                    [sys.executable, "-c", _TORCH_CHECK],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if proc.returncode != 0:
                    lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
                    error = lines[-1]
            except (OSError, subprocess.SubprocessError) as exc:
                error = f"cannot run the check: {exc}"
        os.environ[_TORCH_ENV] = error
    return os.environ[_TORCH_ENV] or None
