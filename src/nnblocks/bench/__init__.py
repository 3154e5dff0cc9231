"""The benchmark harness: nnblocks against PyTorch (CPU), a hand-written NumPy MLP and scikit-learn, side by side.

The workload is the chapter-3 network, 784 -> 1000 -> ReLU -> 10, softmax cross-entropy, plain SGD (lr 0.01, no
momentum), float32 inputs scaled by 1/255, shuffled every epoch, trained with mini-batches of 32, 256 and 10,000.
``--backprop`` measures something else: the chapter's finite-difference gradient against the engine's backward.

Run it as ``nnblocks bench`` (or ``python -m nnblocks.bench``); ``--help`` lists the options. One idea per file:

- ``command``: the flags, their defaults, and what runs (standard library only, so ``nnblocks --help`` stays instant);
- ``workload``: the network, the learning rate, the systems and their labels;
- ``data``: the data, made once by the parent (MNIST or seeded synthetic MNIST-shaped images);
- ``systems``: nnblocks, PyTorch and scikit-learn training the network, each timing its epochs;
  ``numpy_mlp``: the same network by hand in NumPy, the yardstick; ``gemm``: the GEMM bound;
- ``worker``: one system, one batch size, in a fresh process; ``machine``: CPU, BLAS, versions, memory;
- ``speed``: the side-by-side benchmark (rounds, medians, ratios, JSON); ``table``: its terminal table;
- ``backprop``: finite differences vs backprop; ``backprop_table``: its table.
"""
from __future__ import annotations

from nnblocks.bench.command import add_arguments, main, run

__all__ = ["add_arguments", "main", "run"]
