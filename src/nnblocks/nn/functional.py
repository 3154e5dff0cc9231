"""The functional API (PyTorch's ``torch.nn.functional``): the ops of ``nnblocks.ops``, plus dropout and batch norm."""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import ShapeError
from nnblocks.ops import (  # noqa: F401 - re-exported
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    leaky_relu,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from nnblocks.ops.norm import BatchNorm
from nnblocks.random import SeedLike, get_generator
from nnblocks.tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True, seed: SeedLike = None) -> Tensor:
    """Zero each element with probability p and scale survivors by 1/(1-p) (identity when not training)."""
    if not training or p == 0:
        return x
    keep = get_generator(seed).random(x.shape) >= p
    return x * (keep * np.asarray(1 / (1 - p), dtype=x.dtype)) if p < 1 else x * 0.0


def batch_norm(x: Tensor, running_mean: np.ndarray | None, running_var: np.ndarray | None, weight: Tensor,
               bias: Tensor, training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
               module: Any = None) -> Tensor:
    """Batch normalisation of a (batch, features) input; see ``nnblocks.ops.norm``.

    When training, the batch's statistics are used and the running ones (arrays, updated in place) move towards them
    by ``momentum``; the running variance uses the unbiased (n - 1) estimate, as PyTorch does.
    """
    if x.ndim != 2 or x.shape[1] != weight.shape[0]:
        raise ShapeError(f"batch_norm: expected input of shape (batch, {weight.shape[0]}), got {x.shape}")
    if training:
        n = x.shape[0]
        if n < 2:
            raise ShapeError(f"batch_norm: training needs more than one sample per batch, got input of shape {x.shape}")
        mean, var = x.data.mean(axis=0), x.data.var(axis=0)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += (momentum * n / (n - 1)) * var
            if module is not None:
                module._buffers["num_batches_tracked"] += 1
    else:
        mean, var = running_mean, running_var
    return BatchNorm.apply(x, weight, bias, mean=mean, var=var, eps=eps, training=training)
