"""An opt-in allocator setting for nnblocks' own command-line processes: keep freed memory instead of returning it.

Why it exists: glibc serves blocks above its mmap threshold (128 KiB at start, raised automatically up to 32 MiB as
blocks are freed) with ``mmap`` and unmaps them on free, so a training step whose arrays are larger than 32 MiB (the
784-1000-10 network at batch 10,000) page-faults them back in every step, and the kernel zeroes each page. Raising
the mmap and trim thresholds keeps those pages: a plain NumPy step at batch 10,000 went from 517 ms to 299 ms.

Why it is opt-in, and only for the ``nnblocks`` command: it changes the allocator of the whole process. A library
must not do that to its host (a Jupyter kernel, a server, other libraries): after ``a = np.ones(10**8); del a`` the
process would keep 796 MiB instead of 33 MiB. So ``import nnblocks`` never calls this; the engine reuses its own
buffers instead (the optimizers' per-parameter scratch, ``Optimizer._scratch_like``; the convolutions' im2col
``WORKSPACE`` in ``ops/windows.py``). The ``nnblocks`` command applies it to its own process only when
``NNBLOCKS_KEEP_MEMORY=1`` is set.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 30  # blocks up to 1 GiB come from (and go back to) the heap; larger ones are still mmap-ed


def requested() -> bool:
    """Whether the user asked for the setting (``NNBLOCKS_KEEP_MEMORY=1`` in the environment)."""
    return os.environ.get("NNBLOCKS_KEEP_MEMORY", "0") == "1"


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this whole process. Returns True when the setting took effect.

    Process-wide: call it only in a process you own (the ``nnblocks`` command does, when ``NNBLOCKS_KEEP_MEMORY=1``).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _THRESHOLD))
