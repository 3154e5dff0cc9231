"""How a tensor prints: as PyTorch prints it, so the book's printed outputs read the same.

    tensor([[1.5000, 2.0000]], requires_grad=True)
    tensor([1, 2])
    tensor([1.], dtype=torch.float64)
    tensor(0.3346, grad_fn=<MeanBackward0>)

Floats show 4 decimals (or ``1.`` when every value is integral), switching to scientific notation when the values
span many orders of magnitude (NumPy's rule, which is PyTorch's); more than 1000 elements are summarised with the first
and last 3 of each row. The dtype is shown unless it is a default one (the default float dtype, int64, bool); the
graph as ``grad_fn=<{op}Backward0>`` or ``requires_grad=True``. The device is never shown: it is always the CPU.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.dtypes import as_dtype, default_numpy


def describe(t: Any) -> str:
    """``repr(t)`` as PyTorch prints it: the values (4 decimals, or integral floats as ``1.``), then the dtype when it
    is not a default one, then the graph (``grad_fn=<MulBackward0>`` or ``requires_grad=True``)."""
    array = t._data
    options: dict[str, Any] = {"precision": 4, "separator": ", ", "prefix": "tensor(", "threshold": 1000,
                               "edgeitems": 3, "max_line_width": 80}
    if array.dtype.kind == "f" and array.size:
        finite = array[np.isfinite(array)]
        integral = finite.size == 0 or bool(np.all(finite == np.round(finite)))
        options["floatmode"] = "maxprec" if integral else "fixed"
    elif array.dtype.kind == "b" and array.size:
        width = 4 if array.all() else 5  # PyTorch pads to the widest value shown; NumPy always to "False"
        options["formatter"] = {"bool": lambda v: str(bool(v)).rjust(width)}
    body = np.array2string(array, **options)
    extras = []
    default = array.dtype == default_numpy()
    if not default and (array.size == 0 or array.dtype.kind not in "b" and array.dtype != np.int64):
        extras.append(f"dtype={t.dtype}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name}Backward0>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
