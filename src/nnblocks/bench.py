"""The benchmark harness: nnblocks against PyTorch (CPU), a hand-written NumPy MLP and scikit-learn, side by side.

The workload is the chapter-3 network, 784 -> 1000 -> ReLU -> 10, softmax cross-entropy, plain SGD (lr 0.01, no
momentum), float32 inputs scaled by 1/255, shuffled every epoch, trained with mini-batches of 32, 256 and 10,000.

How the measurement is kept honest:
- the data (real MNIST from ``--data-dir``, else seeded synthetic MNIST-shaped images with class structure) is made
  once by the parent and saved as ``.npy``; every worker loads the same files;
- each (system, batch size, round) runs in its own fresh process (``python -m nnblocks.bench --worker ...``), and the
  systems take turns inside every round (A B C A B C ...), so a slow patch of a shared machine hits all of them;
- only the training epochs are timed (``time.perf_counter`` around each epoch); imports, data loading, model
  construction and evaluation are not. The headline number is the median samples/s over rounds x epochs;
- every worker reports its peak RSS, its test accuracy after training, and the BLAS it actually loaded;
- the "GEMM bound" is measured on the spot: the five float32 matrix products one training step cannot avoid
  (forward: X W1^T, H W2^T; backward: dW2 = G^T H, dH = G W2, dW1 = dH^T X) timed with NumPy's BLAS, and
  converted to samples/s = B / (time of the five). No NumPy/BLAS system can train faster than that.

``--backprop`` measures something else: the chapter's finite-difference gradient (one nudge + one forward pass per
weight, ``nnblocks.fundamentals``) against the engine's backward, on 2-3-1 and 784-1000-10 networks.

Run it as ``nnblocks bench`` (or ``python -m nnblocks.bench``); ``--help`` lists the options. This module imports
only the standard library at the top, so that ``nnblocks --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

SYSTEMS = ("nnblocks", "pytorch", "numpy", "sklearn", "gemm")
# The Python module each optional system needs; a system whose module is missing is skipped with a note.
REQUIRES = {"pytorch": "torch", "sklearn": "sklearn"}
LABELS = {"nnblocks": "nnblocks", "pytorch": "PyTorch", "numpy": "NumPy MLP", "sklearn": "scikit-learn",
          "gemm": "GEMM bound"}
IN_FEATURES, HIDDEN, CLASSES = 784, 1000, 10
LR = 0.01
NOISY = 1.5  # a row whose max/min samples/s exceeds this is flagged in the table


# ====================================================================================================================
# Command line
# ====================================================================================================================
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``nnblocks bench`` / ``python -m nnblocks.bench`` (shared by both entry points)."""
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256, 10000], metavar="B",
                        help="mini-batch sizes to measure (default: 32 256 10000)")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs per worker (default 3; --quick 1)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds; each round runs every system once per batch size (default 3; --quick 1)")
    parser.add_argument("--samples", type=int, default=None,
                        help="training samples (default 60000; --quick 2000)")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="test samples for the accuracy column (default 10000; --quick 500)")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS, metavar="SYSTEM",
                        help=f"systems to run, among {' '.join(SYSTEMS)} (default: all that are installed)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with MNIST's IDX files (raw or .gz); without it, synthetic MNIST-shaped data")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP/torch threads in every worker (default: each library's own default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, initialisations and shuffling")
    parser.add_argument("--json", type=Path, default=Path("nnblocks-out/bench.json"), dest="json_path",
                        metavar="PATH", help="where to write the results (default nnblocks-out/bench.json)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny smoke run: 2,000 samples, 1 epoch, 1 round (numbers are not meaningful)")
    parser.add_argument("--profile", action="store_true",
                        help="also run one extra nnblocks epoch per batch size under cProfile (not timed) and print "
                             "the top functions by own time")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a worker is abandoned")
    parser.add_argument("--backprop", action="store_true",
                        help="instead: finite-difference gradients (chapter 1) against the engine's backward")
    parser.add_argument("--fd-sample", type=int, default=200,
                        help="--backprop: weights whose finite differences are timed on the big networks "
                             "(the full cost is extrapolated from them; default 200)")
    parser.add_argument("--fd-batch", type=int, default=32,
                        help="--backprop: samples in the batch each forward pass sees on the big networks (default 32)")
    # Internal: the parent starts workers with these.
    parser.add_argument("--worker", choices=SYSTEMS, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gemm-seconds", type=float, default=1.0, help=argparse.SUPPRESS)


def resolve_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options left unset from --quick or the full-run defaults, and check them."""
    quick = {"epochs": 1, "rounds": 1, "samples": 2000, "test_samples": 500}
    full = {"epochs": 3, "rounds": 3, "samples": 60000, "test_samples": 10000}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.quick:
        args.gemm_seconds = min(args.gemm_seconds, 0.2)
        args.fd_sample = min(args.fd_sample, 20)
    for name in ("epochs", "rounds", "samples", "test_samples", "fd_sample", "fd_batch"):
        if getattr(args, name) < 1:
            raise SystemExit(f"nnblocks bench: --{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if any(b < 1 for b in args.batch_sizes):
        raise SystemExit(f"nnblocks bench: --batch-sizes must be positive, got {args.batch_sizes}")
    if args.threads is not None and args.threads < 1:
        raise SystemExit(f"nnblocks bench: --threads must be at least 1, got {args.threads}")
    args.systems = list(dict.fromkeys(args.systems))  # keep the order given, drop repeats
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnblocks.bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Entry point of ``nnblocks bench``: a worker, the backprop comparison, or the whole side-by-side benchmark."""
    if args.worker is not None:
        return worker_main(args)
    args = resolve_defaults(args)
    if args.backprop:
        return backprop_main(args)
    return bench_main(args)


# ====================================================================================================================
# Data: made once by the parent, loaded by every worker
# ====================================================================================================================
def synthetic_mnist(n: int, seed: int) -> tuple[Any, Any]:
    """``n`` MNIST-shaped samples: uint8 images (n, 784) and int64 labels (n,), with learnable class structure.

    Each class has a template of three Gaussian blobs on a 28x28 grid; a sample is its class's template, shifted by
    up to one pixel, scaled by a random contrast, blended with a random other class's template (so classes overlap
    and accuracy stays below 100%), plus pixel noise, clipped to 0..255. Vectorised: no loop over samples.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    templates_rng = np.random.default_rng(12345)  # the classes are the same whatever the seed: train and test agree
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    templates = np.zeros((CLASSES, 28, 28), np.float32)
    for c in range(CLASSES):
        for _ in range(3):
            cy, cx = templates_rng.uniform(6, 22, size=2)
            sigma = templates_rng.uniform(2.0, 4.5)
            templates[c] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    templates /= templates.max(axis=(1, 2), keepdims=True)
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    shifted = np.stack([np.roll(templates, s, axis=(1, 2)) for s in shifts], axis=1).reshape(CLASSES, len(shifts), -1)

    labels = rng.integers(0, CLASSES, size=n).astype(np.int64)
    images = np.empty((n, IN_FEATURES), np.uint8)
    for start in range(0, n, 10000):  # in chunks, to keep the float temporaries small
        y = labels[start:start + 10000]
        m = len(y)
        own = shifted[y, rng.integers(0, len(shifts), size=m)]
        other = shifted[rng.integers(0, CLASSES, size=m), rng.integers(0, len(shifts), size=m)]
        contrast = rng.uniform(0.5, 1.0, size=(m, 1)).astype(np.float32)
        blend = rng.uniform(0.0, 0.6, size=(m, 1)).astype(np.float32)
        pixels = contrast * own + blend * other + rng.normal(0, 0.3, size=(m, IN_FEATURES)).astype(np.float32)
        images[start:start + m] = np.clip(pixels * 255, 0, 255).astype(np.uint8)
    return images, labels


def prepare_data(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Write train/test images (uint8, (N, 784)) and labels (int64) as .npy into ``folder``; describe the source."""
    import numpy as np

    if args.data_dir is not None:
        from nnblocks.data import mnist

        train_x, train_y = mnist(args.data_dir, train=True, download=False)
        test_x, test_y = mnist(args.data_dir, train=False, download=False)
        train_x, test_x = train_x.reshape(len(train_x), -1), test_x.reshape(len(test_x), -1)
        source = f"MNIST from {args.data_dir}"
        if args.samples > len(train_x):
            raise SystemExit(f"nnblocks bench: --samples {args.samples} but {args.data_dir} holds only "
                             f"{len(train_x)} training images")
    else:
        train_x, train_y = synthetic_mnist(args.samples, seed=args.seed)
        test_x, test_y = synthetic_mnist(args.test_samples, seed=args.seed + 1_000_003)
        source = "synthetic MNIST-shaped data (seeded class templates + noise)"
    arrays = {"train_x": train_x[:args.samples], "train_y": train_y[:args.samples],
              "test_x": test_x[:args.test_samples], "test_y": test_y[:args.test_samples]}
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    return {"source": source, "train": int(len(arrays["train_x"])), "test": int(len(arrays["test_x"]))}


def load_data(folder: Path) -> tuple[Any, Any, Any, Any]:
    """The worker's view of the data: float32 inputs scaled to [0, 1] (as a user writes it), int64 labels."""
    import numpy as np

    def load(name: str) -> Any:
        return np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)

    train_x = load("train_x").astype(np.float32) / np.float32(255)
    test_x = load("test_x").astype(np.float32) / np.float32(255)
    return train_x, np.array(load("train_y"), np.int64), test_x, np.array(load("test_y"), np.int64)


# ====================================================================================================================
# Systems: each trains the same network on the same data and returns its per-epoch times
# ====================================================================================================================
# A system is ``train(data, batch_size, epochs, seed) -> dict`` with at least ``epoch_seconds`` (one float per
# epoch, the training loop only), ``test_accuracy`` and ``last_epoch_loss``.


def train_nnblocks(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """The public API as a user writes it: TensorDataset, DataLoader, Sequential, CrossEntropyLoss, SGD."""
    import numpy as np

    import nnblocks as nb
    from nnblocks import nn, optim
    from nnblocks.data import DataLoader, TensorDataset

    train_x, train_y, test_x, test_y = data
    nb.random.manual_seed(seed)
    model = nn.Sequential(nn.Linear(IN_FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=LR)
    loader = DataLoader(TensorDataset(train_x, train_y), batch_size=batch_size, shuffle=True, seed=seed)

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
    with nb.no_grad():
        predicted = model(nb.Tensor(test_x)).data.argmax(axis=1)
    dtype = str(next(model.parameters()).dtype)
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": float(np.mean(predicted == test_y)),
            "dtype": dtype}


def train_pytorch(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """The same network in PyTorch: a plain loop, a fresh ``randperm`` each epoch, batches by tensor indexing."""
    import torch

    train_x, train_y, test_x, test_y = (torch.from_numpy(a) for a in data)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(IN_FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))
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
        accuracy = (model(test_x).argmax(dim=1) == test_y).float().mean().item()
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in config.replace(",", "\n").split() if part.startswith("BLAS_INFO=")),
                "unknown")
    return {"epoch_seconds": epoch_seconds, "epoch_loss": losses, "test_accuracy": float(accuracy),
            "dtype": str(next(model.parameters()).dtype), "torch_threads": torch.get_num_threads(),
            "torch_blas": blas}


class NumpyMLP:
    """784 -> 1000 -> ReLU -> 10 with softmax cross-entropy and plain SGD, by hand: no autograd, no graph.

    Weights are stored (in, out) so the forward pass is ``X @ W1``; they start uniform in +-1/sqrt(fan_in) like
    PyTorch's and nnblocks' Linear. The gradients, for a batch of B samples with one-hot targets T:
        P = softmax(H W2 + b2),  G = (P - T) / B,  dW2 = H^T G,  db2 = sum(G),
        dH = (G W2^T) * [H > 0],  dW1 = X^T dH,  db1 = sum(dH),
    and every update is in place (W -= lr * dW). This is the reference for "how much does the engine cost".
    """

    def __init__(self, seed: int, dtype: Any = "float32") -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        b1, b2 = 1 / math.sqrt(IN_FEATURES), 1 / math.sqrt(HIDDEN)
        self.w1 = rng.uniform(-b1, b1, (IN_FEATURES, HIDDEN)).astype(dtype)
        self.b1 = rng.uniform(-b1, b1, HIDDEN).astype(dtype)
        self.w2 = rng.uniform(-b2, b2, (HIDDEN, CLASSES)).astype(dtype)
        self.b2 = rng.uniform(-b2, b2, CLASSES).astype(dtype)

    def logits(self, x: Any) -> tuple[Any, Any]:
        import numpy as np

        h = x @ self.w1
        h += self.b1
        np.maximum(h, 0, out=h)
        out = h @ self.w2
        out += self.b2
        return h, out

    def step(self, x: Any, y: Any, lr: float) -> float:
        """One SGD step on the batch (x, y); returns the batch's mean cross-entropy."""
        import numpy as np

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
    import numpy as np

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


def train_sklearn(data: tuple, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """scikit-learn's MLPClassifier, one ``partial_fit`` (one shuffled pass) per epoch.

    Differences it keeps, by design of scikit-learn: Glorot-uniform initialisation, and ``partial_fit`` also computes
    the loss of every batch. Plain SGD: momentum 0, no L2 penalty (alpha 0), constant learning rate.
    """
    import warnings

    import numpy as np
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


def gemm_shapes(batch: int) -> list[tuple[str, tuple[int, int], tuple[int, int], bool, bool]]:
    """The five products of one training step: (name, shape of A, shape of B, A transposed, B transposed).

    Shapes as nnblocks stores them (Linear.weight is (out, in)); the transposes are views, as in the engine.
    dX of the first layer is not needed (its input is data), so it is not counted.
    """
    b, i, h, c = batch, IN_FEATURES, HIDDEN, CLASSES
    return [
        ("forward  X W1^T", (b, i), (h, i), False, True),
        ("forward  H W2^T", (b, h), (c, h), False, True),
        ("backward dW2 = G^T H", (b, c), (b, h), True, False),
        ("backward dH = G W2", (b, c), (c, h), False, False),
        ("backward dW1 = dH^T X", (b, h), (b, i), True, False),
    ]


def gemm_bound(batch: int, seconds: float, seed: int = 0) -> dict[str, Any]:
    """Median time of the five float32 GEMMs of one step (into preallocated outputs), as samples/s = B / time."""
    import numpy as np

    rng = np.random.default_rng(seed)
    operands = []
    for name, sa, sb, ta, tb in gemm_shapes(batch):
        a = rng.standard_normal(sa, dtype=np.float32)
        b = rng.standard_normal(sb, dtype=np.float32)
        a, b = (a.T if ta else a), (b.T if tb else b)
        operands.append((name, a, b, np.empty((a.shape[0], b.shape[1]), np.float32)))
    for _, a, b, out in operands:  # warm-up: BLAS threads started, pages touched
        np.matmul(a, b, out=out)
    per_product: dict[str, list[float]] = {name: [] for name, *_ in operands}
    totals: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(totals) < 3 or (time.perf_counter() < deadline and len(totals) < 1000):
        step = 0.0
        for name, a, b, out in operands:
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            elapsed = time.perf_counter() - start
            per_product[name].append(elapsed)
            step += elapsed
        totals.append(step)
    median = statistics.median(totals)
    flops = sum(2 * out.size * a.shape[1] for _, a, _, out in operands)
    return {"step_seconds": median, "samples_per_s": batch / median, "repeats": len(totals),
            "gflops": flops / median / 1e9,
            "per_product_ms": {name: 1e3 * statistics.median(t) for name, t in per_product.items()}}


TRAINERS: dict[str, Callable[..., dict[str, Any]]] = {
    "nnblocks": train_nnblocks, "pytorch": train_pytorch, "numpy": train_numpy, "sklearn": train_sklearn,
}


# ====================================================================================================================
# Worker: one system, one batch size, in a fresh process
# ====================================================================================================================
def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux, VmHWM from /proc/self/status: ``ru_maxrss`` survives ``exec``, so in a worker it would report the
    parent's peak (the data it generated) whenever that was larger. Elsewhere ``ru_maxrss`` (KiB; bytes on macOS).
    """
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def blas_info() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries this process has loaded, as threadpoolctl sees them (empty without it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")
    return [{k: lib.get(k) for k in keys if lib.get(k) is not None} for lib in threadpool_info()]


def worker_main(args: argparse.Namespace) -> int:
    """Run one system once and write its measurements as JSON to ``--out`` (the parent reads them)."""
    import numpy as np

    result: dict[str, Any] = {"system": args.worker, "batch_size": args.batch_sizes[0]}
    batch = args.batch_sizes[0]
    if args.worker == "gemm":
        n = int(np.load(args.data / "train_y.npy", mmap_mode="r", allow_pickle=False).shape[0])
        result["effective_batch"] = min(batch, n)
        result.update(gemm_bound(min(batch, n), args.gemm_seconds, args.seed))
    else:
        data = load_data(args.data)
        result["effective_batch"] = min(batch, len(data[1]))
        result["rss_before_training_mib"] = peak_rss_mib()
        trainer = TRAINERS[args.worker]
        if args.profile:
            import cProfile
            import io
            import pstats

            data = data[:2] + (data[2][:1], data[3][:1])  # profile the epochs, not the evaluation
            profiler = cProfile.Profile()
            profiler.enable()
            result.update(trainer(data, batch, args.epochs, args.seed))
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
            result["profile"] = text.getvalue()
        else:
            result.update(trainer(data, batch, args.epochs, args.seed))
        result["samples"] = len(data[1])
        result["samples_per_s"] = [len(data[1]) / t for t in result["epoch_seconds"]]
    result["peak_rss_mib"] = peak_rss_mib()
    result["blas"] = blas_info()
    args.out.write_text(json.dumps(result))
    return 0


def start_worker(system: str, batch: int, args: argparse.Namespace, data_dir: Path, seed: int,
                 profile: bool = False) -> dict[str, Any]:
    """Run ``system`` at ``batch`` in a fresh interpreter; its result dict, or ``{"error": ...}`` if it failed."""
    with tempfile.TemporaryDirectory(prefix="nnblocks-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "nnblocks.bench", "--worker", system, "--data", str(data_dir),
                   "--batch-sizes", str(batch), "--epochs", str(args.epochs), "--seed", str(seed),
                   "--out", str(out), "--gemm-seconds", str(args.gemm_seconds)]
        if profile:
            command.append("--profile")
        env = dict(os.environ)
        if args.threads is not None:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[var] = str(args.threads)
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {args.timeout:.0f} s"}
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-8:]
            return {"error": f"worker exited with code {done.returncode}: " + " | ".join(tail)}
        return json.loads(out.read_text())


# ====================================================================================================================
# Parent: machine, rounds, summary, table, JSON
# ====================================================================================================================
def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_blas(libraries: list[dict[str, Any]]) -> str:
    """'openblas 0.3.31 Haswell, 2 threads' for the BLAS among ``libraries`` (threadpoolctl's view)."""
    blas = [lib for lib in libraries if lib.get("internal_api") in ("openblas", "mkl", "blis", "accelerate")]
    if not blas:
        return "unknown (install threadpoolctl to see it)"
    described = []
    for lib in blas:  # several when scipy's OpenBLAS is loaded beside numpy's (scikit-learn)
        parts = [lib.get("internal_api", "?"), str(lib.get("version") or ""), str(lib.get("architecture") or "")]
        text = " ".join(p for p in parts if p) + f", {lib.get('num_threads', '?')} threads"
        if text not in described:
            described.append(text)
    return " + ".join(described)


def machine_description() -> dict[str, Any]:
    import numpy  # noqa: F401  (loaded so threadpoolctl sees its BLAS)

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    libraries = blas_info()
    return {
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": usable,
        "platform": platform.platform(), "python": platform.python_version(),
        "versions": {p: _version(p) for p in ("nnblocks", "numpy", "torch", "scikit-learn", "threadpoolctl")},
        "numpy_blas": describe_blas(libraries), "numpy_blas_libraries": libraries,
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                  "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def available_systems(wanted: list[str]) -> tuple[list[str], list[str]]:
    """The systems that can run here, and a note for each one skipped because its library is not installed."""
    systems, notes = [], []
    for system in wanted:
        module = REQUIRES.get(system)
        if module is not None and importlib.util.find_spec(module) is None:
            notes.append(f"{LABELS[system]} skipped: the '{module}' package is not installed")
        else:
            systems.append(system)
    return systems, notes


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median samples/s over rounds x epochs (and the spread) of one system at one batch size."""
    good = [r for r in runs if "error" not in r]
    summary: dict[str, Any] = {"runs": runs, "errors": [r["error"] for r in runs if "error" in r]}
    if not good:
        return summary
    if good[0]["system"] == "gemm":
        rates = [r["samples_per_s"] for r in good]
    else:
        rates = [rate for r in good for rate in r["samples_per_s"]]
        summary["test_accuracy"] = statistics.median(r["test_accuracy"] for r in good)
        summary["last_epoch_loss"] = statistics.median(r["epoch_loss"][-1] for r in good)
        summary["dtype"] = good[0].get("dtype")
    summary.update(samples_per_s=statistics.median(rates), min_samples_per_s=min(rates),
                   max_samples_per_s=max(rates), measurements=len(rates),
                   peak_rss_mib=max(r["peak_rss_mib"] for r in good),
                   blas=describe_blas(good[0].get("blas", [])), effective_batch=good[0]["effective_batch"])
    if "torch_blas" in good[0]:  # torch links its BLAS statically: threadpoolctl does not see it
        summary["blas"] = f"{good[0]['torch_blas']} inside torch, {good[0]['torch_threads']} threads"
    return summary


def ratios(per_system: dict[str, dict[str, Any]]) -> dict[str, float]:
    """nnblocks' samples/s divided by each other system's (above 1: nnblocks is faster)."""
    ours = per_system.get("nnblocks", {}).get("samples_per_s")
    out = {}
    for system, summary in per_system.items():
        theirs = summary.get("samples_per_s")
        if system != "nnblocks" and ours and theirs:
            out[f"nnblocks/{system}"] = ours / theirs
    return out


def bench_main(args: argparse.Namespace) -> int:
    systems, notes = available_systems(args.systems)
    machine = machine_description()
    print(f"nnblocks bench: {cpu_model()}, {machine['usable_cpus']} usable CPUs, numpy BLAS {machine['numpy_blas']}")
    load = machine["load_average_start"]
    if load is not None and load[0] > 0.5 * (machine["usable_cpus"] or 1):
        note = (f"the machine is busy (load average {load[0]:.2f} on {machine['usable_cpus']} CPUs): timings will be "
                "noisy, and multi-threaded BLAS can slow down many times over when its threads wait on each other; "
                "measure on an idle machine, or compare with --threads 1")
        notes.append(note)
    with tempfile.TemporaryDirectory(prefix="nnblocks-bench-data-") as tmp:
        data_dir = Path(tmp)
        data = prepare_data(args, data_dir)
        print(f"data: {data['train']:,} training / {data['test']:,} test samples, {data['source']}")
        for note in notes:
            print(f"note: {note}")
        runs: dict[int, dict[str, list]] = {b: {s: [] for s in systems} for b in args.batch_sizes}
        for round_index in range(args.rounds):
            for batch in args.batch_sizes:
                for system in systems:  # A B C A B C ...: systems take turns within every round
                    result = start_worker(system, batch, args, data_dir, seed=args.seed + round_index)
                    runs[batch][system].append(result)
                    print(progress_line(round_index, args.rounds, batch, system, result), flush=True)
        profiles = {}
        if args.profile and "nnblocks" in systems:
            for batch in args.batch_sizes:
                profiles[batch] = start_worker("nnblocks", batch, args, data_dir, seed=args.seed, profile=True)
    machine["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    results = {str(b): {s: summarise(runs[b][s]) for s in systems} for b in args.batch_sizes}
    report = {
        "workload": f"MLP {IN_FEATURES}-{HIDDEN}-ReLU-{CLASSES}, softmax cross-entropy, SGD lr {LR} (no momentum), "
                    "float32, inputs /255, shuffled each epoch",
        "config": {"batch_sizes": args.batch_sizes, "epochs": args.epochs, "rounds": args.rounds,
                   "systems": systems, "threads": args.threads, "seed": args.seed, "quick": args.quick, "data": data},
        "machine": machine, "notes": notes, "results": results,
        "ratios": {str(b): ratios(results[str(b)]) for b in args.batch_sizes},
    }
    print()
    print(format_table(report))
    for batch, result in profiles.items():
        print(f"\ncProfile of one nnblocks run at batch {batch} ({args.epochs} epoch(s)), top 15 by own time:")
        print(result.get("profile") or result.get("error"))
    args.json_path.parent.mkdir(parents=True, exist_ok=True)
    args.json_path.write_text(json.dumps(report, indent=1))
    print(f"\nresults written to {args.json_path}")
    failed = [f"{s} at batch {b}" for b in results for s, r in results[b].items() if r["errors"]]
    if failed:
        print("FAILED: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


def progress_line(round_index: int, rounds: int, batch: int, system: str, result: dict[str, Any]) -> str:
    head = f"  round {round_index + 1}/{rounds}  batch {batch:>6}  {LABELS[system]:<13}"
    if "error" in result:
        return f"{head} FAILED: {result['error']}"
    rate = result["samples_per_s"] if system == "gemm" else statistics.median(result["samples_per_s"])
    tail = "" if system == "gemm" else f"  test acc {100 * result['test_accuracy']:.1f}%"
    return f"{head} {rate:>12,.0f} samples/s{tail}"


def format_table(report: dict[str, Any]) -> str:
    """The terminal table: one row per (batch size, system), then the ratios."""
    config, machine = report["config"], report["machine"]
    lines = [
        f"{report['workload']}",
        f"{config['data']['train']:,} training samples ({config['data']['source']}), {config['epochs']} epoch(s) x "
        f"{config['rounds']} round(s), each run in a fresh process; threads per worker: "
        f"{config['threads'] or 'each library default'}",
        f"machine: {machine['cpu']}, {machine['usable_cpus']} usable CPUs; numpy {machine['versions']['numpy']} "
        f"(BLAS {machine['numpy_blas']}); torch {machine['versions']['torch'] or '-'}; "
        f"scikit-learn {machine['versions']['scikit-learn'] or '-'}",
    ]
    if machine.get("load_average_start") is not None:
        start, end = machine["load_average_start"][0], machine["load_average_end"][0]
        lines.append(f"load average (1 min) at start {start:.2f}, at end {end:.2f}")
    header = f"{'batch':>6}  {'system':<13} {'samples/s':>11}  {'min .. max':>21}  {'test acc':>8}  {'peak RSS':>9}"
    lines += ["", header, "-" * len(header)]
    noisy = False
    for batch, per_system in report["results"].items():
        for system, s in per_system.items():
            name = LABELS[system]
            if "samples_per_s" not in s:
                lines.append(f"{batch:>6}  {name:<13} {'FAILED':>11}  {s['errors'][0][:60]}")
                continue
            spread = f"{s['min_samples_per_s']:,.0f} .. {s['max_samples_per_s']:,.0f}"
            if s["max_samples_per_s"] > NOISY * s["min_samples_per_s"]:
                spread += " !"
                noisy = True
            acc = f"{100 * s['test_accuracy']:.1f}%" if "test_accuracy" in s else ""
            lines.append(f"{batch:>6}  {name:<13} {s['samples_per_s']:>11,.0f}  {spread:>21}  {acc:>8}  "
                         f"{s['peak_rss_mib']:>5.0f} MiB")
    if noisy:
        lines.append(f"! fastest and slowest measurement more than {NOISY}x apart: the machine was not quiet, "
                     "do not trust that median")
    names = {"pytorch": "PyTorch", "numpy": "NumPy", "sklearn": "sklearn", "gemm": "GEMM bound"}
    columns = [s for s in ("pytorch", "numpy", "sklearn", "gemm") if s in config["systems"]]
    if "nnblocks" in config["systems"] and columns:
        header = f"{'batch':>6}  " + "  ".join(f"{'nnblocks/' + names[s]:>19}" for s in columns)
        lines += ["", "ratios of samples/s (above 1.00: nnblocks is faster)", header, "-" * len(header)]
        for batch, r in report["ratios"].items():
            cells = [f"{r[f'nnblocks/{s}']:.2f}x" if f"nnblocks/{s}" in r else "-" for s in columns]
            lines.append(f"{batch:>6}  " + "  ".join(f"{c:>19}" for c in cells))
    blas: dict[str, str] = {}
    for per_system in report["results"].values():
        for system, s in per_system.items():
            blas.setdefault(LABELS[system], s.get("blas", "?"))
    lines += ["", "BLAS in each worker: " + "; ".join(f"{name}: {text}" for name, text in blas.items())]
    for note in report["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)



# ====================================================================================================================
# --backprop: the chapter's finite differences against the engine's backward
# ====================================================================================================================
def time_call(fn: Callable[[], Any], seconds: float, min_repeats: int = 3) -> float:
    """Median wall time of ``fn()`` over repeated calls (at least ``min_repeats``, for about ``seconds``)."""
    fn()  # warm-up
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < min_repeats or (time.perf_counter() < deadline and len(times) < 10000):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sample_positions(weights: list[Any], count: int, seed: int) -> list[tuple[int, tuple[int, ...]]]:
    """``count`` distinct (array number, index) pairs drawn uniformly over all the network's weights (all of them
    when ``count`` is at least their number), in the order ``finite_difference_gradients`` visits them."""
    import numpy as np

    sizes = [w.size for w in weights]
    total = sum(sizes)
    flat = np.arange(total) if count >= total else np.sort(
        np.random.default_rng(seed).choice(total, size=count, replace=False))
    starts = np.cumsum([0] + sizes)
    positions = []
    for f in flat:
        k = int(np.searchsorted(starts, f, side="right") - 1)
        positions.append((k, tuple(int(i) for i in np.unravel_index(f - starts[k], weights[k].shape))))
    return positions


def forward_difference_at(inputs: Any, outputs: Any, weights: list[Any], positions: list[tuple[int, tuple]],
                          h: float = 1e-4) -> tuple[list[float], float]:
    """The chapter's forward difference (L(w + h) - L(w)) / h for the weights at ``positions`` only.

    Exactly the procedure of ``fundamentals.finite_difference_gradients``: nudge one weight in a copy of the weights,
    run ``feed_forward`` (the whole network on every input), restore it; one forward pass per weight. Returns the
    derivatives and the wall time of the loop (the base loss L(w) included).
    """
    from nnblocks.fundamentals import feed_forward

    nudged = [w.copy() for w in weights]
    start = time.perf_counter()
    base = feed_forward(inputs, outputs, nudged)
    derivatives = []
    for k, index in positions:
        original = nudged[k][index]
        nudged[k][index] += h
        derivatives.append(float((feed_forward(inputs, outputs, nudged) - base) / h))
        nudged[k][index] = original
    return derivatives, time.perf_counter() - start


def engine_model(weights: list[Any]) -> Any:
    """The fundamentals' network (sigmoid hidden layers, linear output) as nnblocks modules with the same weights.

    fundamentals stores W as (inputs, outputs); nn.Linear stores (out_features, in_features): hence the transpose.
    """
    from nnblocks import nn

    layers = []
    for k in range(0, len(weights), 2):
        w, b = weights[k], weights[k + 1]
        linear = nn.Linear(w.shape[0], w.shape[1], dtype=w.dtype, seed=0)
        linear.weight.data[...] = w.T
        linear.bias.data[...] = b.reshape(-1)
        layers += [linear, nn.Sigmoid()]
    return nn.Sequential(*layers[:-1])


def measure_backprop(name: str, inputs: Any, outputs: Any, weights: list[Any], fd_sample: int, seconds: float,
                     seed: int) -> dict[str, Any]:
    """Cost of one gradient of one network: forward difference (measured or extrapolated) vs. engine backward."""
    import numpy as np

    import nnblocks as nb
    from nnblocks import nn
    from nnblocks.fundamentals import feed_forward

    n_weights = sum(w.size for w in weights)
    positions = sample_positions(weights, fd_sample, seed)
    derivatives, _ = forward_difference_at(inputs, outputs, weights, positions)
    fd_loop = time_call(lambda: forward_difference_at(inputs, outputs, weights, positions), seconds, min_repeats=1)
    per_weight = fd_loop / (len(positions) + 1)  # the loop runs len(positions) + 1 forward passes
    fd_seconds = per_weight * (n_weights + 1)

    model, loss_fn = engine_model(weights), nn.MSELoss()
    x, y = nb.Tensor(inputs), nb.Tensor(outputs)

    def engine_step() -> None:
        model.zero_grad()
        loss_fn(model(x), y).backward()

    def engine_forward() -> None:
        with nb.no_grad():
            loss_fn(model(x), y)

    backprop = time_call(engine_step, seconds)
    forward_engine = time_call(engine_forward, seconds)
    forward_by_hand = time_call(lambda: feed_forward(inputs, outputs, weights), seconds)
    engine_step()
    grads = [p.grad for p in model.parameters()]  # W1, b1, W2, b2 ... in the engine's layout
    engine_values = [float((grads[k].T if grads[k].ndim == 2 else grads[k].reshape(weights[k].shape))[index])
                     for k, index in positions]
    return {
        "network": name, "weights": int(n_weights), "batch": int(len(inputs)), "dtype": str(weights[0].dtype),
        "fd_weights_timed": len(positions), "fd_extrapolated": len(positions) < n_weights,
        "fd_seconds": fd_seconds, "fd_seconds_per_weight": per_weight,
        "forward_seconds_by_hand": forward_by_hand, "forward_seconds_engine": forward_engine,
        "backprop_seconds": backprop, "fd_over_backprop": fd_seconds / backprop,
        "backprop_over_forward": backprop / forward_engine,
        "max_abs_fd_minus_backprop": float(np.max(np.abs(np.subtract(derivatives, engine_values)))),
    }


def backprop_networks(args: argparse.Namespace) -> list[tuple[str, Any, Any, list[Any]]]:
    """The chapter's 2-3-1 network, then 784-h-10 networks on a batch of MNIST-shaped inputs (one-hot targets)."""
    import numpy as np

    from nnblocks.fundamentals import init_weights, network_231

    x, y, w = network_231("float32")
    networks = [("2-3-1 (chapter)", x, y, w)]
    images, labels = synthetic_mnist(args.fd_batch, seed=args.seed)
    inputs = images.astype(np.float32) / np.float32(255)
    targets = np.eye(CLASSES, dtype=np.float32)[labels]
    hidden_sizes = (10, 100, HIDDEN) if not args.quick else (10, HIDDEN)
    for hidden in hidden_sizes:
        weights = init_weights([IN_FEATURES, hidden, CLASSES], seed=args.seed, dtype=np.float32)
        networks.append((f"{IN_FEATURES}-{hidden}-{CLASSES}", inputs, targets, weights))
    return networks


def _duration(seconds: float) -> str:
    for unit, scale in (("h", 3600), ("min", 60), ("s", 1), ("ms", 1e-3)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e6:.3g} us"


def format_backprop_table(rows: list[dict[str, Any]]) -> str:
    header = (f"{'network':<16} {'weights':>9} {'forward':>9}  {'FD gradient (fwd diff.)':<30} {'backprop':>9} "
              f"{'FD/backprop':>12} {'backprop/fwd':>12} {'max|FD-BP|':>10}")
    lines = [header, "-" * len(header)]
    for r in rows:
        how = (f"extrapolated from {r['fd_weights_timed']}" if r["fd_extrapolated"]
               else f"measured, all {r['weights']}")
        fd = f"{_duration(r['fd_seconds'])} ({how})"
        lines.append(f"{r['network']:<16} {r['weights']:>9,} {_duration(r['forward_seconds_by_hand']):>9}  "
                     f"{fd:<30} {_duration(r['backprop_seconds']):>9} {r['fd_over_backprop']:>11,.0f}x "
                     f"{r['backprop_over_forward']:>11.1f}x {r['max_abs_fd_minus_backprop']:>10.1e}")
    return "\n".join(lines)


def growth_lines(rows: list[dict[str, Any]]) -> list[str]:
    """How each cost grew between consecutive big networks, against the growth of the weight count."""
    lines = []
    big = [r for r in rows if r["batch"] > 1 or r["weights"] > 100]
    for a, b in zip(big, big[1:]):
        lines.append(f"{a['network']} -> {b['network']}: weights x{b['weights'] / a['weights']:.1f}, "
                     f"finite differences x{b['fd_seconds'] / a['fd_seconds']:.0f}, "
                     f"backprop x{b['backprop_seconds'] / a['backprop_seconds']:.1f}")
    return lines


def limit_threads(threads: int | None) -> Any:
    """A context limiting this process's BLAS threads (threadpoolctl), for --backprop, which runs in-process."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("note: --threads needs threadpoolctl in --backprop mode; running with the BLAS default", file=sys.stderr)
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads)


def backprop_main(args: argparse.Namespace) -> int:
    """Print and save the finite-difference vs. backprop comparison (one gradient, one process)."""
    seconds = 0.1 if args.quick else 1.0
    rows = []
    with limit_threads(args.threads):
        for name, inputs, outputs, weights in backprop_networks(args):
            rows.append(measure_backprop(name, inputs, outputs, weights, args.fd_sample, seconds, args.seed))
            print(f"  measured {name}", flush=True)
    print(f"\nOne gradient of the MSE loss, float32; 784-h-10 networks see a batch of {args.fd_batch} synthetic "
          f"MNIST-shaped inputs. 'forward' is one fundamentals.feed_forward pass; FD = one nudge + one forward pass "
          f"per weight (the chapter's forward difference); backprop = the engine's forward + backward.\n")
    print(format_backprop_table(rows))
    print("\nHow the costs grow with the number of weights W: finite differences run W forward passes of O(W) "
          "each, O(W^2); backprop costs a small constant number of forward passes (the backprop/fwd column), O(W).")
    for line in growth_lines(rows):
        print("  " + line)
    report = {"mode": "backprop", "machine": machine_description(), "threads": args.threads, "fd_batch": args.fd_batch,
              "fd_sample": args.fd_sample, "rows": rows, "growth": growth_lines(rows)}
    report["machine"]["load_average_end"] = report["machine"].pop("load_average_start")
    path = args.json_path
    if path == Path("nnblocks-out/bench.json"):
        path = Path("nnblocks-out/bench-backprop.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    print(f"\nresults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
