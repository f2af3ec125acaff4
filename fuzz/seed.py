"""Write the seed corpora of the fuzz harnesses from the committed fixtures.

``fuzz/corpus/decode``: every hostile fixture and example clip (under 64 kB) behind
each mode byte of ``fuzz_decode.py``; ``fuzz/corpus/stream``: a few byte strings per
target of ``fuzz_stream.py``. Run from anywhere::

    .venv/bin/python fuzz/seed.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
FIXTURES = FUZZ.parent / "tests" / "fixtures"


def _put(folder: Path, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main() -> None:
    """Write both corpora."""
    n = 0
    files = sorted((FIXTURES / "hostile").iterdir()) + sorted((FIXTURES / "audio").iterdir())
    for path in files:
        if path.suffix == ".json" or path.stat().st_size > 64 * 1024:
            continue
        data = path.read_bytes()
        for mode in (0, 1, 3):
            _put(FUZZ / "corpus" / "decode", bytes([mode]) + data)
            n += 1
    clip = (FIXTURES / "audio" / "bonafide_8k_hts1a.flac").read_bytes()
    for target in range(8):
        for seed in (b"", bytes(range(256)), clip[:2000], b"\xff" * 1000):
            _put(FUZZ / "corpus" / "stream", bytes([target]) + seed)
            n += 1
    print(f"wrote {n} seeds under {FUZZ / 'corpus'}")


if __name__ == "__main__":
    main()
