"""Reductions: sum, mean, max, min over all elements or chosen axes (``dim``, ``keepdim`` as in PyTorch).

Backward spreads the upstream gradient back over the reduced axes: every summed element gets it whole, every averaged
element gets 1/n of it, and for max/min only the winning element(s) get it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.ops.base import Function
from nnblocks.ops.registry import register


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


@register("max", "amax")
class Max(Function):
    """z = max_i a_i;  dz/da_i = 1 for the maximum (split evenly between ties, as torch.amax), 0 elsewhere.

    The values only, like ``torch.amax``: ``torch.max(x, dim)`` also returns the indices, here ``argmax`` does.
    """

    kind = "reduction"
    reducer = staticmethod(np.max)

    def forward(self, a: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
        self.axes, self.keepdim = _axes(dim, a.ndim), keepdim
        z = self.reducer(a, axis=self.axes, keepdims=True)
        self.winners = a == z
        return z if keepdim else np.squeeze(z, axis=self.axes)

    def backward(self, g: np.ndarray) -> np.ndarray:
        count = self.winners.sum(axis=self.axes, keepdims=True)
        return self.winners * (_expand(g, self.axes, self.keepdim) / count.astype(g.dtype))


@register("min", "amin")
class Min(Max):
    """z = min_i a_i;  dz/da_i = 1 for the minimum (split evenly between ties), 0 elsewhere.

    The values only, like ``torch.amin`` (``argmin`` gives the indices).
    """

    reducer = staticmethod(np.min)
