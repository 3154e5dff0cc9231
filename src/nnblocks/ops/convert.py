"""Conversions: another dtype (``t.float()``, ``t.to(torch.float64)``, ``t.type(...)``), another device
(``t.to('cpu')``, ``t.cpu()``, ``t.cuda()``), as PyTorch's Tensor methods.

As in PyTorch, a conversion to what the tensor already is returns the tensor itself (no copy; ``copy=True`` asks for
one), so ``x.float().to(device)`` on a float32 CPU tensor costs nothing. A conversion to another float dtype is an op
(``AsType``): the gradient flows back, converted to the source dtype. To an integer or boolean dtype there is no
gradient (PyTorch's result does not require grad either).

The device is always the CPU (``nnblocks.devices``): ``to('cpu')`` and ``cpu()`` return the tensor; CUDA and the
other accelerators raise ``DeviceError``.

Differs from PyTorch on purpose: ``to()`` and ``type()`` also take NumPy dtypes (``t.to(np.float64)``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.devices import check_device
from nnblocks.dtypes import TENSOR_TYPES, dtype, to_numpy
from nnblocks.errors import InvalidArgumentError, NotSupportedError
from nnblocks.ops.base import Function
from nnblocks.ops.registry import register
from nnblocks.tensor import Tensor


class AsType(Function):
    """z = a converted to another float dtype;  the gradient is converted back to a's dtype."""

    kind = "elementwise"
    formula = "{z} = astype({a})"
    derivatives = ("1",)
    promotes = False  # the dtype asked for is the dtype given

    def forward(self, a: np.ndarray, dtype: Any = None) -> np.ndarray:
        self.dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g.astype(self.dtype)


@register("astype")
def astype(a: Tensor, dtype: Any) -> Tensor:
    """A copy converted to ``dtype``; to a float dtype the gradient flows back (converted to ``a``'s dtype)."""
    numpy_dtype = to_numpy(dtype, "astype")
    if numpy_dtype.kind != "f" or a._data.dtype.kind != "f":
        return Tensor._wrap(a._data.astype(numpy_dtype))
    return AsType.apply(a, dtype=numpy_dtype)


def _convert(t: Tensor, target: Any, copy: bool = False, owner: str = "to") -> Tensor:
    """``t`` itself when it already has dtype ``target`` (None: keep it), unless ``copy``; else ``astype``."""
    if target is None or to_numpy(target, owner) == t._data.dtype:
        return t.clone() if copy else t
    return astype(t, target)


def _is_dtype(value: Any) -> bool:
    return isinstance(value, (dtype, np.dtype)) or (isinstance(value, type) and issubclass(value, (np.generic, float,
                                                                                                  int, bool)))


def to_arguments(args: tuple, kwargs: dict) -> tuple[Any, Any, bool]:
    """(device, dtype, copy) from ``to()``'s forms: (device), (device, dtype), (dtype), (tensor), each followed by
    the flags non_blocking and copy, by position or by name."""
    target_device, target_dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    flags = {"non_blocking": kwargs.pop("non_blocking", False), "copy": kwargs.pop("copy", False)}
    if kwargs.pop("memory_format", None) is not None:
        raise NotSupportedError("to(memory_format=...): nnblocks arrays have one layout (NumPy's); leave it out")
    if kwargs:
        raise InvalidArgumentError(f"to() got unexpected keyword arguments {sorted(kwargs)}; it takes a device, a "
                                   "dtype or a tensor, then non_blocking= and copy=")
    rest = list(args)
    if rest:
        first = rest.pop(0)
        if isinstance(first, Tensor):
            target_dtype = first._data.dtype
        elif _is_dtype(first):
            target_dtype = first
        else:
            target_device = first
            if rest and _is_dtype(rest[0]):
                target_dtype = rest.pop(0)
    if len(rest) > 2 or not all(isinstance(flag, bool) for flag in rest):
        raise InvalidArgumentError(f"to(): cannot read the arguments {args!r}; expected to(device), to(dtype), "
                                   "to(device, dtype) or to(other_tensor), optionally with non_blocking and copy")
    flags.update(zip(("non_blocking", "copy"), rest))
    return target_device, target_dtype, bool(flags["copy"])


@register("to", functional=False)
def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``t.to(device)``, ``t.to(dtype)``, ``t.to(device, dtype)``, ``t.to(other)`` (other's dtype), with
    ``non_blocking=`` (ignored: nothing is asynchronous) and ``copy=``. Returns ``t`` itself when nothing changes."""
    target_device, target_dtype, copy = to_arguments(args, kwargs)
    check_device(target_device, "Tensor.to()")
    return _convert(self, target_dtype, copy)


@register("cpu", functional=False)
def cpu(self: Tensor, memory_format: Any = None) -> Tensor:
    """The tensor itself: it is on the CPU already (every nnblocks tensor is)."""
    return self


@register("cuda", functional=False)
def cuda(self: Tensor, device: Any = "cuda", non_blocking: bool = False, memory_format: Any = None) -> Tensor:
    """Always a ``DeviceError``: nnblocks computes on the CPU with NumPy (PyTorch without CUDA raises too)."""
    check_device("cuda" if device is None or isinstance(device, int) else device, "Tensor.cuda()")
    return self


@register("type", functional=False)
def type_(self: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """Without an argument, the legacy type name (``'torch.FloatTensor'``); with a dtype (or such a name), the tensor
    converted to it (itself when it has it already)."""
    if dtype is None:
        for name, known in TENSOR_TYPES.items():
            if known.dtype == self._data.dtype:
                return name
        return f"torch.{self._data.dtype.name}"
    return _convert(self, dtype, owner="type")


@register("contiguous", functional=False)
def contiguous(self: Tensor, memory_format: Any = None) -> Tensor:
    """The tensor itself: every op takes NumPy arrays in any memory layout."""
    return self


def _conversion(name: str, target: str) -> None:
    def convert(self: Tensor, memory_format: Any = None) -> Tensor:
        return _convert(self, target, owner=name)

    convert.__name__ = convert.__qualname__ = name
    convert.__doc__ = f"The tensor as {target} (itself when it is {target} already)."
    register(name, functional=False)(convert)


for _name, _target in (("float", "float32"), ("double", "float64"), ("half", "float16"), ("long", "int64"),
                       ("int", "int32"), ("short", "int16"), ("byte", "uint8"), ("char", "int8"), ("bool", "bool")):
    _conversion(_name, _target)
