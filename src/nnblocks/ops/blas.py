"""The matrix products of the engine's layers: the BLAS threads they use, and the fast memory layout.

Threads. By default the engine leaves NumPy's BLAS as it is (every core, as PyTorch does). ``set_num_threads(n)``
(PyTorch's name) makes every product of the engine run on ``n`` threads instead: set around each product and put
back at once, on NumPy's OpenBLAS (found by threadpoolctl; without it, or with another BLAS, products run as NumPy
runs them), so nothing changes process-wide and NumPy's calls in the user's code keep their threads.

Measured on the 2-core test machine, one epoch of the 784-1000-10 network (interleaved runs, samples/s): a rule that
gave each thread at least 134M multiply-adds (one thread at batch 32 and 256) won only while the machine was busy
(3-8x at batch 32 under load) and lost when it was quiet: 11.5k against 14.0k at batch 32, 27k against 39.5k at 256.
The default is the quiet machine's choice; ``set_num_threads(1)`` is the busy one's.

``call(..., threads=1)`` runs a memory-bound call on one thread (SGD's axpy, ``optim.optimizer.axpy_``): SciPy
loads an OpenBLAS of its own, and two pools of spinning threads on two cores stall each other (measured at batch 32:
3.3k samples/s with both pools on two threads; with the axpy on one, 17.3-18.0k where the engine before issue 14
ran 13.3-13.4k in the same rounds).
"""
from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from nnblocks.errors import InvalidValueError

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
    BLAS's own count). On a machine whose cores are busy with other work, ``set_num_threads(1)`` can be several
    times faster at small batches (see above).

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


def call(function: Callable[..., Any], work: int, *args: Any, package: str = "numpy", threads: int | None = None,
         **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, a BLAS call of ``work`` multiply-adds from ``package``'s OpenBLAS, on
    ``threads`` threads if given, else on ``set_num_threads``'s count if set, else as the BLAS is; the library's own
    count is put back before returning."""
    wanted = threads or _state["threads"]
    if wanted is None or work < _UNTHREADED_BELOW:  # as the BLAS is; tiny calls run on one thread anyway
        return function(*args, **kwargs)
    blas = controller(package)
    if blas is None:
        return function(*args, **kwargs)
    current = blas.get_num_threads()
    if wanted == current:
        return function(*args, **kwargs)
    blas.set_num_threads(wanted)
    try:
        return function(*args, **kwargs)
    finally:
        blas.set_num_threads(current)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D arrays, on the threads ``call`` chooses."""
    work = a.shape[0] * a.shape[1] * b.shape[1]
    return a @ b if work < _UNTHREADED_BELOW else call(np.matmul, work, a, b)
