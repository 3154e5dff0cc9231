"""Activation functions, each with its derivative written in terms of what forward already computed.

The stable forms matter: the textbook ``1 / (1 + exp(-x))`` overflows for x = -1000 and the textbook softmax
``exp(x) / sum(exp(x))`` overflows for x = 1000. The versions here never exponentiate a large positive number.

Each is registered (``nnblocks.ops.relu``, ``t.relu()``) with kind "activation", which also makes it a module
(``nn.ReLU()``, its options as constructor arguments: ``nn.LeakyReLU(negative_slope=0.01)``, ``nn.Softmax(dim=-1)``).
"""
from __future__ import annotations

import numpy as np

from nnblocks.ops.base import Function
from nnblocks.ops.registry import register


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), computed from e^-|x| (always <= 1) so neither branch can overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@register("relu")
class ReLU(Function):
    """z = max(a, 0);  dz/da = 1 where a > 0, else 0."""

    kind = "activation"
    formula = "{z} = relu({a})"
    derivatives = ("1[{a}>0]",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.z = np.maximum(a, 0)
        return self.z

    def backward(self, g: np.ndarray) -> np.ndarray:
        if self.owns_grad:  # g is the walk's alone (autograd.py): masked in place, no new array
            g *= self.z > 0
            return g
        return g * (self.z > 0)


@register("leaky_relu")
class LeakyReLU(Function):
    """z = a if a > 0 else negative_slope * a;  dz/da = 1 if a > 0 else negative_slope."""

    kind = "activation"
    formula = "{z} = leakyrelu({a})"
    derivatives = ("(1 if {a}>0 else {op.negative_slope})",)

    def forward(self, a: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
        self.positive, self.negative_slope = a > 0, negative_slope
        return np.where(self.positive, a, a * np.asarray(negative_slope, dtype=a.dtype))

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.where(self.positive, g, g * np.asarray(self.negative_slope, dtype=g.dtype))


@register("sigmoid")
class Sigmoid(Function):
    """z = 1 / (1 + e^-a);  dz/da = z (1 - z)."""

    kind = "activation"
    formula = "{z} = sigmoid({a})"
    derivatives = ("{z}(1-{z})",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.z = stable_sigmoid(a)
        return self.z

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self.z * (1 - self.z)


@register("tanh")
class Tanh(Function):
    """z = tanh(a);  dz/da = 1 - z^2."""

    kind = "activation"
    formula = "{z} = tanh({a})"
    derivatives = ("(1-{z}^2)",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.z = np.tanh(a)
        return self.z

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * (1 - self.z * self.z)


@register("softmax")
class Softmax(Function):
    """z_i = e^(a_i - m) / sum_j e^(a_j - m), m = max_j a_j (subtracting m changes nothing but prevents overflow).

    Jacobian dz_i/da_j = z_i (delta_ij - z_j), so the vector-Jacobian product is z * (g - sum_j g_j z_j).
    ``dim`` defaults to the last axis (PyTorch's ``nn.Softmax`` requires it).
    """

    kind = "activation"  # every z_i depends on every a_j: no elementwise derivative to declare

    def forward(self, a: np.ndarray, dim: int = -1) -> np.ndarray:
        self.dim = dim
        e = np.exp(a - a.max(axis=dim, keepdims=True))
        self.z = e / e.sum(axis=dim, keepdims=True)
        return self.z

    def backward(self, g: np.ndarray) -> np.ndarray:
        z = self.z
        return z * (g - (g * z).sum(axis=self.dim, keepdims=True))


@register("log_softmax")
class LogSoftmax(Function):
    """z_i = a_i - m - log sum_j e^(a_j - m)  (the log-sum-exp trick: no overflow, no log(0));
    dz_i/da_j = delta_ij - softmax_j, so the vector-Jacobian product is g - softmax * sum_j g_j."""

    kind = "activation"

    def forward(self, a: np.ndarray, dim: int = -1) -> np.ndarray:
        self.dim = dim
        shifted = a - a.max(axis=dim, keepdims=True)
        self.z = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        return self.z

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g - np.exp(self.z) * g.sum(axis=self.dim, keepdims=True)
