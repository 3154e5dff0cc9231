"""The matrix products of the engine's layers: how many BLAS threads each one uses, and the fast memory layout.

Threads. NumPy's OpenBLAS splits every product over all cores. For a small product (the 784-1000 layer at batch 32:
25M multiply-adds, ~0.6 ms) the threads spend much of it waiting on each other, and on a machine whose cores are
shared with other work they wait for a thread the OS has parked: measured on the 2-core test machine under load,
the batch-32 forward product took 1.36 ms on one thread and 4.4 ms on two, at batch 256 5.1 ms and 23 ms. So
each thread gets at least ``WORK_PER_THREAD`` multiply-adds: a product runs on ``work // WORK_PER_THREAD`` threads,
at least one, at most ``get_num_threads()`` (the BLAS's own count unless ``set_num_threads`` said otherwise). The rule depends on shapes only, never on timings: OpenBLAS's
results differ in the last bits between thread counts, and a run must repeat bit for bit.

Nothing is changed process-wide: the count is set around each product and put back at once, on NumPy's BLAS
(found by threadpoolctl; without it, or with another BLAS, products run as NumPy runs them). NumPy's own calls in
the user's code keep their threads.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from nnblocks.errors import InvalidValueError

WORK_PER_THREAD = 1 << 27  # multiply-adds (M*N*K) each thread gets at least: 134M; the 784-1000 layer is 25M at
# batch 32 (one thread), 200M at 256 (one thread), 7.8G at 10,000 (every thread)

_UNTHREADED_BELOW = 1 << 16  # below this much work OpenBLAS itself uses one thread (gemm: 262K, axpy: 10K)
_state: dict[str, Any] = {"threads": None}  # set_num_threads's value; None: the BLAS's own count
_found: dict[str, Any] = {}  # "numpy" / "scipy": threadpoolctl's controller of that package's OpenBLAS, or None
_lock = threading.Lock()


def controller(package: str = "numpy") -> Any:
    """threadpoolctl's controller of ``package``'s OpenBLAS ("numpy" or "scipy": SciPy loads one of its own), or
    None (no threadpoolctl, another BLAS, not loaded yet)."""
    if package not in _found:
        with _lock:
            if package not in _found:
                _found[package] = _openblas_of(package)
    return _found[package]


def _openblas_of(package: str) -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    libraries = [c for c in ThreadpoolController().lib_controllers if c.internal_api == "openblas"]
    own = [c for c in libraries if f"{package}.libs" in c.filepath or f"/{package}/" in c.filepath]
    return own[0] if own else None


def set_num_threads(threads: int | None) -> None:
    """The BLAS threads every matrix product of the engine uses, whatever its size (``None``, the default: the
    size rule above, up to the BLAS's own count). On an idle multi-core machine ``set_num_threads(os.cpu_count())``
    can be faster at batch 256 (measured here in a quiet moment: PyTorch on two threads 39.5k samples/s, nnblocks on
    one 25.7k); on a shared one, the rule is (3-8x at batch 32).

    As ``torch.set_num_threads``, except that it applies to nnblocks' own products only, around each call: NumPy's
    calls elsewhere in the process keep their thread count.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InvalidValueError(f"set_num_threads: threads must be a whole number >= 1 (or None), got {threads!r}")
    _state["threads"] = threads


def get_num_threads() -> int:
    """The BLAS threads a large product of the engine uses (1 when the BLAS cannot be controlled)."""
    if _state["threads"] is not None:
        return _state["threads"]
    blas = controller()
    return (blas.get_num_threads() or 1) if blas is not None else 1


def call(function: Callable[..., Any], work: int, *args: Any, package: str = "numpy", **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, a BLAS call of ``work`` multiply-adds from ``package``'s OpenBLAS, run on the
    thread count of the rule above; the library's own count is put back before returning."""
    if work < _UNTHREADED_BELOW:  # OpenBLAS runs it on one thread anyway: spare the ~4 us of asking
        return function(*args, **kwargs)
    blas = controller(package)
    if blas is None:
        return function(*args, **kwargs)
    current = blas.get_num_threads()
    wanted = _state["threads"] or max(1, min(current, work // WORK_PER_THREAD))  # the user's count wins
    if wanted == current:
        return function(*args, **kwargs)
    blas.set_num_threads(wanted)
    try:
        return function(*args, **kwargs)
    finally:
        blas.set_num_threads(current)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D arrays, with the thread count of the rule above."""
    work = a.shape[0] * a.shape[1] * b.shape[1]
    return a @ b if work < _UNTHREADED_BELOW else call(np.matmul, work, a, b)
