"""Losses as fused ops: each computes the loss and knows its own gradient, with PyTorch's ``reduction`` argument.

Fused because the composed versions are numerically wrong or slow: softmax followed by log underflows to log(0)
for confident wrong predictions, sigmoid followed by BCE loses precision for large logits, and the fused gradients
(softmax - onehot, sigmoid - y) are one line each.

``reduction``: 'mean' averages over elements (over samples for cross-entropy), 'sum' adds them, 'none' keeps one
loss per element. The gradient follows: for 'mean' every element's gradient is divided by the count n, which each
forward saves as ``self.n``. Each forward takes PyTorch's argument names (``input``, ``target``), which become those
of the functional form (``nnblocks.ops.mse_loss(input, target)``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import DTypeError, InvalidValueError, ShapeError
from nnblocks.ops.activation import stable_sigmoid
from nnblocks.ops.base import Function
from nnblocks.ops.registry import register
from nnblocks.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(name: str, reduction: str) -> None:
    """An InvalidValueError naming ``name`` (the function or the loss module) unless ``reduction`` is known."""
    if reduction not in REDUCTIONS:
        raise InvalidValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


class Loss(Function):
    """A loss op: its derivative's label ends in /n when it is a mean over n (``{op.per}`` in ``derivatives``)."""

    kind = "loss"
    n: Any  # what 'mean' divides by: elements, samples, or the sum of the samples' class weights
    reduction: str

    @property
    def per(self) -> str:
        return f"/{float(self.n):g}" if self.reduction == "mean" else ""


def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _spread(g: np.ndarray, reduction: str, count: int, dtype: np.dtype) -> np.ndarray:
    """The upstream gradient as seen by each element's loss: g/n for 'mean', g for 'sum', g itself for 'none'."""
    return g / np.asarray(count, dtype=dtype) if reduction == "mean" else g


def _check_pair(name: str, prediction: np.ndarray, target: np.ndarray) -> None:
    if prediction.shape != target.shape:
        raise ShapeError(
            f"{name}: prediction of shape {prediction.shape} and target of shape {target.shape} must have the same "
            "shape (nnblocks does not broadcast a loss's target: (N,) against (N, 1) is almost always a bug)"
        )


@register("mse_loss", method=False)
class MSE(Loss):
    """L = (1/n) sum (p - y)^2;  dL/dp = 2 (p - y) / n."""

    formula = "{z} = MSE({a}, {b})"
    derivatives = ("2({a}-{b}){op.per}",)

    def forward(self, input: np.ndarray, target: np.ndarray, reduction: str = "mean") -> np.ndarray:  # noqa: A002
        check_reduction("mse_loss", reduction)
        _check_pair("mse_loss", input, target)
        self.diff, self.reduction, self.n = input - target, reduction, input.size
        return _reduce(self.diff * self.diff, reduction)

    def backward(self, g: np.ndarray) -> tuple:
        d = 2 * self.diff * _spread(g, self.reduction, self.n, self.diff.dtype)
        return d, (-d if self.needs_input_grad[1] else None)


@register("l1_loss", method=False)
class L1(Loss):
    """L = (1/n) sum |p - y|;  dL/dp = sign(p - y) / n."""

    formula = "{z} = L1({a}, {b})"
    derivatives = ("sign({a}-{b}){op.per}",)

    def forward(self, input: np.ndarray, target: np.ndarray, reduction: str = "mean") -> np.ndarray:  # noqa: A002
        check_reduction("l1_loss", reduction)
        _check_pair("l1_loss", input, target)
        diff = input - target
        self.sign, self.reduction, self.n = np.sign(diff), reduction, diff.size
        return _reduce(np.abs(diff), reduction)

    def backward(self, g: np.ndarray) -> tuple:
        d = self.sign * _spread(g, self.reduction, self.n, self.sign.dtype)
        return d, (-d if self.needs_input_grad[1] else None)


@register("binary_cross_entropy", method=False)
class BCE(Loss):
    """L = -(1/n) sum [y log p + (1 - y) log(1 - p)], each log clamped at -100 as PyTorch does, so p = 0 or 1 gives a
    large finite loss instead of inf;  dL/dp = (p - y) / (p (1 - p)) / n, the denominator kept >= 1e-12."""

    formula = "{z} = BCE({a}, {b})"
    derivatives = ("({a}-{b})/({a}(1-{a})){op.per}",)

    def forward(self, input: np.ndarray, target: np.ndarray, reduction: str = "mean") -> np.ndarray:  # noqa: A002
        p, y = input, target
        check_reduction("binary_cross_entropy", reduction)
        _check_pair("binary_cross_entropy", p, y)
        if p.size and (p.min() < 0 or p.max() > 1):
            raise InvalidValueError(
                "binary_cross_entropy: predictions must be probabilities in [0, 1] (apply sigmoid first, or use "
                f"BCEWithLogitsLoss on raw scores); got values from {p.min():.4g} to {p.max():.4g}"
            )
        self.p, self.y, self.reduction, self.n = p, y, reduction, p.size
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_1p = np.maximum(np.log1p(-p), -100)
        return _reduce(-(y * log_p + (1 - y) * log_1p), reduction)

    def backward(self, g: np.ndarray) -> tuple:
        p, y = self.p, self.y
        g = _spread(g, self.reduction, self.n, p.dtype)
        gp = g * (p - y) / np.maximum(p * (1 - p), np.asarray(1e-12, dtype=p.dtype))
        gy = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gy = g * (np.maximum(np.log1p(-p), -100) - np.maximum(np.log(p), -100))
        return gp, gy


@register("binary_cross_entropy_with_logits", method=False)
class BCEWithLogits(Loss):
    """L = (1/n) sum [max(x, 0) - x y + log(1 + e^-|x|)], which equals BCE(sigmoid(x), y) but never overflows;
    dL/dx = (sigmoid(x) - y) / n."""

    formula = "{z} = BCEWithLogits({a}, {b})"
    derivatives = ("(sigmoid({a})-{b}){op.per}",)

    def forward(self, input: np.ndarray, target: np.ndarray, reduction: str = "mean") -> np.ndarray:  # noqa: A002
        x, y = input, target
        check_reduction("binary_cross_entropy_with_logits", reduction)
        _check_pair("binary_cross_entropy_with_logits", x, y)
        self.x, self.y, self.reduction, self.n = x, y, reduction, x.size
        return _reduce(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))), reduction)

    def backward(self, g: np.ndarray) -> tuple:
        g = _spread(g, self.reduction, self.n, self.x.dtype)
        gx = g * (stable_sigmoid(self.x) - self.y)
        return gx, (-g * self.x if self.needs_input_grad[1] else None)


def _check_classes(name: str, scores: np.ndarray, target: np.ndarray) -> None:
    if scores.ndim != 2:
        raise ShapeError(f"{name}: input must have shape (batch, classes), got {scores.shape}")
    if target.dtype.kind not in "iu":
        raise DTypeError(
            f"{name}: target must hold integer class indices of shape ({scores.shape[0]},), got dtype {target.dtype} "
            f"and shape {target.shape} (for one-hot or probability targets pass a float tensor of shape {scores.shape})"
        )
    if target.shape != (scores.shape[0],):
        raise ShapeError(f"{name}: input of shape {scores.shape} needs a target of shape ({scores.shape[0]},), "
                         f"got {target.shape}")
    if target.size and (target.min() < 0 or target.max() >= scores.shape[1]):
        raise InvalidValueError(f"{name}: target class indices must be in [0, {scores.shape[1] - 1}], "
                         f"got values from {target.min()} to {target.max()}")


def _per_class_losses(name: str, scores: np.ndarray, target: np.ndarray, weight: np.ndarray | None,
                      picked: np.ndarray, reduction: str) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Reduce per-sample losses ``picked`` (already -x[n, y_n]) of a class-indexed loss, PyTorch's way: sample n
    counts ``weight[y_n]``, and 'mean' divides by the sum of those weights. Returns (loss, scale, denominator)."""
    scale = None
    if weight is not None:
        if weight.shape != (scores.shape[1],):
            raise ShapeError(f"{name}: weight must have one entry per class, shape ({scores.shape[1]},), "
                             f"got {weight.shape}")
        scale = weight[target].astype(scores.dtype)
        picked = picked * scale
    denominator = scores.shape[0] if scale is None else scale.sum()
    if reduction == "mean":
        return picked.sum() / np.asarray(denominator, dtype=scores.dtype), scale, denominator
    return _reduce(picked, reduction), scale, denominator


def _class_weights(weight: Any) -> np.ndarray | None:
    """The per-class ``weight`` option (a Tensor, an array or None) as an array: a constant, not a graph input."""
    return None if weight is None else (weight.data if isinstance(weight, Tensor) else np.asarray(weight))


@register("cross_entropy", method=False)
class CrossEntropy(Loss):
    """Softmax + negative log-likelihood from raw scores (logits), in one step:

        L_n = -log softmax(x_n)[y_n] = logsumexp(x_n) - x_n[y_n],      dL_n/dx_n = softmax(x_n) - onehot(y_n)

    ``target`` holds class indices (N,), or class probabilities (N, C) as a float array. With ``weight`` (C,),
    sample n counts w[y_n] and 'mean' divides by the sum of those weights, as PyTorch.
    """

    formula = "{z} = CrossEntropy({a}, {b})"
    derivatives = ("(softmax({a})-onehot({b})){op.per}",)

    def forward(self, input: np.ndarray, target: np.ndarray, weight: Any = None,  # noqa: A002 - PyTorch's names
                reduction: str = "mean") -> np.ndarray:
        x = input
        check_reduction("cross_entropy", reduction)
        weight = _class_weights(weight)
        if x.ndim != 2:
            raise ShapeError(f"cross_entropy: input must have shape (batch, classes), got {x.shape}")
        self.reduction = reduction
        shifted = x - x.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        z = e.sum(axis=1, keepdims=True)
        log_p = shifted - np.log(z)
        self.softmax = np.divide(e, z, out=e)  # one exp serves both the loss and the gradient
        if target.dtype.kind == "f" and target.shape == x.shape:
            # probability targets: L_n = -sum_c w_c t_nc log p_nc; dL/dx = softmax * sum_c w_c t_nc - w * t,
            # dL/dt_nc = -w_c log p_nc
            if weight is not None:
                if weight.shape != (x.shape[1],):
                    raise ShapeError(f"cross_entropy: weight must have one entry per class, shape ({x.shape[1]},), "
                                     f"got {weight.shape}")
                target = target * weight.astype(x.dtype)
            self.target, self.indices, self.scale, self.n = target, None, None, x.shape[0]
            self.weighted_log_p = log_p if weight is None else log_p * weight.astype(x.dtype)
            return _reduce(-(target * log_p).sum(axis=1), reduction)
        _check_classes("cross_entropy", x, target)
        self.target, self.indices = None, target
        picked = -log_p[np.arange(x.shape[0]), target]
        loss, self.scale, self.n = _per_class_losses("cross_entropy", x, target, weight, picked, reduction)
        return loss

    def backward(self, g: np.ndarray) -> tuple:
        # dL_n/dx_n = (softmax_n - target_n) * w_n * (upstream factor of sample n)
        if self.reduction == "none":
            factor = g
        else:
            factor = np.asarray(g / self.n if self.reduction == "mean" else g, dtype=self.softmax.dtype)
        if self.scale is not None:
            factor = factor * self.scale
        per_sample = np.ndim(factor) == 1
        if self.indices is None:
            column = factor[:, None] if per_sample else factor
            grad = (self.softmax * self.target.sum(axis=1, keepdims=True) - self.target) * column
            target_grad = -self.weighted_log_p * column if self.needs_input_grad[1] else None
            return grad, target_grad, None
        grad = self.softmax * (factor[:, None] if per_sample else factor)  # a new array: softmax stays intact
        grad[np.arange(len(self.indices)), self.indices] -= factor
        return grad, None, None


@register("nll_loss", method=False)
class NLL(Loss):
    """L_n = -x_n[y_n] for log-probabilities x (e.g. from log_softmax);  dL_n/dx_n = -onehot(y_n)."""

    formula = "{z} = NLL({a}, {b})"
    derivatives = ("-onehot({b}){op.per}",)

    def forward(self, input: np.ndarray, target: np.ndarray, weight: Any = None,  # noqa: A002 - PyTorch's names
                reduction: str = "mean") -> np.ndarray:
        x = input
        check_reduction("nll_loss", reduction)
        weight = _class_weights(weight)
        _check_classes("nll_loss", x, target)
        self.shape, self.target, self.reduction = x.shape, target, reduction
        picked = -x[np.arange(x.shape[0]), target]
        loss, self.scale, self.n = _per_class_losses("nll_loss", x, target, weight, picked, reduction)
        return loss

    def backward(self, g: np.ndarray) -> tuple:
        per_sample = np.ones(self.shape[0], dtype=g.dtype) if self.scale is None else self.scale.astype(g.dtype)
        if self.reduction == "none":
            per_sample = per_sample * g
        else:
            per_sample = per_sample * (g / self.n if self.reduction == "mean" else g)
        grad = np.zeros(self.shape, dtype=g.dtype)
        grad[np.arange(self.shape[0]), self.target] = -per_sample
        return grad, None, None
