"""Loss functions and their gradients with respect to the prediction, in plain NumPy.

Conventions (the chapter's): ``predictions`` and ``targets`` have the same shape, one row per sample. A loss is a
mean over samples, exactly as its formula says, and each docstring writes out the formula, what is averaged over,
and where the naive one-liner goes wrong. The ``*_grad`` functions return dL/d(prediction), shaped like the
prediction, which is the first factor of every chain-rule computation.

Probabilities are clipped to [eps, 1 - eps] before the logarithm, with ``EPS = 1e-7`` by default. Why 1e-7: in
float32 the number just below 1 is 1 - 2**-24 (about 1 - 6e-8), so any eps smaller than about 6e-8 makes
``1 - eps`` round to exactly 1 and log(1 - p) becomes log(0) = -inf again. 1e-7 is the smallest round number that
survives float32; it caps each element's loss at -log(1e-7), about 16.1.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "EPS",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "categorical_cross_entropy",
    "categorical_cross_entropy_grad",
    "mae",
    "mae_grad",
    "mse",
    "mse_grad",
]

EPS = 1e-7


def _pair(name: str, predictions: object, targets: object) -> tuple[np.ndarray, np.ndarray]:
    """Both arguments as arrays of one shape; a shape mismatch is an error, never a silent broadcast."""
    p, y = np.asarray(predictions), np.asarray(targets)
    if p.shape != y.shape:
        # (N, 1) against (N,) would broadcast to (N, N) and give a plausible but wrong number.
        raise ValueError(f"{name}: predictions have shape {p.shape} but targets have shape {y.shape}; they must match")
    if p.size == 0:
        raise ValueError(f"{name}: empty predictions (shape {p.shape}); a mean over no samples is undefined")
    return p, y


def _clip_probabilities(p: np.ndarray, eps: float) -> np.ndarray:
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float64)
    return np.clip(p, eps, 1 - eps)


def mse(predictions: object, targets: object) -> np.floating:
    """Mean squared error: L = (1/M) * sum_i (p_i - y_i)^2, a mean over ALL M elements (samples x outputs).

    This is the chapter's ``np.mean(np.square(pred - y))``. Gradient: dL/dp_i = 2 (p_i - y_i) / M.

    Where the naive version goes wrong: ``np.sum(np.square(p - y))`` is called a mean but is M times larger, so the
    best learning rate depends on the batch size; and ``(p - y) ** 2`` with p of shape (N, 1) and y of shape (N,)
    broadcasts to (N, N) (refused here).

    Example: p = [[1], [3]], y = [[0], [0]]  ->  (1 + 9) / 2 = 5.
    """
    p, y = _pair("mse", predictions, targets)
    return np.mean(np.square(p - y))


def mse_grad(predictions: object, targets: object) -> np.ndarray:
    """dL/dp for ``mse``: 2 (p - y) / M, where M = p.size (the mean is over all elements)."""
    p, y = _pair("mse_grad", predictions, targets)
    diff = p - y
    return 2 * diff / diff.size


def mae(predictions: object, targets: object) -> np.floating:
    """Mean absolute error: L = (1/M) * sum_i |p_i - y_i|, a mean over all M elements.

    Gradient: dL/dp_i = sign(p_i - y_i) / M (taken as 0 where p_i = y_i, where |.| has no slope).

    Where the naive version goes wrong: forgetting the absolute value, ``np.mean(p - y)``, lets errors of opposite
    sign cancel: p = [1, -1], y = [0, 0] would score 0.

    Example: p = [[1], [-3]], y = [[0], [0]]  ->  (1 + 3) / 2 = 2.
    """
    p, y = _pair("mae", predictions, targets)
    return np.mean(np.abs(p - y))


def mae_grad(predictions: object, targets: object) -> np.ndarray:
    """dL/dp for ``mae``: sign(p - y) / M."""
    p, y = _pair("mae_grad", predictions, targets)
    diff = p - y
    return np.sign(diff) / diff.size


def binary_cross_entropy(probabilities: object, targets: object, eps: float = EPS) -> np.floating:
    """Binary cross-entropy: L = -(1/M) * sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)], mean over all M elements.

    p are predicted probabilities of the class 1 (e.g. sigmoid outputs), y the 0/1 targets (soft targets in [0, 1]
    are fine). Probabilities are clipped to [eps, 1 - eps] first (see the module docstring for eps = 1e-7).

    Where the naive version goes wrong: a confident, correct p = 1 for y = 1 still evaluates (1 - y) log(1 - p) =
    0 * log(0) = 0 * -inf = nan, and a confident wrong prediction gives inf. Clipping keeps both finite (the wrong
    one costs about 16.1 per element).

    Example: p = [[0.9], [0.2]], y = [[1], [0]]  ->  -(log 0.9 + log 0.8) / 2 = (0.10536 + 0.22314) / 2 = 0.16425.
    """
    p, y = _pair("binary_cross_entropy", probabilities, targets)
    p = _clip_probabilities(p, eps)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def binary_cross_entropy_grad(probabilities: object, targets: object, eps: float = EPS) -> np.ndarray:
    """dL/dp for ``binary_cross_entropy``: (p - y) / (p (1 - p)) / M, with p clipped as in the loss.

    After a sigmoid s = sigma(z) this collapses to dL/dz = (s - y) / M, the reason sigmoid and BCE go together.
    """
    p, y = _pair("binary_cross_entropy_grad", probabilities, targets)
    p = _clip_probabilities(p, eps)
    return (p - y) / (p * (1 - p)) / p.size


def categorical_cross_entropy(probabilities: object, targets: object, eps: float = EPS) -> np.floating:
    """Categorical cross-entropy: L = -(1/N) * sum_n sum_c y_nc log p_nc: a SUM over the C classes, a MEAN over N.

    p has one row of class probabilities per sample (e.g. softmax outputs, classes on the last axis), y the one-hot
    (or soft) targets of the same shape. For one-hot y each sample contributes -log(probability of its true
    class). Probabilities are clipped to [eps, 1 - eps] so that p = 0 for the true class costs -log(1e-7) = 16.1,
    not inf.

    Where the naive versions go wrong:
    - ``-np.mean(np.sum(y * np.log(p)))``: ``np.sum`` without an axis already adds up all samples into one number,
      and the mean of one number is that number, so this "mean" is really a sum, N times too large.
    - ``-np.mean(y * np.log(p))``: a mean over all N * C elements, C times too small (most of them are 0 anyway).
    - and log(0) = -inf (times a target 0 gives nan) without the clip.

    Example: p = [[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]], y = [[1, 0, 0], [0, 0, 1]]
    ->  -(log 0.7 + log 0.4) / 2 = (0.35667 + 0.91629) / 2 = 0.63648.
    """
    p, y = _pair("categorical_cross_entropy", probabilities, targets)
    if p.ndim == 0:
        raise ValueError("categorical_cross_entropy needs a class axis (the last axis); got scalars")
    p = _clip_probabilities(p, eps)
    per_sample = -np.sum(y * np.log(p), axis=-1)
    return np.mean(per_sample)


def categorical_cross_entropy_grad(probabilities: object, targets: object, eps: float = EPS) -> np.ndarray:
    """dL/dp for ``categorical_cross_entropy``: -y / p / N, N = number of samples (rows), p clipped as in the loss.

    After a softmax this collapses to dL/dz = (p - y) / N for one-hot y.
    """
    p, y = _pair("categorical_cross_entropy_grad", probabilities, targets)
    if p.ndim == 0:
        raise ValueError("categorical_cross_entropy_grad needs a class axis (the last axis); got scalars")
    p = _clip_probabilities(p, eps)
    n_samples = p.size // p.shape[-1]
    return -y / p / n_samples
