"""Differentiable operations: the functional API over the op classes.

Each function here is one line over an op class whose forward and backward sit side by side in ``arithmetic``,
``reduce``, ``shape``, ``activation`` or ``loss``. Ops that are compositions of others (``stack``, ``maximum``,
``flatten``...) carry no backward code of their own: their gradient comes from the primitives they are made of.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nnblocks.errors import ShapeError
from nnblocks.ops.activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, stable_sigmoid
from nnblocks.ops.arithmetic import Abs, Add, AsType, Div, Exp, Linear, Log, MatMul, Mul, Neg, Pow, Sqrt, Sub
from nnblocks.ops.base import Function, as_tensor, unbroadcast
from nnblocks.ops.loss import BCE, L1, MSE, NLL, BCEWithLogits, CrossEntropy
from nnblocks.ops.reduce import Max, Mean, Min, Sum
from nnblocks.ops.shape import Clip, Concatenate, GetItem, Maximum, Minimum, Permute, Reshape, Where, _unwrap_index
from nnblocks.tensor import Tensor

# ---- arithmetic ----------------------------------------------------------------------------------------------------
def add(a: Any, b: Any) -> Tensor:
    return Add.apply(a, b)


def sub(a: Any, b: Any) -> Tensor:
    return Sub.apply(a, b)


def mul(a: Any, b: Any) -> Tensor:
    return Mul.apply(a, b)


def div(a: Any, b: Any) -> Tensor:
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    return Pow.apply(a, b)


def neg(a: Any) -> Tensor:
    return Neg.apply(a)


def matmul(a: Any, b: Any) -> Tensor:
    return MatMul.apply(a, b)


def exp(a: Any) -> Tensor:
    return Exp.apply(a)


def log(a: Any) -> Tensor:
    return Log.apply(a)


def sqrt(a: Any) -> Tensor:
    return Sqrt.apply(a)


def abs(a: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    return Abs.apply(a)


def astype(a: Tensor, dtype: Any) -> Tensor:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return Tensor(a.data.astype(dtype))
    return AsType.apply(a, dtype=dtype)


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


# ---- reductions ----------------------------------------------------------------------------------------------------
def sum(a: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return Sum.apply(a, dim=dim, keepdim=keepdim)


def mean(a: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    return Mean.apply(a, dim=dim, keepdim=keepdim)


def max(a: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return Max.apply(a, dim=dim, keepdim=keepdim)


def min(a: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return Min.apply(a, dim=dim, keepdim=keepdim)


# ---- shapes and selection ------------------------------------------------------------------------------------------
def reshape(a: Any, *shape: Any) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(a, shape=shape)


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one (``Flatten`` uses start_dim=1 to keep the batch axis)."""
    if a.ndim == 0:
        return reshape(a, 1)
    for d in (start_dim, end_dim):
        if not -a.ndim <= d < a.ndim:
            raise ShapeError(f"flatten: dim {d} is out of range for shape {a.shape}")
    start, end = start_dim % a.ndim, end_dim % a.ndim
    shape = a.shape[:start] + (-1,) + a.shape[end + 1:]
    return reshape(a, shape)


def _dim(op: str, dim: int, ndim: int) -> int:
    """A dimension index checked against ``ndim`` (negative counts from the end), or a ShapeError naming the op."""
    if not -ndim <= dim < ndim:
        raise ShapeError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % ndim


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    dim = _dim("unsqueeze", dim, a.ndim + 1)
    return reshape(a, a.shape[:dim] + (1,) + a.shape[dim:])


def squeeze(a: Tensor, dim: int | None = None) -> Tensor:
    if dim is not None:
        dim = _dim("squeeze", dim, a.ndim or 1)
    if dim is not None and a.ndim and a.shape[dim] != 1:  # as PyTorch: squeezing a dimension of size > 1 changes nothing
        return reshape(a, a.shape)
    return reshape(a, np.squeeze(a.data, axis=dim).shape)


def permute(a: Any, *dims: Any) -> Tensor:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return Permute.apply(a, dims=dims)


def transpose(a: Tensor, dim0: int = 0, dim1: int = 1) -> Tensor:
    """Swap two axes (PyTorch's ``transpose``; NumPy's full reordering is ``permute``)."""
    dim0, dim1 = _dim("transpose", dim0, a.ndim), _dim("transpose", dim1, a.ndim)
    dims = list(range(a.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(a, dims)


def getitem(a: Tensor, index: Any) -> Tensor:
    return GetItem.apply(a, index=_unwrap_index(index))


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join tensors along an existing axis (``np.concatenate``)."""
    if not tensors:
        raise ShapeError("cat: needs at least one tensor")
    first = as_tensor(tensors[0])
    return Concatenate.apply(*tensors, axis=_dim("cat", dim, first.ndim or 1))


concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join tensors along a new axis: each gets a size-1 axis at ``dim``, then they are concatenated."""
    return cat([unsqueeze(as_tensor(t), dim) for t in tensors], dim=dim)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    condition = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    return Where.apply(as_tensor(a, like), as_tensor(b, like), condition=condition.astype(bool))


def maximum(a: Any, b: Any) -> Tensor:
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    return Minimum.apply(a, b)


def clip(a: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    return Clip.apply(a, lo=min, hi=max)


clamp = clip


# ---- activations ---------------------------------------------------------------------------------------------------
def relu(a: Any) -> Tensor:
    return ReLU.apply(a)


def leaky_relu(a: Any, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(a, slope=negative_slope)


def sigmoid(a: Any) -> Tensor:
    return Sigmoid.apply(a)


def tanh(a: Any) -> Tensor:
    return Tanh.apply(a)


def softmax(a: Any, dim: int = -1) -> Tensor:
    return Softmax.apply(a, dim=dim)


def log_softmax(a: Any, dim: int = -1) -> Tensor:
    return LogSoftmax.apply(a, dim=dim)


def identity(a: Any) -> Tensor:
    return as_tensor(a)


# ---- losses --------------------------------------------------------------------------------------------------------
def _array_or_none(w: Any) -> np.ndarray | None:
    return None if w is None else (w.data if isinstance(w, Tensor) else np.asarray(w))


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    return MSE.apply(input, target, reduction=reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    return L1.apply(input, target, reduction=reduction)


def binary_cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    return BCE.apply(input, target, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    return BCEWithLogits.apply(input, target, reduction=reduction)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Cross-entropy from logits and class indices (or class probabilities), PyTorch's ``F.cross_entropy``."""
    return CrossEntropy.apply(input, target, weight=_array_or_none(weight), reduction=reduction)


def nll_loss(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:  # noqa: A002
    return NLL.apply(input, target, weight=_array_or_none(weight), reduction=reduction)


__all__ = [name for name in dir() if not name.startswith("_")]
