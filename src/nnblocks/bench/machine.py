"""The machine a benchmark ran on: CPU, versions, the BLAS actually loaded, load average, peak memory, and which
systems can run here. Every number in a benchmark report is read next to this description.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  (loaded so that threadpoolctl sees its BLAS)

from nnblocks.bench.workload import LABELS, REQUIRES


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux, VmHWM from /proc/self/status: ``ru_maxrss`` survives ``exec``, so in a worker it would report the
    parent's peak (the data it generated) whenever that was larger. Elsewhere ``ru_maxrss`` (KiB; bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # Unix only: imported on this path alone

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def blas_info() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries this process has loaded, as threadpoolctl sees them (empty without it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")
    return [{k: lib.get(k) for k in keys if lib.get(k) is not None} for lib in threadpool_info()]


def describe_blas(libraries: list[dict[str, Any]]) -> str:
    """'openblas 0.3.31 Haswell, 2 threads' for the BLAS among ``libraries`` (threadpoolctl's view)."""
    blas = [lib for lib in libraries if lib.get("internal_api") in ("openblas", "mkl", "blis", "accelerate")]
    if not blas:
        return "unknown (install threadpoolctl to see it)"
    described = []
    for lib in blas:  # several when scipy's OpenBLAS is loaded beside numpy's (scikit-learn)
        parts = [lib.get("internal_api", "?"), str(lib.get("version") or ""), str(lib.get("architecture") or "")]
        text = " ".join(p for p in parts if p) + f", {lib.get('num_threads', '?')} threads"
        if text not in described:
            described.append(text)
    return " + ".join(described)


# OpenBLAS kernels (threadpoolctl's "architecture") that leave AVX2 / AVX-512 unused on CPUs that have them
_PRE_AVX2 = {"katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn", "dunnington", "nehalem",
             "atom", "sandybridge", "barcelona", "opteron", "opteron_sse3", "bobcat", "bulldozer", "piledriver"}
_AVX512 = {"skylakex", "cooperlake", "sapphirerapids"}


def slow_kernel_note(machine: dict[str, Any], flags: set[str] | None = None) -> str | None:
    """A warning when NumPy's OpenBLAS runs a kernel older than the CPU (a forced ``OPENBLAS_CORETYPE``, an old
    build): the products can be 15% to 4x slower. None when the kernel fits the CPU, or nothing is known."""
    flags = cpu_flags() if flags is None else flags
    forced = machine["thread_env"].get("OPENBLAS_CORETYPE")
    for lib in machine["numpy_blas_libraries"]:
        kernel = str(lib.get("architecture") or "").lower()
        if lib.get("internal_api") != "openblas" or not kernel:
            continue
        slow = ("avx2" in flags and kernel in _PRE_AVX2) or ("avx512f" in flags and kernel not in _AVX512
                                                             and kernel in _PRE_AVX2 | {"haswell", "zen"})
        if slow or forced:
            why = f" (OPENBLAS_CORETYPE={forced} is set)" if forced else ""
            return (f"NumPy's OpenBLAS runs its {lib['architecture']} kernel{why} on a CPU with "
                    f"{'AVX-512' if 'avx512f' in flags else 'AVX2'}: matrix products may be 15% to 4x slower than "
                    "they could be; unset OPENBLAS_CORETYPE, or install a current numpy wheel")
    return None


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux: /proc/cpuinfo; elsewhere empty)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def machine_description() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    libraries = blas_info()
    return {
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": usable,
        "platform": platform.platform(), "python": platform.python_version(),
        "versions": {p: _version(p) for p in ("nnblocks", "numpy", "torch", "scikit-learn", "threadpoolctl")},
        "numpy_blas": describe_blas(libraries), "numpy_blas_libraries": libraries,
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                  "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
        "load_average_start": load_average(),
    }


def available_systems(wanted: list[str]) -> tuple[list[str], list[str]]:
    """The systems that can run here, and a note for each one skipped because its library is not installed."""
    systems, notes = [], []
    for system in wanted:
        module = REQUIRES.get(system)
        if module is not None and importlib.util.find_spec(module) is None:
            notes.append(f"{LABELS[system]} skipped: the '{module}' package is not installed")
        else:
            systems.append(system)
    return systems, notes
