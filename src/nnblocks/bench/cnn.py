"""``nnblocks bench --cnn``: the book's chapter-4 network, trained by nnblocks and by PyTorch on 28x28 images.

    Conv2d(1, 64, 3) -> MaxPool2d(2) -> ReLU -> Conv2d(64, 128, 3) -> MaxPool2d(2) -> ReLU -> Flatten
    -> Linear(3200, 256) -> ReLU -> Linear(256, 10),  softmax cross-entropy, SGD lr 0.01 (no momentum)

Each trainer is written as a user of its library writes it and times only its training epochs (the contract of
``systems``). The data is the benchmark's (MNIST from ``--data-dir`` or the seeded synthetic images), each row of
784 pixels viewed as a 1 x 28 x 28 image. The nnblocks worker also reports how much the convolutions' im2col
workspace held at the end (``workspace_mib``): the buffers are reused from step to step, so that number stays the
size of one step's buffers whatever the number of steps.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from nnblocks.bench.torch_loop import train_torch_model
from nnblocks.bench.workload import CLASSES, CNN_CHANNELS, CNN_HIDDEN, LR

SHAPE = (1, 28, 28)


def train_nnblocks_cnn(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """nnblocks' public API: the chapter-4 network from ``nn.CNN``, CrossEntropyLoss, SGD, a shuffling DataLoader."""
    import nnblocks as nb
    from nnblocks import nn, optim
    from nnblocks.data import DataLoader, TensorDataset
    from nnblocks.ops.windows import WORKSPACE

    train_x, train_y, test_x, test_y = data
    model = nn.CNN(SHAPE, channels=CNN_CHANNELS, hidden=CNN_HIDDEN, out=CLASSES, seed=seed)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=LR)
    images = train_x.reshape(len(train_x), *SHAPE)
    loader = DataLoader(TensorDataset(images, train_y), batch_size=batch_size, shuffle=True, seed=seed)
    epoch_seconds, losses = [], []
    for _ in range(epochs):
        total = 0.0
        start = time.perf_counter()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
        epoch_seconds.append(time.perf_counter() - start)
        losses.append(total / len(train_y))
    workspace = WORKSPACE.nbytes() / 2**20
    predicted = []
    with nb.no_grad():
        for start in range(0, len(test_x), 1000):
            batch = test_x[start:start + 1000].reshape(-1, *SHAPE)
            predicted.append(model(nb.Tensor(batch)).data.argmax(axis=1))
    accuracy = float(np.mean(np.concatenate(predicted) == test_y)) if predicted else float("nan")
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": accuracy,
            "dtype": str(next(model.parameters()).data.dtype), "workspace_mib": workspace}


def train_pytorch_cnn(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """The same network in PyTorch: ``nn.Sequential`` as in the book, a fresh ``randperm`` each epoch."""
    import torch

    t = torch.nn
    train_x, train_y, test_x, test_y = (torch.from_numpy(np.ascontiguousarray(a)) for a in data)
    train_x, test_x = train_x.reshape(-1, *SHAPE), test_x.reshape(-1, *SHAPE)
    torch.manual_seed(seed)
    c1, c2 = CNN_CHANNELS
    model = t.Sequential(t.Conv2d(1, c1, 3), t.MaxPool2d(2), t.ReLU(), t.Conv2d(c1, c2, 3), t.MaxPool2d(2), t.ReLU(),
                         t.Flatten(), t.Linear(c2 * 5 * 5, CNN_HIDDEN[0]), t.ReLU(), t.Linear(CNN_HIDDEN[0], CLASSES))
    epoch_seconds, losses, accuracy = train_torch_model(model, (train_x, train_y, test_x, test_y), batch_size, epochs,
                                                        seed)
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": accuracy,
            "dtype": str(next(model.parameters()).dtype), "torch_threads": torch.get_num_threads(),
            "torch_blas": "oneDNN/MKL-DNN for convolutions" if torch.backends.mkldnn.is_available() else "native"}


CNN_TRAINERS: dict[str, Callable[..., dict[str, Any]]] = {"nnblocks": train_nnblocks_cnn, "pytorch": train_pytorch_cnn}
