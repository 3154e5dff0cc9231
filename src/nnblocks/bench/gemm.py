"""The GEMM bound: the five float32 matrix products one training step cannot avoid, and its SGD update, timed alone.

Converted to samples/s = B / (time of the five + the update), it is the speed no system running on that BLAS can
beat: forward ``X W1^T``, ``H W2^T``; backward ``dW2 = G^T H``, ``dH = G W2``, ``dW1 = dH^T X`` (the first layer's
``dX`` is not needed: its input is data); then ``W -= lr dW`` over every weight and bias, in place, in one pass
(BLAS axpy when SciPy is there). Each product is timed on one thread and on the BLAS's default count, and the faster
counts: on a machine whose cores are shared, the default can be several times slower than one thread.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np

from nnblocks.bench.workload import CLASSES, HIDDEN, IN_FEATURES, LR
from nnblocks.ops.blas import routine


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


def _update() -> Callable[[np.ndarray, np.ndarray], None]:
    """``w += -lr * g`` in one pass: the engine's axpy (SciPy's), or NumPy's two passes without it."""
    saxpy = routine("axpy", np.dtype(np.float32))
    if saxpy is None:
        return lambda w, g: np.subtract(w, np.float32(LR) * g, out=w)
    return lambda w, g: saxpy(g.reshape(-1), w.reshape(-1), a=-LR)


def _thread_counts() -> tuple[Any, list[int]]:
    """NumPy's BLAS controller (threadpoolctl) and the counts to try: 1 and the default; (None, [0]) without it."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None, [0]
    blas = [c for c in ThreadpoolController().lib_controllers if c.internal_api in ("openblas", "mkl", "blis")]
    blas.sort(key=lambda c: "numpy" not in c.filepath)  # NumPy's own first (SciPy may have loaded another)
    if not blas:
        return None, [0]
    default = blas[0].get_num_threads() or 1
    return blas[0], sorted({1, default})


def _median_time(run: Callable[[], Any], seconds: float) -> float:
    run()  # warm-up: BLAS threads started, pages touched
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 1000):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_bound(batch: int, seconds: float, seed: int = 0) -> dict[str, Any]:
    """The step's products (each on its faster thread count) and its update, as samples/s = B / time."""
    rng = np.random.default_rng(seed)
    controller, counts = _thread_counts()
    per_product: dict[str, float] = {}
    threads: dict[str, int] = {}
    flops = 0
    for name, sa, sb, ta, tb in gemm_shapes(batch):
        a = rng.standard_normal(sa, dtype=np.float32)
        b = rng.standard_normal(sb, dtype=np.float32)
        a, b = (a.T if ta else a), (b.T if tb else b)
        out = np.empty((a.shape[0], b.shape[1]), np.float32)
        flops += 2 * out.size * a.shape[1]
        timed = {}
        for count in counts:
            if controller is not None:
                controller.set_num_threads(count)
            timed[count] = _median_time(lambda: np.matmul(a, b, out=out), seconds / (5 * len(counts)))
        if controller is not None:
            controller.set_num_threads(counts[-1])
        threads[name] = min(timed, key=timed.__getitem__)
        per_product[name] = timed[threads[name]]
    weights = [rng.standard_normal(shape, dtype=np.float32) for shape in
               ((HIDDEN, IN_FEATURES), (HIDDEN,), (CLASSES, HIDDEN), (CLASSES,))]
    grads = [np.ones_like(w) for w in weights]
    update = _update()
    per_product["update  W -= lr dW (all)"] = _median_time(lambda: [update(w, g) for w, g in zip(weights, grads)],
                                                           seconds / 5)
    step = sum(per_product.values())
    return {"step_seconds": step, "samples_per_s": batch / step, "gflops": flops / step / 1e9,
            "per_product_ms": {name: 1e3 * t for name, t in per_product.items()}, "threads": threads}
