"""Activation functions and their derivatives, in plain NumPy.

Every function works element by element on an array of any shape (a whole batch at once), except ``softmax``,
which normalises along the last axis (one row per sample). Each ``*_grad`` function is the derivative that the
chain rule needs, written as a function of the same input ``x``.

Two textbook one-liners go wrong at the edges, and the docstrings below say where:

- ``1 / (1 + np.exp(-x))`` asks for ``exp(1000)`` when x = -1000: that overflows to ``inf`` with a RuntimeWarning.
- ``np.exp(x) / np.sum(np.exp(x))`` asks for ``exp(1000)`` when x = 1000: ``inf / inf`` is ``nan``.

Underflow is a different matter: ``exp(-1000)`` is about 5e-435, smaller than any float, and 0.0 is its correctly
rounded value. The functions here let such values become 0 quietly (``np.errstate(under="ignore")``) instead of
raising, even when the caller asked NumPy to raise on every floating-point event.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "linear",
    "linear_grad",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_jacobian",
    "tanh",
    "tanh_grad",
]


def _as_float_array(x: object) -> np.ndarray:
    """x as a floating-point array: float32 stays float32, integers become float64 (as NumPy's own exp does)."""
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _exp_limit(dtype: np.dtype) -> float:
    """The largest whole number t with exp(t) finite in this dtype: 88 for float32, 709 for float64."""
    return float(np.floor(np.log(np.finfo(dtype).max)))


def sigmoid(x: object) -> np.ndarray:
    """Logistic sigmoid, sigma(x) = 1 / (1 + e^-x), squashing any real number into (0, 1).

    Derivative: sigma'(x) = sigma(x) * (1 - sigma(x))  (see ``sigmoid_grad``).

    Where the naive version goes wrong: for x = -1000, e^-x = e^1000 overflows to inf (a RuntimeWarning; the
    result 1/inf = 0 is then right only by luck). Here the chapter's formula 1 / (1 + e^-x) is used wherever e^-x
    is finite, so the numbers are bit for bit the chapter's, and e^x is used where it is not: there 1 + e^x rounds
    to 1, so sigma(x) = e^x / (1 + e^x) is exactly e^x.

    >>> float(sigmoid(0.0)), float(sigmoid(-1000.0))
    (0.5, 0.0)
    """
    x = _as_float_array(x)
    limit = _exp_limit(x.dtype)
    with np.errstate(under="ignore"):
        textbook = 1 / (1 + np.exp(-np.maximum(x, -limit)))
        far_left = np.exp(np.minimum(x, 0))
        return np.where(x < -limit, far_left, textbook)[()]


def sigmoid_grad(x: object) -> np.ndarray:
    """d sigma / dx = sigma(x) (1 - sigma(x)): at most 0.25 (at x = 0), and close to 0 for large |x|.

    Computing it from sigma(x) avoids the naive e^-x / (1 + e^-x)^2, which is inf / inf = nan for x = -1000.
    """
    s = sigmoid(x)
    with np.errstate(under="ignore"):
        return (s * (1 - s))[()]


def tanh(x: object) -> np.ndarray:
    """Hyperbolic tangent, tanh(x) = (e^x - e^-x) / (e^x + e^-x), into (-1, 1); tanh(x) = 2 sigma(2x) - 1.

    Derivative: tanh'(x) = 1 - tanh(x)^2  (see ``tanh_grad``).

    Where the naive version goes wrong: the quotient of exponentials is inf / inf = nan for |x| > 710 (float64) or
    |x| > 89 (float32). ``np.tanh`` evaluates it without forming e^|x|, so it is used directly.
    """
    x = _as_float_array(x)
    with np.errstate(under="ignore"):
        return np.tanh(x)[()]


def tanh_grad(x: object) -> np.ndarray:
    """d tanh / dx = 1 - tanh(x)^2: 1 at x = 0, tending to 0 as |x| grows."""
    t = tanh(x)
    with np.errstate(under="ignore"):
        return (1 - t * t)[()]


def relu(x: object) -> np.ndarray:
    """Rectified linear unit, relu(x) = max(x, 0).

    Derivative: 1 where x > 0, 0 where x < 0; at x = 0 it is undefined and taken as 0 here (as PyTorch does).

    There is nothing to overflow, but a hand-written ``x * (x > 0)`` turns -inf into nan (-inf * 0);
    ``np.maximum`` does not.
    """
    x = _as_float_array(x)
    return np.maximum(x, 0)[()]


def relu_grad(x: object) -> np.ndarray:
    """d relu / dx = 1 where x > 0, else 0 (0 at x = 0 by convention), in x's float dtype."""
    x = _as_float_array(x)
    return (x > 0).astype(x.dtype)[()]


def linear(x: object) -> np.ndarray:
    """The identity, linear(x) = x: the 'no activation' of an output layer that predicts any real number.

    Derivative: 1 everywhere. Nothing can go wrong, which is the point; it exists so that a network can name its
    output activation like any other.
    """
    return _as_float_array(x)[()]


def linear_grad(x: object) -> np.ndarray:
    """d x / dx = 1, as an array of ones shaped like x."""
    return np.ones_like(_as_float_array(x))[()]


def softmax(x: object) -> np.ndarray:
    """Softmax along the last axis: softmax(x)_i = e^(x_i) / sum_j e^(x_j), a probability distribution per row.

    Derivative: d softmax_i / d x_j = s_i (delta_ij - s_j)  (a matrix per row; see ``softmax_jacobian``).

    Where the naive version goes wrong: e^1000 overflows, so softmax([1000, 1000]) becomes inf / inf = nan.
    Subtracting the row's maximum first changes nothing mathematically (the factor e^-max cancels between top and
    bottom) but makes every exponent <= 0: each e^z is at most 1 and the largest is exactly 1, so the sum is at
    least 1 and never 0.

    >>> softmax([[1000.0, 1000.0]]).tolist()
    [[0.5, 0.5]]
    """
    x = _as_float_array(x)
    if x.ndim == 0:
        raise ValueError("softmax needs at least one axis (the classes are the last axis); got a scalar")
    # x - max can overflow to -inf only when the row spans more than the float range; e^-inf = 0 is then the
    # right answer, so that overflow is as harmless as the underflow of e^z for very negative z.
    with np.errstate(under="ignore", over="ignore"):
        z = x - np.max(x, axis=-1, keepdims=True)
        e = np.exp(z)
        return e / np.sum(e, axis=-1, keepdims=True)


def softmax_jacobian(x: object) -> np.ndarray:
    """The Jacobian of softmax per row: J[..., i, j] = s_i (delta_ij - s_j), shape x.shape + (x.shape[-1],).

    Each row of J sums to 0, because the probabilities always sum to 1 whatever x does.
    """
    s = softmax(x)
    with np.errstate(under="ignore"):
        return s[..., :, None] * (np.eye(s.shape[-1], dtype=s.dtype) - s[..., None, :])
