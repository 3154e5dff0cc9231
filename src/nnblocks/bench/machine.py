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
