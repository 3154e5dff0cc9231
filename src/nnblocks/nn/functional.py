"""The functional API (PyTorch's ``torch.nn.functional``): every activation and loss registered in ``nnblocks.ops``
(``F.relu``, ``F.softmax``, ``F.cross_entropy``...), ``linear``, ``conv2d`` and the pooling functions, and dropout,
dropout2d, batch norm and one_hot, defined here."""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import DTypeError, InvalidValueError, ShapeError
from nnblocks.ops import linear  # noqa: F401 - re-exported
from nnblocks.ops import adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d  # noqa: F401 - re-exported (chapter 4)
from nnblocks.ops.batchnorm import BatchNorm, batch_statistics
from nnblocks.ops.registry import lookup, registered
from nnblocks.random import SeedLike, get_generator
from nnblocks.tensor import Tensor


def __getattr__(name: str) -> Any:
    """``F.relu``, ``F.mse_loss``...: looked up in the registry, so an activation registered later is here too."""
    entry = lookup(name)
    if entry is not None and entry.kind in ("activation", "loss"):
        return entry.function
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *(e.name for e in registered() if e.kind in ("activation", "loss"))])


def dropout(x: Tensor, p: float = 0.5, training: bool = True, seed: SeedLike = None) -> Tensor:
    """Zero each element with probability p and scale survivors by 1/(1-p) (identity when not training)."""
    return _dropout("dropout", x, p, training, seed, x.shape)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, seed: SeedLike = None) -> Tensor:
    """Zero whole channels of (N, C, H, W) images with probability p, scale the kept ones by 1/(1-p)."""
    if x.ndim != 4:
        raise ShapeError(f"dropout2d: expected images of shape (N, C, H, W), got {x.shape}")
    return _dropout("dropout2d", x, p, training, seed, x.shape[:2] + (1, 1))


def _dropout(name: str, x: Tensor, p: float, training: bool, seed: SeedLike, mask_shape: tuple[int, ...]) -> Tensor:
    """x times a mask of ``mask_shape`` (broadcast over x): 0 with probability p, else 1/(1-p)."""
    if not 0 <= p <= 1:
        raise InvalidValueError(f"{name}: p must be a probability in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    # masks drawn in the input's float dtype: float32 draws are half the work, and nn.Dropout draws the same way
    uniform = get_generator(seed).random(mask_shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
    return x * ((uniform >= p) * np.asarray(1 / (1 - p), dtype=x.dtype))


def batch_norm(x: Tensor, running_mean: np.ndarray | None, running_var: np.ndarray | None, weight: Tensor | None,
               bias: Tensor | None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
               module: Any = None) -> Tensor:
    """Batch normalisation of a (batch, features) input, or per channel of (N, C, L) / (N, C, H, W) inputs (every
    position of a channel shares its statistics); see ``nnblocks.ops.batchnorm``.

    When training, the batch's statistics are used and the running ones (arrays, updated in place) move towards them
    by ``momentum``; the running variance uses the unbiased (n - 1) estimate, as PyTorch does.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    known = weight if weight is not None else running_mean
    features = known.shape[0] if known is not None else x.shape[min(1, x.ndim - 1)] if x.ndim else 0
    if x.ndim not in (2, 3, 4) or x.shape[1] != features:
        raise ShapeError(f"batch_norm: expected input of shape (batch, {features}), (batch, {features}, L) or "
                         f"(batch, {features}, H, W), got {x.shape}")
    # affine=False: gamma = 1, beta = 0, as constants (no gradient)
    weight = Tensor(np.ones(features, dtype=x.dtype)) if weight is None else weight
    bias = Tensor(np.zeros(features, dtype=x.dtype)) if bias is None else bias
    if training:
        mean, var, n = batch_statistics(x.data)
        if n < 2:
            raise ShapeError(f"batch_norm: training needs more than one value per channel, got input of shape {x.shape}")
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


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices (any shape, int64) -> int64 one-hot rows of ``num_classes`` (-1: the largest index + 1), as
    PyTorch's ``F.one_hot``: ``one_hot(tensor([0, 2]), 3)`` is ``[[1, 0, 0], [0, 0, 1]]``. No gradient flows."""
    labels = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if labels.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: class indices must be integers (int64), got dtype {labels.dtype}; "
                         "convert them with .long()")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise InvalidValueError(f"one_hot: class indices must lie in [0, {num_classes}), got values "
                                f"{labels.min()}..{labels.max()}")
    return Tensor((labels[..., None] == np.arange(num_classes)).astype(np.int64))
