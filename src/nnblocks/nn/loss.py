"""Loss modules: PyTorch's names, arguments (``reduction='mean'|'sum'|'none'``) and semantics.

Each is a thin module over a fused op in ``nnblocks.ops.loss``, where the formula and its gradient are written out.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks import ops
from nnblocks.nn.module import Module
from nnblocks.ops.loss import check_reduction
from nnblocks.tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(type(self).__name__, reduction)  # at construction, not at the first batch
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """mean((input - target)^2)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return ops.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """mean(|input - target|) (the chapter's MAE)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return ops.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities (after a sigmoid); logs clamped at -100 as PyTorch does."""

    # The model's output is a probability, not a logit: a predicted class is 1 above 1/2 (not above 0).
    takes_probabilities = True

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return ops.binary_cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step, on raw scores (logits). Prefer it to Sigmoid + BCELoss."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return ops.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)


class _WeightedLoss(_Loss):
    """A class-indexed loss with an optional per-class ``weight`` (C,), kept as a buffer as in PyTorch."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else np.asarray(getattr(weight, "data", weight)))


class CrossEntropyLoss(_WeightedLoss):
    """Log-softmax + negative log-likelihood on logits (N, C) and class indices (N,): do NOT put a Softmax layer
    before it. ``weight`` (C,) rescales each class."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return ops.cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood on log-probabilities (after LogSoftmax) and class indices."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return ops.nll_loss(input, target, weight=self.weight, reduction=self.reduction)
