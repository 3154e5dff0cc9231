"""Reductions: sum, mean, max, min over all elements or chosen axes (``dim``, ``keepdim`` as in PyTorch).

Backward spreads the upstream gradient back over the reduced axes: every summed element gets it whole, every averaged
element gets 1/n of it, and for max/min only the winning element(s) get it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import DTypeError, InvalidValueError, NotSupportedError, ShapeError
from nnblocks.ops.base import Function
from nnblocks.ops.registry import register
from nnblocks.tensor import Tensor


def _axes(dim: Any, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:  # without this check, d % ndim would silently reduce over the wrong axis (dim=5 of a 2-D tensor)
        if ndim and not -ndim <= d < ndim:
            raise ValueError(f"dim {d} is out of range for {ndim} dimensions")  # apply names the op and shape
    return tuple(d % ndim if ndim else 0 for d in dims)


def _expand(g: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
    """Put the reduced axes back as size-1 axes so ``g`` broadcasts against the input."""
    return g if keepdim else np.expand_dims(g, axes)


@register("sum")
class Sum(Function):
    """z = sum_i a_i;  dz/da_i = 1."""

    kind = "reduction"
    formula = "{z} = sum({a})"
    derivatives = ("1",)

    def forward(self, a: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
        self.shape, self.axes, self.keepdim = a.shape, _axes(dim, a.ndim), keepdim
        return np.sum(a, axis=self.axes, keepdims=keepdim)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.broadcast_to(_expand(g, self.axes, self.keepdim), self.shape)


@register("mean")
class Mean(Function):
    """z = (1/n) sum_i a_i;  dz/da_i = 1/n."""

    kind = "reduction"
    formula = "{z} = mean({a})"
    derivatives = ("1/n",)

    def forward(self, a: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
        self.shape, self.axes, self.keepdim = a.shape, _axes(dim, a.ndim), keepdim
        self.n = int(np.prod([a.shape[i] for i in self.axes]))
        return np.mean(a, axis=self.axes, keepdims=keepdim)

    def backward(self, g: np.ndarray) -> np.ndarray:
        g = _expand(g, self.axes, self.keepdim) / np.asarray(self.n, dtype=g.dtype)
        return np.broadcast_to(g, self.shape)


@register("amax")
class Max(Function):
    """z = max_i a_i;  dz/da_i = 1 for the maximum (split evenly between ties, as torch.amax), 0 elsewhere.

    The values only, like ``torch.amax``. ``x.max()`` (no dim) is this op too, as PyTorch's gradient of it also
    splits ties evenly; ``x.max(dim)`` returns ``(values, indices)`` and sends the gradient to the index it returns
    (``nnblocks.ops.select``).
    """

    kind = "reduction"
    reducer = staticmethod(np.max)

    def forward(self, a: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
        self.axes, self.keepdim = _axes(dim, a.ndim), keepdim
        if any(a.shape[i] == 0 for i in self.axes):
            raise ShapeError(f"{type(self).__name__.lower()}: cannot reduce an empty dimension of shape {a.shape} "
                             "(there is no maximum or minimum of nothing)")
        z = self.reducer(a, axis=self.axes, keepdims=True)
        self.winners = a == z
        return z if keepdim else np.squeeze(z, axis=self.axes)

    def backward(self, g: np.ndarray) -> np.ndarray:
        count = self.winners.sum(axis=self.axes, keepdims=True)
        return self.winners * (_expand(g, self.axes, self.keepdim) / count.astype(g.dtype))


@register("amin")
class Min(Max):
    """z = min_i a_i;  dz/da_i = 1 for the minimum (split evenly between ties), 0 elsewhere.

    The values only, like ``torch.amin`` (``x.min(dim)`` also gives the indices).
    """

    reducer = staticmethod(np.min)


class Norm(Function):
    """z = (sum_i |a_i|^p)^(1/p) over ``dim`` (all elements by default): the vector p-norm of ``torch.norm``.

    dz/da_i = sign(a_i) |a_i|^(p-1) / z^(p-1), which is a_i / z for p = 2 and sign(a_i) for p = 1; for p = +-inf
    the norm is the largest (smallest) |a_i| and the gradient goes to it, split evenly between ties. Where it is
    undefined (z = 0, or a_i = 0 with p < 1) the gradient is 0, as in PyTorch; p = 0 (the count of non-zeros) has
    none (the input's .grad stays None, as in PyTorch).
    """

    kind = "reduction"
    formula = "{z} = norm({a})"

    def forward(self, a: np.ndarray, p: float = 2.0, dim: Any = None, keepdim: bool = False) -> np.ndarray:
        self.axes, self.keepdim, self.p, self.a = _axes(dim, a.ndim), keepdim, p, a
        magnitude = np.abs(a)
        if p == np.inf or p == -np.inf:
            z = (np.max if p > 0 else np.min)(magnitude, axis=self.axes, keepdims=True)
        elif p == 0:
            z = np.sum(a != 0, axis=self.axes, keepdims=True).astype(a.dtype)
        elif p == 1:
            z = np.sum(magnitude, axis=self.axes, keepdims=True)
        elif p == 2:
            z = np.sqrt(np.sum(a * a, axis=self.axes, keepdims=True))
        else:
            z = np.sum(magnitude ** np.asarray(p, dtype=a.dtype), axis=self.axes, keepdims=True) ** (1 / p)
        self.z = z.astype(a.dtype, copy=False)
        return self.z if keepdim else np.squeeze(self.z, axis=self.axes)

    def backward(self, g: np.ndarray) -> Any:
        a, z, p = self.a, self.z, self.p
        g = _expand(g, self.axes, self.keepdim)
        if p == 0:
            return None
        if p == 1:
            return g * np.sign(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == np.inf or p == -np.inf:
                winners = np.abs(a) == z
                count = winners.sum(axis=self.axes, keepdims=True).astype(g.dtype)
                return np.sign(a) * winners * (g / count)
            if p == 2:
                return a * np.where(z == 0, 0, g / z)
            scale = np.where(z == 0, 0, g / z ** (p - 1))
            local = np.where(a == 0, 0, a * np.abs(a) ** np.asarray(p - 2, dtype=a.dtype))
        return local * scale


@register("norm")  # ops/batchnorm.py holds batch norm, so nnblocks.ops.norm can be this function, as torch.norm
def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The p-norm of all elements (or along ``dim``), as ``torch.norm``: ``norm(w, 1)`` = sum |w|, ``norm(w)`` = the
    Euclidean (Frobenius) norm; ``p`` may be any number, ``inf``, ``-inf`` or ``"fro"``."""
    x = input if isinstance(input, Tensor) else Tensor._wrap(np.asarray(input))
    if x._data.dtype.kind != "f":
        raise DTypeError(f"norm: expected a floating-point tensor, got dtype {x.dtype}; convert it with .float()")
    if isinstance(p, str):
        if p == "nuc":
            raise NotSupportedError("norm(p='nuc'): the nuclear norm (PyTorch's torch.norm(x, 'nuc')) needs singular "
                                    "values, which nnblocks does not differentiate; use "
                                    "np.linalg.norm(x.numpy(), 'nuc')")
        if p != "fro":
            raise InvalidValueError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
        p = 2.0
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)):
        raise InvalidValueError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
    return Norm.apply(x, p=float(p), dim=dim, keepdim=keepdim)
