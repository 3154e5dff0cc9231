"""The matrix products of the engine's layers: one BLAS, the layouts it takes without copies, and deferred products.

One BLAS. NumPy and SciPy each load an OpenBLAS of their own, each with its pool of threads that spin for a while
after every call. Two pools busy on two cores stall each other: with NumPy's products beside SciPy's axpy, both on
two threads, one epoch at batch 32 fell to 3.3k samples/s. So every large product and update of the engine goes
through SciPy's BLAS wrappers (``gemm``, and ``axpy`` in ``optim``), one pool; NumPy's ``@`` is left for small
products, which OpenBLAS runs on the calling thread anyway, and for dtypes BLAS has no routine for.

Layouts. ``?gemm`` is Fortran: it reads each operand as stored, transposed or not, so a C-ordered array is passed as
its transpose (F-ordered, no copy) and the result comes back in the order asked for. The layout also decides the
speed: for Linear's forward at batch 32 (784 -> 1000), ``Y`` computed column-major took 0.30-0.46 ms and row-major
0.42-0.64 ms (OpenBLAS packs the other operand); see ``Linear.forward``.

Deferred products. A weight's gradient ``dW = G^T X`` is usually read once, by the optimizer's ``W -= lr dW``.
``DeferredProduct`` keeps the two factors instead of the matrix; plain SGD then does ``W += (-lr) G^T X`` as one GEMM
into the weight (``beta = 1``), which never writes dW nor reads it back: at batch 32 on the 784-1000 layer, 0.34-0.43
ms against 0.54-0.62 ms for the product into a buffer and an axpy (0.93-0.99 ms with a fresh dW each step). Anyone
else who reads the gradient gets the matrix, computed then (``autograd.DeferredGradient``).

Threads. By default the engine leaves the BLAS's thread count as it is (every core, as PyTorch does).
``set_num_threads(n)`` (PyTorch's name) makes the engine's products run on ``n`` threads instead: set around each
call and put back at once, through threadpoolctl, so nothing changes process-wide. Measured on the 2-core test
machine (interleaved runs): one thread won only while the machine was busy (3-8x at batch 32 under load) and lost
when it was quiet (11.5k against 14.0k samples/s at batch 32), so the default is the quiet machine's choice.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from nnblocks.autograd import DeferredGradient
from nnblocks.errors import InvalidValueError

_UNTHREADED_BELOW = 1 << 16  # multiply-adds below which OpenBLAS itself uses one thread (gemm: 262K, axpy: 10K)
_state: dict[str, Any] = {"threads": None}  # set_num_threads's value; None: the BLAS's own count
_found: dict[str, Any] = {}  # "numpy" / "scipy": threadpoolctl's controller of that package's OpenBLAS, or None
_routines: dict[str, dict[np.dtype, Any]] = {}  # "gemm" / "axpy": SciPy's wrapper per dtype ({} without SciPy)
_lock = threading.Lock()


def routine(name: str, dtype: np.dtype) -> Any:
    """SciPy's BLAS wrapper ``name`` ("gemm", "axpy") for ``dtype`` (float32, float64), or None (other dtypes, no
    SciPy). SciPy is imported on first use (~0.1-0.4 s), not with nnblocks."""
    table = _routines.get(name)
    if table is None:
        try:
            from scipy.linalg import blas as scipy_blas
        except ImportError:  # pragma: no cover - SciPy is a dependency; kept for a broken install
            scipy_blas = None
        table = {} if scipy_blas is None else {
            np.dtype(np.float32): getattr(scipy_blas, "s" + name), np.dtype(np.float64): getattr(scipy_blas, "d" + name)}
        _routines[name] = table
    return table.get(dtype)


def load(dtypes: Any = (np.float32, np.float64)) -> None:
    """Import SciPy's BLAS now rather than in the first training step: the import takes ~0.27 s, 15% of one epoch
    of the 784-1000-10 network at batch 256. Optimizers call it when they are made."""
    for dtype in dtypes:
        routine("gemm", np.dtype(dtype))
        routine("axpy", np.dtype(dtype))


def controller(package: str = "scipy") -> Any:
    """threadpoolctl's controller of ``package``'s OpenBLAS ("scipy", whose BLAS the engine uses, or "numpy"), or
    None (no threadpoolctl, another BLAS, not loaded yet)."""
    if package not in _found:
        if package == "scipy":
            load((np.float32,))  # its OpenBLAS is found only once loaded: asked before the first product, load it
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


def call(function: Callable[..., Any], work: int, *args: Any, package: str = "scipy", **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, a BLAS call of ``work`` multiply-adds from ``package``'s OpenBLAS, on
    ``set_num_threads``'s count if set, else as the BLAS is; the library's own count is put back before returning."""
    wanted = _state["threads"]
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


def _as_fortran(m: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``(array, trans)`` with ``array`` F-ordered and ``m`` = array (trans 0) or array^T (trans 1), with no copy;
    None for a strided view BLAS cannot read as it is."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1
    return None


def gemm(a: np.ndarray, b: np.ndarray, alpha: float = 1.0, out: np.ndarray | None = None, beta: float = 0.0,
         order: str = "C") -> np.ndarray:
    """``alpha * a @ b + beta * out`` for 2-D arrays, through SciPy's BLAS when it takes them as they are.

    With ``out`` (C- or F-ordered, writable, of the operands' dtype) the result is written into it, in place; without,
    it comes back in ``order`` ("C" row-major, "F" column-major). Other dtypes and strided views go to NumPy.
    """
    gemm_ = routine("gemm", a.dtype) if a.dtype == b.dtype and a.size and b.size else None  # SciPy refuses empty
    if out is not None:
        order = "F" if out.flags.f_contiguous and not out.flags.c_contiguous else "C"
        if gemm_ is not None and (out.dtype != a.dtype or not out.flags.writeable
                                  or not (out.flags.c_contiguous or out.flags.f_contiguous)):
            gemm_ = None
    # C = A B column-major is a call on (A, B); row-major it is C^T = B^T A^T, a call on (B^T, A^T)
    left, right = (a, b) if order == "F" else (b.T, a.T)
    x, y = (_as_fortran(left), _as_fortran(right)) if gemm_ is not None else (None, None)
    if x is None or y is None:
        product = np.matmul(a, b)
        if alpha != 1.0:
            product *= alpha
        if out is None:
            return product
        if beta == 0.0:
            out[...] = product
        else:
            if beta != 1.0:
                out *= beta
            out += product
        return out
    if out is None:  # SciPy would zero a C it makes (a 3 MB memset for dW: 0.3 ms at batch 32); ours is empty
        out, beta = np.empty((a.shape[0], b.shape[1]), a.dtype, order=order), 0.0
    work = a.shape[0] * a.shape[1] * b.shape[1]
    c = out if order == "F" else out.T
    result = call(gemm_, work, alpha, x[0], y[0], beta=beta, c=c, trans_a=x[1], trans_b=y[1], overwrite_c=1)
    if result.__array_interface__["data"][0] != c.__array_interface__["data"][0]:  # pragma: no cover
        c[...] = result  # SciPy copied instead of writing in place (it does not for these layouts)
    return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D arrays, row-major: large products through the engine's BLAS, small ones NumPy's."""
    work = a.shape[0] * a.shape[1] * b.shape[1]
    return a @ b if work < _UNTHREADED_BELOW else gemm(a, b)


class DeferredProduct(DeferredGradient):
    """The gradient ``a^T b`` (a weight's ``G^T X``) kept as its factors, ``a`` (N, m) and ``b`` (N, n), until
    someone needs the (m, n) matrix: ``materialize()`` computes it, ``add_to(w, alpha)`` adds ``alpha a^T b`` into
    ``w`` as one GEMM. The factors must not change meanwhile: the caller hands over arrays nobody else holds."""

    __slots__ = ("a", "b", "shape", "dtype")

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = a, b
        self.shape, self.dtype = (a.shape[1], b.shape[1]), a.dtype

    def materialize(self) -> np.ndarray:
        return gemm(self.a.T, self.b)

    def add_to(self, target: np.ndarray, alpha: float = 1.0) -> None:
        gemm(self.a.T, self.b, alpha=alpha, out=target, beta=1.0)
