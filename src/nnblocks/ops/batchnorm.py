"""Batch normalisation as one op (its gradient through the batch statistics is the classic derivation).

Forward, per channel c, over the m values it has in the batch (m = N for (N, C) features, N * H * W for (N, C, H, W)
images: every pixel of a channel shares one mean, one variance, one gamma and one beta):
mu = mean(x),  var = mean((x - mu)^2),  x_hat = (x - mu) / sqrt(var + eps),  y = gamma * x_hat + beta.

Backward: every x_i moves mu and var, so dL/dx is not just g * gamma / sqrt(var + eps). With g_hat = g * gamma, the
sums over the same m values:
    dL/dx = (1 / (m sqrt(var + eps))) * (m g_hat - sum(g_hat) - x_hat * sum(g_hat * x_hat))
    dL/dgamma = sum(g * x_hat),   dL/dbeta = sum(g).
In eval mode mu and var are the running statistics, constants, and the op is an affine map per channel.
"""
from __future__ import annotations

import numpy as np

from nnblocks.ops.base import Function


def channel_axes(x: np.ndarray) -> tuple[int, ...]:
    """The axes a channel's statistics are taken over: all but the channel axis 1 ((N, C), (N, C, L), (N, C, H, W))."""
    return (0, *range(2, x.ndim))


def batch_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Each channel's mean, biased variance, and how many values m they were taken over."""
    axes = channel_axes(x)
    return x.mean(axis=axes), x.var(axis=axes), x.size // x.shape[1]


class BatchNorm(Function):
    """``mean``/``var`` are the batch's own statistics when ``training`` (the gradient then flows through them), or
    the running statistics in eval mode (constants). Parameters and statistics have one value per channel (axis 1)."""

    kind = "norm"

    def forward(self, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray = None,
                var: np.ndarray = None, eps: float = 1e-5, training: bool = True) -> np.ndarray:
        per_channel = (-1,) + (1,) * (x.ndim - 2)  # (C,) -> (C, 1, 1) broadcasts over (N, C, H, W)
        self.batch_stats, self.axes, self.per_channel = training, channel_axes(x), per_channel
        inv_std = (1 / np.sqrt(var + np.asarray(eps, dtype=x.dtype))).astype(x.dtype, copy=False)
        self.inv_std = inv_std.reshape(per_channel)
        self.x_hat = (x - mean.reshape(per_channel)) * self.inv_std
        self.gamma = gamma.reshape(per_channel)
        return self.x_hat * self.gamma + beta.reshape(per_channel)

    def backward(self, g: np.ndarray) -> tuple:
        x_hat, axes = self.x_hat, self.axes
        g_gamma = (g * x_hat).sum(axis=axes) if self.needs_input_grad[1] else None
        g_beta = g.sum(axis=axes) if self.needs_input_grad[2] else None
        gx = None
        if self.needs_input_grad[0]:
            g_hat = g * self.gamma
            if self.batch_stats:
                m = g.size // g.shape[1]
                sum_g = g_hat.sum(axis=axes).reshape(self.per_channel)
                sum_gx = (g_hat * x_hat).sum(axis=axes).reshape(self.per_channel)
                gx = (self.inv_std / m) * (m * g_hat - sum_g - x_hat * sum_gx)
            else:
                gx = g_hat * self.inv_std
        return gx, g_gamma, g_beta
