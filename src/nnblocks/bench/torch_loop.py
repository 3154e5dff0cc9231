"""PyTorch's side of every benchmark: the plain loop a PyTorch user writes, shared by the MLP and the CNN systems."""
from __future__ import annotations

import time
from typing import Any

from nnblocks.bench.workload import LR


def train_torch_model(model: Any, data: tuple, batch_size: int, epochs: int, seed: int) -> tuple[list, list, float]:
    """Train ``model`` with SGD at the workload's rate on ``data`` (train_x, train_y, test_x, test_y: torch tensors):
    a fresh ``randperm`` each epoch, batches by tensor indexing, only the epochs timed. Returns the seconds and the
    mean loss of each epoch, and the test accuracy."""
    import torch

    train_x, train_y, test_x, test_y = data
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(seed)
    n = len(train_y)
    epoch_seconds, losses = [], []
    for _ in range(epochs):
        total = 0.0
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            index = order[i:i + batch_size]
            xb, yb = train_x[index], train_y[index]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
        epoch_seconds.append(time.perf_counter() - start)
        losses.append(total / n)
    with torch.no_grad():
        accuracy = float((model(test_x).argmax(dim=1) == test_y).float().mean().item())
    return epoch_seconds, losses, accuracy
