"""Questions about a tensor's values, whose answers carry no gradient: ``all``, ``any``, ``unique``.

``all``/``any`` answer with a boolean tensor (0-d without ``dim``), so ``assert torch.all(a == b)`` works through
``bool()``; ``unique`` gives the sorted distinct values (``tr_targets.unique()``), optionally with the inverse
indices and the counts, as ``torch.unique``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnblocks.errors import NotSupportedError
from nnblocks.ops.base import as_tensor
from nnblocks.ops.registry import register
from nnblocks.ops.shape import check_dim
from nnblocks.tensor import Tensor


def _truth(name: str, reducer: Callable) -> Callable:
    def test(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002 - PyTorch's names
        x = as_tensor(input)
        axis = None
        if dim is not None:
            check_dim(name, dim, max(x.ndim, 1))  # a 0-d tensor takes dim 0 (or -1), as in PyTorch
            axis = dim if x.ndim else None
        out = np.asarray(reducer(x._data, axis=axis, keepdims=keepdim and dim is not None))
        # as PyTorch: the answer is boolean, except for uint8 input, which it keeps (an old convention)
        return Tensor._wrap(out.astype(np.uint8) if x._data.dtype == np.uint8 else out)

    test.__name__ = test.__qualname__ = name
    test.__doc__ = (f"Whether {'every' if name == 'all' else 'some'} element is non-zero (over all elements, or along "
                    "``dim``): a boolean tensor.")
    return test


register("all")(_truth("all", np.all))
register("any")(_truth("any", np.any))


@register("unique")
def unique(input: Any, sorted: bool = True, return_inverse: bool = False,  # noqa: A002 - PyTorch's names
           return_counts: bool = False, dim: Any = None) -> Any:
    """The distinct values, sorted (also with ``sorted=False``, as PyTorch on the CPU); with ``return_inverse`` the
    index of each element's value in them (shaped like the input), with ``return_counts`` how often each occurs."""
    if dim is not None:
        raise NotSupportedError("unique(dim=...): unique rows or columns are not in nnblocks; use "
                                "np.unique(x.numpy(), axis=dim)")
    x = as_tensor(input)
    values, inverse, counts = np.unique(x._data, return_inverse=True, return_counts=True)
    out = [Tensor._wrap(values)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.reshape(x.shape).astype(np.int64)))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)
