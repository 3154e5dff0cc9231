"""Tensor: an ndarray, its gradient, and the op that made it.

A ``Tensor`` wraps a NumPy array (``.data``). When it is the result of an op on tensors that require gradients, it
remembers that op (``.grad_fn``), and the op remembers its inputs: together they form the computational graph.
``loss.backward()`` walks that graph from the loss back to the leaves, in reverse topological order, asking each op
to turn the gradient of its output into gradients of its inputs (the chain rule, one op at a time). The walk and
the switch that turns recording off (``no_grad``) live in ``nnblocks.autograd``.

Where nnblocks differs from PyTorch, on purpose:
- ``.grad`` is a plain NumPy array (or None), not a Tensor: gradients are data here, and an optimizer updates
  ``param.data`` in place from ``param.grad`` with NumPy alone.
- gradients of intermediate tensors are kept only when asked (``t.retain_grad()``), as in PyTorch.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator

import numpy as np

from nnblocks import autograd
from nnblocks.autograd import (  # noqa: F401 - also importable from here, where they lived first
    backpropagate,
    enable_grad,
    is_grad_enabled,
    no_grad,
    topological_order,
)
from nnblocks.errors import BackwardError, DTypeError, ShapeError
from nnblocks.random import get_generator

# ---- the default float dtype ---------------------------------------------------------------------------------------
_DEFAULT_DTYPE = np.dtype(np.float32)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype used for Python numbers/lists and new parameters (float32 or float64)."""
    global _DEFAULT_DTYPE
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise DTypeError(f"set_default_dtype: only float32 and float64 are supported, got {dtype}")
    _DEFAULT_DTYPE = dtype


def get_default_dtype() -> np.dtype:
    """The float dtype new tensors and parameters get when none is given (float32 unless changed)."""
    return _DEFAULT_DTYPE


@contextlib.contextmanager
def default_dtype(dtype: Any) -> Iterator[None]:
    """``with default_dtype(np.float64): ...`` switches the default dtype for a block (used by gradient checks)."""
    previous = get_default_dtype()
    set_default_dtype(dtype)
    try:
        yield
    finally:
        set_default_dtype(previous)


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn user data into an ndarray: Python floats get the default dtype, NumPy arrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):  # a NumPy scalar (e.g. from .sum()) keeps its dtype, like an array
        return np.asarray(data)
    array = np.asarray(data)
    if array.dtype.kind == "f" or array.dtype == object:
        array = array.astype(_DEFAULT_DTYPE)
    elif array.dtype.kind in "iu" and array.dtype != np.int64:
        array = array.astype(np.int64)
    return array


class Tensor:
    """An n-dimensional array that can record the operations applied to it, for reverse-mode differentiation.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "_requires_grad", "grad_fn", "_retain_grad", "name", "__weakref__")
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.grad_fn = None  # the Function that produced this tensor (None for leaves)
        self._retain_grad = False
        self._requires_grad = False
        self.name = name
        self.requires_grad = requires_grad

    # ---- gradient bookkeeping ---------------------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind not in "fc":
            raise DTypeError(
                f"only floating-point tensors can require gradients; this tensor has dtype {self.data.dtype} "
                f"and shape {self.data.shape} (convert with .float() first)"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, value: bool = True) -> "Tensor":
        self.requires_grad = value
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def retain_grad(self) -> "Tensor":
        """Keep this (intermediate) tensor's gradient in ``.grad`` after backward, for inspection."""
        self._retain_grad = True
        return self

    def detach(self) -> "Tensor":
        """The same data (shared, not copied), cut from the graph."""
        return Tensor(self.data)

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor: fill ``.grad`` of every leaf that requires a gradient.

        Gradients accumulate (``+=``) into leaves, as in PyTorch; call ``zero_grad()`` between steps. The graph's
        saved arrays are freed afterwards unless ``retain_graph=True``; a second backward through a freed graph raises
        ``BackwardError`` instead of silently producing wrong gradients.
        """
        if not self.requires_grad:
            raise BackwardError(
                f"backward() on a tensor of shape {self.shape} that does not require grad: no input of the ops that "
                "made it has requires_grad=True (or it was computed under no_grad())"
            )
        if gradient is None:
            if self.data.size != 1:
                raise BackwardError(
                    f"backward() needs a gradient argument for a non-scalar output of shape {self.shape}; "
                    "reduce it first (e.g. loss.mean()) or pass gradient= an array of that shape"
                )
            seed = np.ones_like(self.data)
        else:
            # a copy: the caller's array may otherwise end up as some leaf's .grad, aliased both ways
            seed = np.array(_to_array(gradient, self.data.dtype))
            if seed.shape != self.data.shape:
                raise BackwardError(f"backward(): gradient of shape {seed.shape} given for an output of shape {self.shape}")
        autograd.backward(self, seed, retain_graph)

    # ---- NumPy-like views of the data -------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def size(self, dim: int | None = None) -> Any:
        """PyTorch's ``size()``: the shape, or one dimension of it."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> Any:
        if self.data.size != 1:
            raise ShapeError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def to(self, dtype: Any) -> "Tensor":
        """``astype(dtype)``, PyTorch's spelling."""
        return ops.astype(self, dtype)

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def long(self) -> "Tensor":
        return Tensor(self.data.astype(np.int64))

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(", threshold=50)
        extras = []
        if self.data.dtype != _DEFAULT_DTYPE or self.data.dtype.kind != "f":
            extras.append(f"dtype={self.data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __hash__(self) -> int:
        return id(self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    # ---- arithmetic: each dunder calls one differentiable op from nnblocks.ops --------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        return ops.add(self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return ops.add(other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return ops.sub(other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return ops.mul(other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return ops.div(other, self)

    def __pow__(self, exponent: Any) -> "Tensor":
        return ops.pow(self, exponent)

    def __rpow__(self, base: Any) -> "Tensor":
        return ops.pow(base, self)

    def __neg__(self) -> "Tensor":
        return ops.neg(self)

    def __matmul__(self, other: Any) -> "Tensor":
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return ops.matmul(other, self)

    # in-place arithmetic: the idiom ``with no_grad(): w -= lr * w.grad`` updates w itself, as in PyTorch
    def _inplace(self, other: Any, ufunc: np.ufunc) -> "Tensor":
        if is_grad_enabled():
            if self._requires_grad and self.grad_fn is None:
                raise BackwardError(
                    f"in-place update of a tensor of shape {self.shape} that requires grad while gradients are being "
                    "recorded: update parameters inside `with nnblocks.no_grad():` (or let an optimizer do it)"
                )
            return NotImplemented  # Python then computes ``self op other`` out of place: the graph stays correct
        ufunc(self.data, _to_array(other), out=self.data, casting="same_kind")
        return self

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.add)

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.subtract)

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.multiply)

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.true_divide)

    def zero_(self) -> "Tensor":
        """Set every element to 0 in place (the data, not the graph)."""
        self.data[...] = 0
        return self

    def __getitem__(self, index: Any) -> "Tensor":
        return ops.getitem(self, index)

    # comparisons give boolean tensors and no gradient
    def __lt__(self, other: Any) -> "Tensor":
        return Tensor(self.data < _to_array(other))

    def __le__(self, other: Any) -> "Tensor":
        return Tensor(self.data <= _to_array(other))

    def __gt__(self, other: Any) -> "Tensor":
        return Tensor(self.data > _to_array(other))

    def __ge__(self, other: Any) -> "Tensor":
        return Tensor(self.data >= _to_array(other))

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        """Elementwise, as in PyTorch (``(pred == y).float().mean()`` is an accuracy). Hashing stays by identity,
        so tensors still work as dict keys and in sets."""
        return Tensor(self.data == _to_array(other))

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return Tensor(self.data != _to_array(other))

    eq, ne = __eq__, __ne__

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        out = np.argmax(self.data, axis=dim)
        return Tensor(np.expand_dims(out, dim) if keepdim and dim is not None else out)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        out = np.argmin(self.data, axis=dim)
        return Tensor(np.expand_dims(out, dim) if keepdim and dim is not None else out)

    # ---- methods that are ops ---------------------------------------------------------------------------------------
    # t.sum(), t.sigmoid(), t.reshape(...) and every other op method are put on this class by nnblocks.ops.register,
    # one per registered op (nnblocks.ops.registered() lists them), with the signature of its functional form.
    @property
    def T(self) -> "Tensor":
        """The axes reversed (the transpose of a matrix)."""
        return ops.permute(self, *reversed(range(self.ndim)))


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """``nnblocks.tensor([[1., 2.]])``: PyTorch's spelling of ``Tensor(...)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _factory(fill: Any) -> Any:
    @functools.wraps(fill)
    def make(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Tensor(fill(shape, dtype or _DEFAULT_DTYPE), requires_grad=requires_grad)

    return make


zeros = _factory(np.zeros)
ones = _factory(np.ones)


def randn(*shape: Any, seed: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard-normal samples; ``seed`` is an int or a ``numpy.random.Generator`` (None: the global generator,
    which ``nnblocks.manual_seed`` resets)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    rng = get_generator(seed)
    return Tensor(rng.standard_normal(shape).astype(dtype or _DEFAULT_DTYPE), requires_grad=requires_grad)


def rand(*shape: Any, seed: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1); ``seed`` is an int or a ``numpy.random.Generator``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    rng = get_generator(seed)
    return Tensor(rng.random(shape).astype(dtype or _DEFAULT_DTYPE), requires_grad=requires_grad)


def arange(*args: Any, dtype: Any = None) -> Tensor:
    """``np.arange`` as a tensor: integer arguments give int64, float arguments the default float dtype."""
    values = np.arange(*args, dtype=dtype)
    return Tensor(values if dtype is not None or values.dtype.kind != "f" else values.astype(_DEFAULT_DTYPE))


# The ops import Tensor from this module, so they are imported after it is defined.
from nnblocks import ops  # noqa: E402
