"""In-place methods: ``t.add_(x)``, ``sub_``, ``mul_``, ``div_``, ``fill_``, ``zero_``, ``copy_``, ``clamp_``: they
write into ``t``'s own array and return ``t``, as PyTorch's methods with a trailing underscore.

They are for data outside a recorded graph: weights updated under ``no_grad()``, a gradient zeroed
(``p.grad.zero_()``), a buffer filled. While a graph is being recorded they refuse a tensor that takes part in it,
with a ``BackwardError`` that says what to write instead:
- a leaf that requires grad (a parameter): PyTorch refuses it too ("a leaf Variable that requires grad is being used
  in an in-place operation");
- a tensor computed from one (a graph node) or an operand that requires grad: PyTorch records such in-place ops in
  the graph; nnblocks does not (its ops never modify their inputs), so write the out-of-place form
  ``y = y.add(x)`` (or ``y = y + x``; ``y += x`` does that by itself: ``Tensor.__iadd__``).

The result keeps ``t``'s dtype: an integer tensor cannot take ``add_(1.5)`` (``DTypeError``, as PyTorch refuses).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.autograd import is_grad_enabled
from nnblocks.errors import BackwardError, InvalidArgumentError, ShapeError
from nnblocks.ops.registry import register
from nnblocks.tensor import Tensor, write_inplace


def check_inplace(t: Tensor, other: Any, name: str) -> None:
    """Raise ``BackwardError`` if writing into ``t`` in place would go around a graph being recorded."""
    if not is_grad_enabled() or not (t._requires_grad or getattr(other, "_requires_grad", False)):
        return
    if t._requires_grad and t.grad_fn is None:
        raise BackwardError(f"{name}(): a leaf tensor of shape {t.shape} that requires grad cannot be changed in place "
                            "while gradients are recorded; do it inside `with nnblocks.no_grad():` (or let an "
                            "optimizer update it)")
    raise BackwardError(f"{name}(): nnblocks does not record in-place ops in the graph, and this one involves a tensor "
                        f"that requires grad; write the out-of-place form, y = y.{name.rstrip('_')}(...)")


def _arithmetic(name: str, ufunc: np.ufunc) -> None:
    def method(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
        check_inplace(self, other, name)
        if alpha != 1:  # PyTorch's add_(other, alpha=a) and sub_(other, alpha=a) use a * other
            if ufunc not in (np.add, np.subtract):
                raise InvalidArgumentError(f"{name}() takes no alpha (only add_ and sub_ do)")
            other = (other._data if isinstance(other, Tensor) else np.asarray(other)) * alpha
        write_inplace(self, ufunc, other, name)
        return self

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In place: t.{name}(x) sets t to t {ufunc.__name__} x (x times alpha) and returns t."
    register(name, functional=False)(method)


for _name, _ufunc in (("add_", np.add), ("sub_", np.subtract), ("mul_", np.multiply), ("div_", np.true_divide)):
    _arithmetic(_name, _ufunc)


@register("fill_", functional=False)
def fill_(self: Tensor, value: Any) -> Tensor:
    """Every element set to ``value`` (converted to the tensor's dtype); returns the tensor."""
    check_inplace(self, value, "fill_")
    self._data[...] = value._data if isinstance(value, Tensor) else value
    return self


@register("zero_", functional=False)
def zero_(self: Tensor) -> Tensor:
    """Every element set to 0 (``p.grad.zero_()``); returns the tensor."""
    check_inplace(self, None, "zero_")
    self._data[...] = 0
    return self


@register("copy_", functional=False)
def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """``src``'s values (broadcast to this shape, converted to this dtype) written into this tensor; returns it."""
    check_inplace(self, src, "copy_")
    values = src._data if isinstance(src, Tensor) else np.asarray(src)
    try:
        np.copyto(self._data, values, casting="unsafe")
    except ValueError:
        raise ShapeError(f"copy_(): a source of shape {values.shape} does not fit a tensor of shape {self.shape}") \
            from None
    return self


@register("clamp_", "clip_", functional=False)
def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Every element clipped into [min, max] (either may be None); returns the tensor."""
    check_inplace(self, None, "clamp_")
    np.clip(self._data, min, max, out=self._data)
    return self
