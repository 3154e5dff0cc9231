"""The GEMM bound: the five float32 matrix products one training step cannot avoid, timed with NumPy's BLAS.

Converted to samples/s = B / (time of the five), it is the speed no system running on that BLAS can beat:
forward ``X W1^T``, ``H W2^T``; backward ``dW2 = G^T H``, ``dH = G W2``, ``dW1 = dH^T X`` (the first layer's ``dX``
is not needed: its input is data).
"""
from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from nnblocks.bench.workload import CLASSES, HIDDEN, IN_FEATURES


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
