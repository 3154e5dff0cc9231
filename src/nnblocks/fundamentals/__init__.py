"""The book's chapter 1 by hand, in plain NumPy: read this package on its own, it imports nothing else of nnblocks.

- ``activations``: sigmoid, tanh, relu, linear, softmax and their derivatives (stable at the extremes).
- ``losses``: mse, mae, binary and categorical cross-entropy and their gradients (no log(0), means that are means).
- ``network``: a network is a list of weights [W1, b1, W2, b2, ...]; ``feed_forward`` returns its MSE loss.
- ``gradients``: dL/dw by finite differences (forward, central) and by the chain rule.
- ``training``: ``update_weights`` (one epoch of gradient descent) and ``train`` (many; returns the ``Trajectory``).
- ``examples``: the chapter's data (the 2-3-1 network, the linear neuron of the learning-rate study).

A first session::

    from nnblocks.fundamentals import network_231, feed_forward, gradient_descent
    x, y, w = network_231()
    feed_forward(x, y, w)                 # 0.33455009, the chapter's initial loss
    trajectory = gradient_descent(x, y, w, lr=0.01, epochs=100)
    trajectory.losses[-1], trajectory.final_loss
"""
from __future__ import annotations

from nnblocks.fundamentals.activations import (
    linear,
    linear_grad,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_jacobian,
    tanh,
    tanh_grad,
)
from nnblocks.fundamentals.examples import (
    LEARNING_RATES,
    NETWORK_EPOCHS,
    NETWORK_LR,
    PRECISIONS,
    STUDY_EPOCHS,
    linear_neuron,
    network_231,
)
from nnblocks.fundamentals.gradients import (
    DEFAULT_STEP,
    chain_rule_gradients,
    finite_difference_gradients,
    gradients,
)
from nnblocks.fundamentals.losses import (
    EPS,
    binary_cross_entropy,
    binary_cross_entropy_grad,
    categorical_cross_entropy,
    categorical_cross_entropy_grad,
    mae,
    mae_grad,
    mse,
    mse_grad,
)
from nnblocks.fundamentals.network import feed_forward, forward_layers, init_weights, layer_sizes, predict
from nnblocks.fundamentals.training import METHODS, Trajectory, gradient_descent, update_weights

__all__ = [
    "DEFAULT_STEP",
    "EPS",
    "LEARNING_RATES",
    "METHODS",
    "NETWORK_EPOCHS",
    "NETWORK_LR",
    "PRECISIONS",
    "STUDY_EPOCHS",
    "Trajectory",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "categorical_cross_entropy",
    "categorical_cross_entropy_grad",
    "chain_rule_gradients",
    "feed_forward",
    "finite_difference_gradients",
    "forward_layers",
    "gradients",
    "init_weights",
    "layer_sizes",
    "linear",
    "linear_grad",
    "linear_neuron",
    "mae",
    "mae_grad",
    "mse",
    "mse_grad",
    "network_231",
    "predict",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_jacobian",
    "tanh",
    "tanh_grad",
    "gradient_descent",
    "update_weights",
]
