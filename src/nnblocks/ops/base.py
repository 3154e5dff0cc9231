"""Function: the shape of every differentiable op, and ``unbroadcast``, the one helper that undoes broadcasting.

An op is a small class with two methods side by side:

    forward(self, *arrays, **options) -> array        computes the output from NumPy arrays, saves what backward needs
    backward(self, grad) -> tuple of arrays            given dL/d(output), returns dL/d(input) for each input

``Op.apply(*inputs)`` runs forward on the inputs' arrays and, when gradients are being recorded, links the output
tensor to the op (``out.grad_fn``) and the op to its inputs (``op.parents``): that link is the graph.
``self.needs_input_grad[i]`` tells backward which input gradients are wanted, so it can skip the others (for the
first layer of a network, the gradient with respect to the data is never needed and costs a whole matrix product).

Beside the two methods, each op declares once what the rest of the package needs to know about it (``kind``,
``formula``, ``derivatives``: see ``Function``), so the trace, the graph drawing and ``nn`` keep no lists of op names.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.autograd import is_grad_enabled as _enabled
from nnblocks.dtypes import check_numbers, default_numpy, from_python
from nnblocks.errors import InvalidArgumentError, NNBlocksError, ShapeError
from nnblocks.tensor import Tensor

# What an op can be. The graph drawing names activation outputs h and a loss L; the trace lays out "linear" (x W^T + b)
# and "matmul" ops as sums over the contracted index; nn makes a module of every registered activation.
KINDS = ("elementwise", "activation", "loss", "reduction", "shape", "linear", "matmul", "norm", "op")


class Function:
    """A differentiable op: ``forward`` beside ``backward``, and a declaration of what it is.

    The declaration (class attributes, all optional for an op that is never traced or registered):

    - ``kind``: one of ``KINDS`` ("op", the default, says nothing more).
    - ``formula``: the op as ``viz.explain`` prints it, e.g. ``"{z} = sigmoid({a})"``. In it ``{z}`` stands for the
      output's name, ``{a}``, ``{b}``, ``{c}`` for the inputs' names, ``{op.<attribute>}`` for something forward saved
      (``{op.negative_slope}``). Without one, the trace prints the first line of the docstring.
    - ``derivatives``: for each input, its local derivative dz/d(input) element by element, as the trace prints it
      (``("{z}(1-{z})",)``), with the same names, plus ``{i}`` for the element's index. Its numbers come from
      ``local_derivatives``. An input without one gets a single line: the whole gradient pulled back through the op.
    """

    kind = "op"
    formula: str | None = None
    derivatives: tuple[str | None, ...] = ()

    promotes = True  # a float64 result of non-float64 inputs takes PyTorch's dtype (``_promoted``); AsType opts out
    parents: tuple[Tensor, ...] = ()
    needs_input_grad: tuple[bool, ...] = ()
    released = False
    may_defer = False  # set by backward()'s walk alone: a leaf's gradient may be returned deferred (autograd.py)
    owns_grad = False  # set by backward()'s walk alone: backward's g is held by nothing else, it may be updated in place

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        if all(type(x) is Tensor for x in inputs):  # the common case, without the search for ``like``
            tensors = inputs
        else:
            like = next((x for x in inputs if isinstance(x, Tensor)), None)
            tensors = tuple(x if isinstance(x, Tensor) else constant(x, like, cls.__name__) for x in inputs)
        fn = cls()
        try:
            out = fn.forward(*[t._data for t in tensors], **options)  # a list: ~0.4 us less than a generator
        except ValueError as exc:  # NumPy's broadcasting/shape errors, re-raised naming the op and the shapes
            if isinstance(exc, NNBlocksError):  # raised on purpose by the op, with its own message
                raise
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ShapeError(f"{cls.__name__}: inputs of shapes {shapes} do not fit: {exc}") from None
        if type(out) is not np.ndarray:
            out = np.asarray(out)  # a NumPy scalar from a reduction to one number
        if out.dtype is _FLOAT64 and cls.promotes:
            out = _promoted(out, tensors)
        result = _wrap(out)
        if _enabled():
            needs = tuple([t._requires_grad for t in tensors])
            if True in needs:
                fn.parents, fn.needs_input_grad = tensors, needs
                result._requires_grad = True
                result.grad_fn = fn
        return result

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> Any:  # pragma: no cover - interface
        """dL/d(inputs) from dL/d(output): new arrays, or ``grad`` itself or views of it, never an array the op keeps
        (the walk may hand a new array to the next op to update in place)."""
        raise NotImplementedError

    def local_derivatives(self, ones: np.ndarray) -> tuple[Any, ...]:
        """For each input, the numbers the trace multiplies the upstream gradient by: dz/d(input).

        For an op whose output element depends on one element of each input (elementwise ops, and losses or
        reductions to one number), that is the op's own ``backward`` given an upstream gradient of ``ones`` (shaped
        like the output): no second copy of the derivative anywhere. Ops whose output elements each mix many input
        elements (``Linear``, ``MatMul``) override this.
        """
        grads = self.backward(ones)
        return grads if isinstance(grads, tuple) else (grads,)

    def release(self) -> None:
        """Free the arrays saved for backward (called after backward unless ``retain_graph=True``)."""
        self.__dict__.clear()
        self.released = True


_FLOAT64 = np.dtype(np.float64)
_wrap = Tensor._wrap  # looked up once, not at every op


def _promoted(out: np.ndarray, tensors: tuple[Tensor, ...]) -> np.ndarray:
    """PyTorch's type promotion where NumPy's differs: integers combined into floats (``int_tensor / 2``,
    ``int_tensor * 1.5``, ``sqrt(int_tensor)``) give the default float dtype, or the inputs' float dtype, where NumPy
    gives float64. A float64 input keeps a float64 result."""
    dtypes = [t._data.dtype for t in tensors]
    if _FLOAT64 in dtypes:
        return out
    floats = [d for d in dtypes if d.kind == "f"]
    return out.astype(max(floats, key=lambda d: d.itemsize) if floats else default_numpy())


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """Tensors pass through; numbers and arrays become constant tensors (numbers take the dtype of ``like``)."""
    return x if isinstance(x, Tensor) else constant(x, like, "as_tensor")


def constant(x: Any, like: Tensor | None, owner: str) -> Tensor:
    """A constant input of op ``owner``: a number takes the float dtype of ``like`` (so float32 stays float32), an
    array is wrapped as it is, Python data gets ``tensor()``'s dtypes; None and non-numbers are refused by name."""
    if isinstance(x, np.ndarray):
        check_numbers(x, x, owner)
        return _wrap(x)
    if isinstance(x, (int, float, np.number)) and not isinstance(x, bool):
        if like is not None and like._data.dtype.kind == "f":
            return _wrap(np.asarray(x, dtype=like._data.dtype))
        return _wrap(np.asarray(x, dtype=default_numpy()) if isinstance(x, float) else np.asarray(x))
    if x is None:
        raise InvalidArgumentError(f"{owner}: an operand is None; a .grad is None until backward() has filled it "
                                   "(and after zero_grad())")
    array = from_python(x, owner)
    return _wrap(array.astype(default_numpy()) if array.dtype.kind == "f" else array)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape`` again.

    If ``a`` of shape (3,) was added to ``b`` of shape (4, 3), each ``a[j]`` was used 4 times, so its gradient is the
    sum of the 4 upstream gradients in column j: the chain rule summed over every use.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
