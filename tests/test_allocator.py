"""keep_freed_memory: large buffers freed and allocated again stop page-faulting."""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "1":
    from audio_detect.allocator import keep_freed_memory
    assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones(16 << 20)  # warm up: the first allocation faults in either way
before = faults()
for _ in range(20):
    a = np.ones(16 << 20)  # 128 MB, above glibc's largest mmap threshold
    del a
print(faults() - before)
"""


def _faults(keep: bool) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, "1" if keep else "0"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_freed_buffers_are_reused_instead_of_faulted_in_again():
    default, kept = _faults(False), _faults(True)
    # at least one fault per page of a buffer, even with 2 MB transparent huge pages
    pages = (16 << 20) * 8 // (2 << 20)
    # glibc maps and unmaps each 128 MB buffer: its pages fault in again twenty times
    assert default >= 20 * pages
    # kept on the heap after the warm-up: not even one buffer's worth faults in
    assert kept < pages


def test_is_a_no_op_off_linux(monkeypatch):
    from audio_detect import allocator

    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.keep_freed_memory() is False
