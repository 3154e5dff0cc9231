"""Gradient descent, the chapter's way: one update of all the weights per epoch, on the whole data set.

``update_weights`` keeps the chapter's contract, ``(new_weights, loss_before_update)``: the loss and every
derivative are taken at the weights as they were, and all weights move together, w <- w - lr * dL/dw.
``train`` repeats it for a number of epochs and returns the ``Trajectory``: the path the weights took, with the loss
and the gradient at every point of it. (The engine's ``nnblocks.train.fit`` returns a ``History`` instead: per-epoch
numbers only, no weights.)

The default method, "forward" with h = 1e-4, is the chapter's finite-difference procedure exactly: the result
is stored back in the weights' dtype (float32 in the chapter), so running the chapter's data through it gives the
chapter's numbers bit for bit. "central" and "chain" are the better-behaved alternatives.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nnblocks.fundamentals.gradients import DEFAULT_STEP, chain_rule_gradients, finite_difference_gradients
from nnblocks.fundamentals.network import feed_forward, layer_sizes

__all__ = ["METHODS", "Trajectory", "gradient_descent", "update_weights"]

METHODS = ("forward", "central", "chain")


def _step(
    inputs: object, outputs: object, weights: Sequence[np.ndarray], lr: float, method: str, h: float
) -> tuple[list[np.ndarray], np.floating, list[np.ndarray]]:
    """One gradient-descent step: (new weights, loss before the step, gradient used)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not np.isfinite(lr):
        raise ValueError(f"learning rate must be a finite number, got lr={lr}")
    layer_sizes(weights)
    loss = feed_forward(inputs, outputs, weights)
    if method == "chain":
        grads = chain_rule_gradients(inputs, outputs, weights)
    else:
        grads = finite_difference_gradients(inputs, outputs, weights, h, method, base_loss=loss)
    # Computed in the gradient's dtype, then stored in the weights' dtype: the chapter's
    # ``updated_weights[i][index] -= grad * lr`` on a float32 array does exactly that, element by element.
    new = [np.asarray(w - g * lr).astype(np.asarray(w).dtype, copy=False) for w, g in zip(weights, grads)]
    return new, loss, grads


def update_weights(
    inputs: object,
    outputs: object,
    weights: Sequence[np.ndarray],
    lr: float,
    method: str = "forward",
    *,
    h: float = DEFAULT_STEP,
) -> tuple[list[np.ndarray], np.floating]:
    """One epoch of gradient descent: returns ``(new_weights, loss_before_update)``; ``weights`` is not modified.

    method: "forward" (finite difference, the chapter's, step h), "central" (finite difference, step h) or
    "chain" (the chain rule). Update rule: w_new = w - lr * dL/dw for every weight, with dL/dw taken at ``weights``.
    """
    new, loss, _ = _step(inputs, outputs, weights, lr, method, h)
    return new, loss


@dataclass
class Trajectory:
    """The path gradient descent took in ``train``, epoch by epoch.

    - ``losses[e]``: the loss at the start of epoch e, before its update (what the chapter plots).
    - ``weights[e]``: the weights at the start of epoch e; ``weights[-1]`` are the final weights (epochs + 1 items).
    - ``gradients[e]``: the gradient used in epoch e, taken at ``weights[e]``.
    - ``final_loss``: the loss at the final weights (one more forward pass after the last update).
    """

    losses: np.ndarray
    weights: list[list[np.ndarray]]
    gradients: list[list[np.ndarray]]
    final_loss: np.floating
    method: str
    lr: float
    h: float
    epochs: int = field(init=False)

    def __post_init__(self) -> None:
        self.epochs = len(self.losses)

    @property
    def final_weights(self) -> list[np.ndarray]:
        return self.weights[-1]


def gradient_descent(
    inputs: object,
    outputs: object,
    weights: Sequence[np.ndarray],
    lr: float,
    epochs: int,
    method: str = "forward",
    *,
    h: float = DEFAULT_STEP,
) -> Trajectory:
    """``epochs`` rounds of ``update_weights`` from ``weights`` (not modified); returns their ``Trajectory``.

    Deterministic: the same inputs give bit-identical histories. A loss that is not finite stops training with
    an error naming the epoch (a diverging run that stays finite is recorded as it is, so it can be studied).
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a whole number >= 0, got {epochs}")
    current = [np.array(w, copy=True) for w in weights]
    losses, weights_seen, grads_seen = [], [current], []
    for epoch in range(int(epochs)):
        # A run that blows up past the float range is reported below by epoch, not by a NumPy warning mid-step.
        with np.errstate(over="ignore", invalid="ignore"):
            current, loss, grads = _step(inputs, outputs, current, lr, method, h)
        if not np.isfinite(loss):
            raise ValueError(
                f"train: the loss is {loss} at epoch {epoch} (lr={lr}, method={method!r}); the weights have "
                "blown up, try a smaller learning rate"
            )
        losses.append(loss)
        weights_seen.append(current)
        grads_seen.append(grads)
    final_loss = feed_forward(inputs, outputs, current)
    loss_dtype = np.result_type(final_loss)
    return Trajectory(
        losses=np.array(losses, dtype=loss_dtype),
        weights=weights_seen,
        gradients=grads_seen,
        final_loss=final_loss,
        method=method,
        lr=lr,
        h=h,
    )
