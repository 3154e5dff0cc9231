"""Making tensors, with PyTorch's functions, arguments and dtype rules: ``tensor``, ``as_tensor``, ``from_numpy``,
``zeros``/``ones``/``full``/``empty``/``eye``/``arange``/``linspace``, their ``*_like`` forms, and the random ones
``rand``/``randn``/``randint``.

Dtypes, as in PyTorch: Python floats take the default float dtype (float32 unless ``set_default_dtype``), Python ints
int64, bools bool; NumPy arrays keep theirs. Shapes are given as several ints (``zeros(2, 3)``) or one sequence
(``zeros((2, 3))``). Every function takes ``device=``, which must mean the CPU (``nnblocks.devices``).

Differs from PyTorch on purpose:
- the random functions draw from NumPy: ``seed=`` (an int or a ``numpy.random.Generator``; ``generator=`` is the
  same) or nnblocks' global generator (``nnblocks.manual_seed``). The same seed gives the same numbers run after run,
  but not PyTorch's numbers.
- ``empty`` (and ``Tensor(2, 3)``) are filled with zeros: PyTorch leaves the memory uninitialised.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nnblocks.devices import check_device
from nnblocks.dtypes import check_numbers, default_numpy, from_python, to_numpy
from nnblocks.errors import InvalidArgumentError, ShapeError
from nnblocks.ops.convert import astype
from nnblocks.random import get_generator
from nnblocks.tensor import Tensor


def _dtype(dtype: Any, owner: str) -> np.dtype:
    return default_numpy() if dtype is None else to_numpy(dtype, owner)


def _finish(array: np.ndarray, device: Any, requires_grad: bool, owner: str) -> Tensor:
    check_device(device, owner)
    return Tensor._wrap(array).requires_grad_(requires_grad) if requires_grad else Tensor._wrap(array)


def _size(size: tuple, owner: str) -> tuple[int, ...]:
    """``(2, 3)`` from ``f(2, 3)`` or ``f((2, 3))`` / ``f([2, 3])``, every size an int >= 0."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise InvalidArgumentError(f"{owner}: sizes must be ints, got {size!r}; e.g. {owner}(2, 3) or "
                                       f"{owner}((2, 3))")
        if n < 0:
            raise ShapeError(f"{owner}: sizes must be >= 0, got {size!r}")
    return tuple(int(n) for n in size)


# ---- from data -------------------------------------------------------------------------------------------------------
def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, numbers, arrays), with PyTorch's dtypes: ``tensor([[1, 2]])``
    is int64, ``tensor([1, 2.5])`` float32 (the default float dtype), ``tensor(np_array)`` keeps the array's dtype."""
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                      "rather than nnblocks.tensor(sourceTensor).", UserWarning, stacklevel=2)
        array = data._data.copy()
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data)  # a copy, as torch.tensor(array) makes one
        check_numbers(array, data, "tensor()")
    else:
        array = from_python(data, "tensor()")
        if dtype is None and array.dtype.kind == "f":
            array = array.astype(default_numpy())  # Python floats (and lists mixing them with ints) -> float32
        elif dtype is None and array.dtype.kind == "c":
            array = array.astype(np.complex64)
    if dtype is not None:
        array = array.astype(to_numpy(dtype, "tensor()"), copy=False)
    return _finish(array, device, requires_grad, "tensor()")


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor without a copy where possible: a tensor itself (converted if ``dtype`` differs), a NumPy
    array shared (its memory, its dtype), other data as ``tensor()`` makes it."""
    check_device(device, "as_tensor()")
    if isinstance(data, Tensor):
        return data if dtype is None or to_numpy(dtype, "as_tensor()") == data._data.dtype else astype(data, dtype)
    if isinstance(data, np.ndarray):
        check_numbers(data, data, "as_tensor()")
        return Tensor._wrap(data if dtype is None else data.astype(to_numpy(dtype, "as_tensor()"), copy=False))
    return tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype (writing into one changes the other), as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise InvalidArgumentError(f"from_numpy: expected a NumPy array, got {type(array).__name__}; for Python data "
                                   "use nnblocks.tensor(data)")
    check_numbers(array, array, "from_numpy()")
    return Tensor._wrap(array)


# ---- filled ----------------------------------------------------------------------------------------------------------
def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``, of the default float dtype unless ``dtype``."""
    return _finish(np.zeros(_size(size, "zeros"), _dtype(dtype, "zeros")), device, requires_grad, "zeros()")


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``, of the default float dtype unless ``dtype``."""
    return _finish(np.ones(_size(size, "ones"), _dtype(dtype, "ones")), device, requires_grad, "ones()")


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor to be filled in: here of zeros (PyTorch leaves the memory uninitialised)."""
    return _finish(np.zeros(_size(size, "empty"), _dtype(dtype, "empty")), device, requires_grad, "empty()")


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``; its dtype follows the value (bool, int64, or the
    default float) unless ``dtype`` is given."""
    if not isinstance(size, (tuple, list)):
        raise InvalidArgumentError(f"full: size must be a tuple or list of ints, got {size!r}; e.g. full((2, 3), 7.0)")
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    if dtype is None:
        dtype = tensor(value)._data.dtype
    return _finish(np.full(_size(tuple(size), "full"), value, dtype=to_numpy(dtype, "full")), device, requires_grad,
                   "full()")


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (n x n without ``m``)."""
    rows, cols = _size((n, n if m is None else m), "eye")
    return _finish(np.eye(rows, cols, dtype=_dtype(dtype, "eye")), device, requires_grad, "eye()")


def _like(name: str, fill: Any) -> Any:
    def like(input: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
        array = input._data if isinstance(input, Tensor) else np.asarray(input)
        dtype = array.dtype if dtype is None else to_numpy(dtype, name)
        return _finish(fill(array.shape, dtype), device, requires_grad, f"{name}()")

    like.__name__ = like.__qualname__ = name
    like.__doc__ = f"``{name.replace('_like', '')}`` with the shape (and dtype, unless ``dtype``) of ``input``."
    return like


zeros_like = _like("zeros_like", np.zeros)
ones_like = _like("ones_like", np.ones)
empty_like = _like("empty_like", np.zeros)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,  # noqa: A002
              requires_grad: bool = False) -> Tensor:
    """``full`` with the shape (and dtype, unless ``dtype``) of ``input``."""
    array = input._data if isinstance(input, Tensor) else np.asarray(input)
    dtype = array.dtype if dtype is None else to_numpy(dtype, "full_like")
    return _finish(np.full(array.shape, fill_value, dtype=dtype), device, requires_grad, "full_like()")


# ---- ranges ----------------------------------------------------------------------------------------------------------
def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``start, start + step, ...`` up to ``end`` (excluded); ``arange(n)`` is 0..n-1. Integer arguments give int64,
    any float one the default float dtype."""
    values = np.arange(start, end, step) if end is not None else np.arange(start)
    if dtype is not None:
        values = values.astype(to_numpy(dtype, "arange"))
    elif values.dtype.kind == "f":
        values = values.astype(default_numpy())
    return _finish(values, device, requires_grad, "arange()")


def linspace(start: Any, end: Any, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` (both included), of the default float dtype."""
    (steps,) = _size((steps,), "linspace")
    return _finish(np.linspace(start, end, steps).astype(_dtype(dtype, "linspace")), device, requires_grad,
                   "linspace()")


# ---- random ----------------------------------------------------------------------------------------------------------
def randn(*size: Any, seed: Any = None, generator: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard-normal samples; ``seed`` (or ``generator``) is an int or a ``numpy.random.Generator`` (None: the
    global generator, which ``nnblocks.manual_seed`` resets)."""
    rng = get_generator(seed if generator is None else generator)
    array = rng.standard_normal(_size(size, "randn")).astype(_dtype(dtype, "randn"))
    return _finish(array, device, requires_grad, "randn()")


def rand(*size: Any, seed: Any = None, generator: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1); ``seed`` (or ``generator``) is an int or a ``numpy.random.Generator``."""
    rng = get_generator(seed if generator is None else generator)
    array = rng.random(_size(size, "rand")).astype(_dtype(dtype, "rand"))
    return _finish(array, device, requires_grad, "rand()")


def randint(*args: Any, size: Any = None, low: Any = None, high: Any = None, seed: Any = None,
            generator: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high) (int64): ``randint(high, size)``, ``randint(low, high, size)`` or by name,
    ``randint(low=0, high=10, size=(3, 4))``."""
    numbers = list(args)
    if size is None and numbers and isinstance(numbers[-1], (tuple, list)):
        size = numbers.pop()
    if len(numbers) == 2 and low is None and high is None:
        low, high = numbers
    elif len(numbers) == 1 and high is None:
        high = numbers[0]
    elif numbers:
        raise InvalidArgumentError(f"randint: cannot read the arguments {args!r}; use randint(high, size), "
                                   "randint(low, high, size) with size a tuple, e.g. randint(0, 10, (3, 4))")
    if high is None or size is None:
        raise InvalidArgumentError("randint: needs high and a size tuple, e.g. randint(0, 10, (3, 4))")
    rng = get_generator(seed if generator is None else generator)
    shape = _size(tuple(size), "randint")
    array = rng.integers(0 if low is None else low, high, size=shape).astype(to_numpy(dtype or np.int64, "randint"))
    return _finish(array, device, requires_grad, "randint()")


# ---- questions -------------------------------------------------------------------------------------------------------
def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a Tensor (a Parameter is one)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:  # noqa: A002 - PyTorch's name
    """The number of elements."""
    return input.numel()
