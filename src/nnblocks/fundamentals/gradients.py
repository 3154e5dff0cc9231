"""Two ways to get the gradient of the loss with respect to every weight: finite differences and the chain rule.

Both return a list of arrays shaped like ``weights`` ([dL/dW1, dL/db1, ...]).

Finite differences treat the network as a black box: nudge one weight by a small step h, run the whole network
again, and see how much the loss moved. The forward difference (the chapter's) costs one forward pass per weight
plus one, the central difference two per weight, so a network with P weights needs P or 2P forward passes for a
single gradient; that is why real training uses the chain rule, which gets all P derivatives from one forward and
one backward pass. The loop over weights is the method, not an oversight.

Their blind spots, which the ``nnblocks demo`` report measures: the nudged weight is stored in the weights' own
dtype, so in float32 ``w + 1e-4`` is rounded to a neighbouring float32 (float32 keeps about 7 significant digits).
Near w = 0.5 that moves the step by up to 3e-8 (0.03 %); near w = 1000 the float32 numbers are 6.1e-5 apart and
the step becomes 1.22e-4, 22 % too long, while the formula still divides by 1e-4; from |w| = 2048 on they are
2.4e-4 apart and ``w + 1e-4`` rounds back to w itself: the loss does not move and the gradient comes out as
exactly 0. The loss difference itself also loses digits to cancellation when the loss is large and is stored in
float32. And the forward difference is off by about h/2 * (second derivative) even with exact arithmetic.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nnblocks.fundamentals.network import feed_forward, forward_layers

__all__ = ["DEFAULT_STEP", "chain_rule_gradients", "finite_difference_gradients", "gradients"]

DEFAULT_STEP = 1e-4

LossFunction = Callable[[object, object, Sequence[np.ndarray]], np.floating]


def finite_difference_gradients(
    inputs: object,
    outputs: object,
    weights: Sequence[np.ndarray],
    h: float = DEFAULT_STEP,
    scheme: str = "forward",
    *,
    loss_fn: LossFunction = feed_forward,
    base_loss: np.floating | None = None,
) -> list[np.ndarray]:
    """dL/dw for every weight by finite differences; ``loss_fn(inputs, outputs, weights)`` is the black box.

    - ``scheme="forward"`` (the chapter's): dL/dw ~ (L(w + h) - L(w)) / h. Error about h/2 * L''(w).
      Cost: 1 + P loss evaluations for P weights (``base_loss``, L at the given weights, saves the 1).
    - ``scheme="central"``: dL/dw ~ (L(w + h) - L(w - h)) / (2h). Error about h^2/6 * L'''(w). Cost: 2P.

    The nudge is written into a copy of the weights in their own dtype, exactly like the chapter's
    ``temp_weights[i][index] += 0.0001``, so float32 rounding of the nudged weight is reproduced, and the
    difference is still divided by h. Every derivative is taken at the original weights. The gradients have the
    dtype of the loss.
    """
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"finite differences need a step h > 0, got h={h}")
    if scheme not in ("forward", "central"):
        raise ValueError(f"scheme must be 'forward' or 'central', got {scheme!r}")
    if scheme == "forward" and base_loss is None:
        base_loss = loss_fn(inputs, outputs, weights)
    nudged = [np.array(w, copy=True) for w in weights]
    for i, w in enumerate(nudged):
        if not np.issubdtype(w.dtype, np.floating):
            raise ValueError(f"weights[{i}] has dtype {w.dtype}; a nudge of {h} needs floating-point weights")
    grads = []
    for w in nudged:
        values = []
        for index in np.ndindex(w.shape):
            original = w[index]
            w[index] += h  # rounded to w's dtype on the way in, as in the chapter
            loss_plus = loss_fn(inputs, outputs, nudged)
            if scheme == "forward":
                values.append((loss_plus - base_loss) / h)
            else:
                w[index] = original
                w[index] -= h
                loss_minus = loss_fn(inputs, outputs, nudged)
                values.append((loss_plus - loss_minus) / (2 * h))
            w[index] = original
        dtype = np.result_type(values[0]) if values else w.dtype
        grads.append(np.array(values, dtype=dtype).reshape(w.shape))
    return grads


def chain_rule_gradients(inputs: object, outputs: object, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """dL/dw for every weight by the chain rule (backpropagation), derived by hand layer by layer.

    Notation: a_0 = x (N samples), z_k = a_{k-1} W_k + b_k, a_k = sigmoid(z_k) for hidden layers, and the output
    layer is linear, y_hat = z_L. The loss is L = (1/M) sum (y_hat - y)^2 with M = N * outputs (all elements).

    - Output:     delta_L = dL/dz_L = 2 (y_hat - y) / M
    - Each layer: dL/dW_k = a_{k-1}^T delta_k        dL/db_k = sum over samples of delta_k
    - Going back: delta_{k-1} = (delta_k W_k^T) * a_{k-1} (1 - a_{k-1})     (sigmoid'(z) = a (1 - a))

    For the chapter's 2-3-1 network with one sample: dL/db2 = 2 (y_hat - y), dL/dW2 = hidden^T dL/db2.
    One forward pass and one backward pass give all the derivatives at once.
    """
    layers = forward_layers(inputs, weights)
    pred, y = layers[-1], np.asarray(outputs)
    if y.shape != pred.shape:
        raise ValueError(f"outputs have shape {y.shape} but the network predicts shape {pred.shape}")
    delta = 2 * (pred - y) / pred.size
    grads: list[np.ndarray] = [np.empty(0)] * len(weights)
    for k in range(len(weights) - 2, -1, -2):
        a_prev = layers[k // 2]
        grads[k] = np.dot(a_prev.T, delta)
        grads[k + 1] = np.sum(delta, axis=0).reshape(np.shape(weights[k + 1]))
        if k > 0:
            delta = np.dot(delta, np.transpose(weights[k])) * a_prev * (1 - a_prev)
    return grads


def gradients(
    inputs: object, outputs: object, weights: Sequence[np.ndarray], method: str = "forward", h: float = DEFAULT_STEP
) -> list[np.ndarray]:
    """The gradient by ``method``: "forward" or "central" (finite differences with step h) or "chain"."""
    if method == "chain":
        return chain_rule_gradients(inputs, outputs, weights)
    if method in ("forward", "central"):
        return finite_difference_gradients(inputs, outputs, weights, h, method)
    raise ValueError(f"method must be 'forward', 'central' or 'chain', got {method!r}")
