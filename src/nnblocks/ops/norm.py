"""Batch normalisation as one op (its gradient through the batch statistics is the classic derivation).

Forward, over the batch axis (N samples):  mu = mean(x),  var = mean((x - mu)^2),  x_hat = (x - mu) / sqrt(var + eps),
y = gamma * x_hat + beta.

Backward: every x_i moves mu and var, so dL/dx is not just g * gamma / sqrt(var + eps). With g_hat = g * gamma:
    dL/dx = (1 / (N sqrt(var + eps))) * (N g_hat - sum(g_hat) - x_hat * sum(g_hat * x_hat))
    dL/dgamma = sum(g * x_hat),   dL/dbeta = sum(g).
In eval mode mu and var are the running statistics, constants, and the op is an affine map per feature.
"""
from __future__ import annotations

import numpy as np

from nnblocks.ops.base import Function


class BatchNorm(Function):
    """``mean``/``var`` are the batch's own statistics when ``training`` (the gradient then flows through them), or
    the running statistics in eval mode (constants)."""

    kind = "norm"

    def forward(self, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray = None,
                var: np.ndarray = None, eps: float = 1e-5, training: bool = True) -> np.ndarray:
        self.batch_stats = training
        self.inv_std = (1 / np.sqrt(var + np.asarray(eps, dtype=x.dtype))).astype(x.dtype, copy=False)
        self.x_hat = (x - mean) * self.inv_std
        self.gamma = gamma
        return self.x_hat * gamma + beta

    def backward(self, g: np.ndarray) -> tuple:
        x_hat = self.x_hat
        g_gamma = (g * x_hat).sum(axis=0) if self.needs_input_grad[1] else None
        g_beta = g.sum(axis=0) if self.needs_input_grad[2] else None
        gx = None
        if self.needs_input_grad[0]:
            g_hat = g * self.gamma
            if self.batch_stats:
                n = g.shape[0]
                gx = (self.inv_std / n) * (n * g_hat - g_hat.sum(axis=0) - x_hat * (g_hat * x_hat).sum(axis=0))
            else:
                gx = g_hat * self.inv_std
        return gx, g_gamma, g_beta
