"""The chapter's feedforward network as plain NumPy arrays: a list of weights, a forward pass, a loss.

A network is described by nothing but its weights, ``weights = [W1, b1, W2, b2, ..., WL, bL]``: ``Wk`` of shape
(inputs of layer k, outputs of layer k) and ``bk`` of shape (outputs,) (or (1, outputs)). Every hidden layer is
``sigmoid(a @ Wk + bk)`` and the last one is linear, ``a @ WL + bL``, so the network predicts any real number.
The chapter's network is ``[W1, b1, W2, b2]`` (2 inputs, 3 hidden, 1 output); ``[W, b]`` alone is the single
linear neuron ``y = x W + b`` of the learning-rate study.

Inputs have one row per sample, shape (N, inputs); predictions and targets have shape (N, outputs). The loss is
the chapter's mean squared error ``np.mean(np.square(pred - y))``, a mean over all N * outputs elements.

dtypes follow NumPy's rules and nothing is cast behind your back: float32 weights with float32 data compute in
float32; float32 weights with the chapter's integer data (``np.array([[1, 1]])``) compute in float64, because
NumPy promotes int64 @ float32 to float64 (that is what the chapter's code really does).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnblocks.fundamentals.activations import sigmoid

__all__ = ["feed_forward", "forward_layers", "init_weights", "layer_sizes", "predict"]


def layer_sizes(weights: Sequence[np.ndarray]) -> list[int]:
    """The widths [inputs, hidden..., outputs] that ``weights`` describe, after checking that they fit together."""
    if len(weights) < 2 or len(weights) % 2:
        raise ValueError(
            f"weights must be a list [W1, b1, ..., WL, bL] of even length >= 2; got {len(weights)} arrays"
        )
    sizes: list[int] = []
    for k in range(0, len(weights), 2):
        W, b = np.asarray(weights[k]), np.asarray(weights[k + 1])
        layer = k // 2 + 1
        if W.ndim != 2:
            raise ValueError(f"W{layer} (weights[{k}]) must be 2-D (inputs, outputs); got shape {W.shape}")
        if b.shape not in ((W.shape[1],), (1, W.shape[1])):
            raise ValueError(
                f"b{layer} (weights[{k + 1}]) must have shape ({W.shape[1]},) or (1, {W.shape[1]}) to match "
                f"W{layer} of shape {W.shape}; got {b.shape}"
            )
        if sizes and W.shape[0] != sizes[-1]:
            raise ValueError(
                f"W{layer} (weights[{k}]) has shape {W.shape}, but the previous layer has {sizes[-1]} outputs"
            )
        if not sizes:
            sizes.append(W.shape[0])
        sizes.append(W.shape[1])
    return sizes


def _check_inputs(inputs: object, weights: Sequence[np.ndarray]) -> np.ndarray:
    sizes = layer_sizes(weights)
    x = np.asarray(inputs)
    if x.ndim != 2 or x.shape[1] != sizes[0]:
        raise ValueError(
            f"inputs must have shape (samples, {sizes[0]}) for W1 of shape {np.shape(weights[0])}; got {x.shape}"
        )
    return x


def forward_layers(inputs: object, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every layer's output, [x, a1, ..., a_{L-1}, prediction]: what the chain rule needs to go back through.

    a_k = sigmoid(a_{k-1} @ Wk + bk) for the hidden layers, prediction = a_{L-1} @ WL + bL.
    """
    a = _check_inputs(inputs, weights)
    outputs = [a]
    last = len(weights) - 2
    for k in range(0, len(weights), 2):
        # np.dot, like the chapter, so that the float32 rounding is the chapter's.
        z = np.dot(a, weights[k]) + weights[k + 1]
        a = z if k == last else sigmoid(z)
        outputs.append(a)
    return outputs


def predict(inputs: object, weights: Sequence[np.ndarray]) -> np.ndarray:
    """The network's predictions for ``inputs``, shape (samples, outputs)."""
    return forward_layers(inputs, weights)[-1]


def feed_forward(
    inputs: object, outputs: object, weights: Sequence[np.ndarray], *, return_predictions: bool = False
) -> np.floating | tuple[np.floating, np.ndarray]:
    """The chapter's ``feed_forward``: run the network on ``inputs`` and return the MSE against ``outputs``.

    L = mean over all elements of (prediction - outputs)^2. With ``return_predictions=True``, returns
    ``(loss, predictions)`` instead.
    """
    pred = predict(inputs, weights)
    y = np.asarray(outputs)
    if y.shape != pred.shape:
        raise ValueError(
            f"outputs have shape {y.shape} but the network predicts shape {pred.shape}; they must match "
            "(a mismatch would broadcast into a wrong loss)"
        )
    loss = np.mean(np.square(pred - y))
    return (loss, pred) if return_predictions else loss


def init_weights(
    sizes: Sequence[int], seed: int | np.random.Generator = 0, dtype: type | np.dtype = np.float32
) -> list[np.ndarray]:
    """Random weights [W1, b1, ...] for layer widths ``sizes`` = [inputs, hidden..., outputs].

    Wk is drawn from N(0, 1 / inputs_k) (so a layer's pre-activations start with variance about 1), bk is zero.
    ``seed`` is an int or a ``numpy.random.Generator``; the same seed gives the same weights.
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive widths [inputs, ..., outputs]; got {list(sizes)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    weights: list[np.ndarray] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append((rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype))
        weights.append(np.zeros(n_out, dtype=dtype))
    return weights
