"""The yardstick: the chapter-3 network trained by hand in NumPy, no autograd, no graph, every update in place.

nnblocks/NumPy close to 1.0 in the benchmark's table means the engine (graph, modules, optimizer, data loader) adds
almost nothing to the arithmetic.
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from nnblocks.bench.workload import CLASSES, HIDDEN, IN_FEATURES, LR


class NumpyMLP:
    """784 -> 1000 -> ReLU -> 10 with softmax cross-entropy and plain SGD, by hand: no autograd, no graph.

    Weights are stored (in, out) so the forward pass is ``X @ W1``; they start uniform in +-1/sqrt(fan_in) like
    PyTorch's and nnblocks' Linear. The gradients, for a batch of B samples with one-hot targets T:
        P = softmax(H W2 + b2),  G = (P - T) / B,  dW2 = H^T G,  db2 = sum(G),
        dH = (G W2^T) * [H > 0],  dW1 = X^T dH,  db1 = sum(dH),
    and every update is in place (W -= lr * dW). This is the reference for "how much does the engine cost".
    """

    def __init__(self, seed: int, dtype: Any = "float32") -> None:
        rng = np.random.default_rng(seed)
        b1, b2 = 1 / math.sqrt(IN_FEATURES), 1 / math.sqrt(HIDDEN)
        self.w1 = rng.uniform(-b1, b1, (IN_FEATURES, HIDDEN)).astype(dtype)
        self.b1 = rng.uniform(-b1, b1, HIDDEN).astype(dtype)
        self.w2 = rng.uniform(-b2, b2, (HIDDEN, CLASSES)).astype(dtype)
        self.b2 = rng.uniform(-b2, b2, CLASSES).astype(dtype)

    def logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = x @ self.w1
        h += self.b1
        np.maximum(h, 0, out=h)
        out = h @ self.w2
        out += self.b2
        return h, out

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        """One SGD step on the batch (x, y); returns the batch's mean cross-entropy."""
        h, g = self.logits(x)
        g -= g.max(axis=1, keepdims=True)
        np.exp(g, out=g)
        g /= g.sum(axis=1, keepdims=True)  # g is now softmax probabilities P
        rows = np.arange(len(y))
        loss = -float(np.mean(np.log(np.maximum(g[rows, y], np.float32(1e-30)))))
        g[rows, y] -= 1
        g *= np.float32(1 / len(y))  # G = (P - T) / B
        dh = g @ self.w2.T
        dh *= h > 0
        self.w2 -= np.float32(lr) * (h.T @ g)
        self.b2 -= np.float32(lr) * g.sum(axis=0)
        self.w1 -= np.float32(lr) * (x.T @ dh)
        self.b1 -= np.float32(lr) * dh.sum(axis=0)
        return loss


def train_numpy(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """The hand-written NumPy MLP, shuffled each epoch by a permutation and fancy indexing."""
    train_x, train_y, test_x, test_y = data
    model = NumpyMLP(seed)
    rng = np.random.default_rng(seed)
    n = len(train_y)
    epoch_seconds, losses = [], []
    for _ in range(epochs):
        total = 0.0
        start = time.perf_counter()
        order = rng.permutation(n)
        for i in range(0, n, batch_size):
            index = order[i:i + batch_size]
            total += model.step(train_x[index], train_y[index], LR) * len(index)
        epoch_seconds.append(time.perf_counter() - start)
        losses.append(total / n)
    accuracy = float(np.mean(model.logits(test_x)[1].argmax(axis=1) == test_y))
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": accuracy,
            "dtype": str(model.w1.dtype)}
