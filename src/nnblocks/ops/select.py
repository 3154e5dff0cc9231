"""Picking elements by index along a dimension: ``gather``, and what chooses the indices: ``max``/``min`` with a dim,
``sort``, ``topk``, ``argmax``/``argmin``.

One op does the picking, ``Gather`` (z[i][j] = a[i][index[i][j]] along dim 1); its backward sends each gradient
element back to the element it was picked from. ``max(dim)``, ``sort`` and ``topk`` find their indices with NumPy
(argmax, a stable argsort), then gather: they carry no backward code of their own, and the gradient goes exactly to
the index they return, as in PyTorch. (``x.max()`` without a dim and ``amax`` split the gradient evenly between tied
maxima instead: ``reduce.Max``.)

Ties: ``max``/``min``/``argmax`` return the first extreme index (PyTorch and NumPy agree); ``sort`` and ``topk`` keep
tied elements in their original order (PyTorch's ``stable=True``; its default order of ties is unspecified).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnblocks.errors import DTypeError, InvalidArgumentError, ShapeError
from nnblocks.ops import return_types
from nnblocks.ops.base import Function, as_tensor
from nnblocks.ops.reduce import Max, Min
from nnblocks.ops.registry import register
from nnblocks.ops.shape import Maximum, Minimum, check_dim, reshape
from nnblocks.tensor import Tensor


class Gather(Function):
    """z = a's elements at ``index`` along ``dim``;  dL/da gets each dL/dz element back where it was picked from
    (summed where an index repeats)."""

    kind = "shape"

    def forward(self, a: np.ndarray, index: Any = None, dim: int = 0, keepdim: bool = True) -> np.ndarray:
        if index.ndim != a.ndim:
            raise ShapeError(f"gather: the index has {index.ndim} dimensions, the input {a.ndim} (shape {a.shape}); "
                             "they must have the same number")
        self.shape, self.index, self.dim, self.keepdim = a.shape, index, dim, keepdim
        try:
            z = np.take_along_axis(a, index, axis=dim)
        except IndexError as exc:
            raise ShapeError(f"gather: index out of range for dimension {dim} of shape {a.shape}: {exc}") from None
        return z if keepdim else np.squeeze(z, axis=dim)  # max(dim) without keepdim: the picked axis dropped

    def backward(self, g: np.ndarray) -> np.ndarray:
        if not self.keepdim:
            g = np.expand_dims(g, self.dim)
        where = list(np.indices(self.index.shape, sparse=True))
        where[self.dim] = self.index
        out = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(out, tuple(where), g)
        return out


@register("gather")
def gather(input: Any, dim: int, index: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """``out[i][j] = input[i][index[i][j]]`` for ``dim=1`` (any dim likewise), as ``torch.gather``."""
    x = as_tensor(input)
    index = index._data if isinstance(index, Tensor) else np.asarray(index)
    if index.dtype.kind not in "iu":
        raise DTypeError(f"gather: the index must hold integers, got dtype {index.dtype}")
    return Gather.apply(x, index=index, dim=check_dim("gather", dim, max(x.ndim, 1)))


def _along(name: str, x: Tensor, dim: int, pick: Callable[[np.ndarray, int], np.ndarray],
           keepdim: bool = True) -> tuple[Tensor, Tensor]:
    """(values, indices): ``pick(array, axis)`` gives the indices (with the axis kept), gather the values."""
    if x.ndim == 0:  # PyTorch allows dim 0 (or -1) of a 0-d tensor: the element itself, at index 0
        check_dim(name, dim, 1)
        values, indices = _along(name, reshape(x, 1), 0, pick, keepdim)
        return reshape(values, ()), Tensor._wrap(indices._data.reshape(()))
    if not -x.ndim <= dim < x.ndim:
        raise ShapeError(f"{name}: for an input of shape {x.shape}, dim {dim} is out of range (it has {x.ndim} "
                         "dimensions)")
    dim %= x.ndim
    if x.shape[dim] == 0:
        raise ShapeError(f"{name}: dimension {dim} of shape {x.shape} is empty; there is nothing to pick from")
    index = pick(x._data, dim).astype(np.int64, copy=False)
    values = Gather.apply(x, index=index, dim=dim, keepdim=keepdim)
    return values, Tensor._wrap(index if keepdim else np.squeeze(index, axis=dim))


def _extreme(name: str, finder: Callable, whole: Callable, pairwise: Callable) -> Callable:
    result_type = getattr(return_types, name)

    def extreme(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002
        x = as_tensor(input)
        if isinstance(dim, (Tensor, np.ndarray)):  # torch.max(a, b): elementwise
            return pairwise(x, dim)
        if dim is None:
            return whole(x)
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise InvalidArgumentError(f"{name}: dim must be an int, got {dim!r} (amax/amin take several dims)")
        return result_type(*_along(name, x, dim, lambda a, d: finder(a, axis=d, keepdims=True), keepdim))

    extreme.__name__ = extreme.__qualname__ = name
    extreme.__doc__ = (f"``{name}(x)``: the {name}imum of all elements (a 0-d tensor); "
                       f"``{name}(x, dim, keepdim=False)``: the named tuple ({name} values, their indices) along dim, "
                       f"the gradient going to the returned index; ``{name}(a, b)``: elementwise, like "
                       f"``{name}imum``.")
    return extreme


register("max")(_extreme("max", np.argmax, Max.apply, Maximum.apply))
register("min")(_extreme("min", np.argmin, Min.apply, Minimum.apply))


def _arg(name: str, finder: Callable) -> Callable:
    def arg(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
        x = as_tensor(input)
        if x._data.size == 0:
            raise ShapeError(f"{name}: the tensor of shape {x.shape} is empty; there is no index to return")
        if dim is None:  # over all elements (the flat index); keepdim keeps every axis, of size 1
            index = np.asarray(finder(x._data), dtype=np.int64)
            return Tensor._wrap(index.reshape((1,) * x.ndim) if keepdim else index)
        dim = check_dim(name, dim, max(x.ndim, 1))
        return Tensor._wrap(np.asarray(finder(x._data, axis=dim if x.ndim else None, keepdims=keepdim),
                                       dtype=np.int64))

    arg.__name__ = arg.__qualname__ = name
    arg.__doc__ = f"The index of the first {name[3:]}imum (over all elements, or along ``dim``), int64."
    return arg


register("argmax")(_arg("argmax", np.argmax))
register("argmin")(_arg("argmin", np.argmin))


def _stable_order(descending: bool) -> Callable[[np.ndarray, int], np.ndarray]:
    def order(a: np.ndarray, dim: int) -> np.ndarray:
        if not descending:
            return np.argsort(a, axis=dim, kind="stable")
        # largest first, ties in their original order: sort the reversed array stably, then reverse back
        n = a.shape[dim]
        return np.flip(n - 1 - np.argsort(np.flip(a, axis=dim), axis=dim, kind="stable"), axis=dim)

    return order


@register("sort")
def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:  # noqa: A002
    """The named tuple (sorted values, their original indices) along ``dim``; ties keep their order."""
    return return_types.sort(*_along("sort", as_tensor(input), dim, _stable_order(descending)))


@register("topk")
def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """The named tuple (the k largest values, or smallest with ``largest=False``, their indices) along ``dim``."""
    x = as_tensor(input)
    size = x.shape[check_dim("topk", dim, x.ndim)] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= size:
        raise ShapeError(f"topk: k must be an int in [0, {size}] for dimension {dim} of shape {x.shape}, got {k!r}")
    order = _stable_order(largest)
    return return_types.topk(*_along("topk", x, dim, lambda a, d: np.take(order(a, d), range(k), axis=d)))
