"""Keep freed heap memory in the process for long CPU jobs (corpus build, training).

glibc serves every allocation above its mmap threshold (32 MB at most) with a fresh
``mmap`` and returns it with ``munmap`` when freed. Convolutions over whole utterances
(HiFi-GAN copy-synthesis, the Whisper stem) allocate and free tensors of that size
for every layer, so each layer's output is zeroed page by page by the kernel again:
measured by ``scripts/allocator_cost.py`` (with and without ``--keep``), one 8 s HiFi-GAN V1
resynthesis took 0.81 s of system time beside 3.53 s of user time (564 thousand page
faults); with :func:`keep_freed_memory` 0.13 s and 9 thousand faults, the same output
checksum. The price is that the process keeps its peak heap instead of returning it,
which is what a worker that repeats the same job wants.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["keep_freed_memory"]

logger = logging.getLogger(__name__)

# mallopt parameters of glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and keep up to 1 GiB of freed memory.

    Returns
    -------
    bool
        True when glibc accepted both settings; False elsewhere (macOS, musl, Windows),
        where nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    logger.debug("keep_freed_memory: mallopt %s", "applied" if ok else "refused")
    return ok
