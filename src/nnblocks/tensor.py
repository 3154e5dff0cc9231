"""Tensor: an ndarray, its gradient, and the op that made it.

A ``Tensor`` wraps a NumPy array (``.data``). When it is the result of an op on tensors that require gradients, it
remembers that op (``.grad_fn``), and the op remembers its inputs: together they form the computational graph.
``loss.backward()`` walks that graph from the loss back to the leaves, in reverse topological order, asking each op
to turn the gradient of its output into gradients of its inputs (the chain rule, one op at a time). The walk and
the switch that turns recording off (``no_grad``) live in ``nnblocks.autograd``.

``.grad`` is a Tensor (or None), as in PyTorch, so ``p.grad.zero_()``, ``p.grad.norm()``, ``p.grad.numpy()`` work.
It wraps the gradient array without copying it: backward stores each leaf's gradient in a Tensor (``Tensor._wrap``;
a large Linear weight's at small batches as a deferred product that ``.grad`` computes when read, see
``autograd.DeferredGradient``); a second backward adds into it in place, as PyTorch. Its cost, with the other
PyTorch semantics (``.data``, ``.grad`` are properties that check what is assigned), by callgrind for one SGD step:
the 2-3-1 network 624k -> 653k instructions (+4.7%; ~170 -> ~180 us on the shared test machine), the 784-1000-10
network at batch 32 21.29M -> 21.31M (+0.08%: its matrix products dominate); deterministic, GC off.

Where nnblocks differs from PyTorch, on purpose:
- ``.data`` is the NumPy array itself (PyTorch: a Tensor sharing the storage); ``.detach()`` is the Tensor. Assigning
  ``t.data = ...`` takes a Tensor (its array is shared) or an ndarray.
- ``Tensor(array)`` wraps a NumPy array as it is: same dtype, no copy (PyTorch's ``torch.Tensor(array)`` copies to
  float32). Python data takes the default float dtype, as in PyTorch: ``Tensor([[1, 2]])`` is float32 (while
  ``nnblocks.tensor([[1, 2]])`` infers int64). Integers are sizes, as in PyTorch: ``Tensor(2, 3)`` has shape (2, 3),
  filled with zeros (PyTorch leaves it uninitialised); a float is a 0-d tensor (PyTorch refuses it).
- ``np.asarray(t)`` (and so matplotlib) works on a tensor that requires a gradient: there is no device copy to guard.
- gradients of intermediate tensors are kept only when asked (``t.retain_grad()``), as in PyTorch.
"""
from __future__ import annotations

import operator
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
from nnblocks.devices import CPU, device
from nnblocks.dtypes import (  # noqa: F401 - the default dtype's functions are also importable from here
    as_dtype,
    check_numbers,
    default_dtype,
    default_numpy,
    from_python,
    get_default_dtype,
    set_default_dtype,
    show,
    to_numpy,
)
from nnblocks.errors import BackwardError, DTypeError, InvalidArgumentError, InvalidValueError, ShapeError, ZeroDimError
from nnblocks.printing import describe


_new_object = object.__new__  # bound once: Tensor._wrap runs for every op's result


def _constructor_array(args: tuple, dtype: Any) -> np.ndarray:
    """What ``Tensor(*args)`` holds: PyTorch's legacy constructor, with arrays wrapped as they are (see module doc)."""
    if not args:
        return np.zeros(0, dtype=dtype or default_numpy())
    data = args[0]
    if all(isinstance(a, int) and not isinstance(a, bool) for a in args):  # Tensor(2, 3): sizes, as PyTorch
        return np.zeros(args, dtype=dtype or default_numpy())
    if len(args) > 1:
        raise InvalidArgumentError(f"Tensor() takes one data argument or integer sizes, got {len(args)} arguments "
                                   f"{show(args)}; use nnblocks.tensor(data) or nnblocks.zeros(*sizes)")
    if isinstance(data, Tensor):
        array = data._data
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
        check_numbers(array, data, "Tensor()")
    elif data is None or isinstance(data, (str, bool)):
        raise InvalidArgumentError(f"Tensor(): data must be numbers (a list, a tuple, an array, a float), got "
                                   f"{show(data)}")
    else:  # lists, tuples, and (unlike PyTorch, which refuses it) a float: a 0-d tensor
        array = from_python(data, "Tensor()")
        if array.dtype.kind != "c":  # Python data takes the default float dtype, as torch.Tensor(...) does
            array = array.astype(default_numpy())
    return array if dtype is None else array.astype(dtype, copy=False)


class Tensor:
    """An n-dimensional array that can record the operations applied to it, for reverse-mode differentiation.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.]])
    """

    __slots__ = ("_data", "_grad", "_requires_grad", "grad_fn", "_retain_grad", "name", "__weakref__")
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, *data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> None:
        self._data: np.ndarray = _constructor_array(data, None if dtype is None else to_numpy(dtype, "Tensor()"))
        self._grad: Tensor | None = None
        self.grad_fn = None  # the Function that produced this tensor (None for leaves)
        self._retain_grad = False
        self._requires_grad = False
        self.name = name
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, array: np.ndarray) -> "Tensor":
        """A tensor around ``array`` as it is (no checks, no copy): what ops and backward build their results with."""
        t = _new_object(cls)
        t._data, t._grad, t.grad_fn, t._retain_grad, t._requires_grad, t.name = array, None, None, False, False, None
        return t

    # ---- the array and the gradient ---------------------------------------------------------------------------------
    def _set_data(self, value: Any) -> None:
        if isinstance(value, Tensor):
            value = value._data
        elif not isinstance(value, np.ndarray):
            raise InvalidArgumentError(f"Tensor.data must be set to a Tensor or a NumPy array, got "
                                       f"{type(value).__name__}")
        self._data = value

    # a property over the slot, so that assigning a Tensor stores its array; reading it costs ~0.1 us more than a slot
    data = property(operator.attrgetter("_data"), _set_data, doc="The NumPy array (shared, not copied).")

    @property
    def grad(self) -> "Tensor | None":
        """The gradient of the last backward() with respect to this tensor (None before one)."""
        grad = self._grad
        if grad is not None and type(grad) is not Tensor and isinstance(grad, autograd.DeferredGradient):
            grad = self._grad = Tensor._wrap(grad.materialize())  # computed now that it is read (autograd.py)
        return grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise InvalidArgumentError(f"a .grad must be a Tensor or None, got {type(value).__name__}; wrap an "
                                           "array with nnblocks.Tensor(array)")
            if value.shape != self.shape:
                raise ShapeError(f"cannot assign a gradient of shape {value.shape} to a tensor of shape {self.shape}")
            if value._data.dtype != self._data.dtype:
                raise DTypeError(f"cannot assign a gradient of dtype {value.dtype} to a tensor of dtype {self.dtype}")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self._data.dtype.kind not in "fc":
            raise DTypeError(
                f"only floating-point tensors can require gradients; this tensor has dtype {self.dtype} "
                f"and shape {self.shape} (convert with .float() first)"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
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
        return Tensor._wrap(self._data)

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor: fill ``.grad`` of every leaf that requires a gradient.

        Gradients accumulate (``+=``) into leaves, as in PyTorch; call ``zero_grad()`` between steps. The graph's
        saved arrays are freed afterwards unless ``retain_graph=True``; a second backward through a freed graph raises
        ``BackwardError`` instead of silently producing wrong gradients.
        """
        if not self._requires_grad:
            raise BackwardError(
                f"backward() on a tensor of shape {self.shape} that does not require grad: no input of the ops that "
                "made it has requires_grad=True (or it was computed under no_grad())"
            )
        if gradient is None:
            if self._data.size != 1:
                raise BackwardError(
                    f"backward() needs a gradient argument for a non-scalar output of shape {self.shape}; "
                    "reduce it first (e.g. loss.mean()) or pass gradient= an array of that shape"
                )
            seed = np.ones_like(self._data)
        else:
            # a copy: the caller's array may otherwise end up as some leaf's .grad, aliased both ways
            given = gradient._data if isinstance(gradient, Tensor) else from_python(gradient, "backward()")
            seed = np.array(given, dtype=self._data.dtype)
            if seed.shape != self._data.shape:
                raise BackwardError(f"backward(): gradient of shape {seed.shape} given for an output of shape "
                                    f"{self.shape}")
        autograd.backward(self, seed, retain_graph)

    # ---- what it is: shape, dtype, device ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> Any:
        """PyTorch's name for the NumPy dtype (prints as ``torch.float32``, equals ``np.float32``)."""
        return as_dtype(self._data.dtype)

    @property
    def device(self) -> device:
        """Always the CPU: nnblocks computes with NumPy."""
        return CPU

    is_cuda = False

    def get_device(self) -> int:
        return -1  # PyTorch's answer for a CPU tensor

    def size(self, dim: int | None = None) -> Any:
        """PyTorch's ``size()``: the shape, or one dimension of it."""
        return self._data.shape if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    # ---- Python's protocols: length, iteration, numbers, truth, formatting, NumPy -----------------------------------
    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise ZeroDimError("len() of a 0-d tensor (a single number): use .item() to read it")
        return len(self._data)

    def __iter__(self) -> Iterator["Tensor"]:
        """The rows (``for row in x``, ``a, b = t``, ``list(t)``), as in PyTorch; each row keeps the graph."""
        if self._data.ndim == 0:
            raise ZeroDimError("iteration over a 0-d tensor (a single number): use .item() to read it")
        if self._requires_grad and is_grad_enabled():
            return (ops.getitem(self, i) for i in range(len(self._data)))
        return (Tensor._wrap(row) for row in self._data)

    def __contains__(self, value: Any) -> bool:
        return bool((self._data == _operand(value, "in")).any())

    def item(self) -> Any:
        """The single element as a Python number."""
        if self._data.size != 1:
            raise ShapeError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self._data.item()

    def __float__(self) -> float:
        return float(self._scalar("float()"))

    def __int__(self) -> int:
        return int(self._scalar("int()"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise InvalidArgumentError(f"only integer tensors of a single element can be used as an index; this one "
                                       f"has dtype {self.dtype} and shape {self.shape}")
        return int(self._data.item())

    def __bool__(self) -> bool:
        return bool(self._scalar("bool()"))

    def _scalar(self, what: str) -> Any:
        if self._data.size != 1:
            raise ShapeError(f"{what} needs a tensor with one element (only one element tensors can be converted to "
                             f"Python scalars), this one has shape {self.shape}; reduce it first (.sum(), .any())")
        return self._data.item()

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor as its number, as in PyTorch."""
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        if spec:
            raise InvalidArgumentError(f"the format {spec!r} applies to a 0-d tensor only; this one has shape "
                                       f"{self.shape} (format its .tolist() or one element)")
        return str(self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The array, for NumPy and matplotlib (also when requires_grad: see the module docstring)."""
        if copy is False and dtype is not None and np.dtype(dtype) != self._data.dtype:
            raise InvalidValueError(f"np.asarray(copy=False): a {self.dtype} tensor cannot be viewed as "
                                    f"{np.dtype(dtype)} without a copy")  # NumPy's protocol: a ValueError
        array = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return array.copy() if copy and array is self._data else array

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self._data

    def tolist(self) -> Any:
        return self._data.tolist()

    def __repr__(self) -> str:
        return describe(self)  # nnblocks.printing: as PyTorch prints a tensor

    def __hash__(self) -> int:
        return id(self)

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

    # In-place arithmetic. Outside a recorded graph (``with no_grad(): w -= lr * w.grad``) it updates the array itself,
    # as in PyTorch. While a graph is recorded, ``x += y`` rebinds the name x to a new node x + y (Python falls back
    # to __add__ when this returns NotImplemented): the book's ``l1 = 0; l1 += torch.norm(p, 1)`` keeps its gradient.
    # The methods add_(), mul_()... are in nnblocks.ops.inplace.
    def _inplace(self, other: Any, ufunc: np.ufunc, symbol: str) -> "Tensor":
        if is_grad_enabled() and (self._requires_grad or getattr(other, "_requires_grad", False)):
            if self._requires_grad and self.grad_fn is None:
                raise BackwardError(
                    f"in-place {symbol} on a leaf tensor of shape {self.shape} that requires grad while gradients are "
                    "being recorded: update parameters inside `with nnblocks.no_grad():` (or let an optimizer do it)"
                )
            return NotImplemented
        write_inplace(self, ufunc, other, symbol)
        return self

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.add, "+=")

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.subtract, "-=")

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.multiply, "*=")

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.true_divide, "/=")

    def __getitem__(self, index: Any) -> "Tensor":
        return ops.getitem(self, index)

    # comparisons give boolean tensors and no gradient
    def __lt__(self, other: Any) -> "Tensor":
        return Tensor._wrap(self._data < _operand(other, "<"))

    def __le__(self, other: Any) -> "Tensor":
        return Tensor._wrap(self._data <= _operand(other, "<="))

    def __gt__(self, other: Any) -> "Tensor":
        return Tensor._wrap(self._data > _operand(other, ">"))

    def __ge__(self, other: Any) -> "Tensor":
        return Tensor._wrap(self._data >= _operand(other, ">="))

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        """Elementwise, as in PyTorch (``(pred == y).float().mean()`` is an accuracy); ``t == None`` is False. Hashing
        stays by identity, so tensors still work as dict keys and in sets."""
        if other is None:
            return False
        return Tensor._wrap(self._data == _operand(other, "=="))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:
            return True
        return Tensor._wrap(self._data != _operand(other, "!="))

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # ---- methods that are ops ---------------------------------------------------------------------------------------
    # t.sum(), t.sigmoid(), t.reshape(...), t.float(), t.to(...), t.add_(...) and every other op method are put on this
    # class by nnblocks.ops.register (nnblocks.ops.registered() lists them), with the signature of the function.
    @property
    def T(self) -> "Tensor":
        """The axes reversed (the transpose of a matrix)."""
        return ops.permute(self, *reversed(range(self.ndim)))


def _operand(other: Any, symbol: str) -> Any:
    """The array of ``other`` for a comparison or an in-place update; None, strings and objects are refused."""
    if isinstance(other, Tensor):
        return other._data
    if isinstance(other, (int, float, bool, np.ndarray, np.generic)):
        return other
    if other is None:
        raise InvalidArgumentError(f"{symbol}: the other operand is None (a .grad is None until backward() fills it)")
    return from_python(other, symbol)


def write_inplace(t: Tensor, ufunc: np.ufunc, other: Any, name: str) -> None:
    """``t.data = ufunc(t.data, other)`` in place, or a ``DTypeError`` when the result does not fit t's dtype (an
    integer tensor cannot take ``+= 1.5``, as in PyTorch)."""
    operand = _operand(other, name)
    try:
        ufunc(t._data, operand, out=t._data, casting="same_kind")
    except TypeError:
        raise DTypeError(f"{name}: the result of a {t.dtype} tensor and a {as_dtype(np.result_type(operand))} operand "
                         f"cannot be stored in the {t.dtype} tensor in place; convert first (.float())") from None
    except ValueError as exc:
        raise ShapeError(f"{name}: an operand of shape {np.shape(operand)} does not fit a tensor of shape {t.shape} "
                         f"in place: {exc}") from None


# The ops import Tensor from this module, so they are imported after it is defined.
from nnblocks import ops  # noqa: E402
