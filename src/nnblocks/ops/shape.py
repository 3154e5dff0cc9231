"""Ops that move elements without changing them: reshape, permute, indexing, concatenation.

Their backward moves the gradient back the same way: reshape it back, permute it back, scatter it back to the
indexed positions (adding where an index was used twice), split it back into the concatenated pieces.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import ShapeError
from nnblocks.ops.base import Function, unbroadcast


class Reshape(Function):
    """z = a viewed with another shape (same elements, same order);  the gradient is reshaped back."""

    def forward(self, a: np.ndarray, shape: tuple[int, ...] = ()) -> np.ndarray:
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot view shape {a.shape} ({a.size} elements) as {tuple(shape)}") from None

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g.reshape(self.shape)


class Permute(Function):
    """z = a with its axes reordered;  the gradient is permuted by the inverse order."""

    def forward(self, a: np.ndarray, dims: tuple[int, ...] = ()) -> np.ndarray:
        if sorted(d % max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
            raise ShapeError(f"permute: dims {tuple(dims)} are not an ordering of the {a.ndim} axes of shape {a.shape}")
        self.inverse = tuple(np.argsort([d % a.ndim for d in dims]))
        return np.transpose(a, dims)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.transpose(g, self.inverse)


def _unwrap_index(index: Any) -> Any:
    """Tensors inside an index become their arrays; boolean and integer lists become arrays."""
    from nnblocks.tensor import Tensor

    if isinstance(index, tuple):
        return tuple(_unwrap_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


class GetItem(Function):
    """z = a[index] (ints, slices, integer arrays, boolean masks);  the gradient is scattered back with ``np.add.at``,
    so an element picked twice (``a[[0, 0]]``) receives both gradients."""

    def forward(self, a: np.ndarray, index: Any = None) -> np.ndarray:
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        try:
            return a[index]
        except IndexError as exc:
            raise ShapeError(f"getitem: index {index!r} does not fit shape {a.shape}: {exc}") from None

    def backward(self, g: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(out, self.index, g)
        return out


class Concatenate(Function):
    """z = [a1, a2, ...] joined along ``axis``;  each input's gradient is its slice of the upstream gradient."""

    def forward(self, *arrays: np.ndarray, axis: int = 0) -> np.ndarray:
        self.axis = axis
        self.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        try:
            return np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {axis}") from None

    def backward(self, g: np.ndarray) -> tuple:
        return tuple(np.split(g, self.splits, axis=self.axis))


class Where(Function):
    """z = a where condition else b;  dz/da = 1 where condition holds, dz/db = 1 elsewhere."""

    def forward(self, a: np.ndarray, b: np.ndarray, condition: Any = None) -> np.ndarray:
        self.condition, self.shapes = condition, (a.shape, b.shape)
        return np.where(condition, a, b)

    def backward(self, g: np.ndarray) -> tuple:
        zero = np.zeros((), dtype=g.dtype)
        ga = unbroadcast(np.where(self.condition, g, zero), self.shapes[0]) if self.needs_input_grad[0] else None
        gb = unbroadcast(np.where(self.condition, zero, g), self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Maximum(Function):
    """z = max(a, b) elementwise;  dz/da = 1 where a > b, 0 where a < b, 1/2 at ties (as PyTorch), and the same for b."""

    pick = staticmethod(np.maximum)

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.share_a = (a > b) + 0.5 * (a == b) if self.pick is np.maximum else (a < b) + 0.5 * (a == b)
        self.shapes = a.shape, b.shape
        return self.pick(a, b)

    def backward(self, g: np.ndarray) -> tuple:
        share = self.share_a.astype(g.dtype, copy=False)
        ga = unbroadcast(g * share, self.shapes[0]) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (1 - share), self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Minimum(Maximum):
    """z = min(a, b) elementwise;  dz/da = 1 where a < b, 0 where a > b, 1/2 at ties."""

    pick = staticmethod(np.minimum)


class Clip(Function):
    """z = min(max(a, lo), hi);  dz/da = 1 inside [lo, hi], 0 where a was clipped."""

    def forward(self, a: np.ndarray, lo: Any = None, hi: Any = None) -> np.ndarray:
        self.inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            self.inside &= a >= lo
        if hi is not None:
            self.inside &= a <= hi
        return np.clip(a, lo, hi).astype(a.dtype, copy=False)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self.inside
