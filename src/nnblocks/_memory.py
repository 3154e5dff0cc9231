"""Keep freed memory for reuse instead of handing it back to the OS (glibc only; a no-op elsewhere).

Why: training allocates the same large arrays every step (activations, gradients, temporaries). By default glibc
serves blocks above 128 KB-32 MB with ``mmap`` and returns them with ``munmap`` on free (or trims the heap), so every
step page-faults its arrays back in, and the kernel zeroes each page. Measured on a 784-1000-10 training step here:
batch 10,000 went from 517 ms to 299 ms per step with the thresholds below, batch 32 from 2.2 ms to 1.9 ms.
PyTorch avoids the same cost with its caching allocator. Set ``NNBLOCKS_KEEP_MEMORY=0`` to leave glibc as it is.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 30  # blocks up to 1 GiB come from (and go back to) the heap; larger ones are still mmap-ed


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process. Returns True when the setting took effect."""
    if not sys.platform.startswith("linux") or os.environ.get("NNBLOCKS_KEEP_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _THRESHOLD))
