"""The systems of the side-by-side benchmark: each trains the same network on the same data, written as a user of
that system would write it, and times only its training epochs.

A system is ``train(data, batch_size, epochs, seed) -> dict`` with ``epoch_seconds`` (one float per epoch, the
training loop only), ``epoch_loss`` (the sample-weighted mean loss of each epoch), ``test_accuracy`` and ``dtype``.
Each trainer imports its own library (PyTorch and scikit-learn are optional besides), so that a worker loads only
the library it measures and the peak memory it reports is that library's.
"""
from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import numpy as np

from nnblocks.bench.numpy_mlp import train_numpy
from nnblocks.bench.torch_loop import train_torch_model
from nnblocks.bench.workload import CLASSES, HIDDEN, IN_FEATURES, LR


def train_nnblocks(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """The user's eager loop, written as the PyTorch system's (``import nnblocks as torch``): a fresh permutation each
    epoch, batches by tensor indexing, ``zero_grad / forward / loss / backward / step``."""
    import nnblocks as torch

    train_x, train_y, test_x, test_y = (torch.from_numpy(a) for a in data)
    model = torch.nn.MLP([IN_FEATURES, HIDDEN, CLASSES], seed=seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    rng = np.random.default_rng(seed)
    n = len(train_y)

    epoch_seconds, losses = [], []
    for _ in range(epochs):
        total = 0.0
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(n))
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
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": _nnblocks_accuracy(model, data),
            "dtype": str(next(model.parameters()).data.dtype)}


def train_fit(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """The same network trained by ``nnblocks.train.fit`` from a shuffling DataLoader (what ``nnblocks train`` runs),
    one ``fit`` call per epoch, no validation: its cost against the bare loop above."""
    from nnblocks import nn, optim
    from nnblocks.data import DataLoader, TensorDataset
    from nnblocks.train import fit

    train_x, train_y = data[0], data[1]
    model = nn.MLP([IN_FEATURES, HIDDEN, CLASSES], seed=seed)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=LR)
    loader = DataLoader(TensorDataset(train_x, train_y), batch_size=batch_size, shuffle=True, seed=seed)
    epoch_seconds, losses = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        history = fit(model, loss_fn, optimizer, loader, epochs=1, progress=False)
        epoch_seconds.append(time.perf_counter() - start)
        losses.append(float(history["loss"][-1]))
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": _nnblocks_accuracy(model, data),
            "dtype": str(next(model.parameters()).data.dtype)}


def _nnblocks_accuracy(model: Any, data: tuple) -> float:
    import nnblocks as nb

    with nb.no_grad():
        predicted = model(nb.Tensor(data[2])).data.argmax(axis=1)
    return float(np.mean(predicted == data[3]))


def train_pytorch(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """The same network in PyTorch: a plain loop, a fresh ``randperm`` each epoch, batches by tensor indexing."""
    import torch

    train_x, train_y, test_x, test_y = (torch.from_numpy(a) for a in data)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(IN_FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))
    epoch_seconds, losses, accuracy = train_torch_model(model, (train_x, train_y, test_x, test_y), batch_size, epochs,
                                                        seed)
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in config.replace(",", "\n").split() if part.startswith("BLAS_INFO=")),
                "unknown")
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": float(accuracy),
            "dtype": str(next(model.parameters()).dtype), "torch_threads": torch.get_num_threads(),
            "torch_blas": blas}


def train_sklearn(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """scikit-learn's MLPClassifier, one ``partial_fit`` (one shuffled pass) per epoch.

    Differences it keeps, by design of scikit-learn: Glorot-uniform initialisation, and ``partial_fit`` also computes
    the loss of every batch. Plain SGD: momentum 0, no L2 penalty (alpha 0), constant learning rate.
    """
    from sklearn.neural_network import MLPClassifier

    train_x, train_y, test_x, test_y = data
    model = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="sgd", learning_rate="constant",
                          learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
                          batch_size=batch_size, shuffle=True, random_state=seed, max_iter=1)
    classes = np.arange(CLASSES)
    epoch_seconds, losses = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "batch_size clipped" when B exceeds the sample count
        for _ in range(epochs):
            start = time.perf_counter()
            model.partial_fit(train_x, train_y, classes=classes)
            epoch_seconds.append(time.perf_counter() - start)
            losses.append(float(model.loss_))
    accuracy = float(np.mean(model.predict(test_x) == test_y))
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": accuracy,
            "dtype": str(model.coefs_[0].dtype)}


TRAINERS: dict[str, Callable[..., dict[str, Any]]] = {
    "nnblocks": train_nnblocks, "fit": train_fit, "pytorch": train_pytorch, "numpy": train_numpy,
    "sklearn": train_sklearn,
}
