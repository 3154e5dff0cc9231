"""Weight penalties (L1, L2): a term added to the training loss, built from ops so that backward differentiates it.

    loss = loss_fn(model(x), y) + 1e-4 * l1_penalty(weights) + 1e-3 * l2_penalty(weights)

- ``l1_penalty(ps) = sum_p sum_i |p_i|``; its gradient is ``sign(p_i)`` (0 at 0, as PyTorch's ``abs``): it pushes
  every weight towards zero by the same amount, so small weights reach zero (sparse weights).
- ``l2_penalty(ps) = sum_p sum_i p_i^2``, the *squared* Euclidean norm (``squared=False``: the norm itself,
  ``sqrt(sum p^2)``); the squared form's gradient is ``2 p_i``: big weights shrink fastest. Under plain SGD, adding
  ``lambda * l2_penalty`` makes the same updates as ``weight_decay = 2 * lambda``.

Which tensors to penalize is the caller's choice: pass ``model.parameters()`` for all of them, or only the Linear
layers' weights (the usual choice: a bias shifts a unit, it does not make the model more complex).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from nnblocks.errors import InvalidArgumentError
from nnblocks.tensor import Tensor, get_default_dtype


def _tensors(parameters: Iterable[Tensor], name: str) -> list[Tensor]:
    tensors = list(parameters)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise InvalidArgumentError(f"{name}: expected nnblocks Tensors (e.g. model.parameters()), "
                                       f"got a {type(t).__name__}")
    return tensors


def _total(terms: list[Tensor], dtype: np.dtype) -> Tensor:
    """The sum of 0-d terms, in order (no parameters: a constant 0 without gradient)."""
    if not terms:
        return Tensor(np.zeros((), dtype=dtype))
    return sum(terms[1:], terms[0])


def l1_penalty(parameters: Iterable[Tensor]) -> Tensor:
    """``sum_p sum_i |p_i|`` over the given tensors, a 0-d Tensor whose gradient is ``sign(p)``."""
    tensors = _tensors(parameters, "l1_penalty")
    dtype = tensors[0].dtype if tensors else get_default_dtype()
    return _total([p.abs().sum() for p in tensors], dtype)


def l2_penalty(parameters: Iterable[Tensor], squared: bool = True) -> Tensor:
    """``sum_p sum_i p_i^2`` (gradient ``2 p``), or with ``squared=False`` its square root, the Euclidean norm of
    all the tensors together (gradient ``p / norm``; undefined when every element is 0, so NaN there)."""
    tensors = _tensors(parameters, "l2_penalty")
    dtype = tensors[0].dtype if tensors else get_default_dtype()
    total = _total([(p * p).sum() for p in tensors], dtype)
    return total if squared else total.sqrt()
